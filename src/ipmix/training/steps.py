"""Training steps with the model in the loop: what the trainer hands to such a method.

Most methods transform images without the model (in the loader, or per batch on the device:
`ipmix.training.registry.Augmentation.batch_transform`) and the trainer runs one forward pass.
A method whose augmentation depends on the model (AugMax picks its mixing weights by gradient
ascent on the model's loss) is a `ModelStep`: the trainer gives it the batch as the loader
made it and a `StepModel`, and it returns the logits of its views, clean view first, which the
trainer's loss (cross-entropy, or the JSD loss over the views) then takes as usual. The
registry pairs a method with its step; the trainer names no method.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn


@dataclass
class StepModel:
    """The model of a training step, as a `ModelStep` may use it.

    Attributes:
        module: the model itself (unwrapped from DDP): switch its mode or normalisation route,
            or run passes that train nothing (an attack), under `autocast`.
        forward: the training forward pass (through DDP, under autocast): the gradients of the
            loss reach the weights through the logits it returns.
        autocast: the run's autocast context (mixed precision on CUDA, nothing on CPU).
    """

    module: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]
    autocast: Callable[[], AbstractContextManager]


class ModelStep(Protocol):
    """A method's training step: ``(images, labels, model) -> logits of every view``.

    `images` is the loader's batch on the device, its samples' images stacked as the method's
    per-image transform made them (``[views * B, C, H, W]``, float in [0, 1]). The logits are
    ``[views_out * B, classes]``, clean view first. `reseed` restarts the step's random stream
    (the trainer reseeds it from ``(seed, rank, epoch, step)`` before every step).
    """

    def __call__(self, images: torch.Tensor, labels: torch.Tensor, model: StepModel) -> torch.Tensor: ...

    def reseed(self, seed: int) -> None: ...


__all__ = ["ModelStep", "StepModel"]
