"""Corrupted images: ImageNet-C / CIFAR-C's 15 + 4 corruptions, C-bar, the P sequences, writers.

``from ipmix.corruptions import corrupt, get_corruption_names``: bethgelab/imagecorruptions'
interface (``corrupt(image, severity=1, corruption_name=None, corruption_number=-1)``), on
one image of any size, seeded (see ``api.py``).

A leaf package: it imports numpy, scipy, Pillow, OpenCV, numba and ``ipmix.utils``, never
torch, nor ``robustness``, ``training`` or ``augment`` (``robustness`` reads what it writes).

- ``kernels/``: the low-level ports shared by every family (scipy.ndimage, Pillow, numpy's
  draws, ImageMagick's motion blur, HSV, fused per-pixel arithmetic);
- ``imagenet_c/``: the 19 corruptions of Hendrycks & Dietterich, batched, one table of
  constants per reference script (``imagenet_c.presets``);
- ``cbar/``: the C-bar corruptions of Mintun et al.;
- ``perturbations/``: the CIFAR-P / ImageNet-P sequences;
- ``writers/``: CIFAR-C / -P files, ImageNet-C / -C-bar / -P folders, videos.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "corrupt": "ipmix.corruptions.api",
    "get_corruption_names": "ipmix.corruptions.api",
    "CorruptionError": "ipmix.corruptions.imagenet_c.presets",
    "FrostTexturesNotFoundError": "ipmix.corruptions.imagenet_c.weather_digital",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """`corrupt` and the others are imported on first use: ``import ipmix.corruptions`` stays
    light (no numba kernels, no OpenCV)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ipmix.corruptions' has no attribute {name!r}")
