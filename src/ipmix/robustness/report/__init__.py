"""Tables and plots of suite results: one run's summary, several runs side by side.

`comparison_table(results_by_run)` gives the paper-style table (rows = runs; columns = Error,
mCE, RMS on clean and on CIFAR-C, mFR, PGD error, AUROC, AUPR, all in percent). Runs whose
configurations differ only by their seed (and output location) are combined into one row,
``mean ± std`` (sample standard deviation over the seeds), as the paper's tables are.
`write_report` writes the table of several runs and their plots (``plots.py``); the ImageNet
tables are ``imagenet.py``'s; ``tables.py`` holds what both share (run groups, cells, benchmark
order).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ipmix.robustness.report.imagenet import has_imagenet, imagenet_sections, imagenet_tables
from ipmix.robustness.report.plots import write_plots
from ipmix.robustness.report.tables import (  # noqa: F401  (re-exported: part of the report's API)
    IGNORED_CONFIG_KEYS,
    RunGroup,
    benchmark_order,
    group_runs,
    grouped_table,
)
from ipmix.robustness.report.tables import fmt as _fmt
from ipmix.robustness.report.tables import get_value as _get
from ipmix.robustness.results import (  # noqa: F401  (re-exported: the report's file names)
    RESULTS_FILE,
    RESULTS_MARKDOWN,
    SUITE_PARTS,
    ResultsNotFoundError,
    load_results,
)
from ipmix.utils.io import atomic_write_bytes

#: The table's columns: name and how to read the number from one run's results.
COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], float | None]], ...] = (
    ("Error", lambda r: _get(r, "clean", "error")),
    ("mCE", lambda r: _get(r, "corruption", "mce")),
    ("RMS clean", lambda r: _get(r, "calibration", "rms_clean")),
    ("RMS C", lambda r: _get(r, "calibration", "rms_c")),
    ("mFR", lambda r: _get(r, "perturbation", "mfr")),
    ("PGD error", lambda r: _get(r, "pgd", "error")),
    ("AUROC", lambda r: _get(r, "ood", "auroc")),
    ("AUPR", lambda r: _get(r, "ood", "aupr")),
)


def comparison_table(results_by_run: Mapping[str, Mapping[str, Any]]) -> str:
    """A markdown table, one row per group of runs differing only by seed (mean ± std).

    `results_by_run` maps a run name (e.g. its directory) to its results. A missing metric
    shows as "–"; an mCE over fewer than the 15 benchmark corruptions (e.g. frost skipped for
    lack of its textures) is marked "*".
    """
    if not results_by_run:
        raise ValueError("no runs to compare")
    partial = (lambda r: _get(r, "corruption", "mce_partial"), "*")
    table, marks = grouped_table(results_by_run, COLUMNS, {"mCE": partial})
    any_partial = "*" in marks
    if any_partial:
        table += (
            "\n\\* mean over the benchmark corruptions that could be generated "
            "(see each run's results.md).\n"
        )
    return table


def results_markdown(results: Mapping[str, Any], title: str = "Robustness results") -> str:
    """One run's summary: the headline row, then per-corruption, per-perturbation, OOD tables."""
    meta = results.get("meta", {})
    lines = [f"# {title}", ""]
    described = ", ".join(
        f"{key} {meta[key]}" for key in ("model_name", "dataset", "n", "device", "seed") if key in meta
    )
    lines += [f"{described}; measured {meta.get('date', '?')}. All numbers in percent.", ""]
    if _has_cifar(results) or not has_imagenet(results):
        lines += [comparison_table({title: results}).strip(), ""]
    if has_imagenet(results):
        lines += [imagenet_tables({title: results}).strip(), ""]
    seconds = meta.get("seconds") or {}
    if seconds:
        order = [part for part in SUITE_PARTS if part in seconds]
        order += sorted(set(seconds) - set(order))
        lines += ["Wall time per part: " + ", ".join(f"{k} {seconds[k]:.1f} s" for k in order), ""]
    calibration = results.get("calibration")
    if calibration:
        lines += [
            "## RMS calibration error",
            "",
            f"Clean: {_fmt(calibration.get('rms_clean'))}; CIFAR-C (mean over the 15): "
            f"{_fmt(calibration.get('rms_c'))}. With Hendrycks' loop, which leaves out the most "
            f"confident bin (as published numbers were computed): clean "
            f"{_fmt(calibration.get('rms_clean_reference'))}, CIFAR-C "
            f"{_fmt(calibration.get('rms_c_reference'))}.",
            "",
        ]
    corruption = results.get("corruption")
    if corruption:
        lines += ["## Corruption error (CIFAR-C)", "", f"Source: `{corruption.get('source')}`"
                  + (" (generated)" if corruption.get("generated") else ""), ""]
        lines += ["| Corruption | s1 | s2 | s3 | s4 | s5 | mean |", "|---|---|---|---|---|---|---|"]
        errors = corruption.get("errors", {})
        for name in benchmark_order(list(errors), "corruption"):
            row = errors[name]
            cells = " | ".join(f"{v:.2f}" for v in row)
            lines.append(f"| {name} | {cells} | {np.mean(row):.2f} |")
        lines += ["", f"mCE (15 benchmark corruptions, unnormalised): {_fmt(corruption.get('mce'))}",
                  f"Extra corruptions (mean): {_fmt(corruption.get('extra_mean'))}"]
        if corruption.get("normalized_mce") is not None:
            lines.append(f"Normalised mCE vs baseline: {_fmt(corruption['normalized_mce'])}")
        for note in corruption.get("notes", []):
            lines.append(f"Note: {note}")
        lines.append("")
    perturbation = results.get("perturbation")
    if perturbation:
        lines += ["## Flip probability (CIFAR-P)", "", "| Perturbation | flip probability |",
                  "|---|---|"]
        flips = perturbation["flip_probability"]
        lines += [f"| {k} | {flips[k]:.2f} |" for k in benchmark_order(list(flips), "perturbation")]
        lines += ["", f"mFR: {_fmt(perturbation.get('mfr'))}", ""]
    ood = results.get("ood")
    if ood:
        lines += ["## Anomaly detection (maximum softmax probability)", "",
                  "| Outliers | count | AUROC | AUPR | FPR at 95% TPR |", "|---|---|---|---|---|"]
        for name, m in ood["sources"].items():
            lines.append(
                f"| {name} | {m['count']} | {m['auroc']:.2f} | {m['aupr']:.2f} | {m['fpr95']:.2f} |"
            )
        lines += [f"| mean | | {ood['auroc']:.2f} | {ood['aupr']:.2f} | {ood['fpr95']:.2f} |", ""]
    bar = results.get("cifar_c_bar")
    if bar:
        lines += ["## CIFAR-C-bar", "", f"Mean error over the 10 x 5 sets (unnormalised): "
                  f"{_fmt(bar['mean_error'])}; RMS {_fmt(bar['rms'])}. Source: `{bar['source']}`", ""]
    lines += imagenet_sections(results)
    return "\n".join(lines)


def _has_cifar(results: Mapping[str, Any]) -> bool:
    return any(key in results for key in ("clean", "corruption", "calibration", "perturbation",
                                          "pgd", "ood", "cifar_c_bar"))


def write_report(
    runs: Sequence[str | Path], out_dir: str | Path, title: str = "Robustness comparison"
) -> tuple[Path, list[Path]]:
    """Read each run's results, write ``report.md`` (table) and the plots into `out_dir`.

    A run given twice (under any spelling of its path) is an error; runs of one row that share
    a seed are reported with a warning (their spread is not a spread over seeds).
    """
    if not runs:
        raise ValueError("no runs given")
    results_by_run: dict[str, dict[str, Any]] = {}
    seen: dict[Path, str] = {}
    for run in runs:
        name = str(run)
        file = Path(run).expanduser().resolve()
        file = file / RESULTS_FILE if file.is_dir() else file
        if file in seen:
            raise ValueError(f"run {name} given twice (also as {seen[file]}): it would count as two seeds")
        seen[file] = name
        results_by_run[name] = load_results(run)
    for group in group_runs(results_by_run):
        if group.repeats_seeds:
            warnings.warn(f"{', '.join(group.runs)} differ only by seed but have {group.seeds} distinct "
                          f"seed(s) among {len(group.runs)} runs: their ± is not a spread over seeds",
                          stacklevel=2)
    out = Path(out_dir)
    plots = write_plots(results_by_run, out)
    lines = [f"# {title}", "", "All numbers in percent; rows combining seeds show mean ± std "
             "(sample standard deviation).", ""]
    if any(_has_cifar(r) for r in results_by_run.values()):
        lines.append(comparison_table(results_by_run))
    if any(has_imagenet(r) for r in results_by_run.values()):
        lines.append(imagenet_tables(results_by_run))
    lines += ["Runs: " + ", ".join(f"`{name}`" for name in results_by_run), ""]
    lines += [f"![{path.stem}]({path.name})" for path in plots]
    table_path = atomic_write_bytes(out / "report.md", ("\n".join(lines) + "\n").encode())
    return table_path, plots
