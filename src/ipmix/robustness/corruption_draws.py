"""numpy's Poisson and standard normal draws from a ``default_rng`` generator, the same numbers,
faster, in numba.

Shot noise draws one Poisson count per pixel value; numpy's ``Generator.poisson`` spends most of
its time recomputing, for every value, constants that depend only on the rate (``exp(-lam)``,
``sqrt``, ``log``), and calling its bit generator through a function pointer. Shot noise has
only 256 rates per image (one per grey level), so here those constants are computed once per
rate, with numpy's formulas, and the PCG64 stream is stepped inline. The algorithms, constants
and floating-point steps are numpy's (``numpy/random/src/distributions/distributions.c``:
``random_poisson``, ``random_poisson_mult`` below rate 10, ``random_poisson_ptrs`` (Hörmann's
transformed rejection) from 10, ``random_loggam``; ``pcg64.h``: PCG64 XSL-RR, ``next_double``
as the top 53 bits), and the generator's state is read and written back, so the draws equal
numpy's and the generator continues exactly as if numpy had drawn them (tested). A generator
with another bit generator is left to numpy.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic
from numba.np.random import _constants as ziggurat

_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # PCG_DEFAULT_MULTIPLIER_128 (pcg64.h)
_MASK = (1 << 64) - 1
_LOGGAM = np.array(
    [8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04, -5.952380952380952e-04,
     8.417508417508418e-04, -1.917526917526918e-03, 6.410256410256410e-03, -2.955065359477124e-02,
     1.796443723688307e-01, -1.39243221690590e00]
)  # fmt: skip
"""``random_loggam``'s series coefficients (distributions.c)."""


@intrinsic
def _mul_high(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    signature = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, sig, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return signature, codegen


_M_HI, _M_LO = np.uint64(_MULTIPLIER >> 64), np.uint64(_MULTIPLIER & _MASK)


@numba.njit(cache=True, nogil=True, inline="always")
def _step_uint64(hi, lo, inc_hi, inc_lo):
    """PCG64: state * multiplier + increment (mod 2^128); returns the new state and the output,
    the rotated xor of its halves."""
    new_lo = lo * _M_LO
    new_hi = _mul_high(lo, _M_LO) + hi * _M_LO + lo * _M_HI
    low = new_lo + inc_lo
    high = new_hi + inc_hi + (np.uint64(1) if low < new_lo else np.uint64(0))
    rotation = high >> np.uint64(58)
    mixed = high ^ low
    return high, low, (mixed >> rotation) | (mixed << ((np.uint64(64) - rotation) & np.uint64(63)))


@numba.njit(cache=True, nogil=True, inline="always")
def _step(hi, lo, inc_hi, inc_lo):
    """`_step_uint64` as numpy's ``next_double``: the top 53 bits of the output."""
    high, low, value = _step_uint64(hi, lo, inc_hi, inc_lo)
    return high, low, (value >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _ziggurat_try(bits, wi):
    """One try of the ziggurat from a 64-bit draw: the layer (8 bits), the 52-bit magnitude and
    the signed candidate value (the sign is the next bit)."""
    idx = np.intp(bits & np.uint64(0xFF))
    bits >>= np.uint64(8)
    rabs = (bits >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
    x = np.float64(rabs) * wi[idx]
    if bits & np.uint64(1):
        x = -x
    return idx, rabs, x


@numba.njit(cache=True, nogil=True)
def _normal_rejected(hi, lo, inc_hi, inc_lo, ki, wi, fi, r, inv_r, idx, rabs, x):
    """The ziggurat's rare branch (0.7% of draws): the tail for layer 0, else the wedge test;
    then further tries from scratch. Returns the state and the value."""
    while True:
        if idx == 0:
            while True:
                hi, lo, u = _step(hi, lo, inc_hi, inc_lo)
                xx = -inv_r * np.log1p(-u)
                hi, lo, u = _step(hi, lo, inc_hi, inc_lo)
                yy = -np.log1p(-u)
                if yy + yy > xx * xx:
                    return hi, lo, (-(r + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else r + xx)
        hi, lo, u = _step(hi, lo, inc_hi, inc_lo)
        if (fi[idx - 1] - fi[idx]) * u + fi[idx] < np.exp(-0.5 * x * x):
            return hi, lo, x
        hi, lo, bits = _step_uint64(hi, lo, inc_hi, inc_lo)
        idx, rabs, x = _ziggurat_try(bits, wi)
        if rabs < ki[idx]:
            return hi, lo, x


@numba.njit(cache=True, nogil=True)
def _standard_normal(state, ki, wi, fi, r, inv_r, out) -> None:
    """numpy's ``random_standard_normal``, one value after another into `out`: a 64-bit draw
    picks a layer (8 bits), a sign (1 bit) and a 52-bit magnitude, accepted at once below the
    layer's threshold."""
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    for i in range(out.shape[0]):
        hi, lo, bits = _step_uint64(hi, lo, inc_hi, inc_lo)
        idx, rabs, x = _ziggurat_try(bits, wi)
        if not rabs < ki[idx]:
            hi, lo, x = _normal_rejected(hi, lo, inc_hi, inc_lo, ki, wi, fi, r, inv_r, idx, rabs, x)
        out[i] = x
    state[0], state[1] = hi, lo


@numba.njit(cache=True, nogil=True)
def _loggam(x: float, a: np.ndarray) -> float:
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7 - x) if x < 7.0 else 0
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = a[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += a[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453e00 + (x0 - 0.5) * math.log(x0) - x0
    if x < 7.0:
        for _ in range(n):
            gl -= math.log(x0 - 1.0)
            x0 -= 1.0
    return gl


@numba.njit(cache=True, nogil=True)
def _poisson(state, rates, which, a, out) -> None:
    """``out[i] = Poisson(rates[which[i]])`` drawn in order, with the per-rate constants of
    ``random_poisson_mult`` / ``random_poisson_ptrs`` computed once per rate."""
    count = rates.shape[0]
    enlam = np.empty(count)
    slam, loglam = np.empty(count), np.empty(count)
    pa, pb, invalpha, vr = np.empty(count), np.empty(count), np.empty(count), np.empty(count)
    for r in range(count):
        lam = rates[r]
        enlam[r] = math.exp(-lam)
        slam[r] = math.sqrt(lam)
        loglam[r] = math.log(lam) if lam > 0 else 0.0
        pb[r] = 0.931 + 2.53 * slam[r]
        pa[r] = -0.059 + 0.02483 * pb[r]
        invalpha[r] = 1.1239 + 1.1328 / (pb[r] - 3.4)
        vr[r] = 0.9277 - 3.6224 / (pb[r] - 2)
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    for i in range(which.shape[0]):
        r = which[i]
        lam = rates[r]
        if lam >= 10:
            b, aa = pb[r], pa[r]
            while True:
                hi, lo, u = _step(hi, lo, inc_hi, inc_lo)
                hi, lo, v = _step(hi, lo, inc_hi, inc_lo)
                u -= 0.5
                us = 0.5 - abs(u)
                k = np.int64(math.floor((2 * aa / us + b) * u + lam + 0.43))
                if us >= 0.07 and v <= vr[r]:
                    break
                if k < 0 or (us < 0.013 and v > us):
                    continue
                if (math.log(v) + math.log(invalpha[r]) - math.log(aa / (us * us) + b)) <= (
                    -lam + k * loglam[r] - _loggam(k + 1.0, a)
                ):
                    break
            out[i] = k
        elif lam == 0:
            out[i] = 0
        else:
            x = 0
            product = 1.0
            while True:
                hi, lo, u = _step(hi, lo, inc_hi, inc_lo)
                product *= u
                if product > enlam[r]:
                    x += 1
                else:
                    break
            out[i] = x
    state[0], state[1] = hi, lo


def _read_state(rng: np.random.Generator) -> np.ndarray | None:
    """``[state hi, state lo, increment hi, increment lo]`` of a PCG64 generator (else None)."""
    saved = rng.bit_generator.state
    if saved.get("bit_generator") != "PCG64":
        return None
    words = [saved["state"]["state"], saved["state"]["inc"]]
    return np.array([part for word in words for part in (word >> 64, word & _MASK)], dtype=np.uint64)


def _write_state(rng: np.random.Generator, state: np.ndarray) -> None:
    saved = rng.bit_generator.state
    saved["state"]["state"] = (int(state[0]) << 64) | int(state[1])
    rng.bit_generator.state = saved


def standard_normal(rng: np.random.Generator, count: int) -> np.ndarray:
    """``rng.standard_normal(count)``: the same values, the generator left as numpy leaves it."""
    state = _read_state(rng)
    if state is None:
        return rng.standard_normal(count)
    out = np.empty(count)
    _standard_normal(state, ziggurat.ki_double, ziggurat.wi_double, ziggurat.fi_double,
                     ziggurat.ziggurat_nor_r, ziggurat.ziggurat_nor_inv_r, out)  # fmt: skip
    _write_state(rng, state)
    return out


def poisson(rng: np.random.Generator, rates: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """``rng.poisson(rates[which])`` (int64, the shape of `which`; `which` defaults to every
    rate in order), the same draws as numpy and the generator left as numpy leaves it. Rates
    must be finite and non-negative (numpy's own checks apply to other bit generators only)."""
    rates = np.ascontiguousarray(rates, dtype=np.float64).reshape(-1)
    index = np.arange(rates.shape[0]) if which is None else np.asarray(which)
    state = _read_state(rng)
    if state is None:
        return rng.poisson(rates[index])
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("Poisson rates must be finite and non-negative")
    out = np.empty(index.shape, dtype=np.int64)
    _poisson(state, rates, np.ascontiguousarray(index).reshape(-1), _LOGGAM, out.reshape(-1))
    _write_state(rng, state)
    return out
