"""Augmentation methods by name: per-image transforms, batch-level label mixing, JSD defaults.

Each name resolves to an `Augmentation`: a per-image transform applied after the authors'
preprocessing (random crop with 4-pixel padding, horizontal flip), an optional batch-level
label mixer (MixUp / CutMix and the Appendix F combinations, which produce soft labels), and
whether the JSD consistency loss is on.

Settings (paper Appendix A and the methods' own code): CutOut 16x16 on CIFAR-10, 8x8 on
CIFAR-100; CutMix alpha 1 applied with probability 0.5; MixUp alpha 1; torchvision's AugMix with
k = 3 and ``all_ops=False`` (the other ops overlap the test corruptions); PixMix with its
authors' k = 4, beta = 3 (the IPMix paper's text says k = 3, beta = 4; see docs/training.md);
torchvision's AutoAugment (CIFAR-10 policy), RandAugment (2 ops, magnitude 9) and
TrivialAugmentWide with their defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torchvision.transforms import v2

from ipmix.data.cifar import CIFAR_LAYOUTS
from ipmix.data.datasets import JSDViews, RandomCropFlip
from ipmix.data.seeding import TorchRandom, derive_seed

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
)

#: Methods that can train with the JSD loss, and whether it is on by default.
JSD_DEFAULTS: dict[str, bool] = {
    "augmix": True,
    "pixmix": False,
    "ipmix": True,
    "ipmix-no-patch": True,
    "ipmix-no-pixel": True,
    "ipmix-no-image": True,
}

#: IPMix ablation switches (paper Table 7: "w/o patch", "w/o pixel", "w/o image").
_IPMIX_LEVELS: dict[str, dict[str, bool]] = {
    "ipmix": {},
    "ipmix-no-patch": {"patch_level": False},
    "ipmix-no-pixel": {"pixel_level": False},
    "ipmix-no-image": {"image_level": False},
}

MIXUP_ALPHA = 1.0
CUTMIX_ALPHA = 1.0
CUTMIX_PROBABILITY = 0.5
PIXMIX_K = 4
PIXMIX_BETA = 3.0


class UnknownAugmentationError(ValueError):
    """An augmentation name (or option combination) the registry does not know."""


class LabelMixer:
    """A torchvision batch mixer (MixUp or CutMix) that works on soft labels, with probability `p`.

    torchvision's mixers take integer labels only. This runs one with the labels
    ``0..B-1`` (``num_classes = B``), which returns the batch's label-mixing matrix ``L``
    (``L[i, j]`` = the share of sample ``j`` in mixed sample ``i``), and applies it to the
    incoming soft labels: ``y_out = L @ y_in``. That makes chains such as MixUp then CutMix
    exact. Randomness comes from a private generator (``reseed``).
    """

    def __init__(self, kind: str, alpha: float, p: float = 1.0, seed: int = 0) -> None:
        if kind not in ("mixup", "cutmix"):
            raise ValueError(f"kind must be 'mixup' or 'cutmix', got {kind!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability must lie in [0, 1], got {p}")
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.kind, self.alpha, self.p = kind, alpha, p
        self.generator = torch.Generator().manual_seed(seed)
        self._mixers: dict[int, TorchRandom] = {}

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, epoch: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix a float batch ``[B, C, H, W]`` and its soft labels ``[B, K]``."""
        if self.p < 1.0 and torch.rand((), generator=self.generator).item() >= self.p:
            return images, targets
        batch = images.shape[0]
        mixer = self._mixers.get(batch)
        if mixer is None:
            cls = v2.MixUp if self.kind == "mixup" else v2.CutMix
            mixer = TorchRandom(cls(alpha=self.alpha, num_classes=batch))
            self._mixers[batch] = mixer
        mixer.generator.set_state(self.generator.get_state())
        mixed, shares = mixer(images, torch.arange(batch, device=images.device))
        self.generator.set_state(mixer.generator.get_state())
        return mixed, shares.to(targets.dtype) @ targets

    def __repr__(self) -> str:
        return f"LabelMixer({self.kind}, alpha={self.alpha}, p={self.p})"


class MixerChain:
    """Apply mixers one after the other (Appendix F: AugMix -> MixUp -> CutMix and reverse)."""

    def __init__(self, mixers: Sequence[Any]) -> None:
        self.transforms = list(mixers)  # walked by ipmix.data.seeding.reseed

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, epoch: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for mixer in self.transforms:
            images, targets = mixer(images, targets, epoch)
        return images, targets


class MixerChoice:
    """Apply one mixer per batch, chosen uniformly at random (Appendix F, random combination)."""

    def __init__(self, mixers: Sequence[Any], seed: int = 0) -> None:
        self.mixers = list(mixers)
        self.generator = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)
        for position, mixer in enumerate(self.mixers):
            mixer.reseed(derive_seed(seed, position + 1))

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, epoch: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        choice = int(torch.randint(len(self.mixers), (), generator=self.generator))
        return self.mixers[choice](images, targets, epoch)


class MixerByEpoch:
    """`first` for epochs before `switch_epoch`, `second` from then on (Appendix F).

    The paper's best epoch-dependent run used MixUp for the first 50 of 100 epochs and CutMix
    for the rest; the registry switches at half of the run's epochs.
    """

    def __init__(self, first: Any, second: Any, switch_epoch: int) -> None:
        self.first, self.second, self.switch_epoch = first, second, switch_epoch
        self.transforms = [first, second]

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, epoch: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mixer = self.first if epoch < self.switch_epoch else self.second
        return mixer(images, targets, epoch)


BatchMixer = Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Augmentation:
    """A resolved augmentation method.

    Attributes:
        name: the registry name.
        image_transform: PIL -> PIL transform after crop and flip (None: preprocessing only).
        batch_mixer: ``(images, soft_labels, epoch) -> (images, soft_labels)`` on the device
            (None: hard labels).
        jsd: train with the clean view and two augmented views and the JSD loss.
        batch_transform: ``images -> images`` (or the JSD views) on the device, per batch
            (`ipmix.IPMixBatch` with ``--batched``); None: none.
    """

    name: str
    image_transform: Callable[[Any], Any] | None
    batch_mixer: BatchMixer | None
    jsd: bool
    batch_transform: Any = None

    @property
    def soft_labels(self) -> bool:
        """Whether targets are soft (label-mixing methods)."""
        return self.batch_mixer is not None

    def dataset_transforms(self) -> list[Any]:
        """The per-sample pipeline for `ipmix.data.AugmentedCifar`."""
        transforms: list[Any] = [RandomCropFlip()]
        if self.batch_transform is not None:  # the method runs on the device, per batch
            return transforms
        if self.jsd:
            if self.image_transform is None:
                raise UnknownAugmentationError(f"{self.name!r} has no augmentation to take views of")
            transforms.append(JSDViews(self.image_transform))
        elif self.image_transform is not None:
            transforms.append(self.image_transform)
        return transforms


def _mixup() -> LabelMixer:
    return LabelMixer("mixup", MIXUP_ALPHA)


def _cutmix() -> LabelMixer:
    return LabelMixer("cutmix", CUTMIX_ALPHA, p=CUTMIX_PROBABILITY)


def _augmix() -> TorchRandom:
    # chain_depth=-1: depth drawn in 1..3 per chain, as AugMix's code.
    return TorchRandom(
        v2.AugMix(severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=False)
    )


def _ipmix(name: str, mixing_set: Any, seed: int, options: dict[str, Any]) -> Any:
    from ipmix.augment.ipmix import IPMix

    transform = IPMix(mixing_set=mixing_set, seed=seed, **_IPMIX_LEVELS[name], **options)
    # Streams restart for every sample (ipmix.data.seeding), so buffering plans would only
    # waste draws; and load the mixing set once here so that workers inherit it.
    transform.plan_block = 1
    if transform.options.uses_p_level:
        len(transform.mixing_set)
    return transform


def _pixmix(mixing_set: Any, seed: int) -> Any:
    from ipmix.augment.baselines import PixMix

    transform = PixMix(mixing_set, k=PIXMIX_K, beta=PIXMIX_BETA, seed=seed)
    len(transform.mixing_set)  # load the set once here, so that workers inherit it
    return transform


def _cutout(dataset: str, seed: int) -> Any:
    from ipmix.augment.baselines import CUTOUT_SIZES, CutOut

    return CutOut(size=CUTOUT_SIZES[dataset], seed=seed)


def resolve_jsd(name: str, jsd: bool | None) -> bool:
    """The JSD setting for `name`: its default when `jsd` is None; an error where unsupported."""
    if name not in AUGMENTATION_NAMES:
        raise UnknownAugmentationError(
            f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATION_NAMES)}"
        )
    if jsd is None:
        return JSD_DEFAULTS.get(name, False)
    if jsd and name not in JSD_DEFAULTS:
        raise UnknownAugmentationError(
            f"--jsd is not available with {name!r}; it applies to {', '.join(JSD_DEFAULTS)}"
        )
    return jsd


def check_augmentation_options(name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Checked IPMix keyword options: only IPMix variants take them, never their level switches."""
    options = dict(options or {})
    if not options:
        return options
    if name not in _IPMIX_LEVELS:
        raise UnknownAugmentationError(
            f"augmentation options apply to {', '.join(_IPMIX_LEVELS)}, not {name!r}"
        )
    fixed = sorted(set(options) & {"mixing_set", "seed", "views", *_IPMIX_LEVELS[name]})
    if fixed:
        raise UnknownAugmentationError(f"{name!r} sets {', '.join(fixed)} itself; not an option here")
    from ipmix.augment.plan import IPMixOptions

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
    options: dict[str, Any] | None = None,
) -> Augmentation:
    """Resolve `name` (one of `AUGMENTATION_NAMES`) for `dataset` ("cifar10"/"cifar100").

    `mixing_set` (a `MixingSet`, a folder, an array; None = the built-in generated set) feeds
    IPMix and PixMix. `epochs` places the switch of ``augmix+epoch(mixup,cutmix)``. `seed`
    only sets the initial streams: training reseeds them per sample and per step. `batched`
    (IPMix variants only) applies IPMix per batch on the device with `ipmix.IPMixBatch`.
    `options` are further `ipmix.IPMix` keyword options (IPMix variants only: `framework`,
    `mixing_ops`, `box_shapes`, `width`, `depth`, ...), as the paper's ablations need.
    """
    use_jsd = resolve_jsd(name, jsd)
    options = check_augmentation_options(name, options)
    if batched:
        if name not in _IPMIX_LEVELS:
            raise UnknownAugmentationError(
                f"--batched applies to {', '.join(_IPMIX_LEVELS)}, not {name!r}"
            )
        from ipmix.augment.batched import IPMixBatch

        batch = IPMixBatch(
            mixing_set, seed=seed, views=2 if use_jsd else 1, **_IPMIX_LEVELS[name], **options
        )
        return Augmentation(name=name, image_transform=None, batch_mixer=None, jsd=use_jsd,
                            batch_transform=batch)
    if dataset not in CIFAR_LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(CIFAR_LAYOUTS)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    image: Callable[[Any], Any] | None = None
    mixer: BatchMixer | None = None
    if name == "mixup":
        mixer = _mixup()
    elif name == "cutmix":
        mixer = _cutmix()
    elif name == "cutout":
        image = _cutout(dataset, seed)
    elif name == "augmix":
        image = _augmix()
    elif name == "pixmix":
        image = _pixmix(mixing_set, seed)
    elif name == "autoaugment":
        image = TorchRandom(v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10))
    elif name == "randaugment":
        image = TorchRandom(v2.RandAugment())
    elif name == "trivialaugment":
        image = TorchRandom(v2.TrivialAugmentWide())
    elif name in _IPMIX_LEVELS:
        image = _ipmix(name, mixing_set, seed, options)
    elif name.startswith("augmix+"):
        image = _augmix()
        if name == "augmix+mixup+cutmix":
            mixer = MixerChain([_mixup(), _cutmix()])
        elif name == "augmix+cutmix+mixup":
            mixer = MixerChain([_cutmix(), _mixup()])
        elif name == "augmix+random(mixup,cutmix)":
            mixer = MixerChoice([_mixup(), _cutmix()])
        else:
            mixer = MixerByEpoch(_mixup(), _cutmix(), switch_epoch=epochs // 2)
    return Augmentation(name=name, image_transform=image, batch_mixer=mixer, jsd=use_jsd)
