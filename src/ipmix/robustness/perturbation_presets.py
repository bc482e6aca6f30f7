"""Per-preset tables of the CIFAR-P / ImageNet-P perturbation sequences: data only.

- ``cifar``: hendrycks/robustness ``ImageNet-P/create_p/make_cifar_p.py`` (32 px; its active
  block and its commented-out ones).
- ``imagenet``: ``ImageNet-P/create_p/make_imagenet_p.py`` (input Resize(256); geometric
  perturbations act on that image and every frame is then CenterCrop(224); pixel-wise ones act
  on the crop). Its "test" perturbations, its "validation" ones (speckle_noise, gaussian_blur,
  spatter, shear) and the harder noise levels it writes to ``<name>_2`` / ``<name>_3``
  (read by ``ImageNet-P/test.py --difficulty``).

Each perturbation's entry is a dict of the constants its kernel in ``perturbations.py`` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ipmix.robustness.preset_tables import TablePreset


@dataclass(frozen=True)
class PerturbationPreset(TablePreset):
    """The constants of one reference script: frames are ``size x size`` crops of the input,
    which is resized so its shorter side is `resize` (None: given at `size`). Picklable; the
    table is frozen."""

    name: str
    source: str
    size: int
    resize: int | None
    table: Mapping[str, Mapping[str, object]]


def _frozen(table: dict) -> Mapping:
    return MappingProxyType({name: MappingProxyType(params) for name, params in table.items()})


CIFAR_P = PerturbationPreset(
    name="cifar",
    source="hendrycks/robustness ImageNet-P/create_p/make_cifar_p.py",
    size=32,
    resize=None,
    table=_frozen(
        {
            "gaussian_noise": {"kind": "gaussian", "sigma": 0.02},
            "shot_noise": {"kind": "shot", "photons": 700},
            "motion_blur": {"frames": 21, "radius": 6, "sigma": 1.8, "step": 9.0, "offset": 20},
            "zoom_blur": {"step": 0.004},
            "spatter": {
                "loc": 0.6,
                "scale": 0.265,
                "sigma": 1.75,
                "threshold": 0.7,
                "intensity": 0.6,
                "taps": (0.2, 0.8),
            },  # fmt: skip
            "brightness": {"step": 1.5},
            "translate": {"frames": 16, "offset": 7},
            "rotate": {"step": 1.0},
            "tilt": {"step": 0.75},
            "scale": {"step": 2.0, "start": 70.0},
        }
    ),
)

IMAGENET_P = PerturbationPreset(
    name="imagenet",
    source="hendrycks/robustness ImageNet-P/create_p/make_imagenet_p.py",
    size=224,
    resize=256,
    table=_frozen(
        {
            "gaussian_noise": {"kind": "gaussian", "sigma": 0.03},
            "shot_noise": {"kind": "shot", "photons": 300},
            "motion_blur": {"frames": 31, "radius": 10, "sigma": 3, "step": 4.0, "offset": 30},
            "zoom_blur": {"step": 0.004},
            "snow": {
                "loc": 0.05,
                "scale": 0.3,
                "zoom": 3,
                "threshold": 0.5,
                "radius": 14,
                "sigma": 4,
                "step": 4.0,
                "start": -150.0,
                "blend": 0.85,
            },  # fmt: skip
            "brightness": {"step": 2.0},
            "translate": {"frames": 41, "offset": 20},
            "rotate": {"step": 1.0},
            "tilt": {"step": 1.0},
            "scale": {"step": 2.5, "start": 40.0},
            # validation perturbations
            "speckle_noise": {"kind": "speckle", "sigma": 0.05},
            "gaussian_blur": {"start": 0.25, "step": 0.035, "truncate": 6.0},
            "spatter": {
                "loc": 0.65,
                "scale": 0.27,
                "sigma": 3.7,
                "threshold": 0.69,
                "intensity": 0.6,
                "taps": (0.05, 0.1, 0.15, 0.7),
            },  # fmt: skip
            "shear": {"step": 1.0},
            # harder noise levels (folders <name>_2, <name>_3)
            "gaussian_noise_2": {"kind": "gaussian", "sigma": 0.05},
            "gaussian_noise_3": {"kind": "gaussian", "sigma": 0.08},
            "shot_noise_2": {"kind": "shot", "photons": 120},
            "shot_noise_3": {"kind": "shot", "photons": 60},
            "speckle_noise_2": {"kind": "speckle", "sigma": 0.10},
            "speckle_noise_3": {"kind": "speckle", "sigma": 0.15},
        }
    ),
)

P_PRESETS: Mapping[str, PerturbationPreset] = MappingProxyType({p.name: p for p in (CIFAR_P, IMAGENET_P)})
