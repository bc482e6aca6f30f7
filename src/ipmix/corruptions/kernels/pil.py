"""Pillow's affine ``Image.transform`` for RGB images, bit for bit, in numba, on any output window.

The perturbation sequences warp every frame with Pillow (through torchvision's old ``affine``)
and then centre-crop it. These functions compute the same pixels as Pillow
(``src/libImaging/Geometry.c``: ``affine_transform`` and ``bilinear_filter32RGB`` of the
generic transform, ``ImagingScaleAffine`` for nearest-neighbour scaling and shifts) with
Pillow's double-precision steps in its order, but only for the pixels of the window that is
kept, and without the conversions to and from ``PIL.Image``. Tested against Pillow for exact
equality.

`matrix` is Pillow's six affine coefficients ``(a0, ..., a5)``: output pixel (x, y) samples the
input at ``(a0 X + a1 Y + a2, a3 X + a4 Y + a5)`` with ``X, Y = x + 0.5, y + 0.5``; pixels
that sample outside the input are black (Pillow's fill).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _floor(value: float) -> int:
    """Geometry.c's ``FLOOR``."""
    return int(math.floor(value)) if value < 0.0 else int(value)


@numba.njit(cache=True, nogil=True)
def _bilinear(planes, matrix, top, left, out) -> None:
    """``affine_transform`` + ``bilinear_filter32RGB`` for the pixels of `out`; `planes` is the
    image as ``[C, H, W]`` float64 (exact integers: Pillow's integer differences stay exact).
    Per row, the sample positions first (scalar), then each band (vectorised gathers). Where
    the lower row is missing Pillow takes ``v2 = v1``: reading the upper row twice gives it."""
    bands, h, w = planes.shape
    flat = planes.reshape(bands, -1)
    a0, a1, a2, a3, a4, a5 = matrix[0], matrix[1], matrix[2], matrix[3], matrix[4], matrix[5]
    width = out.shape[1]
    corners = np.empty((4, width), dtype=np.int64)
    wx = np.empty(width)
    wy = np.empty(width)
    inside = np.empty(width, dtype=np.bool_)
    values = np.empty((bands, width))
    for y in range(out.shape[0]):
        yin = (y + top) + 0.5
        for x in range(width):
            xin = (x + left) + 0.5
            sx = a0 * xin + a1 * yin + a2
            sy = a3 * xin + a4 * yin + a5
            ok = not (sx < 0.0 or sx >= w or sy < 0.0 or sy >= h)
            inside[x] = ok
            sx -= 0.5
            sy -= 0.5
            ix = _floor(sx) if ok else 0
            iy = _floor(sy) if ok else 0
            wx[x] = sx - ix
            wy[x] = sy - iy
            x0, x1 = min(max(ix, 0), w - 1), min(max(ix + 1, 0), w - 1)
            upper = min(max(iy, 0), h - 1) * w
            lower = (iy + 1) * w if 0 <= iy + 1 < h else upper
            corners[0, x], corners[1, x] = upper + x0, upper + x1
            corners[2, x], corners[3, x] = lower + x0, lower + x1
        for b in range(bands):
            p = flat[b]
            row = values[b]
            for x in range(width):
                a, c = p[corners[0, x]], p[corners[1, x]]
                v1 = a + (c - a) * wx[x]
                a, c = p[corners[2, x]], p[corners[3, x]]
                v2 = a + (c - a) * wx[x]
                row[x] = v1 + (v2 - v1) * wy[x] if inside[x] else 0.0
        target = out[y]
        for x in range(width):
            for b in range(bands):
                target[x, b] = np.uint8(values[b, x])


@numba.njit(cache=True, nogil=True)
def _coord(value: float) -> int:
    """Geometry.c's ``COORD``."""
    return -1 if value < 0.0 else int(value)


@numba.njit(cache=True, nogil=True)
def _scale_positions(start: float, step: float, first: int, count: int, size: int) -> np.ndarray:
    """``ImagingScaleAffine``'s source indices of `count` output positions from `first` on: the
    position accumulated from 0 by repeated additions of `step`, as Pillow; -1 outside."""
    out = np.empty(count, dtype=np.int64)
    position = start
    for i in range(first + count):
        if i >= first:
            index = _coord(position)
            out[i - first] = index if index < size else -1
        position += step
    return out


def _scale_nearest(image: np.ndarray, matrix: np.ndarray, top: int, left: int, out: np.ndarray) -> None:
    """Nearest-neighbour scaling and shifts (``a1 = a3 = 0``): rows and columns independent,
    copied as slices where the source indices are consecutive (shifts), else gathered."""
    h, w = image.shape[:2]
    rows = _scale_positions(matrix[5] + matrix[4] * 0.5, matrix[4], top, out.shape[0], h)
    cols = _scale_positions(matrix[2] + matrix[0] * 0.5, matrix[0], left, out.shape[1], w)
    out[...] = 0
    kept_rows, kept_cols = np.flatnonzero(rows >= 0), np.flatnonzero(cols >= 0)
    if not len(kept_rows) or not len(kept_cols):
        return
    source_rows, source_cols = rows[kept_rows], cols[kept_cols]
    if _is_run(kept_rows) and _is_run(kept_cols) and _is_run(source_rows) and _is_run(source_cols):
        out[kept_rows[0] : kept_rows[-1] + 1, kept_cols[0] : kept_cols[-1] + 1] = image[
            source_rows[0] : source_rows[-1] + 1, source_cols[0] : source_cols[-1] + 1
        ]
    else:
        out[np.ix_(kept_rows, kept_cols)] = image[np.ix_(source_rows, source_cols)]


def _is_run(indices: np.ndarray) -> bool:
    return bool(indices[-1] - indices[0] == len(indices) - 1)


class AffineSource:
    """One uint8 ``[H, W, C]`` image prepared for many affine transforms (the frames of a
    sequence): `transform` is ``Image.fromarray(image).transform(size, AFFINE, matrix,
    BILINEAR or NEAREST)`` cropped to `window` ``(top, left, height, width)`` (default: all)."""

    def __init__(self, image: np.ndarray):
        self.image = np.ascontiguousarray(image)
        self._planes: np.ndarray | None = None

    def transform(
        self,
        matrix: tuple[float, ...],
        bilinear: bool,
        window: tuple[int, int, int, int] | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """The transformed window (written into `out` if given); None for a nearest-neighbour
        transform that rotates or shears (Pillow's fixed-point path, not re-implemented here)."""
        coefficients = np.asarray(matrix, dtype=np.float64)
        if not bilinear and (coefficients[1] != 0 or coefficients[3] != 0):
            return None
        top, left, height, width = window or (0, 0, self.image.shape[0], self.image.shape[1])
        if out is None:
            out = np.empty((height, width, self.image.shape[2]), dtype=np.uint8)
        if bilinear:
            if self._planes is None:
                self._planes = np.ascontiguousarray(np.moveaxis(self.image, -1, 0), dtype=np.float64)
            _bilinear(self._planes, coefficients, top, left, out)
        else:
            _scale_nearest(self.image, coefficients, top, left, out)
        return out
