"""Image ops of the fused CPU backend: numba kernels on one uint8 ``[C, H, W]`` image.

Each kernel reproduces the PIL operation of the per-image path (`ipmix.augment.ops`) byte for
byte: bilinear affine maps in double precision with PIL's clamping and black fill, truncating
blends, PIL's lookup tables. `apply_op` dispatches on the op's index in `ALL_OPS`, with its
parameters from `ipmix.augment.encoding.op_parameters`.
"""

from __future__ import annotations

import numba
import numpy as np

from ipmix.augment.ops import ALL_OPS

# Op indices (numba folds module-level integers into constants).
EQUALIZE = ALL_OPS.index("equalize")
POSTERIZE = ALL_OPS.index("posterize")
SOLARIZE = ALL_OPS.index("solarize")
TRANSLATE_X = ALL_OPS.index("translate_x")
TRANSLATE_Y = ALL_OPS.index("translate_y")
MIRROR = ALL_OPS.index("mirror")
INVERT = ALL_OPS.index("invert")
AUTOCONTRAST = ALL_OPS.index("autocontrast")
COLOR = ALL_OPS.index("color")
CONTRAST = ALL_OPS.index("contrast")
BRIGHTNESS = ALL_OPS.index("brightness")
SHARPNESS = ALL_OPS.index("sharpness")

_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)
_SMOOTH_EDGE = np.float32(1 / 13)  # PIL divides the SMOOTH kernel (1 1 1 / 1 5 1 / 1 1 1) by 13
_SMOOTH_CENTRE = np.float32(5 / 13)


@numba.njit(cache=True, nogil=True)
def _affine(src, dst, co):
    """PIL's bilinear affine transform (`Image.transform(AFFINE, BILINEAR)`), black fill.

    Per output pixel, in PIL's double-precision arithmetic and order: the source point of the
    pixel centre, black outside the image, else the bilinear mix of its four neighbours
    (clamped to the edge) truncated to an integer.
    """
    channels, height, width = src.shape
    plane = height * width
    source, target = src.reshape(-1), dst.reshape(-1)
    a, b, c, d, e, f = co[0], co[1], co[2], co[3], co[4], co[5]
    for y in range(height):
        for x in range(width):
            xin = a * (x + 0.5) + b * (y + 0.5) + c
            yin = d * (x + 0.5) + e * (y + 0.5) + f
            pixel = y * width + x
            if not (0.0 <= xin < width and 0.0 <= yin < height):
                for ch in range(channels):
                    target[ch * plane + pixel] = 0
                continue
            xin -= 0.5
            yin -= 0.5
            x0 = int(xin) if xin >= 0.0 else -1  # PIL's FLOOR: xin >= -0.5 here
            y0 = int(yin) if yin >= 0.0 else -1
            dx = xin - x0
            dy = yin - y0
            left = max(x0, 0)
            right = min(x0 + 1, width - 1)
            upper = max(y0, 0) * width
            lower = min(y0 + 1, height - 1) * width
            for ch in range(channels):
                base = ch * plane
                p00 = np.float64(source[base + upper + left])
                p01 = np.float64(source[base + upper + right])
                p10 = np.float64(source[base + lower + left])
                p11 = np.float64(source[base + lower + right])
                top = p00 + (p01 - p00) * dx
                bottom = p10 + (p11 - p10) * dx
                target[base + pixel] = np.uint8(top + (bottom - top) * dy)


@numba.njit(cache=True, nogil=True)
def _lut(src, dst, ch, table):
    """Look channel `ch` of `src` up in `table` (all channels when ``ch < 0``)."""
    source = src.reshape(-1) if ch < 0 else src[ch].reshape(-1)
    target = dst.reshape(-1) if ch < 0 else dst[ch].reshape(-1)
    for j in range(source.size):
        target[j] = table[source[j]]


@numba.njit(cache=True, nogil=True)
def _histogram(src, ch, counts):
    counts[:] = 0
    height, width = src.shape[1:]
    for y in range(height):
        for x in range(width):
            counts[src[ch, y, x]] += 1


@numba.njit(cache=True, nogil=True)
def _equalize(src, dst, counts, table):
    """PIL's `ImageOps.equalize` table, per channel."""
    for ch in range(src.shape[0]):
        _histogram(src, ch, counts)
        total, last = 0, 0
        for v in range(256):
            if counts[v] > 0:
                total += counts[v]
                last = counts[v]
        step = (total - last) // 255
        below = 0
        for v in range(256):
            table[v] = min((step // 2 + below) // step, 255) if step > 0 else v
            below += counts[v]
        _lut(src, dst, ch, table)


@numba.njit(cache=True, nogil=True)
def _autocontrast(src, dst, cutoff, counts, table):
    """PIL's `ImageOps.autocontrast` with `cutoff` percent removed at each end, per channel."""
    height, width = src.shape[1:]
    cut = (height * width) * cutoff // 100  # Python's float floor division, as PIL
    for ch in range(src.shape[0]):
        _histogram(src, ch, counts)
        low, seen = 256, 0
        for v in range(256):
            seen += counts[v]
            if seen > cut:
                low = v
                break
        high, seen = -1, 0
        for v in range(255, -1, -1):
            seen += counts[v]
            if seen > cut:
                high = v
                break
        if high <= low:
            for v in range(256):
                table[v] = v
        else:
            scale = 255.0 / (high - low)
            offset = -low * scale
            for v in range(256):
                table[v] = min(max(int(v * scale + offset), 0), 255)
        _lut(src, dst, ch, table)


@numba.njit(cache=True, nogil=True)
def _luma(src, y, x):
    """PIL's RGB -> L conversion of one pixel (the value itself for one channel)."""
    if src.shape[0] == 1:
        return np.int64(src[0, y, x])
    return (src[0, y, x] * 19595 + src[1, y, x] * 38470 + src[2, y, x] * 7471 + 0x8000) >> 16


@numba.njit(cache=True, nogil=True)
def _blend(value, degenerate, alpha):
    """`Image.blend(degenerate, image, alpha)` for one value: float32, truncated, clipped."""
    out = np.float32(degenerate) + alpha * (np.float32(value) - np.float32(degenerate))
    if out <= 0:
        return np.uint8(0)
    if out >= 255:
        return np.uint8(255)
    return np.uint8(out)


@numba.njit(cache=True, nogil=True)
def _enhance(src, dst, op, factor):
    """color / contrast / brightness / sharpness: a blend with PIL's degenerate image."""
    channels, height, width = src.shape
    alpha = np.float32(factor)
    mean = 0
    if op == CONTRAST:
        total = 0
        for y in range(height):
            for x in range(width):
                total += _luma(src, y, x)
        mean = np.int64(np.floor(total / (height * width) + 0.5))
    for ch in range(channels):
        for y in range(height):
            for x in range(width):
                if op == COLOR:
                    degenerate = _luma(src, y, x)
                elif op == CONTRAST:
                    degenerate = mean
                elif op == BRIGHTNESS:
                    degenerate = 0
                elif y == 0 or x == 0 or y == height - 1 or x == width - 1:  # sharpness: SMOOTH
                    degenerate = np.int64(src[ch, y, x])
                else:
                    s = _ZERO
                    for row in (y + 1, y, y - 1):
                        centre = _SMOOTH_CENTRE if row == y else _SMOOTH_EDGE
                        s += (np.float32(src[ch, row, x - 1]) * _SMOOTH_EDGE
                              + np.float32(src[ch, row, x]) * centre
                              + np.float32(src[ch, row, x + 1]) * _SMOOTH_EDGE)
                    degenerate = np.int64(min(max(np.floor(s + _HALF), 0), 255))
                dst[ch, y, x] = _blend(src[ch, y, x], degenerate, alpha)


@numba.njit(cache=True, nogil=True)
def apply_op(src, dst, op, params, counts, table):
    """Write op `op` (an index into `ALL_OPS`) of `src` to `dst` (both uint8 ``[C, H, W]``)."""
    channels, height, width = src.shape
    if op == EQUALIZE:
        _equalize(src, dst, counts, table)
    elif op == AUTOCONTRAST:
        _autocontrast(src, dst, params[0], counts, table)
    elif op in (COLOR, CONTRAST, BRIGHTNESS, SHARPNESS):
        _enhance(src, dst, op, params[0])
    elif op in (POSTERIZE, SOLARIZE, INVERT):
        for v in range(256):
            if op == POSTERIZE:
                table[v] = v & np.int64(params[0])
            elif op == SOLARIZE:
                table[v] = 255 - v if v >= params[0] else v
            else:
                table[v] = 255 - v
        _lut(src, dst, -1, table)
    elif op == MIRROR:
        for ch in range(channels):
            for y in range(height):
                for x in range(width):
                    dst[ch, y, x] = src[ch, y, width - 1 - x]
    elif op in (TRANSLATE_X, TRANSLATE_Y):  # integer offsets: an exact shift
        dx, dy = int(params[2]), int(params[5])
        for ch in range(channels):
            for y in range(height):
                for x in range(width):
                    sx, sy = x + dx, y + dy
                    inside = 0 <= sx < width and 0 <= sy < height
                    dst[ch, y, x] = src[ch, sy, sx] if inside else 0
    else:
        _affine(src, dst, params)
