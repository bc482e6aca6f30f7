"""Batch-level label mixing on soft labels: MixUp, CutMix and the Appendix F combinations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision.transforms import v2

from ipmix.data.seeding import TorchRandom, derive_seed


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
