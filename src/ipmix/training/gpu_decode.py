"""``--decode cuda``: JPEG decoding, crop and flip on the GPU, for loaders that starve it.

Loader workers read each file's bytes and draw its crop window and flip from the file header
alone (`EncodedCrops`); the training step decodes the whole batch at once with
``torchvision.io.decode_jpeg(..., device=cuda)`` and crops, resizes (antialiased bilinear)
and flips on the device (`decode_batch`). The random draws are those of the CPU pipeline
(`ipmix.data.transforms.RandomResizedCropFlip`: window, then flip), so both pipelines see the
same crops; the pixels differ by the decoders' and resamplers' rounding only (on the test
pictures, decoded on the CPU: under 0.1 grey levels of mean absolute difference). Files the GPU decoder
cannot take (PNG and other formats, CMYK JPEGs) are decoded and cropped by the worker with PIL
as usual and travel as finished crops.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms.v2 import functional as F

from ipmix.data.datasets import to_uint8_tensor
from ipmix.data.images import CorruptImageError
from ipmix.data.seeding import derive_seed, reseed, sample_seed
from ipmix.data.transforms import RandomResizedCropFlip


@dataclass
class EncodedBatch:
    """A batch whose JPEGs are still encoded: `encoded[i]` for the positions in `jpeg_at`."""

    encoded: list[torch.Tensor]  # uint8 [bytes] each
    windows: torch.Tensor  # int64 [len(encoded), 4]: top, left, height, width
    flips: torch.Tensor  # bool [len(encoded)]
    jpeg_at: list[int]  # batch positions of the encoded images
    decoded: dict[int, torch.Tensor]  # batch position -> finished uint8 [3, S, S] crop
    size: int

    def __len__(self) -> int:
        return len(self.jpeg_at) + len(self.decoded)


class EncodedCrops(Dataset):
    """Training samples as JPEG bytes plus their crop, from an image-folder source.

    Keys are ``(epoch, index)`` or indices (see `ipmix.data.AugmentedImages`); the crop is
    reseeded from the same per-sample seed, so the windows equal the CPU pipeline's.
    """

    def __init__(self, source: Any, crop: RandomResizedCropFlip, seed: int = 0) -> None:
        if not isinstance(crop, RandomResizedCropFlip):
            raise ValueError("--decode cuda supports the random-resized training crop only")
        if not hasattr(source, "index"):
            raise ValueError("--decode cuda reads image folders, not in-memory arrays")
        self.source, self.crop, self.seed, self.epoch = source, crop, seed, 0

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int]:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        index = int(index)
        reseed(self.crop, derive_seed(sample_seed(self.seed, int(epoch), index), 0))
        path = self.source.index.path(index)
        label = int(self.source.labels[index])
        try:
            with Image.open(path) as image:
                kind, mode, (width, height) = image.format, image.mode, image.size
        except OSError:
            kind = mode = None
        if kind == "JPEG" and mode in ("RGB", "L"):
            window = self.crop.window(height, width)
            flip = self.crop.flip and self.crop.rng.random() < 0.5
            data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
            return ("jpeg", data, window, flip), label
        image, label = self.source[index]  # PIL decoding (skips files that broke, if asked)
        return ("decoded", to_uint8_tensor(self.crop(image))), label

    def collate(self, items: list[tuple[Any, int]]) -> tuple[EncodedBatch, torch.Tensor]:
        """Batch samples without decoding them (the loader's ``collate_fn``)."""
        encoded, windows, flips, jpeg_at, decoded = [], [], [], [], {}
        for position, (item, _) in enumerate(items):
            if item[0] == "jpeg":
                encoded.append(item[1])
                windows.append(item[2])
                flips.append(item[3])
                jpeg_at.append(position)
            else:
                decoded[position] = item[1]
        batch = EncodedBatch(
            encoded, torch.tensor(windows, dtype=torch.int64).reshape(-1, 4),
            torch.tensor(flips, dtype=torch.bool), jpeg_at, decoded, self.crop.size,
        )
        return batch, torch.tensor([label for _, label in items], dtype=torch.int64)


def decode_batch(batch: EncodedBatch, size: int, device: torch.device) -> torch.Tensor:
    """The uint8 ``[B, 3, size, size]`` crops of `batch`, decoded and resized on `device`."""
    out = torch.empty((len(batch), 3, size, size), dtype=torch.uint8, device=device)
    if batch.encoded:
        try:
            with warnings.catch_warnings():  # torchvision 0.29 points to TorchCodec; still works
                warnings.simplefilter("ignore", DeprecationWarning)
                images = decode_jpeg(batch.encoded, mode=ImageReadMode.RGB, device=device)
        except RuntimeError as error:
            raise CorruptImageError(f"a JPEG of this batch does not decode on {device}: {error}") from error
        for image, window, flip, position in zip(images, batch.windows.tolist(), batch.flips.tolist(),
                                                 batch.jpeg_at, strict=True):
            top, left, height, width = window
            crop = F.resized_crop(image, top, left, height, width, [size, size], antialias=True)
            out[position] = crop.flip(-1) if flip else crop
    for position, crop in batch.decoded.items():
        out[position] = crop.to(device, non_blocking=True)
    return out
