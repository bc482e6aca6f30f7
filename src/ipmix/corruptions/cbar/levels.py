"""The published names and levels of the C-bar benchmarks (Mintun, Kirillov & Xie, NeurIPS 2021).

Data only, shared by the generators (`ipmix.corruptions.cbar`) and the readers
(`ipmix.robustness.benchmarks`): facebookresearch/augmentation-corruption
``imagenet_c_bar/imagenet_c_bar.csv`` and ``cifar10_c_bar.csv``, in their order. Severity s
(1..5) is the s-th level; ImageNet-C-bar's severity folders are named by the level, ``{:.2f}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CBAR_LEVELS: Mapping[str, Mapping[str, tuple[float, ...]]] = MappingProxyType(
    {
        "imagenet": MappingProxyType(
            {  # imagenet_c_bar.csv, in its order
                "caustic_refraction": (2.35, 3.2, 4.9, 6.6, 9.15),
                "inverse_sparkles": (1.0, 2.0, 4.0, 9.0, 10.0),
                "sparkles": (1.0, 2.0, 3.0, 5.0, 6.0),
                "perlin_noise": (4.6, 5.2, 5.8, 7.6, 8.8),
                "blue_noise_sample": (0.8, 1.6, 2.4, 4.0, 5.6),
                "plasma_noise": (4.75, 7.0, 8.5, 9.25, 10.0),
                "checkerboard_cutout": (2.0, 3.0, 4.0, 5.0, 6.0),
                "cocentric_sine_waves": (3.0, 5.0, 8.0, 9.0, 10.0),
                "single_frequency_greyscale": (1.0, 1.5, 2.0, 4.5, 5.0),
                "brownish_noise": (1.0, 2.0, 3.0, 4.0, 5.0),
            }
        ),
        "cifar": MappingProxyType(
            {  # cifar10_c_bar.csv, in its order
                "blue_noise_sample": (0.7, 1.4, 2.1, 3.5, 4.2),
                "checkerboard_cutout": (1.0, 2.0, 3.0, 4.0, 5.0),
                "inverse_sparkles": (1.0, 1.5, 2.5, 4.5, 5.0),
                "pinch_and_twirl": (5.5, 6.0, 6.5, 8.5, 10.0),
                "ripple": (5.5, 6.0, 6.5, 7.5, 8.0),
                "brownish_noise": (2.5, 4.0, 5.5, 6.5, 7.0),
                "circular_motion_blur": (2.8, 3.6, 4.4, 5.2, 6.0),
                "lines": (0.5, 1.0, 1.5, 2.0, 2.5),
                "sparkles": (0.7, 3.5, 5.6, 6.3, 7.0),
                "transverse_chromatic_abberation": (1.0, 2.0, 5.0, 9.0, 10.0),
            }
        ),
    }
)
"""Published levels per benchmark ('imagenet': ImageNet-C-bar at 224 px, 'cifar': CIFAR-10-C-bar
at 32 px; the IPMix paper's CIFAR-100-C-bar uses the CIFAR set)."""

IMAGENET_CBAR: tuple[str, ...] = tuple(CBAR_LEVELS["imagenet"])
CIFAR_CBAR: tuple[str, ...] = tuple(CBAR_LEVELS["cifar"])
ALL_CBAR: tuple[str, ...] = tuple(dict.fromkeys(IMAGENET_CBAR + CIFAR_CBAR))
