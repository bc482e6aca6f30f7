"""Per-preset tables of the CIFAR-P / ImageNet-P perturbation sequences: data only.

- ``cifar``: hendrycks/robustness ``ImageNet-P/create_p/make_cifar_p.py`` (32 px; its active
  block and its commented-out ones).
- ``imagenet``: ``ImageNet-P/create_p/make_imagenet_p.py`` (input Resize(256); geometric
  perturbations act on that image and every frame is then CenterCrop(224); pixel-wise ones act
  on the crop). Its "test" perturbations, its "validation" ones (speckle_noise, gaussian_blur,
  spatter, shear) and the harder noise levels it writes to ``<name>_2`` / ``<name>_3``
  (read by ``ImageNet-P/test.py --difficulty``).

Each perturbation's entry is a dict of the constants its kernel in ``perturbations/__init__.py`` reads,
built by `_table` from a row of values and the names in `PARAMETER_NAMES` (as the corruption
presets' rows are named by theirs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ipmix.corruptions.tables import TablePreset


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


PARAMETER_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "gaussian_noise": ("kind", "sigma"),
        "shot_noise": ("kind", "photons"),
        "speckle_noise": ("kind", "sigma"),
        "motion_blur": ("frames", "radius", "sigma", "step", "offset"),
        "zoom_blur": ("step",),
        "snow": ("loc", "scale", "zoom", "threshold", "radius", "sigma", "step", "start", "blend"),
        "spatter": ("loc", "scale", "sigma", "threshold", "intensity", "taps"),
        "gaussian_blur": ("start", "step", "truncate"),
        "brightness": ("step",),
        "translate": ("frames", "offset"),
        "rotate": ("step",),
        "tilt": ("step",),
        "scale": ("step", "start"),
        "shear": ("step",),
    }
)
"""The constants of each perturbation, in the order a preset's row gives them (the harder
levels ``<name>_2`` / ``<name>_3`` have those of ``<name>``)."""


def _table(rows: Mapping[str, tuple]) -> dict[str, dict[str, object]]:
    """A preset's table from one row of values per perturbation, named by `PARAMETER_NAMES`."""
    table = {}
    for name, values in rows.items():
        kind = name[:-2] if name[-2:] in ("_2", "_3") else name
        table[name] = dict(zip(PARAMETER_NAMES[kind], values, strict=True))
    return table


CIFAR_P = PerturbationPreset(
    name="cifar",
    source="hendrycks/robustness ImageNet-P/create_p/make_cifar_p.py",
    size=32,
    resize=None,
    table=_table(
        {
            "gaussian_noise": ("gaussian", 0.02),
            "shot_noise": ("shot", 700),
            "motion_blur": (21, 6, 1.8, 9.0, 20),
            "zoom_blur": (0.004,),
            "spatter": (0.6, 0.265, 1.75, 0.7, 0.6, (0.2, 0.8)),
            "brightness": (1.5,),
            "translate": (16, 7),
            "rotate": (1.0,),
            "tilt": (0.75,),
            "scale": (2.0, 70.0),
        }
    ),
)

IMAGENET_P = PerturbationPreset(
    name="imagenet",
    source="hendrycks/robustness ImageNet-P/create_p/make_imagenet_p.py",
    size=224,
    resize=256,
    table=_table(
        {
            "gaussian_noise": ("gaussian", 0.03),
            "shot_noise": ("shot", 300),
            "motion_blur": (31, 10, 3, 4.0, 30),
            "zoom_blur": (0.004,),
            "snow": (0.05, 0.3, 3, 0.5, 14, 4, 4.0, -150.0, 0.85),
            "brightness": (2.0,),
            "translate": (41, 20),
            "rotate": (1.0,),
            "tilt": (1.0,),
            "scale": (2.5, 40.0),
            # validation perturbations
            "speckle_noise": ("speckle", 0.05),
            "gaussian_blur": (0.25, 0.035, 6.0),
            "spatter": (0.65, 0.27, 3.7, 0.69, 0.6, (0.05, 0.1, 0.15, 0.7)),
            "shear": (1.0,),
            # harder noise levels (folders <name>_2, <name>_3)
            "gaussian_noise_2": ("gaussian", 0.05),
            "gaussian_noise_3": ("gaussian", 0.08),
            "shot_noise_2": ("shot", 120),
            "shot_noise_3": ("shot", 60),
            "speckle_noise_2": ("speckle", 0.10),
            "speckle_noise_3": ("speckle", 0.15),
        }
    ),
)

P_PRESETS: Mapping[str, PerturbationPreset] = MappingProxyType({p.name: p for p in (CIFAR_P, IMAGENET_P)})
