"""The 19 corruptions as bethgelab/imagecorruptions 1.1.2 computes them, for images of any size.

imagecorruptions (Michaelis et al., 2019) made ``make_imagenet_c.py`` work on images of any
size and shape, with the script's ImageNet constants. Where the script says 224 it takes the
image's own size (glass blur's walk, the frost crop, fog's map: the next power of two of the
longer side), and six corruptions are its own:

- motion_blur: a numpy line blur in place of ImageMagick's: the same taps, offsets and edge
  handling, but no 16-bit quantisation, and the taps from the first one reaching as far as the
  image is high or wide are dropped (their weight is not given to the others);
- snow: the zoomed snow layer is not cut back before that blur, then rounded to 8 bits and its
  top-left corner used;
- frost: each texture is scaled by 1.1 (more when it is smaller than the image) with bicubic
  interpolation before the random crop;
- pixelate: back up with NEAREST (the script: BOX);
- elastic_transform: the plain elastic deformation (no affine step): uniform displacements of
  up to 0.5 % of the height, blurred with sigma 1 % of each side (truncated at 3 sigma), times
  alpha = 250 x (0.05, 0.065, 0.085, 0.1, 0.12);
- spatter: the mud colour (severities 4, 5) is float64 (the script's float32); its mask is
  blurred as today's scikit-image does it, in float32 between the two axes.

glass_blur draws each pixel's offsets as its walk reaches the pixel (the script's own order;
ipmix's batched kernel draws a block per pass). zoom_blur cuts each zoom from the top-left corner
(``[:h, :w]``), which for zooms under 1.5 is where the script's even cut falls. The rest are the
script's kernels (``noise_blur.py``, ``weather_digital.py``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from types import MappingProxyType

import cv2
import numba
import numpy as np
from PIL import Image

from ipmix.corruptions.imagenet_c import KERNELS, Kernel, run_kernel
from ipmix.corruptions.imagenet_c import noise_blur as nb
from ipmix.corruptions.imagenet_c import weather_digital as wd
from ipmix.corruptions.imagenet_c.presets import IMAGENET, CorruptionContext, CorruptionPreset
from ipmix.corruptions.kernels import common, fused, ndimage

IMAGECORRUPTIONS: CorruptionPreset = replace(
    IMAGENET,
    name="imagecorruptions",
    source="bethgelab/imagecorruptions 1.1.2 imagecorruptions/corruptions.py",
    resize=None,
    table=MappingProxyType(
        {**IMAGENET.table, "elastic_transform": tuple(250 * a for a in (0.05, 0.065, 0.085, 0.1, 0.12))}
    ),
)
"""make_imagenet_c.py's constants but elastic_transform's (its alpha). ``frost_scale`` and
``elastic_unit`` are not read: its frost fits the textures to the image, its elastic transform
works in pixels."""


def motion_kernel(radius: int, sigma: float) -> np.ndarray:
    """imagecorruptions' ``getMotionBlurKernel(2 * radius + 1, sigma)``, with its operations."""
    x = np.arange(radius * 2 + 1)
    k = np.exp(-(x**2) / (2 * (sigma**2))) / (np.sqrt(2 * np.pi) * sigma)
    return k / np.sum(k)


def line_blur(layers: np.ndarray, radius: int, sigma: float, angles: np.ndarray) -> np.ndarray:
    """imagecorruptions' ``_motion_blur`` of each of `layers` (``[N, H, W(, C)]``) at its angle:
    float64, the taps from the first one that moves as far as the layer is high or wide
    dropped."""
    kernel = motion_kernel(radius, sigma)
    width = len(kernel)
    h, w = layers.shape[1:3]
    out = np.empty(layers.shape, dtype=np.float64)
    for b, angle in enumerate(angles):
        point = (width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle)))
        hypot = math.hypot(point[0], point[1])
        dy, dx = [], []
        for i in range(width):  # the reference's shift by (-dx, -dy) reads pixel (r + dy, c + dx)
            dy.append(math.ceil(((i * point[0]) / hypot) - 0.5))
            dx.append(math.ceil(((i * point[1]) / hypot) - 0.5))
            if abs(dy[-1]) >= h or abs(dx[-1]) >= w:
                dy.pop(), dx.pop()
                break
        taps = len(dy)
        out[b] = common.shifted_sum(layers[b : b + 1], kernel[:taps], np.array([dy]), np.array([dx]))[0]
    return out


def glass_blur(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    """The script's glass blur, its offsets drawn as the walk meets the pixels: a pair (dx, dy)
    per pixel, from the last row and column backwards, image after image."""
    sigma, delta, iterations = c
    n, h, w = x.shape[:3]
    out = common.to_uint8(common.gaussian_filter_hw(x / 255.0, sigma))
    shuffle = nb.glass_shuffle if delta == 1 else functools.partial(nb.glass_shuffle_sequential, delta=delta)
    for i in range(n):
        for _ in range(iterations):
            pairs = rng.integers(-delta, delta, size=(h - 2 * delta, w - 2 * delta, 2))[::-1, ::-1]
            out[i : i + 1] = shuffle(out[i : i + 1], pairs[None, ..., 0], pairs[None, ..., 1])
    return np.clip(common.gaussian_filter_hw(out / 255.0, sigma), 0.0, 1.0) * 255.0


def motion_blur(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    radius, sigma = c
    return line_blur(x, radius, sigma, rng.uniform(-45.0, 45.0, size=x.shape[0]))


def snow(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    loc, scale, zoom, threshold, radius, sigma, blend = c
    n, h, w = x.shape[:3]
    layer = rng.normal(loc, scale, size=(n, h, w))
    layer = common.clipped_zoom(layer[..., None], zoom, trim="none")[..., 0]
    layer[layer < threshold] = 0
    layer = np.clip(layer, 0.0, 1.0)
    layer = line_blur(layer, radius, sigma, rng.uniform(-135.0, -45.0, size=n))
    layer = np.round(layer * 255).astype(np.uint8)[:, :h, :w]
    grey = np.stack([cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2GRAY) for image in x])
    return fused.snow(x, np.ascontiguousarray(layer), blend, grey)


def fitted_texture(texture: np.ndarray, h: int, w: int) -> np.ndarray:
    """A frost texture scaled to cover ``h x w`` with a margin, as imagecorruptions does: by the
    larger of the factors that make it as high and as wide as the image (1 if it already is),
    times 1.1, bicubic."""
    rows, cols = texture.shape[:2]
    scaling_factor = 1
    if rows < h and cols >= w:
        scaling_factor = h / rows
    elif rows >= h and cols < w:
        scaling_factor = w / cols
    elif rows < h and cols < w:
        scaling_factor = np.maximum(h / rows, w / cols)
    scaling_factor *= 1.1
    size = (int(np.ceil(cols * scaling_factor)), int(np.ceil(rows * scaling_factor)))
    return cv2.resize(texture, dsize=size, interpolation=cv2.INTER_CUBIC)


@functools.lru_cache(maxsize=8)
def _fitted_textures(folder: str, h: int, w: int) -> numba.typed.List:
    return numba.typed.List([fitted_texture(t, h, w) for t in wd.frost_textures(folder, 1.0)])


def frost(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    weight, frost_weight = c
    n, h, w = x.shape[:3]
    textures = _fitted_textures(str(wd.find_frost_dir(ctx.frost_dir)), h, w)
    crops = np.empty((n, 3), dtype=np.int64)  # texture, top, left
    for i in range(n):
        texture = int(rng.integers(5))
        rows, cols = textures[texture].shape[:2]
        crops[i] = texture, int(rng.integers(0, rows - h)), int(rng.integers(0, cols - w))
    return fused.frost(x, textures, crops, float(weight), float(frost_weight))


def elastic_transform(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    n, h, w = x.shape[:3]
    x = x.astype(np.float32) / 255.0
    reach = h * 0.005  # both displacements: 0.5 % of the height
    fields = rng.uniform(-reach, reach, size=(n, 2, h, w))  # per image: dx, then dy
    blurred = common.gaussian_filter_hw(fields.reshape(n * 2, h, w), (h * 0.01, w * 0.01), "reflect", 3.0)
    shifts = (blurred * c).astype(np.float32).reshape(n, 2, h, w)
    out = np.stack([ndimage.displace_linear(x[i], shifts[i, 1], shifts[i, 0]) for i in range(n)])
    return np.clip(out, 0.0, 1.0) * 255.0


VARIANT_KERNELS: MappingProxyType[str, Kernel] = MappingProxyType({
    **KERNELS,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "snow": snow,
    "frost": frost,
    "elastic_transform": elastic_transform,
    "zoom_blur": functools.partial(nb.zoom_blur, trim="start"),
    "pixelate": functools.partial(wd.pixelate, upsample=Image.Resampling.NEAREST),
    "spatter": functools.partial(wd.spatter, mud_dtype=np.float64, float32_passes=True),
})
"""imagecorruptions' kernel of each corruption (the script's where they agree)."""


def corrupt_any_size(images: np.ndarray, name: str, severity: int, rng: np.random.Generator,
                     frost_dir: str | None = None) -> np.ndarray:
    """imagecorruptions' corruption `name` at `severity` of uint8 ``[N, H, W, 3]`` images of any
    size (checked by the caller); uint8 out."""
    context = CorruptionContext(preset=IMAGECORRUPTIONS, frost_dir=frost_dir)
    return run_kernel(VARIANT_KERNELS[name], images, IMAGECORRUPTIONS.params(name, severity), rng, context)
