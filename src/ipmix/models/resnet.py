"""ResNet-18 with a CIFAR stem (He et al. 2016), as in the IPMix authors' code.

The ImageNet stem (7x7 stride-2 conv and max-pool) is replaced by one 3x3 stride-1 conv with
64 channels, so 32x32 inputs reach the last stage at 4x4. Four stages of two basic blocks
(64, 128, 256, 512 channels; strides 1, 2, 2, 2), projection shortcuts (1x1 conv + BN) where
the shape changes, global average pooling and a linear head. PyTorch's default initialisation,
as in the reference code. (Unlike the reference `resnet18(num_classes)`, which always builds
100 outputs, `num_classes` is honoured.)
"""

from __future__ import annotations

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


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus shortcut, ReLU after the sum."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + residual)


class CifarResNet(ImageClassifier):
    """ResNet with basic blocks, `blocks` per stage, CIFAR stem; input [0, 1] images."""

    def __init__(
        self,
        num_classes: int,
        blocks: Sequence[int] = (2, 2, 2, 2),
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        super().__init__(mean, std)
        check_num_classes(num_classes)
        blocks = tuple(blocks)
        if len(blocks) != 4 or any(int(b) < 1 for b in blocks):
            raise ValueError(f"blocks must be four positive counts, got {blocks}")
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        )
        in_channels = 64
        stages = []
        for count, (channels, stride) in zip(blocks, ((64, 1), (128, 2), (256, 2), (512, 2)),
                                             strict=True):
            layers = []
            for i in range(int(count)):
                layers.append(BasicBlock(in_channels, channels, stride if i == 0 else 1))
                in_channels = channels
            stages.append(nn.Sequential(*layers))
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.num_features = in_channels
        self.head = nn.Linear(in_channels, num_classes)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
