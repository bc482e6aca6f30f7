"""The ledger: the results of cells done elsewhere, committed beside the tables.

A run folder holds checkpoints and per-image predictions, megabytes per cell, and it lives on
the machine that trained it. A committed table needs much less from each cell: every metric's
value, its mark and its bootstrap interval over the test images, with the commit, machine and
date of the run. The ledger (``cells.json`` beside the tables) keeps exactly that, so that on a
new machine the tables can be rewritten and the grid resumed without the old run folders: a
cell in the ledger counts as done, trained with the same options and evaluated the same way.

Cells done in the run folder win over the ledger, and are copied into it whenever the tables
are written (`ipmix reproduce --ledger FILE`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipmix.reproduce.cells import Cell
from ipmix.utils.io import atomic_write_json

LEDGER_FILE = "cells.json"
FORMAT = 1


@dataclass(frozen=True)
class Reading:
    """One metric of one done cell: its value, mark (`values.MARKS`) and bootstrap interval."""

    value: float
    note: str = ""
    interval: tuple[float, float] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "note": self.note,
                "interval": list(self.interval) if self.interval is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reading:
        bounds = data.get("interval")
        return cls(float(data["value"]), str(data.get("note", "")),
                   (float(bounds[0]), float(bounds[1])) if bounds is not None else None)


def _identity(cell: Cell) -> dict[str, Any]:
    """What makes two cells the same run: the training options and the evaluations."""
    return json.loads(json.dumps({"train": cell.options,
                                  "evaluations": [e.name for e in cell.evaluations]}))


@dataclass
class Ledger:
    """Cells done elsewhere, by cell name; `path` None: an empty ledger that is never saved."""

    path: Path | None
    budget: str
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)

    def holds(self, cell: Cell) -> bool:
        """Whether the ledger has `cell`, made with the same options and evaluations."""
        entry = self.cells.get(cell.name)
        return entry is not None and {k: entry.get(k) for k in ("train", "evaluations")} == _identity(cell)

    def done(self, cells: Iterable[Cell]) -> frozenset[str]:
        return frozenset(cell.name for cell in cells if self.holds(cell))

    def reading(self, cell: Cell, metric: str) -> Reading | None:
        if not self.holds(cell):
            return None
        found = self.cells[cell.name]["metrics"].get(metric)
        return Reading.from_json(found) if found is not None else None

    def put(self, cell: Cell, readings: dict[str, Reading], run: dict[str, Any]) -> None:
        """Record a done cell: its readings and `run` (commit, machine, finished, source)."""
        self.cells[cell.name] = {**_identity(cell), **run,
                                 "metrics": {m: r.as_json() for m, r in sorted(readings.items())}}

    def save(self) -> Path | None:
        if self.path is None:
            return None
        return atomic_write_json(self.path, {
            "format": FORMAT, "budget": self.budget,
            "cells": {name: self.cells[name] for name in sorted(self.cells)}})


def load_ledger(path: str | Path | None, budget: str) -> Ledger:
    """The ledger at `path` (empty when the file does not exist yet; None: no ledger).

    A ledger of another budget or format is refused: its cells would share names, not runs.
    """
    if path is None:
        return Ledger(None, budget)
    path = Path(path)
    if not path.is_file():
        return Ledger(path, budget)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a ledger of ipmix reproduce ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("cells"), dict):
        raise ValueError(f"{path}: not a ledger of ipmix reproduce (format {FORMAT})")
    if data.get("budget") != budget:
        raise ValueError(f"{path} holds cells of budget {data.get('budget')!r}, not {budget!r}: "
                         "give the ledger of this budget (or a new path)")
    return Ledger(path, budget, dict(data["cells"]))
