"""AugMax's training step (Wang et al., NeurIPS 2021): AugMix chains mixed against the model.

Each sample comes from the loader as its clean image and two groups of AugMix chains
(`ipmix.augment.methods.augmax.AugMaxChains`). Per step, as the authors' ``augmax_training_ddp.py``
with its defaults (``--attacker fat --tau 1``, untargeted):

1. **AugMax view**: the first group is mixed as ``(1 - m) x + m sum_i softmax(q)_i chain_i``
   with ``m ~ U[0, 1)`` and ``q ~ U[0, 1)^k`` per sample, then ``m`` and ``q`` climb the
   summed cross-entropy by sign-gradient steps of size `step_size` (``m`` kept in [0, 1]), the
   model in eval mode on its ``aux`` normalisation route (`ipmix.models.dubin.norm_route`;
   models without DuBIN have one route). Friendly adversarial training's early stop: a
   sample's budget of `tau` drops when the model misclassifies it, and the ascent stops when
   every sample of the batch has used its budget, else after `steps` steps. (The authors'
   code also means to freeze the samples that used their budget, but zeroes a boolean-indexed
   copy of their gradients, which leaves them unchanged: every sample takes every step, as
   here.)
2. **AugMix view**: the second group mixed with AugMix's random ``w ~ Dirichlet(1)``,
   ``m ~ Beta(1, 1)``.
3. Three training forward passes, as the authors: the AugMax view on the ``aux`` route, then
   the AugMix view and the clean images on the ``main`` route (each with its own batch
   statistics). The logits come back as ``(clean, AugMax, AugMix)``: the trainer's JSD loss is
   AugMax's ``CE(clean) + lambda * JSD`` (lambda 10 on CIFAR, 12 on ImageNet: the preset's
   ``jsd_weight``).

All random draws come from the step's numpy generator, reseeded by the trainer every step.
Cost: `steps` forward and input-gradient passes plus three training passes per batch (about
ten times a plain step at 10 steps), and six AugMix chains per image in the loader.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ipmix.augment.methods.augmax import mix_chains, sample_augmix_mixing
from ipmix.models.dubin import norm_route
from ipmix.training.steps import StepModel

#: The ascent's loss is scaled by this before its gradient is taken, as a GradScaler would, so
#: that half-precision gradients (autocast on CUDA) keep their sign: the step uses the sign only.
SIGN_SCALE = 2.0**12


def adversarial_mixing(model: StepModel, clean: torch.Tensor, chains: torch.Tensor,
                       labels: torch.Tensor, skip: torch.Tensor, logits_q: torch.Tensor,
                       steps: int, step_size: float, tau: int) -> torch.Tensor:
    """AugMax's mixed images from the starting `skip` ``[B]`` and `logits_q` ``[B, k]``
    (module docstring, step 1); `chains` is ``[k, B, C, H, W]``."""
    module = model.module
    was_training = module.training
    module.eval()
    try:
        with norm_route(module, "aux"), model.autocast():
            skip = skip.detach().requires_grad_(True)
            logits_q = logits_q.detach().requires_grad_(True)
            mixed = mix_chains(clean, chains, logits_q.softmax(1), skip)
            budget = torch.full_like(skip, float(tau)).detach()
            for _ in range(steps):
                logits = module(mixed)
                wrong = logits.argmax(1) != labels
                budget = torch.where(wrong & (budget > 0), budget - 1, budget)
                if not bool((budget > 0).any()):
                    break
                loss = F.cross_entropy(logits.float(), labels, reduction="sum") * SIGN_SCALE
                grad_skip, grad_q = torch.autograd.grad(loss, [skip, logits_q])
                skip = (skip + step_size * grad_skip.sign()).clamp(0, 1).detach().requires_grad_(True)
                logits_q = (logits_q + step_size * grad_q.sign()).detach().requires_grad_(True)
                mixed = mix_chains(clean, chains, logits_q.softmax(1), skip)
    finally:
        module.train(was_training)
    return mixed.detach()


class AugMaxStep:
    """AugMax's `ipmix.training.steps.ModelStep` (module docstring).

    Args:
        width: chains per group (the per-image transform's `width`).
        steps: most ascent steps (the authors' README: 10 on CIFAR; their default, 5, on
            ImageNet). step_size: sign-gradient step (0.1). tau: FAT budget (1).
        seed: initial seed (the trainer reseeds every step).
    """

    def __init__(self, width: int = 3, steps: int = 10, step_size: float = 0.1, tau: int = 1,
                 seed: int = 0) -> None:
        for name, value, low in (("width", width, 1), ("steps", steps, 0), ("tau", tau, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"AugMax: {name} must be an integer >= {low}, got {value!r}")
        if not step_size > 0:
            raise ValueError(f"AugMax: step_size must be > 0, got {step_size!r}")
        self.width, self.steps, self.step_size, self.tau = width, steps, float(step_size), tau
        self.rng = np.random.default_rng(seed)

    @property
    def views(self) -> int:
        """Loader images per sample: the clean one and two groups of chains."""
        return 1 + 2 * self.width

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor, model: StepModel) -> torch.Tensor:
        if len(images) % self.views:
            raise ValueError(f"AugMax: expected {self.views} images per sample (clean and "
                             f"{self.views - 1} chains), got a batch of {len(images)}")
        clean, *chains = images.chunk(self.views)
        count, device = len(clean), clean.device
        max_chains = torch.stack(chains[: self.width])
        mix_group = torch.stack(chains[self.width:])
        weights, skip = sample_augmix_mixing(self.rng, count, self.width)
        start_skip = torch.from_numpy(self.rng.random(count, dtype=np.float32)).to(device)
        start_q = torch.from_numpy(self.rng.random((count, self.width), dtype=np.float32)).to(device)
        augmax = adversarial_mixing(model, clean, max_chains, labels, start_skip, start_q,
                                    self.steps, self.step_size, self.tau)
        augmix = mix_chains(clean, mix_group, torch.from_numpy(weights).to(device),
                            torch.from_numpy(skip).to(device))
        with norm_route(model.module, "aux"):
            logits_max = model.forward(augmax)
        logits_mix = model.forward(augmix)
        logits_clean = model.forward(clean)
        return torch.cat([logits_clean, logits_max, logits_mix])

    def __repr__(self) -> str:
        return (f"AugMaxStep(width={self.width}, steps={self.steps}, step_size={self.step_size}, "
                f"tau={self.tau})")


__all__ = ["SIGN_SCALE", "AugMaxStep", "adversarial_mixing"]
