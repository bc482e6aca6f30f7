"""The results file of an evaluated run: names, format, reading it back, merging into it.

Shared by `suite` (which writes results) and `report` (which reads them), so that neither
imports the other. A second evaluation of a run adds its parts to the file (`merge_results`):
results are merged, never replaced.
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


class ResultsMergeError(ValueError):
    """A run's results.json measured another model or test set than the new results."""


def _parts(results: dict[str, Any]) -> list[str]:
    """What a results file measured: its top-level parts, shifts one by one (``shifts/NAME``)."""
    parts = [key for key in results if key not in ("format", "meta", "shifts")]
    return parts + [f"shifts/{name}" for name in results.get("shifts", {})]


def merge_results(previous: dict[str, Any] | None, new: dict[str, Any], where: Path) -> dict[str, Any]:
    """`new` results with the parts of `previous` (the file at `where`) it did not measure again.

    A part measured again replaces the earlier one; ``meta.measured`` says when each part was
    measured. Results of another checkpoint (``meta.checkpoint_sha256``), test subset (``n``)
    or ImageNet image size are never mixed in nor dropped: that is a `ResultsMergeError`.
    """
    meta = new["meta"]
    measured = dict.fromkeys(_parts(new), meta.get("date"))
    if previous is None:
        return {**new, "meta": {**meta, "measured": measured}}
    old = previous.get("meta", {})
    size = "image_size"
    checks = {"checkpoint_sha256": (old.get("checkpoint_sha256"), meta.get("checkpoint_sha256")),
              "n": (old.get("n"), meta.get("n")),
              size: (old.get("imagenet", {}).get(size), meta.get("imagenet", {}).get(size))}
    differ = [f"{key} {a} -> {b}" for key, (a, b) in checks.items()
              if a != b and (key == "checkpoint_sha256" or None not in (a, b))]
    if differ:
        raise ResultsMergeError(
            f"{where} holds results of another model or test set ({'; '.join(differ)}): the new "
            "results would replace them; move it away, or write elsewhere (--out DIR)"
        )
    merged = {**previous, **{k: v for k, v in new.items() if k != "shifts"}}
    if "shifts" in previous or "shifts" in new:
        merged["shifts"] = {**previous.get("shifts", {}), **new.get("shifts", {})}
    merged_meta = {**old, **meta, "measured": {**old.get("measured", {}), **measured}}
    merged_meta["suite"] = [p for p in SUITE_PARTS if p in {*old.get("suite", []), *meta.get("suite", [])}]
    merged_meta["seconds"] = {**old.get("seconds", {}), **meta.get("seconds", {})}
    if "imagenet" in old and "imagenet" in meta:
        a, b = old["imagenet"], meta["imagenet"]
        benchmarks = list(dict.fromkeys([*a.get("benchmarks", []), *b.get("benchmarks", [])]))
        merged_meta["imagenet"] = {
            **a, **b, "benchmarks": benchmarks, "seconds": {**a.get("seconds", {}), **b.get("seconds", {})},
            "not_run": {k: v for k, v in b.get("not_run", {}).items() if k not in benchmarks},
        }
    merged["meta"] = merged_meta
    return merged
