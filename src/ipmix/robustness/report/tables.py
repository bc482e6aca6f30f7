"""Run grouping and table cells shared by the CIFAR and ImageNet reports.

Runs whose configurations differ only by their seed (and output location) form one row,
``mean ± std`` (sample standard deviation over the seeds), as the paper's tables do. The row
counts distinct training seeds: two runs with the same seed are ``2 runs, 1 seed``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Configuration keys that do not make two runs different methods.
IGNORED_CONFIG_KEYS = frozenset(
    {"seed", "out", "out_dir", "output", "output_dir", "run_dir", "save", "name", "run_name",
     "resume", "device", "num_workers", "workers", "progress"}
)
_SEED_SUFFIX = re.compile(r"[-_.]?(seed|s)[-_]?\d+$", re.IGNORECASE)


def get_value(results: Mapping[str, Any], *keys: str) -> float | None:
    value: Any = results
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return None if value is None else float(value)


def _strip_config(config: Any) -> Any:
    if isinstance(config, Mapping):
        return {
            key: _strip_config(value)
            for key, value in sorted(config.items())
            if key not in IGNORED_CONFIG_KEYS
        }
    if isinstance(config, list | tuple):
        return [_strip_config(value) for value in config]
    return config


def _group_key(name: str, results: Mapping[str, Any]) -> str:
    meta = results.get("meta", {})
    config = meta.get("config")
    if not config:
        return f"run:{name}"  # nothing tells what the run was: never merge it with another
    key = {
        "config": _strip_config(config),
        "model": meta.get("model_name"),
        "dataset": meta.get("dataset"),
        "n": meta.get("n"),
        "suite": meta.get("suite"),
    }
    return json.dumps(key, sort_keys=True, default=str)


@dataclass(frozen=True)
class RunGroup:
    """Runs that differ only by seed: one row of the comparison table, and its distinct seeds."""

    label: str
    runs: tuple[str, ...]
    seeds: int = 1

    @property
    def repeats_seeds(self) -> bool:
        return self.seeds < len(self.runs)


def _seed(results: Mapping[str, Any]) -> Any:
    return (results.get("meta", {}).get("config") or {}).get("seed")


def group_runs(results_by_run: Mapping[str, Mapping[str, Any]]) -> list[RunGroup]:
    """Group runs (in first-seen order) whose configurations are equal once seeds are ignored."""
    groups: dict[str, list[str]] = {}
    for name, results in results_by_run.items():
        groups.setdefault(_group_key(name, results), []).append(name)
    out = []
    for names in groups.values():
        stems = {_SEED_SUFFIX.sub("", Path(name).name) or Path(name).name for name in names}
        label = stems.pop() if len(stems) == 1 else Path(names[0]).name
        seeds = len({json.dumps(_seed(results_by_run[name]), default=str) for name in names})
        if len(names) > 1:
            counted = f"{seeds} seeds" if seeds == len(names) else \
                f"{len(names)} runs, {seeds} seed{'s' * (seeds > 1)}"
            label = f"{label} ({counted})"
        out.append(RunGroup(label, tuple(names), seeds))
    return out


def cell(values: Sequence[float | None], mark: str = "") -> str:
    """One value, or ``mean ± std`` over seeds, followed by `mark`; "–" when any is missing."""
    present = [v for v in values if v is not None]
    if not present or len(present) != len(values):
        return "–"
    if len(present) == 1:
        return f"{present[0]:.2f}{mark}"
    return f"{np.mean(present):.2f} ± {np.std(present, ddof=1):.2f}{mark}"


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


Reader = Callable[[Mapping[str, Any]], "float | None"]


def grouped_table(
    results_by_run: Mapping[str, Mapping[str, Any]],
    columns: Sequence[tuple[str, Reader]],
    fallbacks: Mapping[str, tuple[Reader, str]] | None = None,
) -> tuple[str, set[str]]:
    """A markdown table, one row per group of runs (`group_runs`), one column per reader.

    `fallbacks[column] = (reader, mark)`: where the column's value is missing for a run of a
    group, the fallback's values are shown instead, followed by `mark` (e.g. a partial mCE).
    Returns the table and the marks used (for the footnotes).
    """
    header = ["Run", *(name for name, _ in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    used: set[str] = set()
    for group in group_runs(results_by_run):
        runs = [results_by_run[name] for name in group.runs]
        cells = [group.label]
        for name, read in columns:
            values, mark = [read(r) for r in runs], ""
            if name in (fallbacks or {}) and any(v is None for v in values):
                other, symbol = fallbacks[name]
                replaced = [other(r) for r in runs]
                if all(v is not None for v in replaced):
                    values, mark = replaced, symbol
                    used.add(symbol)
            cells.append(cell(values, mark))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", used


def benchmark_order(names: Sequence[str], kind: str) -> list[str]:
    """`names` in the benchmark's order (results.json stores them sorted); unknown ones last."""
    if kind == "corruption":
        from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS as canonical
    else:
        from ipmix.corruptions.perturbations import PERTURBATIONS as canonical
    known = [name for name in canonical if name in names]
    return known + sorted(name for name in names if name not in canonical)


def section_names(results_by_run: Mapping[str, Mapping[str, Any]], section: str, key: str) -> list[str]:
    """The names under ``results[section][key]`` in any run, in the benchmark's order."""
    found = {name for r in results_by_run.values() for name in (r.get(section) or {}).get(key, {})}
    return benchmark_order(sorted(found), section)
