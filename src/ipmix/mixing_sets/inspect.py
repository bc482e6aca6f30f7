"""Quality report for a mixing set: size, low-variance share, colourfulness, diversity,
duplicates, and a contact sheet.

- Low-variance pictures: pixel standard deviation under 10 on the 0-255 scale (all channels
  together); such pictures add little more than a colour cast when mixed.
- Colourfulness: Hasler & Suesstrunk (2003), ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 +
  mu_yb^2)`` with ``rg = R - G`` and ``yb = (R + G) / 2 - B``.
- Mean pairwise difference: mean absolute pixel difference (0-255) between random pairs of
  pictures at 32 px, a simple diversity measure.
- Duplicates: pictures identical, at 32 px, to an earlier one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ipmix.mixing_sets.store import MixingSet
from ipmix.utils.grid import image_grid, save_image

#: Pixel standard deviation (0-255) under which a picture counts as low-variance.
LOW_VARIANCE_STD = 10.0
#: Side at which pictures are compared (pairwise differences, duplicates).
COMPARE_SIDE = 32


def colourfulness(picture: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness of a uint8 RGB picture (0 for grey pictures)."""
    rgb = picture.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


@dataclass
class InspectionReport:
    """Statistics of a mixing set (or of the sample of it that was inspected)."""

    count: int
    inspected: int
    sizes: dict[tuple[int, int], int]
    low_variance: int
    colourfulness_mean: float
    colourfulness_median: float
    pixel_std_mean: float
    mean_pairwise_difference: float
    duplicates: int
    low_variance_indices: list[int] = field(default_factory=list)

    @property
    def low_variance_share(self) -> float:
        return self.low_variance / max(self.inspected, 1)

    def lines(self) -> list[str]:
        """The report as human-readable lines."""
        sizes = ", ".join(
            f"{w}x{h}: {n}" for (h, w), n in sorted(self.sizes.items(), key=lambda kv: -kv[1])[:5]
        )
        sample = "" if self.inspected == self.count else f" (statistics on {self.inspected})"
        return [
            f"pictures: {self.count}{sample}",
            f"sizes (WxH: count): {sizes}{' ...' if len(self.sizes) > 5 else ''}",
            f"low-variance (pixel std < {LOW_VARIANCE_STD:g}): {self.low_variance} "
            f"({100 * self.low_variance_share:.2f}%)",
            f"pixel std: mean {self.pixel_std_mean:.1f}",
            f"colourfulness (Hasler-Suesstrunk): mean {self.colourfulness_mean:.1f}, "
            f"median {self.colourfulness_median:.1f}",
            f"mean pairwise difference at {COMPARE_SIDE} px (0-255): "
            f"{self.mean_pairwise_difference:.1f}",
            f"duplicates (identical at {COMPARE_SIDE} px): {self.duplicates}",
        ]


def inspect_set(
    mixing_set: MixingSet, limit: int | None = None, pairs: int = 2000, seed: int = 0,
    progress: bool = False,
) -> InspectionReport:
    """Compute the report on the whole set, or on `limit` pictures drawn with `seed`."""
    rng = np.random.default_rng(seed)
    total = len(mixing_set)
    if limit is not None and limit < total:
        indices = np.sort(rng.choice(total, size=limit, replace=False))
    else:
        indices = np.arange(total)
    sizes: Counter[tuple[int, int]] = Counter()
    stds, colours, low = [], [], []
    thumbs = np.empty((len(indices), COMPARE_SIDE, COMPARE_SIDE, 3), np.uint8)
    seen: set[bytes] = set()
    duplicates = 0
    for k, index in enumerate(tqdm(indices, desc="inspect", unit="pic", disable=not progress)):
        picture = mixing_set[int(index)]
        sizes[picture.shape[:2]] += 1
        std = float(picture.std())
        stds.append(std)
        colours.append(colourfulness(picture))
        if std < LOW_VARIANCE_STD:
            low.append(int(index))
        thumbs[k] = mixing_set.picture(int(index), COMPARE_SIDE)
        digest = hashlib.blake2b(thumbs[k].tobytes(), digest_size=16).digest()
        duplicates += digest in seen
        seen.add(digest)
    if len(indices) > 1:
        first = rng.integers(len(indices), size=pairs)
        second = (first + rng.integers(1, len(indices), size=pairs)) % len(indices)
        diffs = np.abs(thumbs[first].astype(np.int16) - thumbs[second].astype(np.int16))
        pairwise = float(diffs.mean())
    else:
        pairwise = 0.0
    return InspectionReport(
        count=total,
        inspected=len(indices),
        sizes=dict(sizes),
        low_variance=len(low),
        colourfulness_mean=float(np.mean(colours)),
        colourfulness_median=float(np.median(colours)),
        pixel_std_mean=float(np.mean(stds)),
        mean_pairwise_difference=pairwise,
        duplicates=duplicates,
        low_variance_indices=low,
    )


def contact_sheet(
    mixing_set: MixingSet, path: str | Path, rows: int = 8, columns: int = 12, cell: int = 64,
    seed: int = 0,
) -> Path:
    """Write a grid of randomly chosen pictures (drawn with `seed`) as a PNG."""
    rng = np.random.default_rng(seed)
    count = min(rows * columns, len(mixing_set))
    chosen = np.sort(rng.choice(len(mixing_set), size=count, replace=False))
    pictures = [mixing_set.picture(int(i), cell) for i in chosen]
    grid = [pictures[r * columns : (r + 1) * columns] for r in range(-(-count // columns))]
    return save_image(image_grid(grid, cell=cell, gap=2), path)
