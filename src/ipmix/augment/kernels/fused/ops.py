"""Image ops of the fused CPU backend: numba kernels on one uint8 ``[C, H, W]`` image.

Each kernel reproduces the PIL operation of the per-image path (`ipmix.augment.ops`) byte for
byte: bilinear affine maps in double precision with PIL's clamping and black fill
(`ipmix.augment.kernels.fused.affine`), truncating
blends, PIL's lookup tables. `apply_op` dispatches on the op's index in `ALL_OPS`, with its
parameters from `ipmix.augment.op_parameters`, and writes only a box of the output
(the whole image for image-level steps; the mixing box when a P-level step mixes with an op of
the clean image). Statistics that PIL computes on the whole image (histograms, the mean of
contrast) are still computed on the whole image, so every written value is PIL's.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ipmix.augment.kernels.fused.affine import affine
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
def _lut(src, dst, ch, table, top, left, box_h, box_w):
    """Look channel `ch` of `src` up in `table` inside the box (all channels when ``ch < 0``)."""
    first, last = (0, src.shape[0]) if ch < 0 else (ch, ch + 1)
    for c in range(first, last):
        for y in range(top, top + box_h):
            source, target = src[c, y, left : left + box_w], dst[c, y, left : left + box_w]
            for x in range(box_w):
                target[x] = table[source[x]]


@numba.njit(cache=True, nogil=True)
def _histogram(src, ch, counts):
    counts[:] = 0
    for value in src[ch].reshape(-1):
        counts[value] += 1


@numba.njit(cache=True, nogil=True)
def _equalize(src, dst, counts, table, top, left, box_h, box_w):
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
        _lut(src, dst, ch, table, top, left, box_h, box_w)


@numba.njit(cache=True, nogil=True)
def _autocontrast(src, dst, cut, counts, table, top, left, box_h, box_w):
    """PIL's `ImageOps.autocontrast` with `cut` pixels removed at each end, per channel."""
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
        _lut(src, dst, ch, table, top, left, box_h, box_w)


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
def _enhance(src, dst, op, factor, top, left, box_h, box_w):
    """color / contrast / brightness / sharpness: a blend with PIL's degenerate image.

    Degenerate images: luma (color), the mean grey of the whole image (contrast), black
    (brightness), PIL's SMOOTH filter with the border pixels kept (sharpness).
    """
    channels, height, width = src.shape
    alpha = np.float32(factor)
    mean = 0
    if op == CONTRAST:
        total = 0
        for y in range(height):
            for x in range(width):
                total += _luma(src, y, x)
        mean = np.int64(np.floor(total / (height * width) + 0.5))
    right = left + box_w
    for ch in range(channels):
        for y in range(top, top + box_h):
            values, target = src[ch, y, left:right], dst[ch, y, left:right]
            if op == COLOR and channels == 3:
                red, green, blue = src[0, y, left:right], src[1, y, left:right], src[2, y, left:right]
                for i in range(box_w):
                    grey = (red[i] * 19595 + green[i] * 38470 + blue[i] * 7471 + 0x8000) >> 16
                    target[i] = _blend(values[i], grey, alpha)
            elif op == CONTRAST:
                for i in range(box_w):
                    target[i] = _blend(values[i], mean, alpha)
            elif op == BRIGHTNESS:
                for i in range(box_w):
                    target[i] = _blend(values[i], 0, alpha)
            elif op == COLOR or y == 0 or y == height - 1:  # grey colour; sharpness's border rows
                for i in range(box_w):
                    target[i] = _blend(values[i], values[i], alpha)
            else:  # sharpness: the border columns keep their value
                inner_start = min(max(1 - left, 0), box_w)
                inner_stop = max(min(width - 1 - left, box_w), inner_start)
                for i in range(inner_start):
                    target[i] = _blend(values[i], values[i], alpha)
                for i in range(inner_stop, box_w):
                    target[i] = _blend(values[i], values[i], alpha)
                up = src[ch, y - 1, left - 1 + inner_start : left + inner_stop + 1]
                mid = src[ch, y, left - 1 + inner_start : left + inner_stop + 1]
                down = src[ch, y + 1, left - 1 + inner_start : left + inner_stop + 1]
                inner, inner_values = target[inner_start:inner_stop], values[inner_start:inner_stop]
                for i in range(inner_stop - inner_start):
                    s = (np.float32(down[i]) * _SMOOTH_EDGE + np.float32(down[i + 1]) * _SMOOTH_EDGE
                         + np.float32(down[i + 2]) * _SMOOTH_EDGE)
                    s += (np.float32(mid[i]) * _SMOOTH_EDGE + np.float32(mid[i + 1]) * _SMOOTH_CENTRE
                          + np.float32(mid[i + 2]) * _SMOOTH_EDGE)
                    s += (np.float32(up[i]) * _SMOOTH_EDGE + np.float32(up[i + 1]) * _SMOOTH_EDGE
                          + np.float32(up[i + 2]) * _SMOOTH_EDGE)
                    smooth = np.int64(min(max(np.floor(s + _HALF), 0), 255))
                    inner[i] = _blend(inner_values[i], smooth, alpha)


@numba.njit(cache=True, nogil=True)
def apply_op(src, dst, op, params, counts, table, box):
    """Write op `op` (an index into `ALL_OPS`) of `src` to `dst` inside `box` (uint8 ``[C, H, W]``).

    `box` is (top, left, height, width); `counts` and `table` are scratch arrays of 256.
    """
    channels, height, width = src.shape
    top, left, box_h, box_w = box[0], box[1], box[2], box[3]
    if op == EQUALIZE:
        _equalize(src, dst, counts, table, top, left, box_h, box_w)
    elif op == AUTOCONTRAST:
        _autocontrast(src, dst, params[0], counts, table, top, left, box_h, box_w)
    elif op in (COLOR, CONTRAST, BRIGHTNESS, SHARPNESS):
        _enhance(src, dst, op, params[0], top, left, box_h, box_w)
    elif op in (POSTERIZE, SOLARIZE, INVERT):  # PIL's tables as arithmetic (loops that vectorise)
        mask = np.uint8(np.int64(params[0]) & 255) if op == POSTERIZE else np.uint8(255)
        threshold = min(max(int(math.ceil(params[0])), 0), 256) if op == SOLARIZE else 0
        for ch in range(channels):
            for y in range(top, top + box_h):
                source, target = src[ch, y, left : left + box_w], dst[ch, y, left : left + box_w]
                if op == POSTERIZE:
                    for x in range(box_w):
                        target[x] = source[x] & mask
                else:  # solarize inverts values >= its threshold, invert all (threshold 0)
                    for x in range(box_w):
                        value = source[x]
                        target[x] = np.uint8(255) - value if value >= threshold else value
    elif op == MIRROR:
        for ch in range(channels):
            for y in range(top, top + box_h):
                source, target = src[ch, y, ::-1][left : left + box_w], dst[ch, y, left : left + box_w]
                for x in range(box_w):
                    target[x] = source[x]
    elif op in (TRANSLATE_X, TRANSLATE_Y):  # integer offsets: an exact shift, black fill
        dx, dy = int(params[2]), int(params[5])
        for ch in range(channels):
            for y in range(top, top + box_h):
                target, sy = dst[ch, y, left : left + box_w], y + dy
                if not 0 <= sy < height:
                    target[:] = 0
                    continue
                source = src[ch, sy]
                for i in range(box_w):
                    sx = left + i + dx
                    target[i] = source[sx] if 0 <= sx < width else 0
    else:
        affine(src, dst, params, top, left, box_h, box_w)
