"""Weather and digital corruptions of Hendrycks & Dietterich, for any preset.

Same contract as ``noise_blur.py``: uint8 ``[N, H, W, 3]`` in, the preset's constants
`c` for one severity, values in [0, 255] out. Size-dependent steps follow the image size
(frost crop, fog map size, pixelate factor, elastic unit); the frost textures are resized by
the preset's ``frost_scale`` as its script does.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from pathlib import Path

import cv2
import numba
import numpy as np
from PIL import Image

from ipmix.corruptions.imagenet_c.presets import CorruptionContext, CorruptionError
from ipmix.corruptions.kernels import common, fused, ndimage

FROST_FILES: tuple[str, ...] = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
"""The frost textures the scripts draw from (``randint(5)``: their sixth file is never used)."""


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


def frost_for(names: list[str], frost_dir: str | Path | None, require: bool) -> Path | None:
    """The frost folder when `names` asks for frost; without textures frost is dropped from
    `names` (in place) with a warning, or FrostTexturesNotFoundError when `require`."""
    if "frost" not in names:
        return None
    try:
        return find_frost_dir(frost_dir)
    except FrostTexturesNotFoundError as error:
        if require:
            raise
        warnings.warn(f"skipping frost: {error}", stacklevel=3)
        names.remove("frost")
        return None


@functools.lru_cache(maxsize=8)
def frost_textures(folder: str, scale: float) -> tuple[np.ndarray, ...]:
    """The five textures, BGR as cv2 reads them, resized by `scale` as the scripts do."""
    textures = []
    for name in FROST_FILES:
        texture = cv2.imread(str(Path(folder) / name))
        if texture is None:
            raise FrostTexturesNotFoundError(f"cannot read frost texture {Path(folder) / name}")
        if scale != 1:
            texture = cv2.resize(texture, (0, 0), fx=scale, fy=scale)
        textures.append(texture)
    return tuple(textures)


@functools.lru_cache(maxsize=8)
def _typed_textures(folder: str, scale: float) -> numba.typed.List:
    """`frost_textures` as the list type numba reads."""
    return numba.typed.List(frost_textures(folder, scale))


def frost(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    weight, frost_weight = c
    folder = str(find_frost_dir(ctx.frost_dir))
    textures = frost_textures(folder, ctx.preset.frost_scale)
    n, h, w = x.shape[:3]
    crops = np.empty((n, 3), dtype=np.int64)  # texture, top, left
    for i in range(n):
        texture = int(rng.integers(len(textures)))
        shape = textures[texture].shape
        if shape[0] <= h or shape[1] <= w:
            size = f"{shape[1]} x {shape[0]}"
            raise CorruptionError(f"frost textures of {size} px are too small for {w} x {h} images")
        crops[i] = texture, int(rng.integers(0, shape[0] - h)), int(rng.integers(0, shape[1] - w))
    typed = _typed_textures(folder, ctx.preset.frost_scale)
    return fused.frost(x, typed, crops, float(weight), float(frost_weight))


def snow(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    loc, scale, zoom, threshold, radius, sigma, blend = c
    n, h, w = x.shape[:3]
    layer = rng.normal(loc, scale, size=(n, h, w))
    layer = common.clipped_zoom(layer[..., None], zoom)[..., 0]
    layer[layer < threshold] = 0
    layer = (np.clip(layer, 0.0, 1.0) * 255.0).astype(np.uint8)  # the 8-bit grey PNG
    angles = rng.uniform(-135.0, -45.0, size=n)
    layer = common.magick_motion_blur_uint8(layer, radius, sigma, angles)
    return fused.snow(x, layer, blend, fused.grey(x))


def plasma_fractal(count: int, mapsize: int, wibble_decay: float, rng: np.random.Generator) -> np.ndarray:
    """Diamond-square height maps in [0, 1], ``[count, mapsize, mapsize]`` (mapsize a power
    of two), batched version of the reference's ``plasma_fractal``, its "wibble" included."""
    if mapsize & (mapsize - 1):
        raise CorruptionError(f"plasma fractal size must be a power of two, got {mapsize}")
    maps = np.empty((count, mapsize, mapsize), dtype=np.float64)
    maps[:, 0, 0] = 0.0
    wibbles, draws = [], []
    step, wibble = mapsize, 100.0
    while step >= 2:  # the reference draws per level for its squares, then left, then top cells
        cells = mapsize // step
        draws += [rng.uniform(-wibble, wibble, size=(count, cells, cells)).reshape(-1) for _ in range(3)]
        wibbles.append(wibble)
        step //= 2
        wibble /= wibble_decay
    fused.diamond_square(maps, np.concatenate(draws), np.array(wibbles))
    maps -= maps.min(axis=(1, 2), keepdims=True)
    return maps / maps.max(axis=(1, 2), keepdims=True)


def fog(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    strength, decay = c
    n, h, w = x.shape[:3]
    mapsize = 1 << (max(h, w) - 1).bit_length()  # 32 for CIFAR, 256 for ImageNet, as the scripts
    plasma = np.ascontiguousarray(plasma_fractal(n, mapsize, decay, rng)[:, :h, :w])
    return fused.fog(x, plasma, float(strength))


def spatter(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext, *,
            mud_dtype: type = np.float32, float32_passes: bool = False):
    """Water drops, or mud at the highest severities. `mud_dtype`: the type of the mud colour,
    which the blend is done in (float32 in make_imagenet_c.py, float64 in imagecorruptions).
    `float32_passes`: blur the mud mask one axis at a time, rounding to float32 in between as
    today's scikit-image does, rather than in float64 throughout (what ipmix's sets were made
    with; at most one level apart on about one value in 10,000)."""
    # intensity: the water mask's peak, or the mud mask's blur sigma (the reference reuses c[4])
    loc, scale, sigma, threshold, intensity, mud = c
    n, h, w = x.shape[:3]
    x = x.astype(np.float32) / 255.0
    liquid = common.gaussian_filter_hw(rng.normal(loc, scale, size=(n, h, w)), sigma)
    liquid[liquid < threshold] = 0
    if not mud:
        return np.stack([common.add_water(x[i], liquid[i], intensity, uint8_out=True) for i in range(n)])
    mask = (liquid > threshold).astype(np.float32)
    for axis_sigma in [(intensity, 0.0), (0.0, intensity)] if float32_passes else [intensity]:
        mask = common.gaussian_filter_hw(mask, axis_sigma).astype(np.float32)
    mask[mask < 0.8] = 0
    mask = mask[..., None]
    mud = common.MUD_COLOUR.astype(mud_dtype) * mask
    return np.clip(x * (1 - mask) + mud, 0.0, 1.0) * 255.0


# -------------------------------------------------------------------------------- digital


def contrast(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    return fused.contrast(x, float(c))


def brightness(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    return common.adjust_hsv(x, np.array([c]))[0]


def saturate(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    factor, offset = c
    return common.adjust_hsv(x, np.zeros(1), factor, offset)[0]


def jpeg_compression(x: np.ndarray, c: int, rng: np.random.Generator, ctx: CorruptionContext):
    out = np.empty_like(x)
    for i, image in enumerate(x):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=c)
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def pixelate(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext, *,
             upsample: Image.Resampling = Image.Resampling.BOX):
    """Down by `c` with Pillow's BOX filter, back up with `upsample` (BOX in make_imagenet_c.py,
    NEAREST in imagecorruptions)."""
    n, h, w = x.shape[:3]
    small = (int(w * c), int(h * c))
    out = np.empty_like(x)
    for i, image in enumerate(x):
        picture = Image.fromarray(image).resize(small, Image.Resampling.BOX)
        out[i] = np.asarray(picture.resize((w, h), upsample))
    return out


def elastic_transform(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    n, h, w = x.shape[:3]
    unit = ctx.preset.elastic_scale(min(h, w))  # the reference's IMSIZE (32, 64; 244 at 224 px)
    alpha, sigma, affine = (unit * value for value in c)
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
    dx = (common.gaussian_filter_hw(fields[0], sigma, "reflect", 3.0) * alpha).astype(np.float32)
    dy = (common.gaussian_filter_hw(fields[1], sigma, "reflect", 3.0) * alpha).astype(np.float32)
    # map_coordinates(order=1, mode='reflect') at (row + dy, column + dx, channel)
    out = np.stack([ndimage.displace_linear(warped[i], dy[i], dx[i]) for i in range(n)])
    return np.clip(out, 0.0, 1.0) * 255.0
