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
- shear_y ``(1, 0, 0, d, 1, 0)`` keeps every x at x + .5, so its weight along x is 0 and the
  general path reads two neighbours per pixel. (Its runs lie along columns; transposing the
  image twice to use them costs more than it saves.)
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def affine(src, dst, co, top, left, box_h, box_w):
    """Write PIL's affine transform of `src` by `co` (a, b, c, d, e, f) to `dst` inside the box."""
    channels, height, width = src.shape
    a, b, c, d, e, f = co[0], co[1], co[2], co[3], co[4], co[5]
    if a == 1.0 and c == 0.0 and d == 0.0 and e == 1.0 and f == 0.0:
        _shear_x(src, dst, b, top, left, box_h, box_w)
    else:
        _general(src, dst, co, top, left, box_h, box_w)


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
