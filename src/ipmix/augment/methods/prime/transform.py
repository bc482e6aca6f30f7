"""PRIME (Modas et al., ECCV 2022): random primitives in AugMix-style chains, mixed.

Following the authors' code (amodas/PRIME-augmentations: ``utils/prime.py`` and the
``stochastic=True`` primitives that ``train.py`` builds from ``config/*_cfg.py``). For each
image: `width` chains of 1-3 steps (``depth=-1``); each step applies one primitive drawn
uniformly from a random diffeomorphism, a random smooth colour change and a random filter
(`ipmix.augment.methods.prime.primitives`), each with freshly drawn parameters:

- diffeomorphism: ``cut_max ~ U{cut_min + 1 .. diffeo_cut}``, then the mode cut-off
  ``cut = int(cut_min + (cut_max + 1 - cut_min) * Beta(1/2, 1/2))`` and the temperature
  ``T = T1 + (T2 - T1) * Beta(1/2, 1/2)`` between the smallest visible deformation
  ``T1 = 1 / (pi n^2 log cut)`` and the largest without folds ``T2 = max(T1, 4 / (pi^3 cut^2
  log cut))`` (the authors' ``sT = rT = scut = rcut = 1``, ``alpha = 1``, ``cut_min = 2``);
- colour: ``cut ~ U{1 .. color_cut}``, ``T ~ U(0, color_temperature)``; with a bandwidth (the
  ImageNet preset's 20) the frequencies are ``k0 .. min(k0 + bandwidth - 1, cut)``,
  ``k0 ~ U{1 .. cut}``, else ``1 .. cut``;
- filter: ``sigma ~ U(0, filter_sigma)``, a 3 x 3 kernel.

The chains are mixed as AugMix does: ``(1 - m) x + m sum_i w_i chain_i`` with
``w ~ Dirichlet(1, ..., 1)``, ``m ~ Beta(1, 1)``. With the JSD loss the two augmented views are
independent PRIME draws, as the authors' ``GeneralizedPRIMEModule``.

Where ipmix departs: the reference draws the diffeomorphism's field and the scalar parameters
(cut-offs, temperatures, sigma) once per call, i.e. once per batch of chains; here every image
draws its own, so an image's augmentation has the reference's distribution and does not depend
on the rest of its batch, and the per-image transform (`PRIME`) and the batched one
(`PRIMEBatch`) are the same method. A fixed ``depth`` means that many steps (the reference's
fixed-depth path caps a random 1-3 at it; both presets use -1).

Parameters are drawn per sample from the transform's numpy stream (`sample_prime_plan`); the
primitives' Gaussian noise from a `torch.Generator` on the images' device, seeded from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from ipmix.augment.inputs import ImageTransform, as_image_array
from ipmix.augment.methods.prime.primitives import diffeo, random_filter, smooth_color
from ipmix.augment.seeding import ProcessGenerator
from ipmix.utils.images import check_unit_range

#: The primitives, in the order of the authors' ``augmentations`` list.
PRIMITIVES: tuple[str, ...] = ("diffeo", "color", "filter")
#: Longest chain when ``depth=-1`` (the reference's ``max_depth``).
MAX_DEPTH = 3
#: The diffeomorphism's smallest cut-off (``cutmin``) and its Beta(1/2, 1/2) shape, from the
#: authors' ``s = 1, r = 1``: ``Beta(s - s / (r + 1), s / (r + 1))``.
DIFFEO_CUT_MIN = 2
HALF_BETA = (0.5, 0.5)


@dataclass(frozen=True)
class PRIMEOptions:
    """PRIME's settings (module docstring); defaults are the CIFAR config's."""

    width: int = 3
    depth: int = -1
    diffeo_cut: int = 100  # cutmax: 100 on CIFAR, 500 on ImageNet
    color_cut: int = 100  # 100 on CIFAR, 500 on ImageNet
    color_temperature: float = 0.01  # 0.01 on CIFAR, 0.05 on ImageNet
    color_bandwidth: int | None = None  # None on CIFAR, 20 on ImageNet (``max_freqs``)
    filter_sigma: float = 4.0
    filter_size: int = 3

    def __post_init__(self) -> None:
        for name, low in (("width", 1), ("diffeo_cut", DIFFEO_CUT_MIN + 1), ("color_cut", 1),
                          ("filter_size", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"PRIME: {name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int | np.integer) or not (
                self.depth == -1 or self.depth >= 1):
            raise ValueError(f"PRIME: depth must be >= 1, or -1 for 1-3 steps, got {self.depth!r}")
        if self.color_bandwidth is not None and (
                isinstance(self.color_bandwidth, bool) or int(self.color_bandwidth) < 1):
            raise ValueError(f"PRIME: color_bandwidth must be >= 1 or None, got {self.color_bandwidth!r}")
        for name in ("color_temperature", "filter_sigma"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"PRIME: {name} must be >= 0, got {getattr(self, name)!r}")

    @classmethod
    def preset(cls, name: str) -> PRIMEOptions:
        """The authors' ``cifar`` (CIFAR-10/100) or ``imagenet`` settings."""
        if name == "imagenet":
            return cls(diffeo_cut=500, color_cut=500, color_temperature=0.05, color_bandwidth=20)
        if name == "cifar":
            return cls()
        raise ValueError(f"unknown PRIME preset {name!r}; choose cifar or imagenet")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class PRIMEPlan:
    """Every random choice of PRIME for `count` images (per image, chain and step)."""

    steps: np.ndarray  # [count, width] chain lengths
    primitive: np.ndarray  # [count, width, depth] index into PRIMITIVES
    diffeo_cut: np.ndarray  # [count, width, depth]
    diffeo_temperature: np.ndarray
    color_first: np.ndarray  # first and last colour frequency
    color_last: np.ndarray
    color_temperature: np.ndarray
    filter_sigma: np.ndarray
    weights: np.ndarray  # [count, width] Dirichlet(1)
    skip: np.ndarray  # [count] Beta(1, 1)
    noise_seed: int


def temperature_range(side: int, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``temperature_range``: allowed diffeomorphism temperatures (T1, T2)."""
    log = np.log(cut + 1e-6)
    return 1 / (math.pi * side**2 * log), 4 / (math.pi**3 * cut**2 * log)


def sample_prime_plan(options: PRIMEOptions, count: int, side: int,
                      rng: np.random.Generator) -> PRIMEPlan:
    """PRIME's parameters for `count` images of side `side` (module docstring)."""
    width = options.width
    depth = options.depth if options.depth > 0 else MAX_DEPTH
    shape = (count, width, depth)
    steps = (np.full((count, width), depth) if options.depth > 0
             else rng.integers(1, MAX_DEPTH + 1, size=(count, width)))
    primitive = rng.integers(0, len(PRIMITIVES), size=shape)
    cut_max = rng.integers(DIFFEO_CUT_MIN + 1, options.diffeo_cut + 1, size=shape)
    cut = (rng.beta(*HALF_BETA, size=shape) * (cut_max + 1 - DIFFEO_CUT_MIN)
           + DIFFEO_CUT_MIN).astype(np.int64)
    low, high = temperature_range(side, cut.astype(np.float64))
    high = np.maximum(low, high)
    temperature = low + rng.beta(*HALF_BETA, size=shape) * (high - low)
    color_cut = rng.integers(1, options.color_cut + 1, size=shape)
    color_temperature = rng.uniform(0, options.color_temperature, size=shape)
    if options.color_bandwidth is None:
        first = np.ones(shape, dtype=np.int64)
        last = color_cut
    else:
        first = rng.integers(1, color_cut + 1)
        last = np.minimum(first + options.color_bandwidth - 1, color_cut)
    sigma = rng.uniform(0, options.filter_sigma, size=shape)
    weights = rng.dirichlet(np.ones(width), size=count)
    skip = rng.beta(1.0, 1.0, size=count)
    return PRIMEPlan(steps, primitive, cut, temperature, first, last, color_temperature, sigma,
                     weights, skip, int(rng.integers(0, 2**63)))


def apply_prime(images: torch.Tensor, plan: PRIMEPlan, options: PRIMEOptions,
                generator: torch.Generator) -> torch.Tensor:
    """PRIME of float images ``[B, C, H, W]`` in [0, 1] by `plan` (same device as `generator`)."""
    count, width = plan.weights.shape
    chains = images.repeat_interleave(width, 0)  # [B * width, C, H, W], sample-major
    flat = {name: torch.from_numpy(np.ascontiguousarray(getattr(plan, name)).reshape(count * width, -1))
            for name in ("primitive", "diffeo_cut", "diffeo_temperature", "color_first",
                         "color_last", "color_temperature", "filter_sigma")}
    steps = torch.from_numpy(plan.steps.reshape(-1))
    for step in range(flat["primitive"].shape[1]):
        active = steps > step
        for index, name in enumerate(PRIMITIVES):
            chosen = torch.nonzero(active & (flat["primitive"][:, step] == index)).flatten()
            if len(chosen) == 0:
                continue
            at = chosen.to(images.device)
            if name == "diffeo":
                chains[at] = diffeo(chains[at], flat["diffeo_cut"][chosen, step],
                                    flat["diffeo_temperature"][chosen, step].float(), generator)
            elif name == "color":
                chains[at] = smooth_color(chains[at], flat["color_first"][chosen, step],
                                          flat["color_last"][chosen, step],
                                          flat["color_temperature"][chosen, step].float(), generator)
            else:
                chains[at] = random_filter(chains[at], flat["filter_sigma"][chosen, step].float(),
                                           options.filter_size, generator)
    weights = torch.from_numpy(plan.weights).to(images.device, images.dtype)
    skip = torch.from_numpy(plan.skip).to(images.device, images.dtype).view(-1, 1, 1, 1)
    mixed = torch.einsum("bk,bkchw->bchw", weights, chains.view(count, width, *images.shape[1:]))
    return (1 - skip) * images + skip * mixed


class PRIMEBatch(nn.Module):
    """PRIME on ``[B, C, H, W]`` batches on any device, every random choice per sample.

    `forward(images)` takes uint8 or float ([0, 1]) images and returns the same dtype; with
    ``views > 1`` a tuple of that many independent augmentations (the JSD views).
    Options are `PRIMEOptions`' (keywords); `seed` seeds the stream (None: fresh entropy).
    """

    def __init__(self, seed: int | None = None, views: int = 1, **options: Any) -> None:
        super().__init__()
        if not isinstance(views, int) or views < 1:
            raise ValueError(f"PRIMEBatch: views must be an integer >= 1, got {views!r}")
        self.options = PRIMEOptions(**options)
        self.views = views
        self.generator = ProcessGenerator(seed)

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """One PRIME draw of float images ``[B, C, H, W]`` in [0, 1]."""
        plan = sample_prime_plan(self.options, len(images), images.shape[-1], self.generator.get())
        noise = torch.Generator(device=images.device).manual_seed(plan.noise_seed)
        return apply_prime(images, plan, self.options, noise)

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if images.ndim != 4:
            raise ValueError(f"PRIMEBatch takes [B, C, H, W] batches, got shape {tuple(images.shape)}")
        integer = images.dtype == torch.uint8
        if not integer and not images.is_floating_point():
            raise ValueError(f"PRIMEBatch takes uint8 or float images, got {images.dtype}")
        data = images.float().div(255) if integer else images
        if not integer:
            check_unit_range(data, "PRIMEBatch input")
            data = data.clamp(0, 1)
        with torch.no_grad():
            out = [self.augment(data) for _ in range(self.views)]
        if integer:
            out = [(view * 255).round_().to(torch.uint8) for view in out]
        return tuple(out) if self.views > 1 else out[0]

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`."""
        self.generator.reseed(seed)

    def extra_repr(self) -> str:
        return f"{self.options}, views={self.views}"


class PRIME(ImageTransform):
    """PRIME for one image at a time (the batched code on a batch of one).

    Takes what `ipmix.augment.inputs` describes (PIL, tensors ``[C, H, W]``, numpy ``[H, W, C]``)
    and returns the same kind. Options are `PRIMEOptions`' (keywords); `seed` seeds the stream.
    """

    def __init__(self, seed: int | None = None, **options: Any) -> None:
        super().__init__()
        self.batch = PRIMEBatch(seed=seed, **options)

    @property
    def options(self) -> PRIMEOptions:
        return self.batch.options

    @property
    def generator(self) -> ProcessGenerator:
        return self.batch.generator

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        array, restore = as_image_array(inpt, "PRIME")
        images = torch.from_numpy(array.transpose(2, 0, 1).copy())[None]
        out = self.batch(images.float().div_(255))
        return restore(out[0].permute(1, 2, 0).numpy())

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`."""
        self.batch.reseed(seed)

    def extra_repr(self) -> str:
        return str(self.options)


__all__ = ["MAX_DEPTH", "PRIMITIVES", "PRIME", "PRIMEBatch", "PRIMEOptions", "PRIMEPlan",
           "apply_prime", "sample_prime_plan", "temperature_range"]
