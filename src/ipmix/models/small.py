"""`small`: a ~0.4M-parameter ResNet-9-style network for CPU budgets.

The layout of Myrtle.ai's ResNet-9 (a stem, three conv-BN-ReLU-max-pool stages, residual pairs
after the first and last stage, global max pooling, linear head) at 1/4 of its width (16, 32,
64, 128 channels instead of 64 .. 512): about 0.41M parameters and 24M multiply-adds per 32x32
image, so it trains at roughly a thousand images per second on two CPU cores (see
benchmarks/results/models.md). Made for smoke runs and CPU experiments, not for the paper's
tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ipmix.models.base import DEFAULT_MEAN, DEFAULT_STD, ImageClassifier, check_num_classes


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv (no bias) - BN - ReLU at the same resolution."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    """`x + body(x)`."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SmallResNet(ImageClassifier):
    """ResNet-9 layout with base width `width` (16 -> ~0.41M parameters); [0, 1] images in.

    `feature_scale` (1/8, as Myrtle's logit scale) keeps the recipe's lr 0.1 stable.
    """

    def __init__(
        self,
        num_classes: int,
        width: int = 16,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
        feature_scale: float = 0.125,
    ) -> None:
        super().__init__(mean, std)
        self.feature_scale = feature_scale
        check_num_classes(num_classes)
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if not feature_scale > 0:
            raise ValueError(f"feature_scale must be > 0, got {feature_scale}")
        w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
        self.body = nn.Sequential(
            conv_bn_relu(3, w1),
            conv_bn_relu(w1, w2),
            nn.MaxPool2d(2),
            Residual(nn.Sequential(conv_bn_relu(w2, w2), conv_bn_relu(w2, w2))),
            conv_bn_relu(w2, w3),
            nn.MaxPool2d(2),
            conv_bn_relu(w3, w4),
            nn.MaxPool2d(2),
            Residual(nn.Sequential(conv_bn_relu(w4, w4), conv_bn_relu(w4, w4))),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(1),
        )
        self.num_features = w4
        self.head = nn.Linear(w4, num_classes)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        # Max-pooled features are large; Myrtle's ResNet-9 scales its logits by 1/8 so that
        # SGD at lr 0.1 does not diverge in the first steps. Scaling the features does the same.
        return self.body(x) * self.feature_scale
