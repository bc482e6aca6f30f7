"""The CIFAR-10-C / CIFAR-100-C corruptions of Hendrycks & Dietterich (ICLR 2019), batched.

Parameters are those of ``ImageNet-C/create_c/make_cifar_c.py`` in hendrycks/robustness (the
CIFAR ones, which differ from ImageNet-C's). Every corruption takes a batch of uint8
``[N, H, W, 3]`` images (32 x 32 for CIFAR), a severity 1..5 and a ``numpy.random.Generator``
and returns uint8 images, truncated to integers as the reference's ``np.uint8(...)`` does.
See ``docs/corruptions.md`` for how close each one is to the original and where it differs
(ImageMagick's motion blur is re-implemented; the glass-blur loop is vectorised exactly).
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from ipmix.robustness import kernels
from ipmix.utils.images import BATCH_LAYOUTS, ImageLayoutError, as_nhwc, from_nhwc

BENCHMARK_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS: tuple[str, ...] = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

FROST_FILES: tuple[str, ...] = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
"""The frost textures the CIFAR script draws from (``randint(5)``: its sixth file is never used)."""


class CorruptionError(ValueError):
    """An unknown corruption name, a bad severity or images of the wrong shape or dtype."""


class FrostTexturesNotFoundError(FileNotFoundError):
    """The frost corruption needs the benchmark's texture files and they were not found."""


def find_frost_dir(frost_dir: str | Path | None = None) -> Path:
    """Where the frost textures are: `frost_dir` if given, else ``$IPMIX_DATA/frost``.

    Raises FrostTexturesNotFoundError naming the places looked at and the files needed.
    """
    if frost_dir is not None:
        candidates = [Path(frost_dir)]
    elif os.environ.get("IPMIX_DATA"):
        candidates = [Path(os.environ["IPMIX_DATA"]) / "frost"]
    else:
        candidates = []
    for folder in candidates:
        if all((folder / name).is_file() for name in FROST_FILES):
            return folder
    where = ", ".join(str(c) for c in candidates) or "nowhere (no frost_dir and IPMIX_DATA unset)"
    raise FrostTexturesNotFoundError(
        f"frost textures {', '.join(FROST_FILES)} not found; looked in {where}. Pass a folder "
        "holding them (they ship with hendrycks/robustness ImageNet-C/create_c/) or set "
        "IPMIX_DATA to a folder with a frost/ subfolder"
    )


@functools.lru_cache(maxsize=4)
def _frost_textures(folder: str) -> tuple[np.ndarray, ...]:
    """The five textures, BGR as cv2 reads them, resized by 0.2 as the reference does."""
    textures = []
    for name in FROST_FILES:
        texture = cv2.imread(str(Path(folder) / name))
        if texture is None:
            raise FrostTexturesNotFoundError(f"cannot read frost texture {Path(folder) / name}")
        textures.append(cv2.resize(texture, (0, 0), fx=0.2, fy=0.2))
    return tuple(textures)


# -------------------------------------------------------------------------------- noise


def _gaussian_noise(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [0.04, 0.06, 0.08, 0.09, 0.10][severity - 1]
    return kernels.add_gaussian_noise(x / 255.0, c, rng) * 255.0


def _shot_noise(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [500, 250, 100, 75, 50][severity - 1]
    return kernels.add_shot_noise(x / 255.0, c, rng) * 255.0


def _impulse_noise(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    """skimage ``random_noise(mode='s&p', amount=c)``: each value flipped with probability c,
    to 1 or 0 with equal odds, independently per channel."""
    c = [0.01, 0.02, 0.03, 0.05, 0.07][severity - 1]
    out = x / 255.0
    flipped = rng.random(out.shape) < c
    salted = rng.random(out.shape) < 0.5
    out[flipped & salted] = 1.0
    out[flipped & ~salted] = 0.0
    return out * 255.0


def _speckle_noise(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [0.06, 0.1, 0.12, 0.16, 0.2][severity - 1]
    x = x / 255.0
    return np.clip(x + x * rng.normal(0.0, c, size=x.shape), 0.0, 1.0) * 255.0


# -------------------------------------------------------------------------------- blur


def _gaussian_blur(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [0.4, 0.6, 0.7, 0.8, 1.0][severity - 1]
    return np.clip(kernels.gaussian_filter_hw(x / 255.0, c), 0.0, 1.0) * 255.0


def glass_shuffle(images: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """One pass of glass blur's local pixel shuffle with offsets in {-1, 0}, batched.

    The reference walks rows and columns from ``H - 1`` down to 2 and runs
    ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` with ``(h', w') = (h + dy, w + dx)`` and
    ``dx, dy = randint(-1, 1)``. On numpy pixels that line copies ``x[h', w']`` into
    ``x[h, w]`` and leaves ``x[h', w']`` as it was (the right-hand side is a view). The source
    lies at or before the target in the walk, so it is never overwritten earlier in the same
    pass: the pass equals one simultaneous gather, done here for the whole batch.
    `dx`, `dy` are ``[N, H - 2, W - 2]`` integer arrays for the targets ``[2:, 2:]``.
    """
    n, h, w = images.shape[:3]
    if dx.shape != (n, h - 2, w - 2) or dy.shape != dx.shape:
        raise CorruptionError(f"glass offsets must have shape {(n, h - 2, w - 2)}, got {dx.shape}")
    if min(dx.min(initial=0), dy.min(initial=0)) < -1 or max(dx.max(initial=0), dy.max(initial=0)) > 0:
        raise CorruptionError("glass offsets must lie in {-1, 0} for the gather to be exact")
    out = images.copy()
    batch = np.arange(n)[:, None, None]
    rows = np.arange(2, h)[None, :, None]
    cols = np.arange(2, w)[None, None, :]
    out[batch, rows, cols] = images[batch, rows + dy, cols + dx]
    return out


def _glass_blur(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    """Blur, locally shuffle pixels (`glass_shuffle`, once or twice), blur again."""
    # (sigma, max_delta, iterations); max_delta is 1 at every CIFAR severity
    sigma, _max_delta, iterations = [
        (0.05, 1, 1),
        (0.25, 1, 1),
        (0.4, 1, 1),
        (0.25, 1, 2),
        (0.4, 1, 2),
    ][severity - 1]
    n, h, w = x.shape[:3]
    out = kernels.to_uint8(kernels.gaussian_filter_hw(x / 255.0, sigma))
    for _ in range(iterations):
        offsets = rng.integers(-1, 1, size=(2, n, h - 2, w - 2))  # randint(-1, 1): {-1, 0}
        out = glass_shuffle(out, offsets[0], offsets[1])
    return np.clip(kernels.gaussian_filter_hw(out / 255.0, sigma), 0.0, 1.0) * 255.0


def _disk(radius: float, alias_blur: float) -> np.ndarray:
    """The anti-aliased disk kernel of the reference (17 x 17 for radius <= 8)."""
    if radius <= 8:
        support, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        support, ksize = np.arange(-radius, radius + 1), (5, 5)
    xx, yy = np.meshgrid(support, support)
    disk = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def _defocus_blur(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    radius, alias_blur = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][severity - 1]
    kernel = _disk(radius, alias_blur)
    x = x / 255.0
    out = np.stack([cv2.filter2D(image, -1, kernel) for image in x])
    return np.clip(out, 0.0, 1.0) * 255.0


def _motion_blur(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    radius, sigma = [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)][severity - 1]
    angles = rng.uniform(-45.0, 45.0, size=x.shape[0])
    return kernels.magick_motion_blur_uint8(x, radius, sigma, angles)


def _zoom_blur(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    stop = [1.06, 1.11, 1.16, 1.21, 1.26][severity - 1]
    factors = np.arange(1, stop, 0.01)
    x = (x / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for factor in factors:
        out += kernels.clipped_zoom(x, factor)
    return np.clip((x + out) / (len(factors) + 1), 0.0, 1.0) * 255.0


# -------------------------------------------------------------------------------- weather


def _snow(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    loc, scale, zoom, threshold, radius, sigma, blend = [
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ][severity - 1]
    n, h, w = x.shape[:3]
    x = x.astype(np.float32) / 255.0
    layer = rng.normal(loc, scale, size=(n, h, w))
    layer = kernels.clipped_zoom(layer[..., None], zoom)[..., 0]
    layer[layer < threshold] = 0
    layer = (np.clip(layer, 0.0, 1.0) * 255.0).astype(np.uint8)  # the 8-bit grey PNG
    angles = rng.uniform(-135.0, -45.0, size=n)
    layer = kernels.magick_motion_blur_uint8(layer, radius, sigma, angles) / 255.0
    layer = layer[..., None]
    grey = (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[..., None]
    x = blend * x + (1 - blend) * np.maximum(x, grey * 1.5 + 0.5)
    return np.clip(x + layer + np.rot90(layer, k=2, axes=(1, 2)), 0.0, 1.0) * 255.0


def _frost(
    x: np.ndarray,
    severity: int,
    rng: np.random.Generator,
    frost_dir: str | Path | None = None,
    **_: object,
):
    weight, frost_weight = [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)][severity - 1]
    textures = _frost_textures(str(find_frost_dir(frost_dir)))
    n, h, w = x.shape[:3]
    layers = np.empty((n, h, w, 3), dtype=np.float64)
    for i in range(n):
        texture = textures[int(rng.integers(len(textures)))]
        top = int(rng.integers(0, texture.shape[0] - h))
        left = int(rng.integers(0, texture.shape[1] - w))
        layers[i] = texture[top : top + h, left : left + w, ::-1]  # BGR -> RGB
    return np.clip(weight * x.astype(np.float64) + frost_weight * layers, 0.0, 255.0)


def plasma_fractal(count: int, mapsize: int, wibble_decay: float, rng: np.random.Generator) -> np.ndarray:
    """Diamond-square height maps in [0, 1], ``[count, mapsize, mapsize]`` (mapsize a power
    of two), batched version of the reference's ``plasma_fractal``, its "wibble" included."""
    if mapsize & (mapsize - 1):
        raise CorruptionError(f"plasma fractal size must be a power of two, got {mapsize}")
    maps = np.empty((count, mapsize, mapsize), dtype=np.float64)
    maps[:, 0, 0] = 0.0
    step = mapsize
    wibble = 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, size=total.shape)

    while step >= 2:
        half = step // 2
        corners = maps[:, 0:mapsize:step, 0:mapsize:step]
        squares = corners + np.roll(corners, -1, axis=1)
        squares += np.roll(squares, -1, axis=2)
        maps[:, half:mapsize:step, half:mapsize:step] = wibbled_mean(squares)
        centres = maps[:, half:mapsize:step, half:mapsize:step]
        corners = maps[:, 0:mapsize:step, 0:mapsize:step]
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
        maps[:, 0:mapsize:step, half:mapsize:step] = wibbled_mean(left)
        top = centres + np.roll(centres, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
        maps[:, half:mapsize:step, 0:mapsize:step] = wibbled_mean(top)
        step //= 2
        wibble /= wibble_decay
    maps -= maps.min(axis=(1, 2), keepdims=True)
    return maps / maps.max(axis=(1, 2), keepdims=True)


def _fog(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    strength, decay = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][severity - 1]
    n, h, w = x.shape[:3]
    mapsize = 1 << (max(h, w) - 1).bit_length()  # 32 for CIFAR, as in the reference
    x = x / 255.0
    max_val = x.max(axis=(1, 2, 3), keepdims=True)
    x = x + strength * plasma_fractal(n, mapsize, decay, rng)[:, :h, :w, None]
    return np.clip(x * max_val / (max_val + strength), 0.0, 1.0) * 255.0


def _spatter(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    # intensity: the water mask's peak, or the mud mask's blur sigma (the reference reuses c[4])
    loc, scale, sigma, threshold, intensity, mud = [
        (0.62, 0.1, 0.7, 0.7, 0.5, 0),
        (0.65, 0.1, 0.8, 0.7, 0.5, 0),
        (0.65, 0.3, 1, 0.69, 0.5, 0),
        (0.65, 0.1, 0.7, 0.69, 0.6, 1),
        (0.65, 0.1, 0.5, 0.68, 0.6, 1),
    ][severity - 1]
    n, h, w = x.shape[:3]
    x = x.astype(np.float32) / 255.0
    liquid = kernels.gaussian_filter_hw(rng.normal(loc, scale, size=(n, h, w)), sigma)
    liquid[liquid < threshold] = 0
    if not mud:
        out = np.stack([kernels.add_water(x[i], liquid[i], intensity) for i in range(n)])
        return out * 255.0
    # float32 throughout, as the reference (its blur keeps float32 inputs float32)
    mask = kernels.gaussian_filter_hw((liquid > threshold).astype(np.float32), intensity)
    mask = mask.astype(np.float32)
    mask[mask < 0.8] = 0
    mask = mask[..., None]
    mud = kernels.MUD_COLOUR.astype(np.float32) * mask
    return np.clip(x * (1 - mask) + mud, 0.0, 1.0) * 255.0


# -------------------------------------------------------------------------------- digital


def _contrast(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [0.75, 0.5, 0.4, 0.3, 0.15][severity - 1]
    x = x / 255.0
    means = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - means) * c + means, 0.0, 1.0) * 255.0


def _brightness(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [0.05, 0.1, 0.15, 0.2, 0.3][severity - 1]
    return np.clip(kernels.shift_value(x / 255.0, c), 0.0, 1.0) * 255.0


def _saturate(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    factor, offset = [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)][severity - 1]
    return np.clip(kernels.scale_saturation(x / 255.0, factor, offset), 0.0, 1.0) * 255.0


def _jpeg_compression(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    quality = [80, 65, 58, 50, 40][severity - 1]
    out = np.empty_like(x)
    for i, image in enumerate(x):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def _pixelate(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    c = [0.95, 0.9, 0.85, 0.75, 0.65][severity - 1]
    n, h, w = x.shape[:3]
    small = (int(w * c), int(h * c))
    out = np.empty_like(x)
    for i, image in enumerate(x):
        picture = Image.fromarray(image).resize(small, Image.Resampling.BOX)
        out[i] = np.asarray(picture.resize((w, h), Image.Resampling.BOX))
    return out


def _elastic_transform(x: np.ndarray, severity: int, rng: np.random.Generator, **_: object):
    n, h, w, channels = x.shape
    size = min(h, w)  # the reference's IMSIZE (32)
    alpha, sigma, affine = [
        (size * 0, size * 0, size * 0.08),
        (size * 0.05, size * 0.2, size * 0.07),
        (size * 0.08, size * 0.06, size * 0.06),
        (size * 0.1, size * 0.04, size * 0.05),
        (size * 0.1, size * 0.03, size * 0.03),
    ][severity - 1]
    x = x.astype(np.float32) / 255.0
    # random affine, per image
    centre = np.float32((h, w)) // 2
    half = min(h, w) // 3
    src = np.float32([centre + half, [centre[0] + half, centre[1] - half], centre - half])
    warped = np.empty_like(x)
    for i in range(n):
        dst = src + rng.uniform(-affine, affine, size=src.shape).astype(np.float32)
        matrix = cv2.getAffineTransform(src, dst)
        warped[i] = cv2.warpAffine(x[i], matrix, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    # smooth random displacement field (dx moves along columns, dy along rows)
    fields = rng.uniform(-1.0, 1.0, size=(2, n, h, w))
    dx = (kernels.gaussian_filter_hw(fields[0], sigma, "reflect", 3.0) * alpha).astype(np.float32)
    dy = (kernels.gaussian_filter_hw(fields[1], sigma, "reflect", 3.0) * alpha).astype(np.float32)
    bb, yy, xx, cc = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(channels), indexing="ij")
    coords = np.stack([bb, yy + dy[..., None], xx + dx[..., None], cc]).reshape(4, -1)
    out = ndimage.map_coordinates(warped, coords, order=1, mode="reflect").reshape(x.shape)
    return np.clip(out, 0.0, 1.0) * 255.0


_CORRUPTIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "impulse_noise": _impulse_noise,
    "defocus_blur": _defocus_blur,
    "glass_blur": _glass_blur,
    "motion_blur": _motion_blur,
    "zoom_blur": _zoom_blur,
    "snow": _snow,
    "frost": _frost,
    "fog": _fog,
    "brightness": _brightness,
    "contrast": _contrast,
    "elastic_transform": _elastic_transform,
    "pixelate": _pixelate,
    "jpeg_compression": _jpeg_compression,
    "speckle_noise": _speckle_noise,
    "gaussian_blur": _gaussian_blur,
    "spatter": _spatter,
    "saturate": _saturate,
}


def _read_images(images: np.ndarray, what: str, layout: str | None) -> tuple[np.ndarray, str]:
    """`check_images`, also returning the layout the images were read in."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise CorruptionError(f"{what} must be uint8, got {images.dtype}")
    try:
        images, layout = as_nhwc(images, layout, allowed=BATCH_LAYOUTS, channels=(3,), what=what)
    except ImageLayoutError as error:
        raise CorruptionError(str(error)) from None
    if images.shape[1] != images.shape[2] or images.shape[1] < 8:
        raise CorruptionError(
            f"{what} must be square and at least 8 x 8 (CIFAR is 32 x 32), got {images.shape[1:3]}"
        )
    return images, layout


def check_images(images: np.ndarray, what: str = "images", layout: str | None = None) -> np.ndarray:
    """Validate a uint8 batch of square RGB images; returns it as an ``[N, H, W, 3]`` array.

    ``[N, H, W, 3]`` and ``[N, 3, H, W]`` are both read (`ipmix.utils.images.image_layout`;
    `layout` settles an ambiguous shape).
    """
    return _read_images(images, what, layout)[0]


def corrupt(
    images: np.ndarray,
    name: str,
    severity: int,
    rng: np.random.Generator,
    *,
    frost_dir: str | Path | None = None,
    layout: str | None = None,
) -> np.ndarray:
    """Apply corruption `name` at `severity` (1..5) to uint8 ``[N, H, W, 3]`` (or ``[N, 3, H, W]``) images.

    Returns uint8 images of the same shape and layout. `frost_dir` is where the frost textures
    are (default ``$IPMIX_DATA/frost``); FrostTexturesNotFoundError when they cannot be found.
    `layout` (``"NHWC"`` or ``"NCHW"``) settles a shape that reads both ways.
    """
    if name not in _CORRUPTIONS:
        raise CorruptionError(f"unknown corruption {name!r}; known: {', '.join(ALL_CORRUPTIONS)}")
    if isinstance(severity, bool) or int(severity) != severity or not 1 <= severity <= 5:
        raise CorruptionError(f"severity must be an integer in 1..5, got {severity!r}")
    images, read_as = _read_images(images, "images", layout)
    if images.shape[0] == 0:
        return np.ascontiguousarray(from_nhwc(images, read_as))
    out = _CORRUPTIONS[name](np.ascontiguousarray(images), int(severity), rng, frost_dir=frost_dir)
    return np.ascontiguousarray(from_nhwc(np.clip(out, 0, 255).astype(np.uint8), read_as))
