"""Image kernels shared by the CIFAR-C corruptions and the CIFAR-P perturbations.

Both benchmarks of Hendrycks & Dietterich (hendrycks/robustness, ``make_cifar_c.py`` and
``make_cifar_p.py``) build on the same few operations: additive noise (``corruption_noise.py``),
skimage-style Gaussian filtering, an HSV value shift, ImageMagick's motion blur, a clipped
zoom and the "water" spatter layer. They live here once, batched over a leading image axis.

Conventions: float images hold values in [0, 1] with shape ``[N, H, W, C]`` (or ``[N, H, W]``
for single-channel layers); every random draw goes through the ``numpy.random.Generator``
passed in.
"""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np

from ipmix.corruptions.kernels import ndimage


def to_uint8(images01: np.ndarray) -> np.ndarray:
    """Map [0, 1] floats to uint8 by clipping and truncating, as ``np.uint8(x * 255)`` does.

    The reference scripts truncate (not round) when they store their results; we keep that so
    that pixel statistics match the official files. Computed in the array's own float type
    (float32 stays float32, as numpy's ``np.clip(x, 0, 1) * 255``).
    """
    return clip_truncate(images01, 1.0, 255.0)


def clip_truncate(values: np.ndarray, high: float, scale: float = 1.0) -> np.ndarray:
    """``(np.clip(values, 0, high) * scale).astype(np.uint8)`` in one pass, in the float type of
    `values` (NaN, which numpy's cast turns into 0 on x86, is 0 too). Integer input is clipped."""
    values = np.asarray(values)
    if values.dtype == np.uint8 and high >= 255 and scale == 1:
        return values.copy()
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    kind = values.dtype.type
    out = np.empty(values.shape, dtype=np.uint8)
    flat = np.ascontiguousarray(values).reshape(-1)
    _clip_truncate(flat, kind(0), kind(high), kind(scale), out.reshape(-1))
    return out


@numba.njit(cache=True, nogil=True)
def _clip_truncate(values, low, high, scale, out) -> None:
    for i in range(values.shape[0]):
        v = values[i]
        out[i] = 0 if v != v else np.uint8(min(max(v, low), high) * scale)


def gaussian_filter_hw(
    images: np.ndarray, sigma: float | tuple[float, float], mode: str = "nearest", truncate: float = 4.0
) -> np.ndarray:
    """Gaussian blur over the two spatial axes (1, 2) only, like ``skimage.filters.gaussian``
    (`sigma`: one for both axes, or ``(rows, columns)``).

    skimage's defaults (``mode='nearest'``, ``truncate=4``) are scipy's filter with the channel
    axis (and here the image axis) left alone; `ndimage` computes it bit for bit.
    """
    return ndimage.gaussian_filter_hw(images, sigma, mode, truncate)


@numba.njit(cache=True, nogil=True)
def _rgb_to_hsv_pixel(r: float, g: float, b: float) -> tuple[float, float, float]:
    """skimage's ``rgb2hsv`` for one pixel: hue in [0, 1), hue 0 for grey, blue > green > red
    where two channels tie for the maximum."""
    value = max(r, g, b)
    delta = value - min(r, g, b)
    saturation = 0.0 if value == 0.0 else delta / value
    if delta == 0.0:
        return 0.0, saturation, value
    if b == value:
        hue = 4.0 + (r - g) / delta
    elif g == value:
        hue = 2.0 + (b - r) / delta
    else:
        hue = (g - b) / delta
    return (hue / 6.0) % 1.0, saturation, value


@numba.njit(cache=True, nogil=True)
def _hsv_to_rgb_pixel(h: float, s: float, v: float) -> tuple[float, float, float]:
    """skimage's ``hsv2rgb`` for one pixel."""
    sector = math.floor(h * 6.0)
    frac = h * 6.0 - sector
    p = v * (1.0 - s)
    q = v * (1.0 - frac * s)
    t = v * (1.0 - (1.0 - frac) * s)
    k = int(sector) % 6
    if k == 0:
        return v, t, p
    if k == 1:
        return q, v, p
    if k == 2:
        return p, v, t
    if k == 3:
        return p, q, v
    if k == 4:
        return t, p, v
    return v, p, q


@numba.njit(cache=True, nogil=True)
def _hsv_frames(pixels, value_shift, factor, offset, out) -> None:
    """Per pixel (uint8, read as ``x / 255.0``) its HSV once; then per frame f: value +
    value_shift[f] (clipped), saturation * factor + offset (clipped), back to RGB, clipped to
    [0, 1], times 255, truncated."""
    for i in range(pixels.shape[0]):
        h0, s0, v0 = _rgb_to_hsv_pixel(pixels[i, 0] / 255.0, pixels[i, 1] / 255.0, pixels[i, 2] / 255.0)
        s = s0
        if factor != 1.0 or offset != 0.0:
            s = min(max(s0 * factor + offset, 0.0), 1.0)
        for f in range(value_shift.shape[0]):
            v = v0
            if value_shift[f] != 0.0:
                v = min(max(v0 + value_shift[f], 0.0), 1.0)
            r, g, b = _hsv_to_rgb_pixel(h0, s, v)
            out[f, i, 0] = min(max(r, 0.0), 1.0) * 255.0
            out[f, i, 1] = min(max(g, 0.0), 1.0) * 255.0
            out[f, i, 2] = min(max(b, 0.0), 1.0) * 255.0


@numba.njit(cache=True, nogil=True)
def _to_hsv(pixels, out) -> None:
    for i in range(pixels.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = _rgb_to_hsv_pixel(pixels[i, 0], pixels[i, 1], pixels[i, 2])


@numba.njit(cache=True, nogil=True)
def _to_rgb(pixels, out) -> None:
    for i in range(pixels.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = _hsv_to_rgb_pixel(pixels[i, 0], pixels[i, 1], pixels[i, 2])


def _pixels(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images, dtype=np.float64).reshape(-1, 3)


def rgb_to_hsv(images01: np.ndarray) -> np.ndarray:
    """RGB to HSV with skimage's conventions (hue in [0, 1), hue 0 for grey pixels)."""
    out = np.empty((images01.size // 3, 3))
    _to_hsv(_pixels(images01), out)
    return out.reshape(images01.shape)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """HSV (skimage conventions) back to RGB."""
    out = np.empty((hsv.size // 3, 3))
    _to_rgb(_pixels(hsv), out)
    return out.reshape(hsv.shape)


def adjust_hsv(
    images: np.ndarray, value_shifts: np.ndarray, factor: float = 1.0, offset: float = 0.0
) -> np.ndarray:
    """The benchmarks' brightness and saturate on uint8 ``[..., 3]`` images, in skimage's HSV:
    value + shift (one frame per entry of `value_shifts`: ``[F, ..., 3]`` uint8 out), saturation
    ``* factor + offset``, both clipped to [0, 1]; the result truncated as ``np.uint8(x * 255)``."""
    shifts = np.ascontiguousarray(value_shifts, dtype=np.float64).reshape(-1)
    pixels = np.ascontiguousarray(images).reshape(-1, 3)
    out = np.empty((shifts.shape[0], *images.shape), dtype=np.uint8)
    _hsv_frames(pixels, shifts, float(factor), float(offset), out.reshape(shifts.shape[0], -1, 3))
    return out


def magick_motion_blur(images: np.ndarray, radius: float, sigma: float, angles_deg: np.ndarray) -> np.ndarray:
    """ImageMagick's ``MotionBlurImage`` (what Wand's ``motion_blur`` calls), batched.

    ImageMagick blurs with a one-sided Gaussian of ``2 * ceil(radius) + 1`` taps: output pixel
    (x, y) is ``sum_i k_i * p(x + dx_i, y + dy_i)`` with ``k_i ~ exp(-i^2 / (2 sigma^2))``
    normalised, ``dx_i = ceil(i cos(angle) - 0.5)``, ``dy_i = ceil(i sin(angle) - 0.5)`` and
    edge pixels repeated outside the image (its default virtual-pixel method). `images` is
    ``[N, H, W, C]`` or ``[N, H, W]`` in any range; one angle per image. Returns float64.
    """
    angles = np.broadcast_to(np.asarray(angles_deg, dtype=np.float64), (np.shape(images)[0],))
    width = int(2 * math.ceil(radius) + 1)
    taps = np.arange(width, dtype=np.float64)
    kernel = np.exp(-(taps**2) / (2.0 * max(sigma, 1e-12) ** 2))
    kernel /= kernel.sum()
    rad = np.deg2rad(angles)
    # The same floating-point steps as ImageMagick, so ties at .5 round the same way.
    point_x, point_y = width * np.sin(rad), width * np.cos(rad)
    norm = np.hypot(point_x, point_y)[:, None]
    dx = np.ceil(taps[None, :] * point_y[:, None] / norm - 0.5).astype(np.int64)
    dy = np.ceil(taps[None, :] * point_x[:, None] / norm - 0.5).astype(np.int64)
    return shifted_sum(images, kernel, dy, dx)


def shifted_sum(images: np.ndarray, kernel: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``out[b, r, c] = sum_i kernel[i] * images[b, clip(r + dy[b, i]), clip(c + dx[b, i])]``
    in float64, summed from 0 in tap order (edge pixels repeated outside the image): the motion
    blurs of ImageMagick and of imagecorruptions. `images` ``[N, H, W, C]`` or ``[N, H, W]``;
    `dy`, `dx` integer ``[N, taps]``."""
    images = np.asarray(images)
    if images.dtype != np.uint8:  # uint8 is read as it is (exactly), anything else as float64
        images = images.astype(np.float64)
    flat = np.ascontiguousarray(images).reshape(*images.shape[:3], -1)
    out = np.empty(flat.shape, dtype=np.float64)
    offsets = (np.ascontiguousarray(d, dtype=np.int64) for d in (dy, dx))
    _motion_taps(flat, np.ascontiguousarray(kernel, dtype=np.float64), *offsets, out)
    return out.reshape(images.shape)


@numba.njit(cache=True, nogil=True)
def _add_shifted_row(acc, row, weight, shift, width, channels) -> None:
    """``acc[c] += weight * row[clip(c + shift)]`` for the columns c of one row (``[W * K]``
    flattened): the columns whose source lies inside as one contiguous run, the edges apart."""
    lo = min(max(-shift, 0), width)
    hi = max(min(width - shift, width), lo)
    first, last = row[:channels], row[(width - 1) * channels :]
    for c in range(lo):
        for k in range(channels):
            acc[c * channels + k] += weight * first[k]
    inner = acc[lo * channels : hi * channels]
    source = row[(lo + shift) * channels : (hi + shift) * channels]
    for i in range(inner.shape[0]):
        inner[i] += weight * source[i]
    for c in range(hi, width):
        for k in range(channels):
            acc[c * channels + k] += weight * last[k]


@numba.njit(cache=True, nogil=True)
def _motion_taps(images, kernel, dy, dx, out) -> None:
    """``out[b, r, c] = sum_i kernel[i] * images[b, clip(r + dy[b, i]), clip(c + dx[b, i])]``,
    summed from 0 in tap order (the order of the numpy version this replaced: the same bytes);
    each tap is added to a whole output row at once."""
    n, h, w, channels = images.shape
    acc = np.empty(w * channels)
    for b in range(n):
        for r in range(h):
            acc[:] = 0.0
            for i in range(kernel.shape[0]):
                row = images[b, min(max(r + dy[b, i], 0), h - 1)].reshape(w * channels)
                _add_shifted_row(acc, row, kernel[i], dx[b, i], w, channels)
            out[b, r] = acc.reshape(w, channels)


def magick_motion_blur_uint8(
    images: np.ndarray, radius: float, sigma: float, angles_deg: np.ndarray
) -> np.ndarray:
    """Motion blur of uint8 images to uint8, quantised as the reference's Wand round trip.

    ImageMagick Q16 (the usual build) rounds the blurred value to 16 bits (``8-bit * 257``) and
    its PNG writer then truncates to 8 bits; with that, the output equals ImageMagick 6.9's
    ``-motion-blur`` pixel for pixel (checked by ``benchmarks/corruptions.py
    --reference-check``).
    """
    blurred = magick_motion_blur(images, radius, sigma, angles_deg)
    out = np.empty(blurred.shape, dtype=np.uint8)
    _quantise_q16(blurred.reshape(-1), out.reshape(-1))
    return out


@numba.njit(cache=True, nogil=True)
def _quantise_q16(values, out) -> None:
    """``clip(rint(v * 257), 0, 65535) // 257`` as uint8."""
    for i in range(values.shape[0]):
        quantum = min(max(np.rint(values[i] * 257.0), 0.0), 65535.0)
        out[i] = np.uint8(int(quantum) // 257)


def clipped_zoom(images: np.ndarray, factor: float, trim: str = "centre") -> np.ndarray:
    """Zoom the centre of ``[N, H, W, C]`` images by `factor` (>= 1), cut back to the input
    size (`trim`: where, see `ndimage.TRIMS`), as the reference's ``clipped_zoom`` (scipy
    ``zoom(order=1)``, bit for bit: `ndimage.clipped_zoom`). The dtype is kept."""
    return ndimage.clipped_zoom(images, factor, trim)


_SPATTER_EDGE_KERNEL = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64)
WATER_COLOUR = np.array([175.0, 238.0, 238.0]) / 255.0  # pale turquoise, RGB
MUD_COLOUR = np.array([63.0, 42.0, 20.0]) / 255.0  # mud brown, RGB


def water_mask(liquid: np.ndarray, intensity: float) -> np.ndarray | None:
    """The shaded water-drop mask of the spatter corruption for one thresholded liquid layer.

    `liquid` is ``[H, W]`` float (zero below the threshold). Canny edges, an L2 distance
    transform truncated at 20, a 3x3 box blur, histogram equalisation, an emboss kernel and
    another box blur shade the drops; the float32 mask is normalised to peak `intensity`.
    Returns None when the mask is empty (no liquid left): the reference divides 0 by 0 there.
    """
    # The reference casts with astype(uint8); values above 1 wrap modulo 256 on its platform.
    layer = (np.floor(liquid * 255.0).astype(np.int64) & 255).astype(np.uint8)
    dist = 255 - cv2.Canny(layer, 50, 150)
    dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
    dist = cv2.equalizeHist(dist)
    dist = cv2.filter2D(dist, cv2.CV_8U, _SPATTER_EDGE_KERNEL)
    dist = cv2.blur(dist, (3, 3)).astype(np.float32)
    mask = layer * dist  # float32, as in the reference (the rounding of the result depends on it)
    peak = mask.max()
    if peak == 0:
        return None
    return mask / peak * intensity


def add_water(
    image01: np.ndarray, liquid: np.ndarray, intensity: float, uint8_out: bool = False
) -> np.ndarray:
    """Add the pale-turquoise water drops of `liquid` to one float32 ``[H, W, 3]`` image in
    [0, 1], computing in float32 as the reference does (`uint8_out`: then times 255, truncated,
    in the same pass).

    With an empty mask the reference computes ``x + NaN``, which its ``np.uint8`` cast stores
    as 0 on x86: the image comes out black. It happens in CIFAR-P spatter once the drops have run
    off the image; the script's output (and so presumably the official files) has black frames
    there, and so does ours: zeros are returned.
    """
    mask = water_mask(liquid, intensity)
    if mask is None:
        return np.zeros(image01.shape, dtype=np.uint8 if uint8_out else image01.dtype)
    out = np.empty(image01.shape, dtype=np.uint8 if uint8_out else np.float32)
    _water(image01, mask, WATER_COLOUR.astype(np.float32), np.float32(255.0 if uint8_out else 1.0), out)
    return out


@numba.njit(cache=True, nogil=True)
def _water(image, mask, colour, scale, out) -> None:
    """``clip(image + mask * colour, 0, 1) * scale`` in float32."""
    h, w, channels = image.shape
    for i in range(h):
        for j in range(w):
            for k in range(channels):
                v = image[i, j, k] + mask[i, j] * colour[k]
                out[i, j, k] = min(max(v, np.float32(0.0)), np.float32(1.0)) * scale
