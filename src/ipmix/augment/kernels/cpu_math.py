"""Arithmetic that the CPU paths of IPMix share bit for bit: float32 powers and the mask noise.

The per-image reference path (numpy, `ipmix.augment.kernels.reference`) and the fused numba kernels
(`ipmix.augment.kernels.fused.apply`) must give the same bytes. Basic IEEE operations agree between numpy and
numba, library functions do not: numpy's SIMD ``power`` differs from libm's ``powf`` in the last
bit now and then, and numpy has no counter-based random numbers. So both paths call the
functions below, each written once as element-wise arithmetic: numba compiles it for the
kernels' loops, and the same Python function (``.py_func``) runs on numpy arrays
(`power_array`, `uniform_array`).

- `power`: ``x ** y`` for a float32 ``x >= 0``, in float64 arithmetic (log2 by the atanh
  series, exp2 by Taylor's series), rounded to float32: within one float32 ulp of the exact
  power, with no branch, so loops vectorise;
- `uniform`: the uniform noise of random pixel/element masks, a float32 in [0, 1) hashed from
  (seed, sample, chain, step, element) with the splitmix64 finaliser (24 random bits), so that
  a result depends on the plan's mask seed alone, not on the order of the work.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_SQRT2 = math.sqrt(2.0)
_INV_LN2 = 1 / math.log(2.0)
_LN2 = math.log(2.0)
_MANTISSA = (1 << 52) - 1
_ONE_BITS = 1023 << 52  # the exponent bits of 1.0


@numba.njit(inline="always", error_model="numpy")
def power(x, y):
    """``float32(x ** y)`` for a float32 ``x >= 0`` and a float ``y`` (``0 ** y`` is 0).

    In float64: x = 2^e m with m in [sqrt(1/2), sqrt(2)) read off its bits; log(m) = 2 atanh(s),
    s = (m - 1) / (m + 1), |s| < 0.172, to 1e-12 with 7 terms of the series; w = y log2(x) =
    n + f with n an integer and |f| <= 1/2; 2^f = exp(f ln 2) to 1e-12 with 11 terms; 2^n
    written as bits. The result is within one float32 ulp of the exact power (float32 keeps
    6e-8). No branch, so numba's loops vectorise; the same function runs element-wise on numpy
    arrays.
    """
    bits = np.float64(x).view(np.int64)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = np.int64((bits & _MANTISSA) | _ONE_BITS).view(np.float64)
    big = m > _SQRT2
    m = m * (1.0 - 0.5 * big)
    e = e + big
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    series = 1 / 11 + z * (1 / 13)
    series = 1 / 9 + z * series
    series = 1 / 7 + z * series
    series = 1 / 5 + z * series
    series = 1 / 3 + z * series
    series = 1.0 + z * series
    w = y * (e + 2.0 * s * series * _INV_LN2)
    w = np.minimum(np.maximum(w, -1022.0), 1023.0)  # (0 ** y: 2 ** -1022 here, then 0)
    n = np.floor(w + 0.5)
    r = (w - n) * _LN2
    p = 1 / 362880 + r * (1 / 3628800)
    p = 1 / 40320 + r * p
    p = 1 / 5040 + r * p
    p = 1 / 720 + r * p
    p = 1 / 120 + r * p
    p = 1 / 24 + r * p
    p = 1 / 6 + r * p
    p = 0.5 + r * p
    p = 1.0 + r * p
    p = 1.0 + r * p
    scale = np.int64((np.int64(n) + 1023) << 52).view(np.float64)
    return np.float32(p * scale * (x != 0))


@numba.njit(cache=True, nogil=True)
def uniform(seed, sample, chain, step, element):
    """A float32 in [0, 1) hashed from its coordinates (splitmix64 finaliser), 24 random bits.

    `element` is the value's index in the image's ``[C, H, W]`` layout (random elements) or the
    pixel's in ``[H, W]`` (random pixels, one draw for every channel).
    """
    z = np.uint64(seed) ^ (np.uint64(sample) * np.uint64(0x9E3779B97F4A7C15))
    z ^= np.uint64(((chain * 64 + step) << 40) + element) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return np.float32(z >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


def power_array(x: np.ndarray, y: float) -> np.ndarray:
    """`power` element-wise on a float32 array (numpy; results beyond float32 are inf)."""
    with np.errstate(over="ignore"):
        return power.py_func(np.asarray(x, dtype=np.float32), y)


def uniform_array(seed: int, sample: int, chain: int, step: int, element: np.ndarray) -> np.ndarray:
    """`uniform` for an array of element indices (numpy; wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        return uniform.py_func(seed, sample, chain, step, np.asarray(element, dtype=np.int64))
