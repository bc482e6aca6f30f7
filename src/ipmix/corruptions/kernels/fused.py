"""The array arithmetic of some corruptions in one numba pass, with the reference's operations.

numpy evaluates ``np.clip((x / 255 - m) * c + m, 0, 1) * 255`` as a chain of whole-array
passes, each allocating its result. These kernels compute every output value with the same
operations on the same floating-point types, in the same order, so the bytes do not change
(float32 stays float32 where numpy's promotion rules keep it so), but read the inputs once and
write uint8 directly. What numpy computes with a reduction (a mean, the plasma fractal's
random draws) is reproduced or drawn exactly as before; each function says how.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic


@numba.njit(cache=True, nogil=True)
def _channel_means(images: np.ndarray) -> np.ndarray:
    """``(images / 255.0).mean(axis=(1, 2))``: numpy sums this layout pixel after pixel (the
    kept channel axis is the innermost), then divides by the count."""
    n, h, w, channels = images.shape
    means = np.zeros((n, channels))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                for k in range(channels):
                    means[b, k] += images[b, i, j, k] / 255.0
    return means / (h * w)


@numba.njit(cache=True, nogil=True)
def contrast(images: np.ndarray, factor: float) -> np.ndarray:
    """``uint8(clip((x / 255 - m) * factor + m, 0, 1) * 255)``, m the per-image channel mean:
    a 256-entry table per image and channel (the same arithmetic per grey level), then a lookup."""
    n, h, w, channels = images.shape
    means = _channel_means(images)
    table = np.empty((channels, 256), dtype=np.uint8)
    out = np.empty_like(images)
    for b in range(n):
        for k in range(channels):
            m = means[b, k]
            for level in range(256):
                table[k, level] = min(max((level / 255.0 - m) * factor + m, 0.0), 1.0) * 255.0
        for i in range(h):
            for j in range(w):
                for k in range(channels):
                    out[b, i, j, k] = table[k, images[b, i, j, k]]
    return out


@numba.njit(cache=True, nogil=True)
def diamond_square(maps: np.ndarray, draws: np.ndarray, wibbles: np.ndarray) -> None:
    """The reference's ``plasma_fractal`` steps on ``[N, S, S]`` maps (``[:, 0, 0]`` set): each
    new value is ``sum / 4 + wibble * u``, the sums added in numpy's order of the reference's
    rolled arrays (wrapping around), `draws` the ``uniform(-wibble, wibble)`` values of the
    squares, left and top passes of each level, in the order they were drawn."""
    n, size, _ = maps.shape
    step = size
    used = 0
    level = 0
    while step >= 2:
        half = step // 2
        cells = size // step
        wibble = wibbles[level]
        for b in range(n):  # squares: centres from the four corners
            for i in range(cells):
                for j in range(cells):
                    r, c = i * step, j * step
                    r1, c1 = ((i + 1) % cells) * step, ((j + 1) % cells) * step
                    total = (maps[b, r, c] + maps[b, r1, c]) + (maps[b, r, c1] + maps[b, r1, c1])
                    u = draws[used + (b * cells + i) * cells + j]
                    maps[b, r + half, c + half] = total / 4 + wibble * u
        used += n * cells * cells
        for b in range(n):  # left: (row i, column j + half)
            for i in range(cells):
                for j in range(cells):
                    r, c = i * step, j * step
                    above = ((i - 1) % cells) * step + half
                    total = maps[b, r + half, c + half] + maps[b, above, c + half]
                    total = total + maps[b, r, c] + maps[b, r, ((j + 1) % cells) * step]
                    maps[b, r, c + half] = total / 4 + wibble * draws[used + (b * cells + i) * cells + j]
        used += n * cells * cells
        for b in range(n):  # top: (row i + half, column j)
            for i in range(cells):
                for j in range(cells):
                    r, c = i * step, j * step
                    before = ((j - 1) % cells) * step + half
                    total = maps[b, r + half, c + half] + maps[b, r + half, before]
                    total = total + maps[b, r, c] + maps[b, ((i + 1) % cells) * step, c]
                    maps[b, r + half, c] = total / 4 + wibble * draws[used + (b * cells + i) * cells + j]
        used += n * cells * cells
        step //= 2
        level += 1


@numba.njit(cache=True, nogil=True)
def fog(images: np.ndarray, plasma: np.ndarray, strength: float) -> np.ndarray:
    """``uint8(clip((x + strength * plasma) * top / (top + strength), 0, 1) * 255)``, x the image
    in [0, 1] and top its largest value."""
    n, h, w, channels = images.shape
    out = np.empty_like(images)
    for b in range(n):
        top = images[b].max() / 255.0
        for i in range(h):
            for j in range(w):
                for k in range(channels):
                    v = images[b, i, j, k] / 255.0 + strength * plasma[b, i, j]
                    out[b, i, j, k] = min(max(v * top / (top + strength), 0.0), 1.0) * 255.0
    return out


@numba.njit(cache=True, nogil=True)
def frost(images, textures, crops, weight, frost_weight) -> np.ndarray:
    """``uint8(clip(weight * x + frost_weight * texture, 0, 255))`` with, per image, the crop
    ``(texture index, top, left)`` of a BGR texture read as RGB."""
    n, h, w, channels = images.shape
    out = np.empty_like(images)
    for b in range(n):
        texture = textures[crops[b, 0]]
        top, left = crops[b, 1], crops[b, 2]
        for i in range(h):
            for j in range(w):
                for k in range(channels):
                    v = weight * np.float64(images[b, i, j, k])
                    v += frost_weight * np.float64(texture[top + i, left + j, channels - 1 - k])
                    out[b, i, j, k] = min(max(v, 0.0), 255.0)
    return out


@numba.njit(cache=True, nogil=True)
def grey(images: np.ndarray) -> np.ndarray:
    """``0.299 r + 0.587 g + 0.114 b`` of ``x / 255`` in float32, ``[N, H, W]``: OpenCV's
    RGB2GRAY of float32 images on most pixels (not all: an ulp apart on some, which can move the
    snow blend by one level on about one value in 100,000; ``cv2.cvtColor`` gives the exact
    one)."""
    f32 = np.float32
    n, h, w, _ = images.shape
    out = np.empty((n, h, w), dtype=np.float32)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                r = f32(images[b, i, j, 0]) / f32(255.0)
                g = f32(images[b, i, j, 1]) / f32(255.0)
                bl = f32(images[b, i, j, 2]) / f32(255.0)
                out[b, i, j] = f32(0.299) * r + f32(0.587) * g + f32(0.114) * bl
    return out


@numba.njit(cache=True, nogil=True)
def snow(images: np.ndarray, layer: np.ndarray, blend: float, grey: np.ndarray) -> np.ndarray:
    """The reference's snow blend: in float32 ``x = blend x + (1 - blend) max(x, 1.5 grey +
    0.5)`` (`grey` float32 ``[N, H, W]``), then in float64 ``x + layer + layer turned by 180
    degrees``, clipped, times 255, truncated. `layer` is uint8 ``[N, H, W]``."""
    f32 = np.float32
    n, h, w, channels = images.shape
    keep, mix = f32(blend), f32(1 - blend)
    out = np.empty_like(images)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                bright = grey[b, i, j] * f32(1.5) + f32(0.5)
                for k in range(channels):
                    x = f32(images[b, i, j, k]) / f32(255.0)
                    v = keep * x + mix * max(x, bright)
                    v64 = np.float64(v) + layer[b, i, j] / 255.0 + layer[b, h - 1 - i, w - 1 - j] / 255.0
                    out[b, i, j, k] = min(max(v64, 0.0), 1.0) * 255.0
    return out


@numba.njit(cache=True, nogil=True)
def add_flakes(base: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """ImageNet-P snow's frames: ``uint8(clip(base + layer + layer turned by 180 degrees, 0, 1)
    * 255)`` for each uint8 ``[H, W]`` layer (read as ``/ 255.0``) of ``[F, H, W]``, `base`
    float64 ``[H, W, C]``."""
    frames, h, w = layers.shape
    channels = base.shape[2]
    out = np.empty((frames, h, w, channels), dtype=np.uint8)
    for f in range(frames):
        for i in range(h):
            for j in range(w):
                here, opposite = layers[f, i, j] / 255.0, layers[f, h - 1 - i, w - 1 - j] / 255.0
                for k in range(channels):
                    out[f, i, j, k] = min(max(base[i, j, k] + here + opposite, 0.0), 1.0) * 255.0
    return out


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's fma)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        double = ir.DoubleType()
        kind = ir.FunctionType(double, [double] * 3)
        function = builder.module.declare_intrinsic("llvm.fma", [double], kind)
        return builder.call(function, args)

    return signature, codegen


@numba.njit(cache=True, nogil=True)
def convolve_columns(values: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``np.convolve(column, taps, mode='same')`` for every column of ``[H, W]`` float64, with
    numpy's arithmetic: where the whole kernel fits, numpy sums the products from 0 in kernel
    order; at the ends it calls BLAS ``ddot``, whose short loop here is a chain of fused
    multiply-adds (checked against ``np.convolve`` by the tests)."""
    h, w = values.shape
    n = taps.shape[0]
    kernel = taps[::-1].copy()  # convolve = correlate with the reversed taps
    before = n // 2
    out = np.empty_like(values)
    for r in range(h):
        first, last = max(0, before - r), min(n, h - r + before)  # kernel taps inside the column
        whole = first == 0 and last == n
        for c in range(w):
            total = 0.0
            for j in range(first, last):
                x = values[r + j - before, c]
                total = total + x * kernel[j] if whole else _fma(x, kernel[j], total)
            out[r, c] = total
    return out
