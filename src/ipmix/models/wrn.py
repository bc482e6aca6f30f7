"""Wide ResNet for 32x32 images (Zagoruyko & Komodakis 2016), as in the AugMix/PixMix/IPMix code.

WRN-d-k has three groups of (d - 4) / 6 pre-activation basic blocks with 16k, 32k and 64k
channels (strides 1, 2, 2), a 3x3 stem with 16 channels, then BN-ReLU, global average pooling
and a linear head. Dropout (between the two convolutions of a block) is 0.3 for the paper's
WRN-40-4. As in the reference code, a block that changes width pre-activates its input once and
feeds it to both the residual branch and the 1x1 projection shortcut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ipmix.models.base import DEFAULT_MEAN, DEFAULT_STD, ImageClassifier, check_num_classes


class WideBasicBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv3x3(-dropout)-BN-ReLU-conv3x3, plus a shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut: nn.Module | None = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        out = F.relu(self.bn2(self.conv1(activated)))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        # The projection sees the pre-activated input; the identity sees the raw input.
        residual = x if self.shortcut is None else self.shortcut(activated)
        return out + residual


class WideResNet(ImageClassifier):
    """WRN-`depth`-`widen_factor` with `dropout` inside every block; input [0, 1] images."""

    def __init__(
        self,
        num_classes: int,
        depth: int = 40,
        widen_factor: int = 4,
        dropout: float = 0.3,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        super().__init__(mean, std)
        check_num_classes(num_classes)
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f"WideResNet depth must be 6n + 4 with n >= 1, got {depth}")
        if widen_factor < 1:
            raise ValueError(f"widen_factor must be >= 1, got {widen_factor}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        blocks_per_group = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        groups = []
        for group, stride in enumerate((1, 2, 2)):
            in_channels, out_channels = widths[group], widths[group + 1]
            blocks = [
                WideBasicBlock(in_channels if i == 0 else out_channels, out_channels,
                               stride if i == 0 else 1, dropout)
                for i in range(blocks_per_group)
            ]
            groups.append(nn.Sequential(*blocks))
        self.group1, self.group2, self.group3 = groups
        self.bn = nn.BatchNorm2d(widths[3])
        self.num_features = widths[3]
        self.head = nn.Linear(widths[3], num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """The reference initialisation: He-normal (fan-out) convs, BN = identity, zero bias."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.group3(self.group2(self.group1(self.stem(x))))
        x = F.relu(self.bn(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
