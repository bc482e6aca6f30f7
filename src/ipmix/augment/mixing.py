"""The four mixing operations of IPMix (Sec. 4.2) on float images in [0, 1].

The per-image reference path applies these functions to numpy arrays (HWC); the other backends
compute the same formulas in their own kernels. Every result is clamped to [0, 1] (the
authors' code lets out-of-range values wrap around when it converts back to bytes; PixMix
clamps: we clamp).

- add: ``a * (2 x1 - 1) + b * (2 x2 - 1)`` mapped back from [-1, 1] to [0, 1];
- multiply: ``(2 x1) ** a * (2 x2) ** b / 2`` (x2 clipped away from 0 first), with the powers
  of `ipmix.augment.kernels.cpu_math.power`, which the fused CPU kernels share bit for bit;
- random pixels: keep x1 where an ``H x W x 1`` mask is set, else x2 (same mask for every channel);
- random elements: the same with an ``H x W x C`` mask (one draw per channel).

The coefficients (a, b) come from `ipmix.augment.plan.coefficients_from_uniforms`, the masks
from thresholding uniform noise at a per-step threshold drawn by the plan sampler.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from ipmix.augment.kernels.cpu_math import power_array

Array = TypeVar("Array")  # numpy.ndarray or torch.Tensor

#: Mixing ops in a fixed order: plans refer to them by index.
MIXING_OPS: tuple[str, ...] = ("add", "multiply", "random_pixels", "random_elements")
ADD, MULTIPLY, RANDOM_PIXELS, RANDOM_ELEMENTS = range(4)

_TINY = 1e-37  # smallest base for negative exponents in `multiply` (as PixMix and the authors)


def add(x1: Array, x2: Array, a, b) -> Array:
    """Additive mixing in [-1, 1] space, clamped back to [0, 1]."""
    return ((a * (x1 * 2 - 1) + b * (x2 * 2 - 1)) + 1).clip(0, 2) / 2


def multiply(x1: np.ndarray, x2: np.ndarray, a: float, b: float) -> np.ndarray:
    """Geometric mixing of float32 images scaled to [0, 2], clamped back to [0, 1]."""
    return (power_array(x1 * 2, a) * power_array((x2 * 2).clip(_TINY, None), b)).clip(0, 2) / 2


def masked(x1: Array, x2: Array, keep_first) -> Array:
    """Random pixel / element mixing: `x1` where `keep_first` is set, `x2` elsewhere."""
    keep = keep_first.astype(x1.dtype) if hasattr(keep_first, "astype") else keep_first.to(x1.dtype)
    return x2 + keep * (x1 - x2)


def validate_mixing_ops(names: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """Check a subset of mixing ops (None means all four, the paper's default)."""
    if names is None:
        return MIXING_OPS
    names = tuple(names)
    unknown = [n for n in names if n not in MIXING_OPS]
    if unknown or not names:
        raise ValueError(
            f"mixing ops must be a non-empty subset of {MIXING_OPS}, got {list(names)}"
        )
    return names
