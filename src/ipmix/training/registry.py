"""Augmentation methods by name or config string: presets per dataset, label mixing, JSD.

Each name (or config string such as ``ipmix-k3-t3-a1``, `ipmix.augment.config_strings`)
resolves to an `Augmentation`: a per-image transform applied after the crop and flip, an
optional batch-level label mixer (MixUp / CutMix and the Appendix F combinations, which produce
soft labels), an optional per-batch transform (``--batched``), and whether the JSD consistency
loss is on.

The settings of every method live in `PRESETS`, one per dataset family, chosen by
`preset_name` (ImageNet's for images larger than 32 px); a config string's settings override
them:

- ``cifar10`` / ``cifar100`` (paper Appendix A.1 and the methods' CIFAR code): CutOut 16 / 8 px;
  MixUp alpha 1; CutMix alpha 1 with probability 0.5; torchvision's AugMix with severity 3,
  k = 3, ``all_ops=False`` (the other ops overlap the test corruptions); PixMix with its
  authors' k = 4, beta = 3 (the IPMix paper's text says k = 3, beta = 4; see docs/training.md);
  IPMix `IPMixOptions.preset("cifar")`.
- ``imagenet`` (Appendix A.2 and the methods' ImageNet scripts): CutOut 56 px; MixUp and CutMix
  alpha 0.2 (CutMix probability 0.5 as on CIFAR: A.2 gives none); AugMix severity 1 (AugMix's
  ``imagenet.py``); PixMix k = 4, beta = 4, severity 1, the 9 base ops (PixMix's
  ``imagenet.py``); IPMix `IPMixOptions.preset("imagenet")`.

torchvision's AutoAugment (CIFAR-10 policy on CIFAR, ImageNet policy above 32 px),
RandAugment (2 ops, magnitude 9) and TrivialAugmentWide run with their defaults.

The methods beyond the paper, each as its authors' code: AugMax (VITA-Group/AugMax: severity 3,
width 3, depth 1-3; 10 ascent steps of 0.1 on CIFAR, 5 on ImageNet, tau 1; JSD weight 10 on
CIFAR, 12 on ImageNet; its model-in-the-loop step is `ipmix.training.augmax`), PRIME
(amodas/PRIME-augmentations' ``cifar10_cfg`` / ``imagenet_cfg``, `ipmix.augment.methods.prime.transform`) and
LayerMix (ahmadmughees/LayerMix: magnitude 3, blending ratio 3, `ipmix.augment.methods.layermix`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torchvision.transforms import v2

from ipmix.augment.config_strings import (
    BATCHED,
    IPMIX_VARIANTS,
    SCHEMAS,
    ConfigString,
    ConfigStringError,
    create_transform,
    format_config_string,
    parse_config_string,
)
from ipmix.augment.methods.prime.transform import PRIMEOptions
from ipmix.augment.options import IPMixOptions
from ipmix.data.datasets import JSDViews
from ipmix.data.seeding import TorchRandom
from ipmix.data.splits import DATASETS
from ipmix.data.transforms import RandomCropFlip
from ipmix.mixing_sets.store import PICTURE_SCALE
from ipmix.training.augmax import AugMaxStep
from ipmix.training.losses import JSD_WEIGHT
from ipmix.training.mixers import LabelMixer, MixerByEpoch, MixerChain, MixerChoice

#: Every registered name, in the order of the paper's tables.
AUGMENTATION_NAMES: tuple[str, ...] = (
    "none",
    "mixup",
    "cutout",
    "cutmix",
    "augmix",
    "pixmix",
    "autoaugment",
    "randaugment",
    "trivialaugment",
    "ipmix",
    "ipmix-no-patch",
    "ipmix-no-pixel",
    "ipmix-no-image",
    "augmix+mixup+cutmix",
    "augmix+cutmix+mixup",
    "augmix+random(mixup,cutmix)",
    "augmix+epoch(mixup,cutmix)",
    "augmax",
    "prime",
    "layermix",
)

#: Methods that can train with the JSD loss, and whether it is on by default.
JSD_DEFAULTS: dict[str, bool] = {
    "augmix": True,
    "pixmix": False,
    "ipmix": True,
    "ipmix-no-patch": True,
    "ipmix-no-pixel": True,
    "ipmix-no-image": True,
    "augmax": True,  # its loss is the JSD of the clean, AugMax and AugMix views: never off
    "prime": True,  # the authors' CIFAR configs; their ImageNet config turns it off (PRIME†)
    "layermix": False,  # the authors' ``--jsd`` flag, off in their recipes
}
#: Methods whose loss is the JSD loss (``--no-jsd`` is refused).
JSD_REQUIRED: tuple[str, ...] = ("augmax",)
#: Methods whose authors weigh the JSD term otherwise than AugMix's 12, per preset.
JSD_WEIGHTS: dict[str, dict[str, float]] = {
    "augmax": {"cifar10": 10.0, "cifar100": 10.0, "imagenet": 12.0},  # their README's Lambda
}

_AUGMIX_CIFAR = {"severity": 3, "mixture_width": 3, "chain_depth": -1, "alpha": 1.0, "all_ops": False}
_AUGMAX_CIFAR = {"severity": 3.0, "width": 3, "depth": -1, "steps": 10, "step_size": 0.1, "tau": 1}
_LAYERMIX = {"magnitude": 3.0, "blending_ratio": 3.0}

#: preset -> method -> options: the settings of every method, in one place (module docstring).
PRESETS: dict[str, dict[str, Any]] = {
    "cifar10": {
        "mixup": {"alpha": 1.0},
        "cutmix": {"alpha": 1.0, "p": 0.5},
        "cutout": {"size": 16},
        "augmix": _AUGMIX_CIFAR,
        "pixmix": {"k": 4, "beta": 3.0, "severity": 3.0, "all_ops": True},
        "ipmix": IPMixOptions.preset("cifar"),
        "autoaugment": v2.AutoAugmentPolicy.CIFAR10,
        "augmax": _AUGMAX_CIFAR,
        "prime": PRIMEOptions.preset("cifar").as_dict(),
        "layermix": {**_LAYERMIX, "picture_scale": PICTURE_SCALE},  # Resize(36), RandomCrop(32)
    },
    "imagenet": {
        "mixup": {"alpha": 0.2},
        "cutmix": {"alpha": 0.2, "p": 0.5},
        "cutout": {"size": 56},
        "augmix": {**_AUGMIX_CIFAR, "severity": 1},
        "pixmix": {"k": 4, "beta": 4.0, "severity": 1.0, "all_ops": False},
        "ipmix": IPMixOptions.preset("imagenet"),
        "autoaugment": v2.AutoAugmentPolicy.IMAGENET,
        "augmax": {**_AUGMAX_CIFAR, "steps": 5},  # their ImageNet commands keep --steps 5
        "prime": PRIMEOptions.preset("imagenet").as_dict(),
        "layermix": {**_LAYERMIX, "picture_scale": 256 / 224},  # Resize(256), RandomCrop(224)
    },
}
PRESETS["cifar100"] = {**PRESETS["cifar10"], "cutout": {"size": 8}}  # Appendix A.1: 8 px


def preset_name(dataset: str, image_size: int | None = None) -> str:
    """The preset of `dataset` at `image_size`: ``imagenet`` above 32 px, else the CIFAR one."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if image_size is not None and image_size > 32:
        return "imagenet"
    return dataset if dataset in ("cifar10", "cifar100") else "cifar10"


class UnknownAugmentationError(ValueError):
    """An augmentation name (or option combination) the registry does not know."""


def parse_augmentation(spec: str) -> ConfigString:
    """A registry name or config string (``ipmix-k3-t3-a1``) as name and options."""
    try:
        parsed = parse_config_string(spec, AUGMENTATION_NAMES)
    except ConfigStringError as error:
        raise UnknownAugmentationError(str(error)) from error
    if parsed.name not in AUGMENTATION_NAMES:
        raise UnknownAugmentationError(
            f"unknown augmentation {spec!r}; choose one of {', '.join(AUGMENTATION_NAMES)}"
        )
    return parsed


BatchMixer = Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Augmentation:
    """A resolved augmentation method.

    Attributes:
        name: the registry name (without config-string settings).
        image_transform: PIL -> PIL transform after crop and flip (None: preprocessing only).
        batch_mixer: ``(images, soft_labels, epoch) -> (images, soft_labels)`` on the device
            (None: hard labels).
        jsd: train with the clean view and two augmented views and the JSD loss.
        batch_transform: ``images -> images`` (or the JSD views) on the device, per batch
            (`ipmix.IPMixBatch`, `ipmix.augment.methods.prime.transform.PRIMEBatch` with
            ``--batched``); None: none.
        model_step: the method's training step when it needs the model
            (`ipmix.training.steps.ModelStep`: AugMax); it takes what `image_transform` makes
            and returns the logits of its views.
    """

    name: str
    image_transform: Callable[[Any], Any] | None
    batch_mixer: BatchMixer | None
    jsd: bool
    batch_transform: Any = None
    description: str = ""  # every setting, as config strings (printed in the run's config)
    model_step: Any = None

    @property
    def soft_labels(self) -> bool:
        """Whether targets are soft (label-mixing methods)."""
        return self.batch_mixer is not None

    def dataset_transforms(self, crop: Any = None) -> list[Any]:
        """The per-sample pipeline for `ipmix.data.AugmentedImages`: `crop` (default: the
        CIFAR ``RandomCropFlip``), then the method unless it runs per batch."""
        transforms: list[Any] = [RandomCropFlip() if crop is None else crop]
        if self.batch_transform is not None:  # the method runs on the device, per batch
            return transforms
        if self.jsd and self.model_step is None:  # a model step makes its views itself
            if self.image_transform is None:
                raise UnknownAugmentationError(f"{self.name!r} has no augmentation to take views of")
            transforms.append(JSDViews(self.image_transform))
        elif self.image_transform is not None:
            transforms.append(self.image_transform)
        return transforms


def _settings(method: str, preset: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    defaults = preset[method]
    if isinstance(defaults, IPMixOptions):
        return dict(options)
    return {**defaults, **options}


def _mixer(kind: str, preset: dict[str, Any], options: dict[str, Any] | None = None) -> LabelMixer:
    settings = _settings(kind, preset, options or {})
    return LabelMixer(kind, settings["alpha"], p=settings.get("p", 1.0))


def _describe(name: str, options: dict[str, Any]) -> str:
    """A config string holding every setting of `name` (extra IPMix options in brackets)."""
    if name in IPMIX_VARIANTS:
        ipmix: IPMixOptions = options["ipmix"]
        keys = {"width": ipmix.width, "depth": ipmix.depth, "alpha": ipmix.alpha,
                "op_severity": ipmix.op_severity, "mixing_severity": ipmix.mixing_severity,
                "all_ops": ipmix.all_ops}
        sizes = ",".join(str(s) for s in ipmix.patch_sizes) if ipmix.patch_sizes else "auto"
        text = format_config_string(name, keys)
        return f"{text} [mode {ipmix.mode}, patch sizes {sizes}, pictures x{ipmix.picture_scale:.4g}]"
    if name in SCHEMAS:
        keys = SCHEMAS[name][0].values()
        text = format_config_string(name, {k: v for k, v in options.items() if k in keys})
        others = [f"{k.replace('_', ' ')} {v:.4g}" for k, v in options.items()
                  if k not in keys and isinstance(v, float)]
        return text + (f" [{', '.join(others)}]" if others else "")
    return name


def resolve_jsd(name: str, jsd: bool | None) -> bool:
    """The JSD setting for `name`: its default when `jsd` is None; an error where unsupported."""
    name = parse_augmentation(name).name
    if jsd is None:
        return JSD_DEFAULTS.get(name, False)
    if jsd and name not in JSD_DEFAULTS:
        raise UnknownAugmentationError(
            f"--jsd is not available with {name!r}; it applies to {', '.join(JSD_DEFAULTS)}"
        )
    if not jsd and name in JSD_REQUIRED:
        raise UnknownAugmentationError(
            f"--no-jsd is not available with {name!r}: its loss is the JSD of its views"
        )
    return jsd


def uses_mixing_set(name: str) -> bool:
    """Whether the method `name` mixes pictures of a mixing set (the IPMix variants, PixMix,
    LayerMix)."""
    return parse_augmentation(name).name in (*IPMIX_VARIANTS, "pixmix", "layermix")


def jsd_weight(name: str, preset: str) -> float:
    """The JSD term's weight `name`'s authors use with `preset` (AugMix's 12 unless
    `JSD_WEIGHTS` says otherwise)."""
    return JSD_WEIGHTS.get(parse_augmentation(name).name, {}).get(preset, JSD_WEIGHT)


def check_augmentation_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Checked IPMix keyword options: only the IPMix variants take them, never the settings the
    variant or the trainer sets itself (level switches, mixing set, seed, views)."""
    options = dict(options or {})
    if not options:
        return options
    base = parse_augmentation(name).name
    if base not in IPMIX_VARIANTS:
        raise UnknownAugmentationError(
            f"augmentation options apply to {', '.join(IPMIX_VARIANTS)}, not {base!r}"
        )
    fixed = sorted(set(options) & {"mixing_set", "seed", "views", *IPMIX_VARIANTS[base]})
    if fixed:
        raise UnknownAugmentationError(f"{base!r} sets {', '.join(fixed)} itself; not an option here")
    try:
        IPMixOptions(**options)  # unknown names and bad values fail here, before any data loads
    except TypeError as error:
        raise UnknownAugmentationError(f"unknown IPMix option in {sorted(options)}: {error}") from error
    return options


def build_augmentation(
    name: str,
    dataset: str = "cifar10",
    jsd: bool | None = None,
    mixing_set: Any = None,
    epochs: int = 100,
    seed: int = 0,
    batched: bool = False,
    preset: str | None = None,
    image_size: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Augmentation:
    """Resolve `name` (one of `AUGMENTATION_NAMES`, or a config string of one) for `dataset`.

    `preset` (a key of `PRESETS`; default: `preset_name(dataset)`) gives the settings, which
    the config string's settings override. `mixing_set` (a `MixingSet`, a folder, an array;
    None = the built-in generated set) feeds IPMix, PixMix and LayerMix. `epochs` places the
    switch of ``augmix+epoch(mixup,cutmix)``. `seed` only sets the initial streams: training
    reseeds them per sample and per step. `batched` (IPMix variants and PRIME) applies the
    method per batch on the device (`ipmix.IPMixBatch`, `ipmix.augment.methods.prime.transform.PRIMEBatch`).
    `image_size`: above 32 px, the built-in set is rendered at that size (instead of upscaling
    its 36 px pictures). `options` are further
    `ipmix.IPMix` keyword options of the IPMix variants (`framework`, `mixing_ops`,
    `box_shapes`, ...: the paper's ablations), applied over the config string's settings.
    """
    parsed = parse_augmentation(name)
    extra = check_augmentation_options(name, options)
    if extra:
        parsed = ConfigString(parsed.name, {**parsed.options, **extra})
    if mixing_set is None and image_size is not None and image_size > 32:
        from ipmix.mixing_sets import default_mixing_set

        mixing_set = default_mixing_set(image_size)
    base = parsed.name
    use_jsd = resolve_jsd(base, jsd)
    if preset is None:
        preset = preset_name(dataset)
    elif dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    settings = PRESETS[preset]
    if batched and base not in BATCHED:
        raise UnknownAugmentationError(f"--batched applies to {', '.join(BATCHED)}, not {base!r}")
    if base in IPMIX_VARIANTS:
        transform = create_transform(parsed, settings["ipmix"], mixing_set, seed, batched=batched,
                                     views=2 if use_jsd else 1)
        description = _describe(base, {"ipmix": transform.options})
        if batched:
            return Augmentation(base, None, None, use_jsd, batch_transform=transform,
                                description=description)
        # Streams restart for every sample (ipmix.data.seeding), so buffering plans would only
        # waste draws; and load the mixing set once here so that workers inherit it.
        transform.plan_block = 1
        if transform.options.uses_p_level:
            len(transform.mixing_set)
        return Augmentation(base, transform, None, use_jsd, description=description)
    image: Callable[[Any], Any] | None = None
    mixer: BatchMixer | None = None
    options = _settings(base, settings, parsed.options) if base in settings and base in SCHEMAS \
        else dict(parsed.options)
    description = _describe(base, options) if base in SCHEMAS else base
    if base == "prime" and batched:
        transform = create_transform(base, options, seed=seed, batched=True, views=2 if use_jsd else 1)
        return Augmentation(base, None, None, use_jsd, batch_transform=transform,
                            description=description)
    if base == "augmax":
        step = AugMaxStep(options["width"], options["steps"], options["step_size"], options["tau"],
                          seed=seed)
        return Augmentation(base, create_transform(base, options, seed=seed), None, use_jsd,
                            description=description, model_step=step)
    if base in ("mixup", "cutmix"):
        mixer = _mixer(base, settings, parsed.options)
    elif base in ("cutout", "augmix", "pixmix", "prime", "layermix"):
        image = create_transform(base, options, mixing_set, seed)
        if base == "augmix":
            image = TorchRandom(image)
        if base in ("pixmix", "layermix"):
            len(image.mixing_set)  # load the set once here, so that workers inherit it
    elif base == "autoaugment":
        image = TorchRandom(v2.AutoAugment(settings["autoaugment"]))
    elif base == "randaugment":
        image = TorchRandom(v2.RandAugment())
    elif base == "trivialaugment":
        image = TorchRandom(v2.TrivialAugmentWide())
    elif base.startswith("augmix+"):
        image = TorchRandom(create_transform("augmix", settings["augmix"]))
        mixup, cutmix = _mixer("mixup", settings), _mixer("cutmix", settings)
        if base == "augmix+mixup+cutmix":
            mixer = MixerChain([mixup, cutmix])
        elif base == "augmix+cutmix+mixup":
            mixer = MixerChain([cutmix, mixup])
        elif base == "augmix+random(mixup,cutmix)":
            mixer = MixerChoice([mixup, cutmix])
        else:
            mixer = MixerByEpoch(mixup, cutmix, switch_epoch=epochs // 2)
    return Augmentation(base, image, mixer, use_jsd, description=description)


__all__ = [
    "AUGMENTATION_NAMES",
    "BATCHED",
    "JSD_DEFAULTS",
    "JSD_REQUIRED",
    "JSD_WEIGHTS",
    "PRESETS",
    "Augmentation",
    "LabelMixer",
    "MixerByEpoch",
    "MixerChain",
    "MixerChoice",
    "UnknownAugmentationError",
    "build_augmentation",
    "jsd_weight",
    "parse_augmentation",
    "preset_name",
    "resolve_jsd",
    "uses_mixing_set",
]
