"""scipy.ndimage's Gaussian filter, linear and cubic zoom and linear ``map_coordinates``, bit for bit,
in numba.

The corruption scripts call ``scipy.ndimage`` (directly or through scikit-image) for their blurs,
their zooms and the elastic warp. Outputs must equal theirs byte for byte, and truncating to
uint8 turns any change in the last bit of a float into a different grey level somewhere (flat
regions sit exactly on integers). So these are not approximations: each function performs
scipy's floating-point operations in scipy's order (``scipy/ndimage/src/ni_filters.c``
``NI_Correlate1D``, ``ni_support.c`` ``NI_ExtendLine``, ``ni_interpolation.c``
``NI_ZoomShift`` / ``NI_GeometricTransform`` and ``ni_splines.c``; the x86-64 wheels compile
them without fused multiply-adds, and so does numba here), and the tests compare them with
scipy for exact equality. They are faster because they skip scipy's per-line buffering and
let the compiler process many pixels per instruction: the order of the operations within one
output value is unchanged, only independent values are computed side by side.
"""

from __future__ import annotations

import math

import numba
import numpy as np

MODES = {"nearest": 0, "reflect": 1}
"""The boundary modes the corruptions use, as scipy names them."""


def gaussian_weights(sigma: float, truncate: float) -> np.ndarray:
    """scipy's 1-D Gaussian kernel (``_gaussian_kernel1d(sigma, 0, radius)``), radius
    ``int(truncate * sigma + 0.5)``, computed with the same numpy operations."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum()


@numba.njit(cache=True, nogil=True)
def _extended_index(position: int, length: int, mode: int) -> int:
    """The source index of a position outside ``[0, length)`` under scipy's line extension:
    'nearest' repeats the edge, 'reflect' mirrors about the edge (``dcba|abcd|dcba``)."""
    if mode == 0:
        return min(max(position, 0), length - 1)
    period = position % (2 * length)
    return period if period < length else 2 * length - 1 - period


@numba.njit(cache=True, nogil=True)
def _index_table(length: int, radius: int, mode: int) -> np.ndarray:
    table = np.empty(length + 2 * radius, dtype=np.int64)
    for i in range(length + 2 * radius):
        table[i] = _extended_index(i - radius, length, mode)
    return table


@numba.njit(cache=True, nogil=True)
def _correlate_rows(source: np.ndarray, weights: np.ndarray, mode: int, out: np.ndarray) -> None:
    """``NI_Correlate1D`` with a symmetric kernel along axis 1 of ``[N, H, M]`` float64 arrays:
    ``out = x * w0``, then ``+= (x[-k] + x[+k]) * w_k`` for k from the radius down to 1."""
    n, h, m = source.shape
    radius = weights.shape[0] // 2
    rows = _index_table(h, radius, mode)
    centre = weights[radius]
    acc = np.empty(m)  # a private buffer: the compiler vectorises what it knows is not aliased
    for b in range(n):
        for r in range(h):
            here = source[b, r]
            for i in range(m):
                acc[i] = here[i] * centre
            for k in range(radius, 0, -1):
                low = source[b, rows[r + radius - k]]
                high = source[b, rows[r + radius + k]]
                w = weights[radius - k]
                for i in range(m):
                    acc[i] += (low[i] + high[i]) * w
            out[b, r] = acc


@numba.njit(cache=True, nogil=True)
def _correlate_columns(source: np.ndarray, weights: np.ndarray, mode: int, out: np.ndarray) -> None:
    """The same along axis 1 of ``[L, W, K]`` arrays (K values per column, e.g. channels): each
    line is extended into a buffer first, as scipy's line buffer."""
    lines, w, channels = source.shape
    radius = weights.shape[0] // 2
    columns = _index_table(w, radius, mode)
    span = w * channels
    line = np.empty((w + 2 * radius) * channels)
    acc = np.empty(span)
    centre = weights[radius]
    middle = radius * channels
    for r in range(lines):
        row = source[r]
        for j in range(w + 2 * radius):
            for c in range(channels):
                line[j * channels + c] = row[columns[j], c]
        here = line[middle : middle + span]
        for i in range(span):
            acc[i] = here[i] * centre
        for k in range(radius, 0, -1):
            low = line[(radius - k) * channels : (radius - k) * channels + span]
            high = line[(radius + k) * channels : (radius + k) * channels + span]
            wk = weights[radius - k]
            for i in range(span):
                acc[i] += (low[i] + high[i]) * wk
        target = out[r]
        for j in range(w):
            for c in range(channels):
                target[j, c] = acc[j * channels + c]


def gaussian_filter_hw(
    images: np.ndarray, sigma: float | tuple[float, float], mode: str = "nearest", truncate: float = 4.0
) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter`` over axes 1 and 2 of ``[N, H, W, ...]`` (sigma 0 on
    the others), in float64: rows first, then columns, as scipy. Bit-identical to scipy.
    `sigma` is one value for both axes or ``(rows, columns)``; scipy skips an axis whose sigma
    is (nearly) 0."""
    x = np.ascontiguousarray(images, dtype=np.float64)
    sigma_rows, sigma_cols = (sigma, sigma) if np.ndim(sigma) == 0 else sigma
    n, h, w = x.shape[:3]
    grid = x.reshape(n, h, w, -1)
    if sigma_rows > 1e-15:
        rows = np.empty_like(grid)
        weights = gaussian_weights(sigma_rows, truncate)
        _correlate_rows(grid.reshape(n, h, -1), weights, MODES[mode], rows.reshape(n, h, -1))
        grid = rows
    if sigma_cols > 1e-15:
        out = np.empty_like(grid)
        weights = gaussian_weights(sigma_cols, truncate)
        _correlate_columns(grid.reshape(n * h, w, -1), weights, MODES[mode], out.reshape(n * h, w, -1))
        grid = out
    return grid.reshape(x.shape) if max(sigma_rows, sigma_cols) > 1e-15 else x.copy()


# ------------------------------------------------------------------------- linear zoom


@numba.njit(cache=True, nogil=True)
def _zoom_taps(size: int, out: int):
    """Per output index of ``zoom(order=1)`` along one axis: the two source indices (the
    second as scipy's edge offsets give it), their weights, and whether the point is inside
    (scipy gives 0 outside). Coordinates are ``k * (size - 1) / (out - 1)``, as scipy."""
    zoom = (size - 1) / (out - 1) if out > 1 else 1.0
    low = np.empty(out, dtype=np.int64)
    high = np.empty(out, dtype=np.int64)
    w0 = np.empty(out)
    w1 = np.empty(out)
    inside = np.empty(out, dtype=np.bool_)
    for k in range(out):
        cc = k * zoom
        inside[k] = 0.0 <= cc <= size - 1
        start = int(math.floor(cc))
        w0[k] = 1.0 - (cc - math.floor(cc))
        w1[k] = 1.0 - w0[k]
        low[k] = start
        high[k] = _mirror_index(start + 1, size)
    return low, high, w0, w1, inside


@numba.njit(cache=True, nogil=True)
def _mirror_index(index: int, size: int) -> int:
    """scipy's index mapping at the edges of a spline window (``cba|abc|cba``)."""
    if size <= 1:
        return 0
    period = 2 * size - 2
    if index < 0:
        index = period * (-index // period) + index
        return index + period if index <= 1 - size else -index
    if index >= size:
        index -= period * (index // period)
        if index >= size:
            index = period - index
    return index


@numba.njit(cache=True, nogil=True)
def _zoom(source: np.ndarray, zoomed_rows: int, zoomed_cols: int, top: int, left: int,
          out: np.ndarray) -> None:
    """`out` ``[N, R, C, K]`` = rows ``top .. top + R`` and columns ``left .. left + C`` of the
    ``zoomed_rows x zoomed_cols`` zoom of ``[N, r, c, K]``: ``sum`` over the four corners, in
    scipy's order, of ``((value * w_row) * w_col) * 1.0`` (the channel axis is zoomed by 1)."""
    n, size_rows, size_cols, channels = source.shape
    low_r, high_r, w0_r, w1_r, inside_r = _zoom_taps(size_rows, zoomed_rows)
    low_c, high_c, w0_c, w1_c, inside_c = _zoom_taps(size_cols, zoomed_cols)
    for b in range(n):
        for i in range(out.shape[1]):
            y = i + top
            for j in range(out.shape[2]):
                x = j + left
                if not (inside_r[y] and inside_c[x]):
                    out[b, i, j, :] = 0.0
                    continue
                for c in range(channels):
                    t = 0.0
                    t += source[b, low_r[y], low_c[x], c] * w0_r[y] * w0_c[x] * 1.0
                    t += source[b, low_r[y], high_c[x], c] * w0_r[y] * w1_c[x] * 1.0
                    t += source[b, high_r[y], low_c[x], c] * w1_r[y] * w0_c[x] * 1.0
                    t += source[b, high_r[y], high_c[x], c] * w1_r[y] * w1_c[x] * 1.0
                    out[b, i, j, c] = t


TRIMS = ("centre", "start", "none")
"""How `clipped_zoom` cuts the zoom back: evenly on both sides (make_imagenet_c.py), from the
top-left corner (imagecorruptions' ``[:h, :w]``), or not at all."""


def clipped_zoom(images: np.ndarray, factor: float, trim: str = "centre") -> np.ndarray:
    """The reference's ``clipped_zoom`` of ``[N, H, W, C]`` images: crop the centre
    ``ceil(H / factor) x ceil(W / factor)``, ``scipy.ndimage.zoom(..., (factor, factor, 1),
    order=1)`` it, cut the overhang as `trim` says (`TRIMS`; ``"none"`` returns the whole zoom,
    a pixel or two larger than the input). The dtype is kept (float32 rounds once at the end,
    as scipy's output)."""
    if trim not in TRIMS:
        raise ValueError(f"trim must be one of {', '.join(TRIMS)}, got {trim!r}")
    n, h, w = images.shape[:3]
    crop_h, crop_w = int(np.ceil(h / factor)), int(np.ceil(w / factor))
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    zoomed_h, zoomed_w = int(round(crop_h * factor)), int(round(crop_w * factor))
    centre = np.ascontiguousarray(images[:, top : top + crop_h, left : left + crop_w])
    window, start = (h, w), (0, 0)
    if trim == "none":
        window = (zoomed_h, zoomed_w)
    elif trim == "centre":
        start = ((zoomed_h - h) // 2, (zoomed_w - w) // 2)
    out = np.empty((n, *window, *images.shape[3:]), dtype=images.dtype)
    _zoom(centre, zoomed_h, zoomed_w, *start, out)
    return out


# ------------------------------------------------------------- linear map_coordinates


@numba.njit(cache=True, nogil=True)
def _reflect_coordinate(value: float, length: int) -> float:
    """``map_coordinate`` of ``ni_interpolation.c`` for mode 'reflect': a coordinate outside
    ``[0, length - 1]`` folded back (the result can lie in ``(-1, 0)``)."""
    if length <= 1:
        return 0.0 if (value < 0 or value > length - 1) else value
    period = 2 * length
    if value < 0:
        if value < -period:
            value = period * int(-value / period) + value
        return value + period if value < -length else -value - 1
    if value > length - 1:
        value -= period * int(value / period)
        if value >= length:
            value = period - value - 1
    return value


@numba.njit(cache=True, nogil=True)
def _linear_window(value: float, length: int):
    """The two source indices and weights of order-1 'reflect' interpolation at `value`:
    the coordinate is folded back first, a window crossing the edge takes its indices folded
    too (scipy's edge offsets); ``ok`` is False where scipy falls back to the constant 0."""
    value = _reflect_coordinate(value, length)
    if not value > -1.0:
        return False, 0, 0, 0.0, 0.0
    start = int(math.floor(value))
    w0 = 1.0 - (value - math.floor(value))
    first, second = start, start + 1
    if start < 0 or start + 1 >= length:
        first = int(_reflect_coordinate(float(start), length))
        second = int(_reflect_coordinate(float(start + 1), length))
    return True, first, second, w0, 1.0 - w0


@numba.njit(cache=True, nogil=True)
def _displace(image: np.ndarray, dy: np.ndarray, dx: np.ndarray, out: np.ndarray) -> None:
    h, w, channels = image.shape
    for r in range(h):
        for c in range(w):
            ok_y, y0, y1, wy0, wy1 = _linear_window(r + np.float64(dy[r, c]), h)
            ok_x, x0, x1, wx0, wx1 = _linear_window(c + np.float64(dx[r, c]), w)
            for k in range(channels):
                if not (ok_y and ok_x):
                    out[r, c, k] = 0.0
                    continue
                # scipy sums 8 corners; the 4 of the neighbouring channel have weight 0
                t = 0.0
                t += np.float64(image[y0, x0, k]) * wy0 * wx0
                t += np.float64(image[y0, x1, k]) * wy0 * wx1
                t += np.float64(image[y1, x0, k]) * wy1 * wx0
                t += np.float64(image[y1, x1, k]) * wy1 * wx1
                out[r, c, k] = t


def displace_linear(image: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``map_coordinates(image, (rows + dy, cols + dx, channels), order=1, mode='reflect')`` of
    one ``[H, W, C]`` image with per-pixel displacements `dy`, `dx` (``[H, W]``), as the
    elastic transform calls it; output in the image's dtype."""
    image = np.ascontiguousarray(image)
    out = np.empty_like(image)
    _displace(image, np.ascontiguousarray(dy), np.ascontiguousarray(dx), out)
    return out


# ------------------------------------------------------------- cubic zoom of uint8 planes


@numba.njit(cache=True, nogil=True)
def _cubic_weights(value: float, weights: np.ndarray) -> None:
    """``get_spline_interpolation_weights(value, 3)`` (ni_splines.c), the last weight as 1
    minus the others."""
    x = value - math.floor(value)
    y, z = x, 1.0 - x
    weights[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0
    weights[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0
    weights[0] = z * z * z / 6.0
    last = 1.0
    for i in range(3):
        last -= weights[i]
    weights[3] = last


@numba.njit(cache=True, nogil=True)
def _cubic_taps(size: int, out: int):
    """Per output index of ``zoom(order=3, prefilter=False)`` along one axis: the four source
    indices (mirrored at the edges), their weights, and whether the point is inside."""
    zoom = (size - 1) / (out - 1) if out > 1 else 1.0
    index = np.empty((out, 4), dtype=np.int64)
    weights = np.empty((out, 4))
    inside = np.empty(out, dtype=np.bool_)
    for k in range(out):
        cc = k * zoom
        inside[k] = 0.0 <= cc <= size - 1
        start = int(math.floor(cc)) - 1
        for t in range(4):
            index[k, t] = _mirror_index(start + t, size)
        _cubic_weights(cc, weights[k])
    return index, weights, inside


@numba.njit(cache=True, nogil=True)
def _zoom_cubic(plane: np.ndarray, out: np.ndarray) -> None:
    rows, row_weights, row_inside = _cubic_taps(plane.shape[0], out.shape[0])
    cols, col_weights, col_inside = _cubic_taps(plane.shape[1], out.shape[1])
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            if not (row_inside[i] and col_inside[j]):
                out[i, j] = 0
                continue
            t = 0.0
            for a in range(4):
                for b in range(4):
                    t += np.float64(plane[rows[i, a], cols[j, b]]) * row_weights[i, a] * col_weights[j, b]
            t = t + 0.5 if t > 0 else 0.0  # scipy's rounding to an unsigned type
            out[i, j] = np.uint8(min(t, 255.0))


def zoom_cubic_uint8(plane: np.ndarray, factor: float) -> np.ndarray:
    """``scipy.ndimage.zoom(plane, factor, prefilter=False)`` (order 3, mode 'constant') of a
    uint8 ``[H, W]`` plane, bit for bit."""
    shape = (int(round(plane.shape[0] * factor)), int(round(plane.shape[1] * factor)))
    out = np.empty(shape, dtype=np.uint8)
    _zoom_cubic(np.ascontiguousarray(plane), out)
    return out
