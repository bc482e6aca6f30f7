"""`IPMixCollate`: a DataLoader collate step that augments whole CPU batches with `IPMixBatch`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ipmix.augment.batched import IPMixBatch


def _stack_uint8(items: Sequence[Any]) -> torch.Tensor:
    """Stack PIL images, uint8 HWC arrays or uint8 CHW tensors into a uint8 ``[B, C, H, W]`` batch."""
    tensors = []
    for item in items:
        if isinstance(item, Image.Image):
            array = np.asarray(item)
            item = torch.from_numpy(array[:, :, None] if array.ndim == 2 else array.copy()).permute(2, 0, 1)
        elif isinstance(item, np.ndarray):
            if item.dtype != np.uint8 or item.ndim != 3:
                raise ValueError(f"expected uint8 [H, W, C] arrays, got {item.dtype} {item.shape}")
            item = torch.from_numpy(np.ascontiguousarray(item)).permute(2, 0, 1)
        elif not (isinstance(item, torch.Tensor) and item.dtype == torch.uint8 and item.ndim == 3):
            raise ValueError(
                f"expected PIL images, uint8 HWC arrays or uint8 CHW tensors, got {type(item).__name__}"
            )
        tensors.append(item)
    return torch.stack(tensors).contiguous()


class IPMixCollate:
    """A DataLoader `collate_fn` that augments a whole batch with `IPMixBatch` (CPU training).

    Takes ``(image, label)`` items (PIL, uint8 HWC array or uint8 CHW tensor) and returns float
    ``[B, C, H, W]`` batches in [0, 1] and int64 labels; with ``clean=True`` or ``augment.views > 1``
    the images are a tuple ``(clean?, view1, ...)``, the layout `ipmix.data` uses for JSD. Inside
    DataLoader workers the transform's stream is re-derived per worker (`ProcessGenerator`).
    """

    def __init__(self, augment: IPMixBatch, clean: bool = False) -> None:
        self.augment = augment
        self.clean = clean

    def __call__(self, items: Sequence[tuple[Any, int]]) -> tuple[Any, torch.Tensor]:
        images = _stack_uint8([item[0] for item in items])
        labels = torch.as_tensor([int(item[1]) for item in items], dtype=torch.int64)
        with torch.no_grad():
            out = self.augment(images)
        views = list(out) if isinstance(out, tuple) else [out]
        views = [view.float().div_(255) for view in views]
        if self.clean:
            views.insert(0, images.float().div_(255))
        return (tuple(views) if len(views) > 1 else views[0]), labels
