"""numpy's Poisson, standard normal and uniform draws from a ``default_rng`` generator, the same
numbers, faster, in numba.

Shot noise draws one Poisson count per pixel value; numpy's ``Generator.poisson`` spends most of
its time recomputing, for every value, constants that depend only on the rate (``exp(-lam)``,
``sqrt``, ``log``), and calling its bit generator through a function pointer. Shot noise has
only 256 rates per image (one per grey level), so here those constants are computed once per
rate, with numpy's formulas, and the PCG64 outputs are read from a `Stream`: a buffer refilled
by two interleaved lanes, so one 128-bit multiply need not wait for the one before. The algorithms, constants
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
_KI, _WI, _FI = ziggurat.ki_double, ziggurat.wi_double, ziggurat.fi_double
_R, _INV_R = ziggurat.ziggurat_nor_r, ziggurat.ziggurat_nor_inv_r
_BLOCK = 512
"""Outputs per refill of a stream's buffer (even: two lanes)."""


@numba.njit(cache=True, nogil=True, inline="always")
def _affine(hi, lo, a_hi, a_lo, c_hi, c_lo):
    """``state * a + c`` (mod 2^128) on (high, low) halves."""
    new_lo = lo * a_lo
    new_hi = _mul_high(lo, a_lo) + hi * a_lo + lo * a_hi
    low = new_lo + c_lo
    return new_hi + c_hi + (np.uint64(1) if low < new_lo else np.uint64(0)), low


@numba.njit(cache=True, nogil=True, inline="always")
def _output(high, low):
    """PCG64's XSL-RR output of a state: the xor of its halves rotated by its top 6 bits."""
    rotation = high >> np.uint64(58)
    mixed = high ^ low
    return (mixed >> rotation) | (mixed << ((np.uint64(64) - rotation) & np.uint64(63)))


# A stream is the generator's draws read from a buffer that two interleaved lanes (states two
# steps apart, each advanced by the two-step jump) refill: the same outputs in the same order,
# without waiting on one 128-bit multiply after another. Its state array holds, as (high, low)
# pairs: [0:2] the state before the buffer's first output, [2:4] the state of its last, [4:8]
# the two lanes (the states of the next two outputs), [8:10] the increment, [10:14] the jump;
# [14] counts the refills.


@numba.njit(cache=True, nogil=True)
def refill(stream, buffer) -> None:
    """The buffer's next `_BLOCK` outputs (read from position 0)."""
    stream[0], stream[1] = stream[2], stream[3]
    h0, l0, h1, l1 = stream[4], stream[5], stream[6], stream[7]
    a_hi, a_lo, c_hi, c_lo = stream[10], stream[11], stream[12], stream[13]
    last_hi, last_lo = stream[2], stream[3]
    for t in range(buffer.shape[0] // 2):
        buffer[2 * t] = _output(h0, l0)
        buffer[2 * t + 1] = _output(h1, l1)
        last_hi, last_lo = h1, l1
        h0, l0 = _affine(h0, l0, a_hi, a_lo, c_hi, c_lo)
        h1, l1 = _affine(h1, l1, a_hi, a_lo, c_hi, c_lo)
    stream[2], stream[3] = last_hi, last_lo
    stream[4], stream[5], stream[6], stream[7] = h0, l0, h1, l1
    stream[14] += np.uint64(1)


@numba.njit(cache=True, nogil=True, _nrt=False)  # no reference counting per draw
def next_uint64(stream, buffer, pos):
    """The stream's next 64-bit output and the new read position."""
    if pos == buffer.shape[0]:
        refill(stream, buffer)
        pos = 0
    return buffer[pos], pos + 1


@numba.njit(cache=True, nogil=True, _nrt=False)  # no reference counting per draw
def next_double(stream, buffer, pos):
    """numpy's ``next_double``: the top 53 bits of the next output, in [0, 1)."""
    bits, pos = next_uint64(stream, buffer, pos)
    return to_double(bits), pos


@numba.njit(cache=True, nogil=True, inline="always")
def to_double(bits):
    """numpy's ``next_double`` of a 64-bit output: its top 53 bits, in [0, 1)."""
    return np.float64(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _stream_state(stream, buffer, pos):
    """The generator's state after the outputs read so far (``pos`` of the current buffer)."""
    if pos == buffer.shape[0]:
        return stream[2], stream[3]
    hi, lo = stream[0], stream[1]
    for _ in range(pos):
        hi, lo = _affine(hi, lo, _M_HI, _M_LO, stream[8], stream[9])
    return hi, lo


def _jump(steps: int, increment: int) -> tuple[int, int]:
    """``(a, c)`` with ``state_{k + steps} = a * state_k + c`` (mod 2^128) for PCG64."""
    full = (1 << 128) - 1
    a, c, m, d = 1, 0, _MULTIPLIER, increment
    while steps:
        if steps & 1:
            a, c = (a * m) & full, (c * m + d) & full
        d, m = (d * (m + 1)) & full, (m * m) & full
        steps >>= 1
    return a, c


def _halves(*words: int) -> list[int]:
    return [part for word in words for part in (word >> 64, word & _MASK)]


class Stream:
    """The draws of a PCG64 ``numpy.random.Generator`` for numba kernels, from `skip` draws on.

    A kernel takes ``stream.state, stream.buffer, stream.pos``, reads with `next_uint64` /
    `next_double` / `ziggurat_try` and returns the new position; `close` then sets the generator
    to where numpy would have left it after those draws (plus `skip`). `open` returns None for
    another bit generator.
    """

    def __init__(self, rng: np.random.Generator, saved: dict, skip: int):
        self.rng, self.saved = rng, saved
        full = (1 << 128) - 1
        increment = saved["state"]["inc"]
        start = saved["state"]["state"]
        if skip:
            a, c = _jump(skip, increment)
            start = (a * start + c) & full
        lane0 = (_MULTIPLIER * start + increment) & full
        lane1 = (_MULTIPLIER * lane0 + increment) & full
        jump = (_MULTIPLIER * _MULTIPLIER) & full, (increment * (_MULTIPLIER + 1)) & full
        self.state = np.array([*_halves(start, start, lane0, lane1, increment, *jump), 0], dtype=np.uint64)
        self.buffer = np.empty(_BLOCK, dtype=np.uint64)
        self.pos = _BLOCK

    @classmethod
    def open(cls, rng: np.random.Generator, skip: int = 0) -> Stream | None:
        saved = rng.bit_generator.state
        if saved.get("bit_generator") != "PCG64":
            return None
        return cls(rng, saved, skip)

    def close(self, pos: int) -> None:
        """Leave the generator after the draws read up to `pos` (the kernel's return value)."""
        hi, lo = _stream_state(self.state, self.buffer, pos)
        self.saved["state"]["state"] = (int(hi) << 64) | int(lo)
        self.rng.bit_generator.state = self.saved


@numba.njit(cache=True, nogil=True, _nrt=False)  # no reference counting per draw
def normal_rejected(stream, buffer, pos, idx, rabs, x):
    """The ziggurat's rare branch (0.7% of draws): the tail for layer 0, else the wedge test;
    then further tries from scratch. Returns the value and the read position."""
    while True:
        if idx == 0:
            while True:
                u, pos = next_double(stream, buffer, pos)
                xx = -_INV_R * np.log1p(-u)
                u, pos = next_double(stream, buffer, pos)
                yy = -np.log1p(-u)
                if yy + yy > xx * xx:
                    return (-(_R + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else _R + xx), pos
        u, pos = next_double(stream, buffer, pos)
        if (_FI[idx - 1] - _FI[idx]) * u + _FI[idx] < np.exp(-0.5 * x * x):
            return x, pos
        bits, pos = next_uint64(stream, buffer, pos)
        idx, rabs, x, accepted = ziggurat_try(bits)
        if accepted:
            return x, pos


@numba.njit(cache=True, nogil=True)
def ziggurat_try(bits):
    """numpy's ``random_standard_normal`` (the ziggurat), first try, from a 64-bit draw: the
    layer (8 bits), the 52-bit magnitude, the signed candidate value (the sign is the next
    bit) and whether it is accepted at once (99.3%); if not, `normal_rejected` finishes it.
    (Spelled out in each kernel: a numba call per draw that can reach the rare branch is not
    inlined and costs as much as the draw.)"""
    idx = np.intp(bits & np.uint64(0xFF))
    bits >>= np.uint64(8)
    rabs = (bits >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
    x = np.float64(np.int64(rabs)) * _WI[idx]
    if bits & np.uint64(1):
        x = -x
    return idx, rabs, x, rabs < _KI[idx]


@numba.njit(cache=True, nogil=True)
def standard_normal_into(stream, buffer, pos, out):
    """Fill `out` with the stream's next standard normals; returns the read position.

    The first try of the ziggurat is computed for the whole buffer at once (`_first_tries`,
    branch-free, in SIMD); the values are then taken in order, the rare rejected ones finished
    by `normal_rejected` (which reads on from the buffer, so the tries after it are redone when
    it refilled the buffer).
    """
    block = buffer.shape[0]
    values, accepted = np.empty(block), np.empty(block, dtype=np.bool_)
    if pos < block:
        _first_tries(buffer, values, accepted)
    for i in range(out.shape[0]):
        if pos == block:
            refill(stream, buffer)
            pos = 0
            _first_tries(buffer, values, accepted)
        if accepted[pos]:
            out[i] = values[pos]
            pos += 1
        else:
            refills = stream[14]
            idx, rabs, x, _ = ziggurat_try(buffer[pos])
            out[i], pos = normal_rejected(stream, buffer, pos + 1, idx, rabs, x)
            if stream[14] != refills:
                _first_tries(buffer, values, accepted)
    return pos


@numba.njit(cache=True, nogil=True)
def _first_tries(buffer, values, accepted) -> None:
    """`ziggurat_try` of every output in the buffer."""
    for j in range(buffer.shape[0]):
        bits = buffer[j]
        idx = np.intp(bits & np.uint64(0xFF))
        rabs = (bits >> np.uint64(9)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = np.float64(np.int64(rabs)) * _WI[idx]
        values[j] = -x if (bits >> np.uint64(8)) & np.uint64(1) else x
        accepted[j] = rabs < _KI[idx]


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
def _poisson(stream, buffer, pos, rates, which, a, out):
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
    for i in range(which.shape[0]):
        r = which[i]
        lam = rates[r]
        if lam >= 10:
            b, aa = pb[r], pa[r]
            while True:
                u, pos = next_double(stream, buffer, pos)
                v, pos = next_double(stream, buffer, pos)
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
                u, pos = next_double(stream, buffer, pos)
                product *= u
                if product > enlam[r]:
                    x += 1
                else:
                    break
            out[i] = x
    return pos


def standard_normal(rng: np.random.Generator, count: int) -> np.ndarray:
    """``rng.standard_normal(count)``: the same values, the generator left as numpy leaves it."""
    stream = Stream.open(rng)
    if stream is None:
        return rng.standard_normal(count)
    out = np.empty(count)
    stream.close(standard_normal_into(stream.state, stream.buffer, stream.pos, out))
    return out


def poisson(rng: np.random.Generator, rates: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """``rng.poisson(rates[which])`` (int64, the shape of `which`; `which` defaults to every
    rate in order), the same draws as numpy and the generator left as numpy leaves it. Rates
    must be finite and non-negative (numpy's own checks apply to other bit generators only)."""
    rates = np.ascontiguousarray(rates, dtype=np.float64).reshape(-1)
    index = np.arange(rates.shape[0]) if which is None else np.asarray(which)
    stream = Stream.open(rng)
    if stream is None:
        return rng.poisson(rates[index])
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("Poisson rates must be finite and non-negative")
    out = np.empty(index.shape, dtype=np.int64)
    flat = np.ascontiguousarray(index).reshape(-1)
    stream.close(_poisson(stream.state, stream.buffer, stream.pos, rates, flat, _LOGGAM, out.reshape(-1)))
    return out
