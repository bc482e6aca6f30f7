"""Torch datasets for training and evaluation over any `LabelledImages` source.

A source is a map-style dataset of ``(image, label)`` pairs, where the image is a uint8
``[H, W, 3]`` array or an RGB PIL image, with a ``classes`` tuple: `ipmix.data.CifarArrays`
(CIFAR in memory) and `ImageFolderDataset` (image folders, over an `ipmix.data.folders` index)
are the two.
Training and the robustness suite see sources only, never file layouts.

Training pipeline per sample (as the IPMix/AugMix/PixMix scripts): a crop and flip
(`ipmix.data.transforms`), then the method's augmentation on the PIL image, then a tensor
(float in [0, 1] or uint8). Normalisation lives in the models.

With the JSD loss a sample becomes three images: the preprocessed clean image and two augmented
views of it (`JSDViews`). Randomness is per sample and per epoch (`ipmix.data.seeding`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from ipmix.data.cifar import CifarArrays
from ipmix.data.folders import ImageFolderIndex
from ipmix.data.images import CorruptImageError, load_rgb
from ipmix.data.seeding import derive_seed, reseed, sample_seed
from ipmix.utils.images import check_unit_range, to_rgb


class LabelledImages(Protocol):
    """``(image, label)`` by index, with the class names: the interface of every data source."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, int]: ...

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
    """A PIL image, uint8 HWC array or CHW tensor (uint8, or float in [0, 1], checked) as float
    ``[C, H, W]`` in [0, 1]."""
    if isinstance(image, torch.Tensor):
        tensor = image
        if tensor.dtype == torch.uint8:
            return tensor.float().div_(255)
        check_unit_range(tensor, "training image")
        return tensor.float()
    return to_uint8_tensor(image).float().div_(255)


def to_uint8_tensor(image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A PIL image, uint8 HWC array or uint8 CHW tensor as uint8 ``[C, H, W]``."""
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8:
            raise ValueError(f"expected uint8 image data, got {image.dtype}")
        return image
    array = np.asarray(to_rgb(image) if isinstance(image, Image.Image) else image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 image data, got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class AugmentedImages(Dataset):
    """Training dataset: ``(image, label)`` or, with JSD, ``((clean, view1, view2), label)``.

    `source` is any `LabelledImages` (CIFAR arrays, an image folder). `transforms` run in
    order on each sample (typically a crop and flip, then the method's augmentation,
    optionally wrapped in `JSDViews`); every seedable part is reseeded from
    ``sample_seed(seed, epoch, index)`` before each sample. The epoch comes with the key
    (``dataset[(epoch, index)]``, see `EpochSampler`, which works with persistent workers) or
    from `set_epoch` for plain integer keys. Images come out as float tensors in [0, 1], or
    as uint8 tensors with ``dtype=torch.uint8`` (a quarter of the bytes to move; scale them on
    the device).
    """

    def __init__(self, source: LabelledImages, transforms: Sequence[Any], seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if dtype not in (torch.float32, torch.uint8):
            raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {dtype}")
        self.source = source
        self.transforms = list(transforms)
        self.seed = seed
        self.epoch = 0
        self._convert = to_tensor if dtype == torch.float32 else to_uint8_tensor

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation streams the next iteration uses."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int]:
        """Sample `key` = index (in the epoch of `set_epoch`) or ``(epoch, index)``."""
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        index = int(index)
        seed = sample_seed(self.seed, int(epoch), index)
        for position, transform in enumerate(self.transforms):
            reseed(transform, derive_seed(seed, position))
        item, label = self.source[index]
        for transform in self.transforms:
            item = transform(item)
        if isinstance(item, tuple | list):
            return tuple(self._convert(view) for view in item), int(label)
        return self._convert(item), int(label)


#: The CIFAR-era name of `AugmentedImages` (CIFAR arrays are a `LabelledImages` source).
AugmentedCifar = AugmentedImages


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


class EvalImages(Dataset):
    """``(uint8 [3, H, W] tensor, label)`` of a source, through `transform` when given.

    `transform` maps the source's image to a uint8 tensor (e.g.
    `ipmix.data.transforms.eval_transform`); without one, the image is converted as it is
    (CIFAR arrays are evaluated at their own size).
    """

    def __init__(self, source: LabelledImages, transform: Callable[[Any], Any] | None = None):
        self.source = source
        self.transform = transform

    @property
    def classes(self) -> tuple[str, ...]:
        return self.source.classes

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.source[int(index)]
        if self.transform is not None:
            image = self.transform(image)
        return to_uint8_tensor(image), int(label)


class ImageFolderDataset(Dataset):
    """``(transform(image), label)`` for the images of an `ImageFolderIndex`.

    Images are RGB PIL images (`ipmix.data.images.load_rgb`). `labels` replaces the folder's
    labels, indices into `classes` (e.g. mapped onto a model's classes with
    `ipmix.data.classes.map_classes`; default: the folder's labels and classes). A file that no
    longer decodes raises `CorruptImageError` naming it, or with ``on_error="skip"`` warns
    (once per file) and yields the next decodable image instead.
    """

    def __init__(
        self,
        index: ImageFolderIndex,
        transform: Callable[[Image.Image], Any] | None = None,
        labels: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
        on_error: str = "raise",
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if (labels is None) != (classes is None):
            raise ValueError("labels and classes are given together (labels index the classes)")
        if labels is not None and len(labels) != len(index):
            raise ValueError(f"{len(labels)} labels for {len(index)} images")
        self.index = index
        self.transform = transform
        self.labels = index.labels if labels is None else np.asarray(labels, dtype=np.int64)
        self.classes: tuple[str, ...] = index.classes if classes is None else tuple(classes)
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < len(self.classes):
            raise ValueError(f"labels must lie in [0, {len(self.classes)})")
        self.on_error = on_error
        self._warned: set[int] = set()

    def __len__(self) -> int:
        return len(self.index)

    def load(self, index: int) -> Image.Image:
        """Image `index` as an RGB PIL image (no transform)."""
        return load_rgb(self.index.path(index))

    def _candidates(self, index: int) -> Iterator[int]:
        yield index
        if self.on_error == "skip":
            yield from ((index + step) % len(self) for step in range(1, len(self)))

    def __getitem__(self, index: int) -> tuple[Any, int]:
        index = int(index)
        for candidate in self._candidates(index):
            try:
                image = self.load(candidate)
            except CorruptImageError as error:
                if self.on_error == "raise":
                    raise
                if candidate not in self._warned:
                    self._warned.add(candidate)
                    warnings.warn(f"{error}; using the next image instead", stacklevel=2)
                continue
            label = int(self.labels[candidate])
            return (self.transform(image) if self.transform is not None else image), label
        raise CorruptImageError(f"{self.index.root}: no image of the folder decodes")
