"""Each image op's parameters from its level and sign, computed as the PIL ops compute them.

AugMix's magnitude scales (``int(level * maxval / 10)``, ``level * maxval / 10``, in float64)
and what each op derives from them: PIL's affine coefficients (a rotation about the image
centre as `Image.rotate` computes it, shears, integer translations), posterize's bit mask,
solarize's threshold, autocontrast's cut (pixels removed at each end, PIL's
``pixels * cutoff // 100``) and the enhance ops' blend factor.

Written once, compiled by numba: the element-wise helpers are numpy ufuncs (the tensor
kernels, `ipmix.augment.kernels.grouped.ops`, call them on arrays of levels), and `op_parameters`
encodes a whole plan's steps for the fused and Triton kernels (`ipmix.augment.encoding`) in
one compiled loop that calls them.
"""

from __future__ import annotations

import math
from functools import cache

import numba
import numpy as np

from ipmix.augment.ops import ALL_OPS

#: Number of parameters per step: PIL's six affine coefficients, or one value in column 0.
PARAMS = 6
ROTATE, SHEAR_X, SHEAR_Y = ALL_OPS.index("rotate"), ALL_OPS.index("shear_x"), ALL_OPS.index("shear_y")
TRANSLATE_X, TRANSLATE_Y = ALL_OPS.index("translate_x"), ALL_OPS.index("translate_y")
POSTERIZE, SOLARIZE = ALL_OPS.index("posterize"), ALL_OPS.index("solarize")
AUTOCONTRAST = ALL_OPS.index("autocontrast")
COLOR, SHARPNESS = ALL_OPS.index("color"), ALL_OPS.index("sharpness")  # the enhance ops, in a row
#: Largest rotation: ``int(10 * 30 / 10)`` degrees at the largest level.
_MAX_DEGREES = 30


@numba.vectorize(["int64(float64, float64)"], cache=True)
def int_magnitude(level, maxval):
    """AugMix's ``int(level * maxval / 10)`` (truncated, like Python's int)."""
    return np.trunc(level * maxval / 10)


@numba.vectorize(["float64(float64, float64)"], cache=True)
def float_magnitude(level, maxval):
    """AugMix's ``level * maxval / 10``."""
    return level * maxval / 10


@numba.vectorize(["int64(float64)"], cache=True)
def posterize_mask(level):
    """Posterize's bit mask: keep the top ``4 - int(level * 4 / 10)`` bits."""
    return ~(2 ** (4 + int_magnitude(level, 4)) - 1) & 0xFF


@numba.vectorize(["int64(float64)"], cache=True)
def solarize_threshold(level):
    """Solarize inverts values at or above ``256 - int(level * 256 / 10)``."""
    return 256 - int_magnitude(level, 256)


@numba.vectorize(["float64(float64)"], cache=True)
def autocontrast_cutoff(level):
    """The authors' autocontrast cut-off, in percent at each end: ``10 - level``."""
    return 10 - float_magnitude(level, 10)


@numba.vectorize(["float64(float64)"], cache=True)
def enhance_factor(level):
    """The blend factor of color / contrast / brightness / sharpness: ``level * 1.8 / 10 + 0.1``."""
    return float_magnitude(level, 1.8) + 0.1


def rotation(degrees: float, height: int, width: int) -> tuple[float, ...]:
    """PIL's `Image.rotate` matrix (about the image centre) for `degrees`, as it computes it."""
    angle = -math.radians(degrees % 360.0)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    cx, cy = width / 2, height / 2
    return (cos, sin, cos * -cx + sin * -cy + cx, -sin, cos, -sin * -cx + cos * -cy + cy)


@cache
def _rotations(height: int, width: int) -> np.ndarray:
    """`rotation` for every integer angle in [-30, 30] degrees, row ``degrees + 30``."""
    angles = range(-_MAX_DEGREES, _MAX_DEGREES + 1)
    return np.asarray([rotation(float(degrees), height, width) for degrees in angles], dtype=np.float64)


def op_parameters(op: np.ndarray, level: np.ndarray, sign: np.ndarray, height: int, width: int) -> np.ndarray:
    """Each step's parameters, float64 ``[..., 6]``, for op indices into `ALL_OPS`.

    Affine ops get PIL's coefficients ``(a, b, c, d, e, f)``; the others one number in column
    0: posterize's bit mask, solarize's threshold, autocontrast's cut and the enhance ops'
    blend factor; equalize, mirror and invert none.
    """
    shape = np.shape(op)
    flat = [np.asarray(values, dtype=dtype).reshape(-1)
            for values, dtype in ((op, np.int64), (level, np.float64), (sign, np.int64))]
    params = _encode(*flat, height, width, _rotations(height, width))
    return params.reshape(*shape, PARAMS)


@numba.njit(cache=True)
def _encode(op, level, sign, height, width, rotations):
    params = np.zeros((len(op), PARAMS))
    for n in range(len(op)):
        kind, lv, direction, row = op[n], level[n], sign[n], params[n]
        if kind in (ROTATE, SHEAR_X, SHEAR_Y, TRANSLATE_X, TRANSLATE_Y):
            row[0] = row[4] = 1.0
        if kind == ROTATE:
            row[:] = rotations[direction * int_magnitude(lv, 30) + _MAX_DEGREES]
        elif kind == SHEAR_X:
            row[1] = direction * float_magnitude(lv, 0.3)
        elif kind == SHEAR_Y:
            row[3] = direction * float_magnitude(lv, 0.3)
        elif kind == TRANSLATE_X:
            row[2] = direction * int_magnitude(lv, width / 3)
        elif kind == TRANSLATE_Y:
            row[5] = direction * int_magnitude(lv, height / 3)
        elif kind == POSTERIZE:
            row[0] = posterize_mask(lv)
        elif kind == SOLARIZE:
            row[0] = solarize_threshold(lv)
        elif kind == AUTOCONTRAST:
            row[0] = np.floor_divide(height * width * autocontrast_cutoff(lv), 100)
        elif COLOR <= kind <= SHARPNESS:
            row[0] = enhance_factor(lv)
    return params
