"""The ImageNet-C / CIFAR-C corruptions of Hendrycks & Dietterich (ICLR 2019), batched, per preset.

`corrupt(images, name, severity, rng, preset="cifar")` applies one of the 15 benchmark and 4
extra corruptions with the constants of a reference script of hendrycks/robustness
(``presets.py``: ``cifar`` = ``make_cifar_c.py``, ``tinyimagenet`` =
``make_tinyimagenet_c.py``, ``imagenet`` = ``make_imagenet_c.py``). The kernels are shared by
all presets (``noise_blur.py``, ``weather_digital.py``; ``imagecorruptions.py``: that package's
versions, for any image size); every corruption takes a batch of uint8 ``[N, H, W, 3]`` images,
a severity 1..5 and a ``numpy.random.Generator`` and returns uint8 images, truncated as the
reference's ``np.uint8(...)`` does. See ``docs/corruptions.md`` for how close each one is to the original.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ipmix.corruptions.imagenet_c import noise_blur as nb
from ipmix.corruptions.imagenet_c import weather_digital as wd
from ipmix.corruptions.imagenet_c.noise_blur import glass_shuffle, glass_shuffle_sequential
from ipmix.corruptions.imagenet_c.presets import (
    PRESETS,
    CorruptionContext,
    CorruptionError,
    CorruptionPreset,
    PresetError,
    get_preset,
)
from ipmix.corruptions.imagenet_c.weather_digital import (
    FROST_FILES,
    FrostTexturesNotFoundError,
    find_frost_dir,
    frost_for,
    plasma_fractal,
)
from ipmix.corruptions.kernels import common
from ipmix.utils.images import BATCH_LAYOUTS, ImageLayoutError, as_nhwc, from_nhwc

__all__ = [
    "ALL_CORRUPTIONS",
    "BENCHMARK_CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "FROST_FILES",
    "PRESETS",
    "SEVERITIES",
    "CorruptionError",
    "CorruptionPreset",
    "KERNELS",
    "FrostTexturesNotFoundError",
    "PresetError",
    "check_images",
    "corrupt",
    "find_frost_dir",
    "frost_for",
    "glass_shuffle",
    "glass_shuffle_sequential",
    "plasma_fractal",
    "run_kernel",
]

Kernel = Callable[[np.ndarray, object, np.random.Generator, CorruptionContext], np.ndarray]

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

KERNELS: Mapping[str, Kernel] = MappingProxyType({
    "gaussian_noise": nb.gaussian_noise,
    "shot_noise": nb.shot_noise,
    "impulse_noise": nb.impulse_noise,
    "defocus_blur": nb.defocus_blur,
    "glass_blur": nb.glass_blur,
    "motion_blur": nb.motion_blur,
    "zoom_blur": nb.zoom_blur,
    "snow": wd.snow,
    "frost": wd.frost,
    "fog": wd.fog,
    "brightness": wd.brightness,
    "contrast": wd.contrast,
    "elastic_transform": wd.elastic_transform,
    "pixelate": wd.pixelate,
    "jpeg_compression": wd.jpeg_compression,
    "speckle_noise": nb.speckle_noise,
    "gaussian_blur": nb.gaussian_blur,
    "spatter": wd.spatter,
    "saturate": wd.saturate,
})
"""The kernel of each corruption: ``kernel(images, constants, rng, context)``, uint8 ``[N, H, W,
3]`` in, values in [0, 255] (or uint8) out."""


def _read_images(images: np.ndarray, what: str, layout: str | None) -> tuple[np.ndarray, str]:
    """`check_images`, also returning the layout the images were read in."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise CorruptionError(f"{what} must be uint8, got {images.dtype}")
    shape = images.shape
    if layout is None and len(shape) == 4 and shape[3] == 3 and shape[1] == shape[2] >= 8 and shape[1] != 3:
        return images, "NHWC"  # the one reading `as_nhwc` finds (no channel axis of 3 but the last)
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


def check_severity(severity: object) -> int:
    """`severity` as an int in 1..5; CorruptionError otherwise (bools and strings included)."""
    if isinstance(severity, bool | str) or int(severity) != severity or not 1 <= severity <= 5:
        raise CorruptionError(f"severity must be an integer in 1..5, got {severity!r}")
    return int(severity)


def corrupt(
    images: np.ndarray,
    name: str,
    severity: int,
    rng: np.random.Generator,
    *,
    frost_dir: str | Path | None = None,
    preset: str | CorruptionPreset = "cifar",
    layout: str | None = None,
) -> np.ndarray:
    """Apply corruption `name` at `severity` (1..5) to uint8 ``[N, H, W, 3]`` images.

    `preset` picks the reference script whose constants are used (``cifar``, ``tinyimagenet``,
    ``imagenet``); images may have any square size, the constants stay those of the preset
    (see docs/corruptions.md for which steps follow the image size). Returns uint8 images of
    the same shape. `frost_dir` is where the frost textures are (default ``$IPMIX_DATA/frost``);
    FrostTexturesNotFoundError when they cannot be found. ``[N, 3, H, W]`` images are read too
    and returned in their layout; `layout` (``"NHWC"`` or ``"NCHW"``) settles a shape that reads
    both ways.
    """
    if name not in KERNELS:
        raise CorruptionError(f"unknown corruption {name!r}; known: {', '.join(ALL_CORRUPTIONS)}")
    severity = check_severity(severity)
    preset = get_preset(preset)
    images, read_as = _read_images(images, "images", layout)
    if images.shape[0] == 0:
        return np.ascontiguousarray(from_nhwc(images, read_as))
    context = CorruptionContext(preset=preset, frost_dir=frost_dir)
    out = run_kernel(KERNELS[name], images, preset.params(name, severity), rng, context)
    return np.ascontiguousarray(out if read_as == "NHWC" else from_nhwc(out, read_as))


def run_kernel(kernel: Kernel, images: np.ndarray, constants, rng: np.random.Generator,
               context: CorruptionContext) -> np.ndarray:
    """`kernel` on uint8 ``[N, H, W, 3]`` `images`; its values in [0, 255] truncated to uint8, as
    the reference's ``np.uint8(...)`` stores them."""
    out = kernel(np.ascontiguousarray(images), constants, rng, context)
    return out if out.dtype == np.uint8 else common.clip_truncate(out, 255.0)
