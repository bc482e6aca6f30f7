"""Batches on the device, and the clean evaluation of a model over a loader."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from ipmix.training import distributed


def to_device(images: Any, device: torch.device, channels_last: bool) -> torch.Tensor:
    """A loader batch on `device` as float [0, 1] (JSD views stacked along the batch)."""
    if isinstance(images, list | tuple):
        images = torch.cat(list(images))
    images = images.to(device, non_blocking=True)
    if images.dtype == torch.uint8:
        images = images.float().div_(255)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Any,
    device: torch.device,
    info: distributed.DistInfo,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> dict[str, float]:
    """Clean loss and accuracy over `loader` (``(uint8 images, labels)``; this rank's shard),
    summed over ranks."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    for images, labels in loader:
        x = to_device(images, device, channels_last)
        y = labels.to(device)
        with autocast(device, autocast_dtype):
            logits = model(x)
        totals[0] += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        totals[1] += (logits.argmax(1) == y).sum()
        totals[2] += len(y)
    totals = distributed.all_reduce_sum(totals, info)
    model.train(was_training)
    count = max(totals[2].item(), 1.0)
    return {"test_loss": totals[0].item() / count, "test_acc": totals[1].item() / count}
