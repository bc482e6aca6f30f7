"""Torch datasets over CIFAR arrays: the authors' preprocessing, augmentation and JSD views.

Training pipeline per sample (as the IPMix/AugMix/PixMix CIFAR scripts): random crop 32 with
4-pixel zero padding, horizontal flip, then the method's augmentation on the PIL image, then
conversion to a float tensor in [0, 1]. Normalisation (mean = std = 0.5) lives in the models.

With the JSD loss a sample becomes three images: the preprocessed clean image and two augmented
views of it (`JSDViews`). Randomness is per sample and per epoch (`ipmix.data.seeding`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from ipmix.data.cifar import CifarArrays
from ipmix.data.seeding import derive_seed, reseed, sample_seed

#: The authors' CIFAR preprocessing: RandomCrop(32, padding=4) and RandomHorizontalFlip().
CROP_PADDING = 4


class RandomCropFlip:
    """Random crop back to the input size after zero padding, then a horizontal flip (p = 0.5).

    Takes a PIL image or a uint8 ``[H, W, 3]`` array and returns a PIL image. Draws from its own
    numpy Generator (``reseed`` restarts it).
    """

    def __init__(self, padding: int = CROP_PADDING, flip: bool = True, seed: int = 0) -> None:
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding = padding
        self.flip = flip
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: Image.Image | np.ndarray) -> Image.Image:
        array = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else image
        if array.dtype != np.uint8 or array.ndim != 3:
            raise ValueError(f"expected a uint8 [H, W, C] image, got {array.dtype} {array.shape}")
        height, width = array.shape[:2]
        pad = self.padding
        if pad:
            padded = np.zeros((height + 2 * pad, width + 2 * pad, array.shape[2]), np.uint8)
            padded[pad : pad + height, pad : pad + width] = array
            top, left = self.rng.integers(0, 2 * pad + 1, size=2)
            array = padded[top : top + height, left : left + width]
        if self.flip and self.rng.random() < 0.5:
            array = array[:, ::-1]
        return Image.fromarray(np.ascontiguousarray(array))

    def __repr__(self) -> str:
        return f"RandomCropFlip(padding={self.padding}, flip={self.flip})"


class JSDViews:
    """Clean image plus two augmented views, for the JSD consistency loss.

    Uses ``augment.views(image, 2)`` when the transform offers it (IPMix: both views share one
    mixing picture, as in the authors' code), else two independent calls (AugMix, PixMix).
    """

    def __init__(self, augment: Callable[[Image.Image], Image.Image], count: int = 2) -> None:
        if count < 1:
            raise ValueError(f"JSD needs at least one augmented view, got {count}")
        self.augment = augment
        self.count = count
        self.transforms = [augment]  # walked by ipmix.data.seeding.reseed

    def __call__(self, image: Image.Image) -> tuple[Image.Image, ...]:
        views = getattr(self.augment, "views", None)
        augmented = (
            list(views(image, self.count))
            if callable(views)
            else [self.augment(image) for _ in range(self.count)]
        )
        return (image, *augmented)

    def __repr__(self) -> str:
        return f"JSDViews({self.augment!r}, count={self.count})"


def to_tensor(image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A PIL image, uint8 HWC array or uint8 CHW tensor as float ``[C, H, W]`` in [0, 1]."""
    if isinstance(image, torch.Tensor):
        tensor = image
        if tensor.dtype == torch.uint8:
            return tensor.float().div_(255)
        return tensor.float()
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 image data, got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).float().div_(255)


class AugmentedCifar(Dataset):
    """Training dataset: ``(image, label)`` or, with JSD, ``((clean, view1, view2), label)``.

    `transforms` run in order on each sample (typically `RandomCropFlip`, then the method's
    augmentation, optionally wrapped in `JSDViews`); every seedable part is reseeded from
    ``sample_seed(seed, epoch, index)`` before each sample. The epoch comes with the key
    (``dataset[(epoch, index)]``, see `EpochSampler`, which works with persistent workers) or
    from `set_epoch` for plain integer keys.
    """

    def __init__(self, arrays: CifarArrays, transforms: Sequence[Any], seed: int = 0) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.arrays = arrays
        self.transforms = list(transforms)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation streams the next iteration uses."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int]:
        """Sample `key` = index (in the epoch of `set_epoch`) or ``(epoch, index)``."""
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        index = int(index)
        seed = sample_seed(self.seed, int(epoch), index)
        for position, transform in enumerate(self.transforms):
            reseed(transform, derive_seed(seed, position))
        item: Any = self.arrays.images[index]
        for transform in self.transforms:
            item = transform(item)
        if isinstance(item, tuple | list):
            return tuple(to_tensor(view) for view in item), int(self.arrays.labels[index])
        return to_tensor(item), int(self.arrays.labels[index])


class EpochSampler(Sampler):
    """Yield ``(epoch, index)`` keys from an index sampler, so workers learn the epoch per sample.

    Wraps e.g. a `DistributedSampler`; `set_epoch` is forwarded to it. Because the epoch
    travels with each key, DataLoader workers can persist across epochs.
    """

    def __init__(self, sampler: Sampler[int]) -> None:
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        set_inner = getattr(self.sampler, "set_epoch", None)
        if callable(set_inner):
            set_inner(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        return ((epoch, int(index)) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)  # type: ignore[arg-type]


def eval_tensors(arrays: CifarArrays) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean evaluation data: uint8 ``[N, 3, H, W]`` images (scale on the device) and labels."""
    images = torch.from_numpy(np.ascontiguousarray(arrays.images.transpose(0, 3, 1, 2)))
    return images, torch.from_numpy(arrays.labels.astype(np.int64))
