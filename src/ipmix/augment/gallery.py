"""Galleries of IPMix outputs: the picture `ipmix show` writes (paper Figures 1, 3 and 5)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ipmix.augment.ipmix import IPMix
from ipmix.augment.mixing import MIXING_OPS
from ipmix.mixing_sets.store import MixingSet
from ipmix.utils.grid import image_grid

#: Rows showing one ingredient of IPMix at a time, as IPMix keyword overrides.
LEVEL_ROWS: dict[str, dict[str, Any]] = {
    "image level": {"patch_level": False, "pixel_level": False},
    "patch level": {"image_level": False, "pixel_level": False},
    "pixel level": {"image_level": False, "patch_level": False},
    "patch: square": {"image_level": False, "pixel_level": False, "box_shapes": ("square",)},
    "patch: scar": {"image_level": False, "pixel_level": False, "box_shapes": ("scar",)},
    **{
        f"mix: {name.replace('_', ' ')}": {"image_level": False, "mixing_ops": (name,)}
        for name in MIXING_OPS
    },
}


def ipmix_gallery(
    images: np.ndarray,
    mixing_set: MixingSet,
    samples: int = 6,
    seed: int = 0,
    cell: int = 64,
    **options: Any,
) -> Image.Image:
    """A grid: each image with `samples` IPMix outputs, then one row per level for the first.

    `images` is a uint8 ``[N, H, W, 3]`` array; `options` are IPMix keyword arguments.
    """
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"gallery images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}")
    rows, labels = [], []
    transform = IPMix(mixing_set=mixing_set, seed=seed, **options)
    for i, image in enumerate(images):
        pil = Image.fromarray(image)
        rows.append([image] + [np.asarray(transform(pil)) for _ in range(samples)])
        labels.append(f"image {i}: IPMix")
    first = Image.fromarray(images[0])
    for label, overrides in LEVEL_ROWS.items():
        level_transform = IPMix(mixing_set=mixing_set, seed=seed, **{**options, **overrides})
        rows.append([images[0]] + [np.asarray(level_transform(first)) for _ in range(samples)])
        labels.append(label)
    side = images.shape[1]
    pictures = [mixing_set.picture(i % len(mixing_set), side) for i in range(samples + 1)]
    rows.append(pictures)
    labels.append("mixing pictures")
    columns = ["original"] + [f"sample {j + 1}" for j in range(samples)]
    return image_grid(rows, row_labels=labels, column_labels=columns, cell=cell)
