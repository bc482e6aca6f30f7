"""The report's plots: error per corruption and severity, reliability diagrams, flip rates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ipmix.robustness.report.tables import group_runs, section_names
from ipmix.utils.figures import new_figure, write_png


def plot_corruption_errors(
    results_by_run: Mapping[str, Mapping[str, Any]], path: str | Path
) -> Path | None:
    """Error against severity, one panel per corruption, one line per group (seed mean)."""
    groups = group_runs(results_by_run)
    names = section_names(results_by_run, "corruption", "errors")
    if not names:
        return None
    columns = 5
    rows = -(-len(names) // columns)
    figure = new_figure(3.0 * columns, 2.4 * rows)
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for index, name in enumerate(names):
        ax = axes[index // columns][index % columns]
        for group in groups:
            rows_ = [
                results_by_run[run]["corruption"]["errors"][name]
                for run in group.runs
                if name in (results_by_run[run].get("corruption") or {}).get("errors", {})
            ]
            if rows_:
                ax.plot(range(1, 6), np.mean(rows_, axis=0), marker="o", label=group.label)
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(1, 6))
        ax.grid(alpha=0.3)
    for index in range(len(names), rows * columns):
        axes[index // columns][index % columns].axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("severity")
    for row in axes:
        row[0].set_ylabel("error (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=min(4, len(labels)), frameon=False)
    figure.subplots_adjust(top=1 - 0.6 / (2.4 * rows))
    return write_png(figure, path, tight=True)


def plot_reliability(
    results_by_run: Mapping[str, Mapping[str, Any]], path: str | Path
) -> Path | None:
    """Reliability diagram on the clean test set: accuracy against confidence, one line per run."""
    figure = new_figure(5.0, 5.0)
    ax = figure.subplots()
    drawn = False
    for name, results in results_by_run.items():
        bins = (results.get("calibration") or {}).get("bins_clean")
        if not bins:
            continue
        confidence, accuracy = np.array(bins["confidence"]), np.array(bins["accuracy"])
        ax.plot(100 * confidence, 100 * accuracy, marker=".", label=Path(name).name)
        drawn = True
    if not drawn:
        return None
    ax.plot([0, 100], [0, 100], color="grey", linestyle="--", label="perfect calibration")
    ax.set_xlabel("mean confidence in bin (%)")
    ax.set_ylabel("accuracy in bin (%)")
    ax.set_title("Reliability (bins of 100 test images)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return write_png(figure, path, tight=True)


def plot_flip_rates(
    results_by_run: Mapping[str, Mapping[str, Any]], path: str | Path
) -> Path | None:
    """Flip probability per CIFAR-P perturbation, one bar per group (seed mean ± std)."""
    groups = group_runs(results_by_run)
    names = section_names(results_by_run, "perturbation", "flip_probability")
    if not names:
        return None
    figure = new_figure(max(6.0, 0.9 * len(names) * max(1, len(groups)) / 2 + 3), 4.0)
    ax = figure.subplots()
    width = 0.8 / max(1, len(groups))
    for g, group in enumerate(groups):
        values = [
            [
                (results_by_run[run].get("perturbation") or {}).get("flip_probability", {}).get(
                    name, np.nan
                )
                for name in names
            ]
            for run in group.runs
        ]
        values = np.array(values, dtype=np.float64)
        std = np.nanstd(values, axis=0, ddof=1) if len(values) > 1 else None
        positions = np.arange(len(names)) + (g - (len(groups) - 1) / 2) * width
        ax.bar(positions, np.nanmean(values, axis=0), width, yerr=std, label=group.label)
    ax.set_xticks(np.arange(len(names)), names, rotation=35, ha="right")
    ax.set_ylabel("flip probability (%)")
    ax.set_title("CIFAR-P flip probability per perturbation")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return write_png(figure, path, tight=True)


def write_plots(results_by_run: Mapping[str, Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """All plots the results allow, as PNGs in `out_dir`; returns the files written."""
    out = Path(out_dir)
    written = [
        plot_corruption_errors(results_by_run, out / "corruption_errors.png"),
        plot_reliability(results_by_run, out / "reliability.png"),
        plot_flip_rates(results_by_run, out / "flip_rates.png"),
    ]
    return [path for path in written if path is not None]
