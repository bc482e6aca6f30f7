"""The additive noises of the C and P benchmarks (Gaussian, speckle, shot), each value's draw
next to its use.

The formulas are the reference scripts' (hendrycks/robustness ``make_*_c.py``, ``make_*_p.py``):
``clip(x + rng.normal(0, s), 0, 1)``, ``clip(x + x * rng.normal(0, s), 0, 1)``,
``clip(rng.poisson(x * p) / p, 0, 1)``, with the same draws in the same order
(``draws``) and the same floating-point operations, so the bytes are the reference's.
Images are ``[..., H, W, C]`` in [0, 1] or uint8 (read as ``x / 255.0``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from ipmix.corruptions.kernels import draws


def _noise_inputs(images: np.ndarray, uint8_out: bool) -> tuple[np.ndarray, float, np.ndarray]:
    """Flat input (uint8, read as ``x / 255.0``, or float64), the output scale and the output
    array: uint8 truncated ``v * 255`` or float64 ``v`` in [0, 1]."""
    if images.dtype not in (np.uint8, np.float64):
        images = images.astype(np.float64)
    out = np.empty(images.shape, dtype=np.uint8 if uint8_out else np.float64)
    return np.ascontiguousarray(images).reshape(-1), 255.0 if uint8_out else 1.0, out


_LEVELS64 = np.arange(256) / 255.0
_LEVELS32 = np.arange(256, dtype=np.float32) / np.float32(255.0)


def _unit(value):
    """A uint8 value as ``x / 255.0``, looked up (the same numbers without a division per
    value); a float as it is."""


def _unit32(value):
    """A uint8 value as ``float32(x) / float32(255)``, looked up."""


@overload(_unit, jit_options={"cache": True})
def _unit_overload(value):
    if isinstance(value, types.Integer):
        return lambda value: _LEVELS64[value]
    return lambda value: value


@overload(_unit32, jit_options={"cache": True})
def _unit32_overload(value):
    if isinstance(value, types.Integer):
        return lambda value: _LEVELS32[value]
    return lambda value: np.float32(value)


def add_gaussian_noise(images: np.ndarray, sigma: float, rng: np.random.Generator, uint8_out: bool = False):
    """Additive white Gaussian noise of standard deviation `sigma`, clipped to [0, 1]:
    ``clip(x + rng.normal(0, sigma), 0, 1)`` (``normal(0, s)`` is numpy's ``0 + s * z``).

    `images` in [0, 1], or uint8 (read as ``x / 255.0``); with `uint8_out` the result is
    ``np.uint8(v * 255)``. One pass: each value's normal is drawn as it is used.
    """
    return _normal_noise(images, sigma, _ADDITIVE, rng, uint8_out)


def add_speckle_noise(images: np.ndarray, sigma: float, rng: np.random.Generator, uint8_out: bool = False):
    """Speckle noise ``clip(x + x * rng.normal(0, sigma), 0, 1)``; inputs and `uint8_out` as
    `add_gaussian_noise`."""
    return _normal_noise(images, sigma, _SPECKLE, rng, uint8_out)


def noise_frames(clean: np.ndarray, kind: str, sigma: float, frames: int, rng: np.random.Generator):
    """`frames` noisy uint8 copies of uint8 `clean`, drawn frame after frame, as the P sequences
    make them: ``"speckle"`` is `add_speckle_noise`; ``"gaussian"`` is torch's float32 (ToTensor,
    ``+ sigma * randn``, clamp, ``* 255``, truncated): ``uint8(clip(x + float32(sigma * z), 0, 1)
    * 255)``, ``x = float32(clean) / 255``, `sigma` rounded to float32."""
    flat = np.ascontiguousarray(clean, dtype=np.uint8).reshape(-1)
    out = np.empty((frames, *clean.shape), dtype=np.uint8)
    if kind == "gaussian":
        sigma, code = float(np.float32(sigma)), _FLOAT32_ADDITIVE
    else:
        code = _SPECKLE
    _draw_normal_noise(flat, float(sigma), code, 255.0, out.reshape(frames, -1), rng)
    return out


_ADDITIVE, _SPECKLE, _FLOAT32_ADDITIVE = 0, 1, 2


def _normal_noise(images, sigma, kind, rng, uint8_out) -> np.ndarray:
    flat, scale, out = _noise_inputs(images, uint8_out)
    _draw_normal_noise(flat, float(sigma), kind, scale, out.reshape(1, -1), rng)
    return out


def _draw_normal_noise(flat, sigma, kind, scale, out, rng) -> None:
    """`_noise_frames` from the generator's own stream (PCG64), else from numpy's draws."""
    stream = draws.Stream.open(rng)
    if stream is None:
        given = rng.standard_normal(out.shape)
        for frame in range(out.shape[0]):
            _apply_noise(flat, given[frame], sigma, kind, scale, out[frame])
        return
    stream.close(_noise_frames(flat, sigma, kind, scale, out, stream.state, stream.buffer, stream.pos))


_CHUNK = 8192


@numba.njit(cache=True, nogil=True)
def _noise_frames(x, sigma, kind, scale, out, stream, buffer, pos):
    """`_apply_noise` for frame after frame, the normals drawn from the stream a chunk at a time
    (the chunk stays in cache, and the arithmetic runs apart from the branchy draws, in SIMD).
    Returns the stream's read position."""
    frames, n = out.shape
    z = np.empty(_CHUNK)
    for f in range(frames):
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            pos = draws.standard_normal_into(stream, buffer, pos, z[: stop - start])
            _apply_noise(x[start:stop], z[: stop - start], sigma, kind, scale, out[f, start:stop])
    return pos


@numba.njit(cache=True, nogil=True)
def _apply_noise(x, z, sigma, kind, scale, out) -> None:
    """``out[i]``: the clipped noisy `x[i]` (`_unit`, `_unit32`) times `scale`, with the normal
    `z[i]`: `kind` 0 ``v + sigma * z``, 1 ``v + v * (sigma * z)`` (float64), 2 ``v +
    float32(sigma * z)`` in float32."""
    f32 = np.float32
    if kind == 2:
        for i in range(x.shape[0]):
            v32 = _unit32(x[i]) + f32(sigma * z[i])
            out[i] = min(max(v32, f32(0.0)), f32(1.0)) * f32(scale)
    elif kind == 1:
        for i in range(x.shape[0]):
            v = _unit(x[i])
            out[i] = min(max(v + v * (sigma * z[i]), 0.0), 1.0) * scale
    else:
        for i in range(x.shape[0]):
            out[i] = min(max(_unit(x[i]) + sigma * z[i], 0.0), 1.0) * scale


def add_shot_noise(images: np.ndarray, photons: float, rng: np.random.Generator, uint8_out: bool = False):
    """Poisson (shot) noise: ``clip(Poisson(x * photons) / photons, 0, 1)``; inputs and
    `uint8_out` as `add_gaussian_noise`."""
    flat, scale, out = _noise_inputs(images, uint8_out)
    if flat.dtype == np.uint8:  # one rate per grey level: numpy's per-rate constants computed once
        counts = draws.poisson(rng, np.arange(256) / 255.0 * photons, flat)
    else:
        counts = draws.poisson(rng, flat * photons)
    _shot_counts(counts, float(photons), scale, out.reshape(-1))
    return out


@numba.njit(cache=True, nogil=True)
def _shot_counts(counts, photons, scale, out) -> None:
    for i in range(counts.shape[0]):
        out[i] = min(max(counts[i] / photons, 0.0), 1.0) * scale
