"""The papers' numbers as data, one value per (table, section, row, column).

`paper_numbers.csv` is a hand transcription of the IPMix paper's tables; `published_numbers.csv`
holds, for ipmix's tables beyond the paper (the ``field`` comparison), what each method's own
publication reports, with its source. Each value keeps the labels the table prints, the printed
standard deviation where there is one, and a note where the paper prints it somewhere else than
the column it measures (its errata) or in another form (accuracy for error).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PAPER_FILE = "paper_numbers.csv"
PUBLISHED_FILE = "published_numbers.csv"


@dataclass(frozen=True)
class PaperValue:
    """One number of the paper, tied to where it is printed."""

    table: str
    section: str
    row: str
    column: str
    value: float
    std: float | None
    note: str
    source: str = ""  # the publication, for values not from the IPMix paper's own table

    @property
    def text(self) -> str:
        """As the paper prints it: ``4.4 ± 0.05`` or ``4.4``."""
        value = f"{self.value:g}"
        return value if self.std is None else f"{value} ± {self.std:g}"


class PaperValueNotFound(KeyError):
    """No transcribed value at that table/section/row/column."""


@lru_cache(maxsize=1)
def paper_values() -> tuple[PaperValue, ...]:
    """Every transcribed value, in file order (the IPMix paper's, then the published ones)."""
    values = []
    for name in (PAPER_FILE, PUBLISHED_FILE):
        text = resources.files("ipmix.reproduce").joinpath(name).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        for row in csv.DictReader(io.StringIO("\n".join(lines))):
            values.append(PaperValue(
                table=row["table"], section=row["section"], row=row["row"], column=row["column"],
                value=float(row["value"]), std=float(row["std"]) if row["std"] else None,
                note=row["note"], source=row.get("source") or "",
            ))
    return tuple(values)


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str, str, str], PaperValue]:
    index: dict[tuple[str, str, str, str], PaperValue] = {}
    for value in paper_values():
        key = (value.table, value.section, value.row, value.column)
        if key in index:
            raise ValueError(f"{PAPER_FILE}: {key} is transcribed twice")
        index[key] = value
    return index


def paper_value(table: str, section: str, row: str, column: str) -> PaperValue:
    """The paper's value at that place; `PaperValueNotFound` names the place if there is none."""
    try:
        return _index()[(str(table), section, row, column)]
    except KeyError:
        raise PaperValueNotFound(
            f"Table {table} has no value at section {section!r}, row {row!r}, column {column!r}"
        ) from None


def find_paper_value(table: str, section: str, row: str, column: str) -> PaperValue | None:
    """Like `paper_value`, None where the paper has no such value (e.g. a row it lacks)."""
    return _index().get((str(table), section, row, column))


def paper_table(table: str) -> list[PaperValue]:
    """The values of one table, in file order."""
    return [value for value in paper_values() if value.table == str(table)]
