"""PIL's bilinear affine transform (`Image.transform(AFFINE, BILINEAR)`) as numba kernels.

Per output pixel, in PIL's double-precision arithmetic and order: the source point of the
pixel centre ``(a (x + .5) + b (y + .5) + c, d (x + .5) + e (y + .5) + f)``, black outside the
image, else the bilinear mix of its four neighbours (clamped to the edge) truncated to an
integer. The bytes are PIL's; the work is arranged for speed:

- any map (rotations): row by row, the pixels' source neighbours and weights first (a loop
  without branches), then one loop per channel over the neighbours;
- shear_x ``(1, b, 0, 0, 1, 0)``: every y stays y + 0.5, so the weight along y is 0; and along
  a row, ``x + .5 + b (y + .5)`` rounds to the same offset from x for every x whose sum lies
  in one binade [2^p, 2^(p + 1)) (x + .5 is on the binade's grid, so only the product is
  rounded, the same way each time). A row is therefore a few runs of one integer shift and
  one weight, read from contiguous bytes (loops that vectorise). Each run's shift and weight
  are computed exactly at both of its ends and compared before the run is used;
- shear_y ``(1, 0, 0, d, 1, 0)`` is shear_x of the transposed image: in transposed coordinates
  the map is (e, d, f, b, a, c), which computes the same doubles (the sum's two products swap
  places, and addition commutes). Images whose sides are multiples of 8 are transposed in 8 x 8
  byte blocks held in 64-bit words (about 20 us each way at 224 px); other sides, and boxes
  under an eighth of the image, take the general path, which reads two neighbours per pixel
  for shear_y (its weight along x is 0).
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np

#: shear_y goes through transposes for boxes of at least 1 / `_TRANSPOSE_SHARE` of the image.
_TRANSPOSE_SHARE = 8
_LITTLE_ENDIAN = sys.byteorder == "little"  # the block transpose reads bytes as words


@numba.njit(cache=True, nogil=True)
def affine(src, dst, co, top, left, box_h, box_w):
    """Write PIL's affine transform of `src` by `co` (a, b, c, d, e, f) to `dst` inside the box."""
    channels, height, width = src.shape
    a, b, c, d, e, f = co[0], co[1], co[2], co[3], co[4], co[5]
    if a == 1.0 and c == 0.0 and d == 0.0 and e == 1.0 and f == 0.0:
        _shear_x(src, dst, b, top, left, box_h, box_w)
    elif (a == 1.0 and b == 0.0 and c == 0.0 and e == 1.0 and f == 0.0 and _LITTLE_ENDIAN
          and height % 8 == 0 and width % 8 == 0 and box_h * box_w * _TRANSPOSE_SHARE >= height * width):
        transposed = _transpose(src, np.empty((channels, width, height), np.uint8))
        sheared = np.empty_like(transposed)
        _shear_x(transposed, sheared, d, left, top, box_w, box_h)  # (e, d, f, b, a, c) = (1, d, 0, 0, 1, 0)
        if box_h == height and box_w == width:
            _transpose(sheared, dst)
        else:
            back = _transpose(sheared, np.empty_like(src))
            dst[:, top : top + box_h, left : left + box_w] = back[:, top : top + box_h, left : left + box_w]
    else:
        _general(src, dst, co, top, left, box_h, box_w)


@numba.njit(cache=True, nogil=True)
def _transpose(images, out):
    """``[C, H, W]`` uint8 (H, W multiples of 8) into `out` ``[C, W, H]``, 8 x 8 bytes at a time."""
    channels, height, width = images.shape
    rows = images.reshape(channels, height, width // 8, 8).view(np.uint64)
    columns = out.reshape(channels, width, height // 8, 8).view(np.uint64)
    for ch in range(channels):
        v, t = rows[ch], columns[ch]
        for by in range(height // 8):
            y = 8 * by
            for bx in range(width // 8):
                block = _transpose_block(v[y, bx, 0], v[y + 1, bx, 0], v[y + 2, bx, 0], v[y + 3, bx, 0],
                                         v[y + 4, bx, 0], v[y + 5, bx, 0], v[y + 6, bx, 0], v[y + 7, bx, 0])
                for i in range(8):
                    t[8 * bx + i, by, 0] = block[i]
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _transpose_block(r0, r1, r2, r3, r4, r5, r6, r7):
    """The transpose of the 8 x 8 bytes held in eight little-endian 64-bit rows: swap 1 x 1,
    then 2 x 2, then 4 x 4 blocks of bytes across the diagonal (in registers)."""
    m1, m2, m4 = np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF), np.uint64(0x00000000FFFFFFFF)
    s1, s2, s4 = np.uint64(8), np.uint64(16), np.uint64(32)
    r0, r1 = (r0 & m1) | ((r1 & m1) << s1), ((r0 >> s1) & m1) | (r1 & ~m1)
    r2, r3 = (r2 & m1) | ((r3 & m1) << s1), ((r2 >> s1) & m1) | (r3 & ~m1)
    r4, r5 = (r4 & m1) | ((r5 & m1) << s1), ((r4 >> s1) & m1) | (r5 & ~m1)
    r6, r7 = (r6 & m1) | ((r7 & m1) << s1), ((r6 >> s1) & m1) | (r7 & ~m1)
    r0, r2 = (r0 & m2) | ((r2 & m2) << s2), ((r0 >> s2) & m2) | (r2 & ~m2)
    r1, r3 = (r1 & m2) | ((r3 & m2) << s2), ((r1 >> s2) & m2) | (r3 & ~m2)
    r4, r6 = (r4 & m2) | ((r6 & m2) << s2), ((r4 >> s2) & m2) | (r6 & ~m2)
    r5, r7 = (r5 & m2) | ((r7 & m2) << s2), ((r5 >> s2) & m2) | (r7 & ~m2)
    r0, r4 = (r0 & m4) | ((r4 & m4) << s4), ((r0 >> s4) & m4) | (r4 & ~m4)
    r1, r5 = (r1 & m4) | ((r5 & m4) << s4), ((r1 >> s4) & m4) | (r5 & ~m4)
    r2, r6 = (r2 & m4) | ((r6 & m4) << s4), ((r2 >> s4) & m4) | (r6 & ~m4)
    r3, r7 = (r3 & m4) | ((r7 & m4) << s4), ((r3 >> s4) & m4) | (r7 & ~m4)
    return r0, r1, r2, r3, r4, r5, r6, r7


@numba.njit(cache=True, nogil=True)
def _pixel(planes, out, first, x, xin, width, y_offset):
    """One pixel of a shear_x row by PIL's formula, edges and black fill included."""
    inside = 1.0 if (xin >= 0.0) & (xin < width) else 0.0
    xs = min(max(xin, 0.0), np.float64(width)) - 0.5
    x0 = math.floor(xs)
    weight = xs - x0
    column = max(int(x0), 0)
    step = min(int(x0) + 1, width - 1) - column
    for ch in range(planes.shape[0]):
        p0 = np.float64(planes[ch, y_offset + column])
        p1 = np.float64(planes[ch, y_offset + column + step])
        out[ch, first + x] = np.uint8((p0 + (p1 - p0) * weight) * inside)


@numba.njit(cache=True, nogil=True)
def _shear_x(src, dst, b, top, left, box_h, box_w):
    """shear_x ``(1, b, 0, 0, 1, 0)`` inside the box: per row, runs of one shift and weight."""
    channels, height, width = src.shape
    planes, out = src.reshape(channels, -1), dst.reshape(channels, -1)
    for y in range(top, top + box_h):
        shift = b * (y + 0.5)  # PIL: a x + b y + c with a = 1, c = 0: x + .5 + shift, then + 0
        row = y * width
        x = left
        while x < left + box_w:
            xin = (x + 0.5) + shift + 0.0
            if not (0.5 <= xin < width - 0.5):  # black, or a neighbour clamped at the edge
                _pixel(planes, out, row, x, xin, width, row)
                x += 1
                continue
            _, exponent = math.frexp(xin)
            limit = min(math.ldexp(1.0, exponent), width - 0.5)  # the end of xin's binade
            end = min(max(int(math.ceil(limit - shift - 0.5)), x + 1), left + box_w)
            while end > x + 1 and (end - 1 + 0.5) + shift + 0.0 >= limit:
                end -= 1
            while end < left + box_w and (end + 0.5) + shift + 0.0 < limit:
                end += 1
            xs = xin - 0.5
            x0 = math.floor(xs)
            last = (end - 1 + 0.5) + shift + 0.0 - 0.5
            if last - math.floor(last) != xs - x0 or int(math.floor(last)) - (end - 1) != int(x0) - x:
                _pixel(planes, out, row, x, xin, width, row)  # not one run after all: one pixel
                x += 1
                continue
            weight, source, count = xs - x0, row + int(x0), end - x
            for ch in range(channels):  # slices: their loops vectorise (flat indices' checks do not)
                values, target = planes[ch, source : source + count + 1], out[ch, row + x : row + end]
                for i in range(count):
                    p0, p1 = np.float64(values[i]), np.float64(values[i + 1])
                    target[i] = np.uint8(p0 + (p1 - p0) * weight)
            x = end


@numba.njit(cache=True, nogil=True)
def _general(src, dst, co, top, left, box_h, box_w):
    """Any map, row by row: each pixel's neighbours and weights, then four neighbours per
    channel (two for shear_y)."""
    channels, height, width = src.shape
    a, b, c, d, e, f = co[0], co[1], co[2], co[3], co[4], co[5]
    x_max, y_max = np.float64(width), np.float64(height)
    ax, dx_ = np.empty(box_w), np.empty(box_w)
    for i in range(box_w):
        ax[i] = a * (left + i + 0.5)
        dx_[i] = d * (left + i + 0.5)
    corner = np.empty(box_w, np.int64)  # flat index of the upper-left neighbour
    right = np.empty(box_w, np.int64)  # offset of the right neighbour (0 at the edge)
    below = np.empty(box_w, np.int64)  # offset of the lower neighbour (0 at the edge)
    wx, wy, inside = np.empty(box_w), np.empty(box_w), np.empty(box_w)
    planes, out = src.reshape(channels, -1), dst.reshape(channels, -1)
    only_y = a == 1.0 and b == 0.0 and c == 0.0  # shear_y: every x is x + 0.5, so wx = 0
    for y in range(top, top + box_h):
        by, ey = b * (y + 0.5), e * (y + 0.5)
        for i in range(box_w):
            xin = ax[i] + by + c
            yin = dx_[i] + ey + f
            inside[i] = 1.0 if (xin >= 0.0) & (xin < x_max) & (yin >= 0.0) & (yin < y_max) else 0.0
            xin = min(max(xin, 0.0), x_max) - 0.5  # clamped only where the pixel is black
            yin = min(max(yin, 0.0), y_max) - 0.5
            x0, y0 = math.floor(xin), math.floor(yin)  # PIL's FLOOR
            wx[i], wy[i] = xin - x0, yin - y0
            column, row = max(int(x0), 0), max(int(y0), 0)
            corner[i] = row * width + column
            right[i] = min(int(x0) + 1, width - 1) - column
            below[i] = (min(int(y0) + 1, height - 1) - row) * width
        first = y * width + left
        for ch in range(channels):
            if only_y:
                for i in range(box_w):
                    j = corner[i]
                    p0, p1 = np.float64(planes[ch, j]), np.float64(planes[ch, j + below[i]])
                    out[ch, first + i] = np.uint8((p0 + (p1 - p0) * wy[i]) * inside[i])
                continue
            for i in range(box_w):
                j, step_x, step_y = corner[i], right[i], below[i]
                p00, p01 = np.float64(planes[ch, j]), np.float64(planes[ch, j + step_x])
                p10, p11 = np.float64(planes[ch, j + step_y]), np.float64(planes[ch, j + step_y + step_x])
                upper = p00 + (p01 - p00) * wx[i]
                lower = p10 + (p11 - p10) * wx[i]
                out[ch, first + i] = np.uint8((upper + (lower - upper) * wy[i]) * inside[i])
