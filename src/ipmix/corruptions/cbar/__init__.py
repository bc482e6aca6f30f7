"""The "C-bar" corruptions of Mintun, Kirillov & Xie (NeurIPS 2021): ImageNet-C-bar, CIFAR-10-C-bar.

Ten corruptions per benchmark, chosen by the authors to be dissimilar to ImageNet-C's, each at
five published levels. The names and levels are the reference's csv files
(facebookresearch/augmentation-corruption ``imagenet_c_bar/imagenet_c_bar.csv`` and
``cifar10_c_bar.csv``); the two sets share four corruptions and use different levels.
Implementations: ``cbar_noise.py`` and ``cbar_warps.py``.

`corrupt_bar(images, name, severity, rng, preset)` takes severity 1..5 (the index into the
published levels, so C and C-bar are addressed alike); `cbar_level` gives the float level, which
names the severity folders of the ImageNet-C-bar layout (``"{:.2f}"``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ipmix.corruptions.cbar import noise, warps
from ipmix.corruptions.cbar.levels import ALL_CBAR, CBAR_LEVELS
from ipmix.corruptions.imagenet_c import check_images, check_severity
from ipmix.corruptions.imagenet_c.presets import CorruptionError

_FUNCTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "single_frequency_greyscale": noise.single_frequency_greyscale,
    "cocentric_sine_waves": noise.cocentric_sine_waves,
    "plasma_noise": noise.plasma_noise,
    "perlin_noise": noise.perlin_noise,
    "brownish_noise": noise.brownish_noise,
    "blue_noise_sample": noise.blue_noise_sample,
    "sparkles": warps.sparkles,
    "inverse_sparkles": warps.inverse_sparkles,
    "checkerboard_cutout": warps.checkerboard_cutout,
    "caustic_refraction": warps.caustic_refraction,
    "lines": warps.lines,
    "pinch_and_twirl": warps.pinch_and_twirl,
    "ripple": warps.ripple,
    "transverse_chromatic_abberation": warps.transverse_chromatic_abberation,
    "circular_motion_blur": warps.circular_motion_blur,
}


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
    if name not in _FUNCTIONS:
        raise CorruptionError(f"unknown C-bar corruption {name!r}; known: {', '.join(ALL_CBAR)}")
    level = cbar_level(name, check_severity(severity), preset)
    images = check_images(images)
    if not len(images):
        return images.copy()
    return np.stack([_FUNCTIONS[name](image, level, rng) for image in images])

