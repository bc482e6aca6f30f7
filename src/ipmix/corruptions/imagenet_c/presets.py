"""Per-preset severity tables of the Hendrycks & Dietterich corruptions: data only.

One set of corruption kernels (``noise_blur.py``, ``weather_digital.py``) serves every preset;
what differs between CIFAR-10-C, Tiny-ImageNet-C and ImageNet-C is the table of per-severity
constants below and a few size-dependent facts (image size, frost texture scale, elastic unit).
Each entry is copied from the reference script of hendrycks/robustness named in the preset's
``source``:

- ``cifar``: ``ImageNet-C/create_c/make_cifar_c.py`` (32 px);
- ``tinyimagenet``: ``ImageNet-C/create_c/make_tinyimagenet_c.py`` (64 px);
- ``imagenet``: ``ImageNet-C/create_c/make_imagenet_c.py`` (224 px, after Resize(256) and
  CenterCrop(224)).

A corruption's entry is a tuple of five values (severities 1..5); a value is a number or a
tuple, named in `PARAMETER_NAMES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ipmix.corruptions.tables import TablePreset


class CorruptionError(ValueError):
    """An unknown corruption name, a bad severity or images of the wrong shape or dtype."""


class PresetError(CorruptionError):
    """An unknown preset name."""


PARAMETER_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "gaussian_noise": "sigma",
        "shot_noise": "photons",
        "impulse_noise": "amount",
        "speckle_noise": "sigma",
        "gaussian_blur": "sigma",
        "glass_blur": "(sigma, max_delta, iterations)",
        "defocus_blur": "(radius, alias_blur)",
        "motion_blur": "(radius, sigma)",
        "zoom_blur": "(stop, step) of np.arange(1, stop, step)",
        "snow": "(loc, scale, zoom, threshold, radius, sigma, blend)",
        "frost": "(image weight, frost weight)",
        "fog": "(strength, wibble decay)",
        "spatter": "(loc, scale, sigma, threshold, intensity, mud)",
        "contrast": "factor",
        "brightness": "value shift",
        "saturate": "(factor, offset)",
        "jpeg_compression": "quality",
        "pixelate": "factor",
        "elastic_transform": "(alpha, sigma, affine) in elastic units",
    }
)


@dataclass(frozen=True)
class CorruptionPreset(TablePreset):
    """The constants of one reference script (picklable, any table mapping is frozen).

    `size` is the image size the script works at; `resize` the shorter side images are resized
    to before the centre crop of `size` (None: resized straight to `size`, as Tiny ImageNet and
    CIFAR). `frost_scale` is the factor the frost textures are resized by. Elastic parameters are
    multiples of ``elastic_unit * image_size / size`` (the reference's ``IMSIZE``; 244 for
    ImageNet, whose script says 244 where it meant 224 and keeps it).
    """

    name: str
    source: str
    size: int
    resize: int | None
    frost_scale: float
    elastic_unit: float
    table: Mapping[str, tuple]

    def params(self, corruption: str, severity: int):
        """The constants of `corruption` at `severity` (1..5)."""
        return self.table[corruption][severity - 1]

    def elastic_scale(self, image_size: int) -> float:
        """The reference's elastic unit for images of `image_size` (exact at `size`)."""
        return self.elastic_unit * image_size / self.size


CIFAR = CorruptionPreset(
    name="cifar",
    source="hendrycks/robustness ImageNet-C/create_c/make_cifar_c.py",
    size=32,
    resize=None,
    frost_scale=0.2,
    elastic_unit=32,
    table=MappingProxyType(
        {
            "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
            "shot_noise": (500, 250, 100, 75, 50),
            "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
            "speckle_noise": (0.06, 0.1, 0.12, 0.16, 0.2),
            "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),
            "glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
            "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
            "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),
            "zoom_blur": ((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)),
            "snow": (
                (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
                (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
                (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
                (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
                (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
            ),
            "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
            "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
            "spatter": (
                (0.62, 0.1, 0.7, 0.7, 0.5, 0),
                (0.65, 0.1, 0.8, 0.7, 0.5, 0),
                (0.65, 0.3, 1, 0.69, 0.5, 0),
                (0.65, 0.1, 0.7, 0.69, 0.6, 1),
                (0.65, 0.1, 0.5, 0.68, 0.6, 1),
            ),
            "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
            "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
            "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
            "jpeg_compression": (80, 65, 58, 50, 40),
            "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),
            "elastic_transform": (
                (0, 0, 0.08),
                (0.05, 0.2, 0.07),
                (0.08, 0.06, 0.06),
                (0.1, 0.04, 0.05),
                (0.1, 0.03, 0.03),
            ),
        }
    ),
)

TINY_IMAGENET = CorruptionPreset(
    name="tinyimagenet",
    source="hendrycks/robustness ImageNet-C/create_c/make_tinyimagenet_c.py",
    size=64,
    resize=None,
    frost_scale=0.3,
    elastic_unit=64,
    table=MappingProxyType(
        {
            "gaussian_noise": (0.04, 0.08, 0.12, 0.15, 0.18),
            "shot_noise": (250, 100, 50, 30, 15),
            "impulse_noise": (0.01, 0.02, 0.05, 0.08, 0.14),
            "speckle_noise": (0.15, 0.2, 0.25, 0.3, 0.35),
            "gaussian_blur": (0.5, 0.75, 1, 1.25, 1.5),
            "glass_blur": ((0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.9, 2, 2)),
            "defocus_blur": ((0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)),
            "motion_blur": ((10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)),
            "zoom_blur": ((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)),
            "snow": (
                (0.1, 0.2, 1, 0.6, 8, 3, 0.8),
                (0.1, 0.2, 1, 0.5, 10, 4, 0.8),
                (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7),
                (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
                (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6),
            ),
            "frost": ((1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)),
            "fog": ((0.4, 3), (0.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)),
            "spatter": (
                (0.62, 0.1, 0.7, 0.7, 0.6, 0),
                (0.65, 0.1, 0.8, 0.7, 0.6, 0),
                (0.65, 0.3, 1, 0.69, 0.6, 0),
                (0.65, 0.1, 0.7, 0.68, 0.6, 1),
                (0.65, 0.1, 0.5, 0.67, 0.6, 1),
            ),
            "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
            "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
            "saturate": ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (30, 0.2)),
            "jpeg_compression": (65, 58, 50, 40, 25),
            "pixelate": (0.9, 0.8, 0.7, 0.6, 0.5),
            "elastic_transform": (
                (0, 0, 0.08),
                (0.05, 0.3, 0.06),
                (0.1, 0.08, 0.06),
                (0.1, 0.03, 0.03),
                (0.16, 0.03, 0.02),
            ),
        }
    ),
)

IMAGENET = CorruptionPreset(
    name="imagenet",
    source="hendrycks/robustness ImageNet-C/create_c/make_imagenet_c.py",
    size=224,
    resize=256,
    frost_scale=1.0,
    elastic_unit=244,
    table=MappingProxyType(
        {
            "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
            "shot_noise": (60, 25, 12, 5, 3),
            "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
            "speckle_noise": (0.15, 0.2, 0.35, 0.45, 0.6),
            "gaussian_blur": (1, 2, 3, 4, 6),
            "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
            "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
            "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
            "zoom_blur": ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)),
            "snow": (
                (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
                (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
                (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
                (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
                (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
            ),
            "frost": ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
            "fog": ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
            "spatter": (
                (0.65, 0.3, 4, 0.69, 0.6, 0),
                (0.65, 0.3, 3, 0.68, 0.6, 0),
                (0.65, 0.3, 2, 0.68, 0.5, 0),
                (0.65, 0.3, 1, 0.65, 1.5, 1),
                (0.67, 0.4, 1, 0.65, 1.5, 1),
            ),
            "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
            "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
            "saturate": ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
            "jpeg_compression": (25, 18, 15, 10, 7),
            "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),
            "elastic_transform": (
                (2, 0.7, 0.1),
                (2, 0.08, 0.2),
                (0.05, 0.01, 0.02),
                (0.07, 0.01, 0.02),
                (0.12, 0.01, 0.02),
            ),
        }
    ),
)

@dataclass(frozen=True)
class CorruptionContext:
    """What a corruption needs besides its constants: the preset and the frost textures."""

    preset: CorruptionPreset
    frost_dir: str | Path | None = None


PRESETS: Mapping[str, CorruptionPreset] = MappingProxyType(
    {preset.name: preset for preset in (CIFAR, TINY_IMAGENET, IMAGENET)}
)


def get_preset(preset: str | CorruptionPreset) -> CorruptionPreset:
    """The preset named `preset` (or `preset` itself); PresetError naming the known ones."""
    if isinstance(preset, CorruptionPreset):
        return preset
    if preset not in PRESETS:
        raise PresetError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    return PRESETS[preset]
