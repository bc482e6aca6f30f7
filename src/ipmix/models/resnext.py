"""ResNeXt-29 for 32x32 images (Xie et al. 2017), as in the AugMix/PixMix/IPMix code.

Three stages of (depth - 2) / 9 bottleneck blocks (type C: 1x1 reduce, grouped 3x3, 1x1 expand
x4) on 64, 128, 256 planes with strides 1, 2, 2, after a 3x3 stem with 64 channels. A block's
grouped conv has ``cardinality * floor(planes * base_width / 64)`` channels.

The papers call the model "ResNeXt-29 (32x4)"; the reference code that produced their numbers
builds ``resnext29(cardinality=4, base_width=32)`` (4 groups of 32 channels in the first stage).
That is the default here; ``cardinality=32, base_width=4`` gives the ResNeXt paper's 32x4d.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ipmix.models.base import (
    DEFAULT_MEAN,
    DEFAULT_STD,
    ImageClassifier,
    check_num_classes,
    projection_shortcut,
)


class ResNeXtBottleneck(nn.Module):
    """1x1 reduce - grouped 3x3 - 1x1 expand (x4), each with BN; ReLU after the sum."""

    expansion = 4

    def __init__(
        self, in_channels: int, planes: int, cardinality: int, base_width: int, stride: int
    ) -> None:
        super().__init__()
        width = cardinality * math.floor(planes * base_width / 64)
        out_channels = planes * self.expansion
        self.conv_reduce = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn_reduce = nn.BatchNorm2d(width)
        self.conv_group = nn.Conv2d(width, width, 3, stride, 1, groups=cardinality, bias=False)
        self.bn_group = nn.BatchNorm2d(width)
        self.conv_expand = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn_expand = nn.BatchNorm2d(out_channels)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn_reduce(self.conv_reduce(x)))
        out = F.relu(self.bn_group(self.conv_group(out)))
        out = self.bn_expand(self.conv_expand(out))
        residual = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + residual)


class CifarResNeXt(ImageClassifier):
    """ResNeXt-`depth` (`cardinality` groups, `base_width`) on [0, 1] images."""

    def __init__(
        self,
        num_classes: int,
        depth: int = 29,
        cardinality: int = 4,
        base_width: int = 32,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        super().__init__(mean, std)
        check_num_classes(num_classes)
        if depth < 11 or (depth - 2) % 9 != 0:
            raise ValueError(f"ResNeXt depth must be 9n + 2 with n >= 1 (29, 38, ...), got {depth}")
        if cardinality < 1 or base_width < 1:
            raise ValueError(
                f"cardinality and base_width must be >= 1, got {cardinality} and {base_width}"
            )
        blocks_per_stage = (depth - 2) // 9
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64))
        in_channels = 64
        stages = []
        for planes, stride in ((64, 1), (128, 2), (256, 2)):
            blocks = []
            for i in range(blocks_per_stage):
                blocks.append(ResNeXtBottleneck(in_channels, planes, cardinality, base_width,
                                                stride if i == 0 else 1))
                in_channels = planes * ResNeXtBottleneck.expansion
            stages.append(nn.Sequential(*blocks))
        self.stage1, self.stage2, self.stage3 = stages
        self.num_features = in_channels
        self.head = nn.Linear(in_channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """The reference initialisation: He-normal (fan-out) convs and head, BN = identity."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))
        x = self.stage3(self.stage2(self.stage1(x)))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
