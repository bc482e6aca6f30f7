"""AugMax's image side (Wang et al., NeurIPS 2021): AugMix chains and their mixing.

AugMax mixes an image with `width` AugMix chains of it, ``(1 - m) x + m sum_i w_i chain_i``,
as AugMix does, but chooses ``m`` and ``w = softmax(q)`` adversarially against the model, by
a few steps of sign-gradient ascent on its loss. That step needs the model and lives in
`ipmix.training.augmax`; this module holds what needs none, following the authors' code
(VITA-Group/AugMax, ``augmax_modules/augmax.py``):

- `AugMaxChains`: per image, the clean image and `groups` groups of `width` chains (the
  authors' ``AugMaxDataset`` returns two groups of three: one for the AugMax view, one for the
  AugMix view). A chain is 1-3 AugMix ops (``depth=-1``) drawn as AugMix does
  (`ipmix.augment.ops.random_op`: AugMix's nine ops, levels uniform in [0.1, severity]).
- `mix_chains`: the mixing above on batches, differentiable in ``m`` and ``w``.
- `sample_augmix_mixing`: AugMix's random ``w ~ Dirichlet(1, ..., 1)`` and ``m ~ Beta(1, 1)``
  (the authors' ``AugMixModule``), drawn from a numpy generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ipmix.augment.inputs import ImageTransform, as_image_array, to_float
from ipmix.augment.ops import AUGMIX_KERNELS, AUGMIX_OPS, random_op
from ipmix.augment.options import check_op_severity
from ipmix.augment.seeding import ProcessGenerator

#: AugMax's chains use AugMix's nine ops (``augmentations.augmentations``; no ``all_ops``).
AUGMAX_OPS: tuple[str, ...] = AUGMIX_OPS


class AugMaxChains(ImageTransform):
    """The clean image and ``groups x width`` AugMix chains of it, as a tuple of images.

    Takes what `ipmix.augment.inputs` describes (PIL, tensors ``[C, H, W]``, numpy ``[H, W, C]``;
    floats in [0, 1]) and returns a tuple of ``1 + groups * width`` images of the same kind:
    ``(clean, group 1's chains, group 2's chains, ...)``.

    Args:
        severity: op levels are drawn uniformly in [0.1, severity] (the authors' 3, on CIFAR and
            ImageNet alike).
        width: chains per group (3). depth: ops per chain; -1 draws 1-3 per chain (the
            authors' default).
        groups: groups of chains (2: the AugMax and the AugMix view).
        seed: seed of the random stream (None: fresh entropy).
    """

    def __init__(self, severity: float = 3.0, width: int = 3, depth: int = -1, groups: int = 2,
                 seed: int | None = None) -> None:
        super().__init__()
        check_op_severity(severity, "AugMax: severity")
        for name, value, low in (("width", width, 1), ("groups", groups, 1), ("depth", depth, -1)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"AugMax: {name} must be an integer >= {low}, got {value!r}")
        if depth == 0:
            raise ValueError("AugMax: depth must be >= 1, or -1 for 1-3 ops per chain")
        self.severity, self.width = float(severity), int(width)
        self.depth, self.groups = int(depth), int(groups)
        self._kernels = [AUGMIX_KERNELS[name] for name in AUGMAX_OPS]
        self.generator = ProcessGenerator(seed)

    @property
    def views(self) -> int:
        """Images per sample: the clean one and every chain."""
        return 1 + self.groups * self.width

    def chain(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One AugMix chain of uint8 HWC `image` (uint8 HWC)."""
        depth = self.depth if self.depth > 0 else int(rng.integers(1, 4))
        for _ in range(depth):
            image = random_op(image, self._kernels, self.severity, rng)
        return image

    def transform(self, inpt: Any, params: dict[str, Any]) -> tuple[Any, ...]:
        array, restore = as_image_array(inpt, "AugMax")
        rng = self.generator.get()
        chains = [self.chain(array, rng) for _ in range(self.groups * self.width)]
        return tuple(restore(to_float(image)) for image in (array, *chains))

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`."""
        self.generator.reseed(seed)

    def extra_repr(self) -> str:
        return f"severity={self.severity}, width={self.width}, depth={self.depth}, groups={self.groups}"


def mix_chains(clean: torch.Tensor, chains: torch.Tensor, weights: torch.Tensor,
               skip: torch.Tensor) -> torch.Tensor:
    """``(1 - skip) * clean + skip * sum_i weights[:, i] * chains[i]``.

    `clean` ``[B, C, H, W]``, `chains` ``[k, B, C, H, W]``, `weights` ``[B, k]``, `skip` ``[B]``;
    differentiable in `weights` and `skip` (AugMax's ``AugMaxModule``).
    """
    mixed = torch.einsum("bk,kbchw->bchw", weights.to(chains.dtype), chains)
    skip = skip.to(clean.dtype).view(-1, 1, 1, 1)
    return (1 - skip) * clean + skip * mixed


def sample_augmix_mixing(rng: np.random.Generator, count: int, width: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """AugMix's weights ``[count, width] ~ Dirichlet(1, ..., 1)`` and skips ``[count] ~ Beta(1, 1)``."""
    weights = rng.dirichlet(np.ones(width), size=count).astype(np.float32)
    return weights, rng.beta(1.0, 1.0, size=count).astype(np.float32)


__all__ = ["AUGMAX_OPS", "AugMaxChains", "mix_chains", "sample_augmix_mixing"]
