"""What every ipmix classifier shares: [0, 1] images in, normalisation inside, logits out.

Data pipelines and robustness attacks work in pixel space ([0, 1] images); the model owns its
input normalisation (mean = std = 0.5 by default, the authors' CIFAR preprocessing), so an
attack's epsilon is in pixels and a checkpoint carries everything needed to evaluate it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: The authors' CIFAR preprocessing: ``Normalize([0.5] * 3, [0.5] * 3)``.
DEFAULT_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
DEFAULT_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, with mean and std stored as buffers (saved, moved)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float] = DEFAULT_MEAN, std: Sequence[float] = DEFAULT_STD):
        super().__init__()
        mean_t = torch.as_tensor(tuple(mean), dtype=torch.float32)
        std_t = torch.as_tensor(tuple(std), dtype=torch.float32)
        if mean_t.ndim != 1 or mean_t.shape != std_t.shape:
            raise ValueError(
                f"mean and std must be equal-length sequences, got {tuple(mean)} and {tuple(std)}"
            )
        if bool((std_t <= 0).any()):
            raise ValueError(f"std must be positive, got {tuple(std)}")
        self.register_buffer("mean", mean_t.view(1, -1, 1, 1))
        self.register_buffer("std", std_t.view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"expected images [B, {self.mean.shape[1]}, H, W], got shape {tuple(x.shape)}"
            )
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class ImageClassifier(nn.Module):
    """Base class: `forward(x)` = `head(forward_features(x))` on [0, 1] images.

    Subclasses build their body, set `self.head` (an `nn.Linear`) and `self.num_features`, and
    implement `_features(x_normalised) -> [B, num_features]`. `forward_features` (the
    penultimate-layer embedding) serves feature visualisations and feature-based detectors.
    """

    head: nn.Linear
    num_features: int

    def __init__(self, mean: Sequence[float] = DEFAULT_MEAN, std: Sequence[float] = DEFAULT_STD):
        super().__init__()
        self.normalize = Normalize(mean, std)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features `[B, num_features]` of [0, 1] images `[B, 3, H, W]`."""
        return self._features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits `[B, num_classes]` of [0, 1] images `[B, 3, H, W]`."""
        return self.head(self.forward_features(x))


class InputSizeError(ValueError):
    """Images of a size a model cannot take (too small for its pooling, or not its fixed size)."""


def _forward_error(model: nn.Module, count: int, size: int) -> str | None:
    """The first line of what a training-mode forward of `count` `size`-px images raises."""
    try:
        model(torch.zeros(count, 3, size, size))
    except (RuntimeError, ValueError, AssertionError) as error:
        return (str(error).strip().splitlines() or [type(error).__name__])[0]
    return None


@torch.no_grad()
def check_input_size(model: nn.Module, size: int, name: str) -> bool:
    """Refuse `size` px images that `model` (a throwaway copy: batch norm statistics change)
    cannot take, naming the nearest larger size it takes; returns whether it can train on a
    batch of one such image (batch norm needs more than one value per channel, so a model that
    pools an image down to 1x1 cannot)."""
    model.train()
    error = _forward_error(model, 2, size)
    if error is not None:
        larger = next((s for s in range(size + 1, 2 * size + 65) if _forward_error(model, 2, s) is None),
                      None)
        hint = f"; the smallest larger size it takes is {larger} px" if larger is not None else ""
        raise InputSizeError(
            f"model {name!r} cannot take {size} px images ({error}){hint}: choose a larger --image-size"
        )
    return _forward_error(model, 1, size) is None


def check_num_classes(num_classes: int) -> int:
    """`num_classes` as an int >= 1, or a ValueError naming the bad value."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    return num_classes


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The 1x1 conv + BN shortcut of a residual block that changes shape; None when it does not."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )
