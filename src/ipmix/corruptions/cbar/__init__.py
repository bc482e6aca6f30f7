"""The "C-bar" corruptions of Mintun, Kirillov & Xie (NeurIPS 2021): ImageNet-C-bar, CIFAR-10-C-bar.

Ten corruptions per benchmark, chosen by the authors to be dissimilar to ImageNet-C's, each at
five published levels. The names and levels are the reference's csv files
(facebookresearch/augmentation-corruption ``imagenet_c_bar/imagenet_c_bar.csv`` and
``cifar10_c_bar.csv``); the two sets share four corruptions and use different levels.
Implementations: ``noise.py`` and ``warps.py``.

`corrupt_bar(images, name, severity, rng, preset)` takes severity 1..5 (the index into the
published levels, so C and C-bar are addressed alike); `cbar_level` gives the float level, which
names the severity folders of the ImageNet-C-bar layout (``"{:.2f}"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from ipmix.corruptions.cbar.levels import ALL_CBAR, CBAR_LEVELS
from ipmix.corruptions.imagenet_c import check_images, check_severity
from ipmix.corruptions.imagenet_c.presets import CorruptionError

_MODULES = {
    **dict.fromkeys(
        ("single_frequency_greyscale", "cocentric_sine_waves", "plasma_noise", "perlin_noise",
         "brownish_noise", "blue_noise_sample"),
        "noise",
    ),
    **dict.fromkeys(
        ("sparkles", "inverse_sparkles", "checkerboard_cutout", "caustic_refraction", "lines",
         "pinch_and_twirl", "ripple", "transverse_chromatic_abberation", "circular_motion_blur"),
        "warps",
    ),
}
"""The module of each C-bar corruption's function (named as the corruption); imported on first
use, so that the names and levels come without scipy."""


def _function(name: str) -> Callable[[np.ndarray, float, np.random.Generator], np.ndarray]:
    return getattr(importlib.import_module(f"ipmix.corruptions.cbar.{_MODULES[name]}"), name)


def cbar_benchmark(preset: str) -> str:
    """The C-bar level table a corruption preset uses: 'imagenet' for 'imagenet', 'cifar' for
    the 32 px presets (Tiny ImageNet has no C-bar release; it gets ImageNet-C-bar's levels)."""
    return "cifar" if preset == "cifar" else "imagenet"


def cbar_names(preset: str) -> tuple[str, ...]:
    """The ten C-bar corruptions of `preset`'s benchmark."""
    return tuple(CBAR_LEVELS[cbar_benchmark(preset)])


def cbar_level(name: str, severity: int, preset: str) -> float:
    """The published level of C-bar corruption `name` at severity index 1..5 for `preset`."""
    levels = CBAR_LEVELS[cbar_benchmark(preset)]
    if name not in levels:
        known = ", ".join(levels)
        raise CorruptionError(f"{name!r} is not a {cbar_benchmark(preset)} C-bar corruption; known: {known}")
    return levels[name][severity - 1]


def corrupt_bar(
    images: np.ndarray, name: str, severity: int, rng: np.random.Generator, *, preset: str = "cifar"
) -> np.ndarray:
    """Apply C-bar corruption `name` at severity index 1..5 (`preset`'s published level) to
    uint8 ``[N, S, S, 3]`` images, one parameter draw per image. Returns uint8 images."""
    if name not in _MODULES:
        raise CorruptionError(f"unknown C-bar corruption {name!r}; known: {', '.join(ALL_CBAR)}")
    level = cbar_level(name, check_severity(severity), preset)
    images = check_images(images)
    if not len(images):
        return images.copy()
    function = _function(name)
    return np.stack([function(image, level, rng) for image in images])

