"""The results file of an evaluated run: names, format and reading it back.

Shared by `suite` (which writes results) and `report` (which reads them), so that neither
imports the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"
RESULTS_MARKDOWN = "results.md"
RESULTS_FORMAT = "ipmix-results/1"
#: The CIFAR parts of the suite, in the order they run and are reported.
SUITE_PARTS = ("clean", "c", "p", "calibration", "pgd", "ood")


class ResultsNotFoundError(FileNotFoundError):
    """A run has no readable results.json."""


def load_results(run: str | Path) -> dict[str, Any]:
    """The results of a run directory (its results.json) or of a results.json path."""
    path = Path(run).expanduser()
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise ResultsNotFoundError(
            f"no {RESULTS_FILE} for run {path}: run `ipmix evaluate {path}` first"
        )
    try:
        results = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON: {error}") from error
    if not isinstance(results, dict) or "meta" not in results:
        raise ValueError(f"{file} is not an ipmix results file (no 'meta' section)")
    return results
