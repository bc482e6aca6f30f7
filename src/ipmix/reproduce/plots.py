"""One figure per reproduced table: our values (with their intervals) beside the paper's.

The two sets of numbers live on different scales (15 CPU epochs of a small model against 100
to 200 GPU epochs of large ones), so each panel gives them separate axes: bars and whiskers
for ours (left), diamonds for the paper (right). What should agree is the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ipmix.utils.figures import new_figure, write_png

#: A panel: its title and (label, our Value, the paper's number or None) per bar.
Panel = tuple[str, Sequence[tuple[str, Any, float | None]]]


def _whiskers(value: Any) -> tuple[float, float]:
    if value.std is not None:
        return value.mean - value.std, value.mean + value.std
    if value.interval is not None:
        return value.interval
    return value.mean, value.mean


def plot_panels(title: str, panels: Sequence[Panel], path: Path) -> Path | None:
    """Draw the panels that hold at least one measured value; None if none does."""
    panels = [p for p in panels if any(v.mean is not None for _, v, _ in p[1])]
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure = new_figure(5.2 * columns, 3.8 * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, items) in zip(axes, panels, strict=False):
        x = np.arange(len(items))
        ours = np.array([np.nan if v.mean is None else v.mean for _, v, _ in items])
        bounds = np.array([_whiskers(v) if v.mean is not None else (np.nan, np.nan)
                           for _, v, _ in items])
        ax.bar(x, ours, color="tab:blue", alpha=0.75)
        ax.errorbar(x, ours, yerr=[ours - bounds[:, 0], bounds[:, 1] - ours], fmt="none",
                    ecolor="black", capsize=3)
        ax.set_ylabel("ours", color="tab:blue")
        paper = np.array([np.nan if p is None else p for _, _, p in items], dtype=float)
        if not np.all(np.isnan(paper)):
            twin = ax.twinx()
            twin.plot(x, paper, "D", color="tab:red")
            twin.set_ylabel("paper", color="tab:red")
        ax.set_xticks(x, [label for label, _, _ in items], rotation=40, ha="right", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.axis("off")
    figure.suptitle(f"{title}\nbars: ours (whiskers: seed std or 95% bootstrap interval); "
                    "diamonds: paper", fontsize=9)
    figure.tight_layout()
    return write_png(figure, path, dpi=100)
