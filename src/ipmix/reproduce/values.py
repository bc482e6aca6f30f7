"""Our value of a table entry: the metric of its cells, over seeds or with a bootstrap interval.

With two or more finished seeds a value is ``mean ± std`` (sample standard deviation, as the
paper's tables); with one seed it is that seed's number with a 95% percentile-bootstrap
interval over the test images (from the evaluation's `predictions.npz`). Values are read from
the ledger (`ipmix.reproduce.ledger`), which keeps each done cell's readings, whether the cell
was done here or on another machine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ipmix.reproduce.cells import Cell
from ipmix.reproduce.ledger import Ledger, Reading
from ipmix.reproduce.records import RECORD_FILE, Record, bootstrap, interval, load_record
from ipmix.reproduce.runner import cell_status, read_cell_info, run_dir
from ipmix.reproduce.tables import METRICS, Entry

#: Notes shown as a mark after the value: mCE over fewer than 15 corruptions; ImageNet-P mFR
#: not normalised by AlexNet's (no AlexNet run to normalise by).
MARKS = {"*": "*", "unnormalised": "‡"}
#: results.json keys of the ImageNet metrics (labels of Table 5's columns in robustness.report.imagenet).
IMAGENET_COLUMNS = {
    "in_error": "Clean error", "in_c_mce": "IN-C mCE", "in_r_error": "IN-R error",
    "in_p_mfr": "IN-P mFR", "in_rms_c": "RMS C", "in_rms_r": "RMS R", "in_rms_a": "RMS A",
    "in_a_accuracy": "IN-A acc.", "in_o_aupr": "IN-O AUPR",
}


@dataclass
class Value:
    """One reproduced number (or why there is none)."""

    status: str  # done, partial (some seeds), todo, running, failed, needs
    mean: float | None = None
    std: float | None = None
    per_seed: list[float] = field(default_factory=list)
    interval: tuple[float, float] | None = None
    seeds_planned: int = 0
    note: str = ""  # needs / failure text, or a mark (`MARKS`)
    cells: list[str] = field(default_factory=list)

    def text(self, digits: int = 2) -> str:
        """``12.34 ± 0.56`` (seeds), ``12.34 [11.70, 13.01]`` (one seed), or the status."""
        if self.mean is None:
            return {"needs": "needs *", "failed": "failed", "running": "running"}.get(
                self.status, "not run")
        mark = MARKS.get(self.note, "")
        shown = f"{self.mean:.{digits}f}"
        if self.std is not None:
            shown += f" ± {self.std:.{digits}f}"
        elif self.interval is not None:
            shown += f" [{self.interval[0]:.{digits}f}, {self.interval[1]:.{digits}f}]"
        if len(self.per_seed) < self.seeds_planned:
            shown += f" ({len(self.per_seed)}/{self.seeds_planned} seeds)"
        return shown + mark

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "mean": self.mean, "std": self.std,
                "per_seed": self.per_seed, "interval": self.interval,
                "seeds_done": len(self.per_seed), "seeds_planned": self.seeds_planned,
                "note": self.note, "cells": self.cells}


@lru_cache(maxsize=512)
def _results(folder: str, mtime: float) -> dict[str, Any]:
    return json.loads(Path(folder, "results.json").read_text())


def cell_results(out: Path, cell: Cell) -> list[dict[str, Any]]:
    """The results of each of a cell's evaluations, in order (main subset first)."""
    found = []
    for evaluation in cell.evaluations:
        folder = run_dir(out, cell) / evaluation.name
        path = folder / "results.json"
        found.append(_results(str(folder), path.stat().st_mtime) if path.is_file() else {})
    return found


def _read(results: dict[str, Any], metric: str) -> tuple[float | None, str]:
    def get(*keys: str) -> Any:
        value: Any = results
        for key in keys:
            if not isinstance(value, dict) or value.get(key) is None:
                return None
            value = value[key]
        return value

    paths = {"error": ("clean", "error"), "rms": ("calibration", "rms_clean"),
             "rms_c": ("calibration", "rms_c"), "mfr": ("perturbation", "mfr"),
             "pgd": ("pgd", "error"), "auroc": ("ood", "auroc"), "aupr": ("ood", "aupr")}
    if metric in IMAGENET_COLUMNS:
        from ipmix.robustness.report.imagenet import TABLE5_COLUMNS

        value = dict(TABLE5_COLUMNS)[IMAGENET_COLUMNS[metric]](results)
        if value is None and metric == "in_p_mfr":
            unnormalised = get("imagenet_p", "mfr_unnormalized")
            return (float(unnormalised), "unnormalised") if unnormalised is not None else (None, "")
        return (float(value), "") if value is not None else (None, "")
    if metric == "cbar":
        value = get("cifar_c_bar", "mean_error")
        value = value if value is not None else get("imagenet_c_bar", "mean_error")
        return (float(value), "") if value is not None else (None, "")
    if metric == "mce":
        if get("corruption", "mce") is not None:
            return float(get("corruption", "mce")), ""
        partial = get("corruption", "mce_partial")
        return (float(partial), "*") if partial is not None else (None, "")
    value = get(*paths[metric]) if metric in paths else None
    return (float(value), "") if value is not None else (None, "")


def epoch_seconds(folder: Path) -> float | None:
    """Mean training seconds per epoch of a run (its log.jsonl)."""
    path = folder / "log.jsonl"
    if not path.is_file():
        return None
    seconds = [json.loads(line)["seconds"] for line in path.read_text().splitlines() if line.strip()]
    return float(np.mean(seconds)) if seconds else None


def cell_metric(out: Path, cell: Cell, metric: str) -> tuple[float | None, str, int | None]:
    """A done cell's metric, its note, and which evaluation holds it (None: from the log)."""
    if metric == "epoch_seconds":
        return epoch_seconds(run_dir(out, cell)), "", None
    for index, results in enumerate(cell_results(out, cell)):
        value, note = _read(results, metric)
        if value is not None:
            return value, note, index
    return None, "", None


@lru_cache(maxsize=256)
def _record(path: str, mtime: float) -> Record:
    return load_record(path)


def cell_record(out: Path, cell: Cell, evaluation_index: int) -> Record | None:
    path = run_dir(out, cell) / cell.evaluations[evaluation_index].name / RECORD_FILE
    return _record(str(path), path.stat().st_mtime) if path.is_file() else None


def cell_reading(out: Path, cell: Cell, metric: str) -> Reading | None:
    """A done cell's metric from its run folder, with the bootstrap interval over its test
    images where the metric has one."""
    value, note, index = cell_metric(out, cell, metric)
    if value is None:
        return None
    record = cell_record(out, cell, index) if index is not None else None
    samples = bootstrap([record], metric) if record is not None else None
    return Reading(value, note, interval(samples[0], value) if samples is not None else None)


def cell_readings(out: Path, cell: Cell) -> dict[str, Reading]:
    """Every metric a done cell has, with intervals: what the ledger keeps of it."""
    found = {metric: cell_reading(out, cell, metric) for metric in METRICS}
    return {metric: reading for metric, reading in found.items() if reading is not None}


def entry_value(out: Path, entry: Entry, cells: Sequence[Cell], ledger: Ledger) -> Value:
    """Our value of `entry` from its cells (one per seed), as the `ledger` holds them
    (`job.record_done` puts the cells done under `out` into it first); `out` tells the state
    of the others (running, failed with its error, partly trained)."""
    value = Value(status="todo", seeds_planned=len(cells), cells=[c.name for c in cells])
    lacking = next((why for cell in cells for known, why in cell.entry_needs if known == entry), "")
    if lacking:
        value.status, value.note = "needs", lacking
        return value
    if not cells or not cells[0].runnable:
        value.status = "needs"
        value.note = cells[0].needs if cells else "no cell"
        return value
    readings: list[Reading] = []
    statuses = []
    for cell in cells:
        if ledger.holds(cell):
            reading = ledger.reading(cell, entry.metric)
            readings += [reading] if reading is not None else []
            continue
        statuses.append(cell_status(out, cell))
        if statuses[-1] == "failed" and not value.note:
            value.note = str(read_cell_info(run_dir(out, cell)).get("error", ""))
    if not readings:
        value.status = next((s for s in ("running", "failed", "partial") if s in statuses), "todo")
        return value
    value.per_seed = [r.value for r in readings]
    value.status = "done" if len(readings) == len(cells) else "partial"
    marks = [r.note for r in readings if r.note in MARKS]
    if marks:
        value.note = marks[0]
    value.mean = float(np.mean(value.per_seed))
    if len(readings) >= 2:
        value.std = float(np.std(value.per_seed, ddof=1))
    else:
        value.interval = readings[0].interval
    return value
