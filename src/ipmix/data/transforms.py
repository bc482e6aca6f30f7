"""Crops and flips for training, and the evaluation transform, at any resolution.

Training crops take a PIL image or a uint8 ``[H, W, 3]`` array, return a PIL image, and draw
from their own numpy Generator (``reseed`` restarts it, as the per-sample seeding of
`ipmix.data.seeding` does):

- `RandomCropFlip`: zero padding, a random crop, a horizontal flip. At the image's own size
  (``size=None``) this is the authors' CIFAR preprocessing, ``RandomCrop(32, padding=4)``;
  with a `size`, the shorter side is first resized to it: the paper's literal ImageNet wording
  ("randomly crop training images to 224x224 resolution with zero padding", Appendix A.2).
- `RandomResizedCropFlip`: torchvision's ``RandomResizedCrop(size)`` (scale 0.08-1, aspect
  3/4-4/3) and a flip, the field's standard and what the authors' ``imagenet.py`` runs; the
  paper's ImageNet numbers most likely used it.

`eval_transform(size)`: ``Resize(round(size * 256 / 224))`` + ``CenterCrop(size)`` (torchvision's
classification references) to a uint8 ``[3, size, size]`` tensor.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from ipmix.data.resize import eval_resize, resize_shorter
from ipmix.utils.images import to_rgb

#: The authors' CIFAR preprocessing: RandomCrop(32, padding=4) and RandomHorizontalFlip().
CROP_PADDING = 4
#: torchvision's RandomResizedCrop defaults (torchvision/transforms/v2/_geometry.py).
RRC_SCALE = (0.08, 1.0)
RRC_RATIO = (3 / 4, 4 / 3)

TrainCrop = Literal["random-resized", "pad"]
TRAIN_CROPS: tuple[str, ...] = ("random-resized", "pad")


def _as_pil(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, Image.Image):
        return to_rgb(image)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3:
        raise ValueError(f"expected a uint8 [H, W, C] image, got {array.dtype} {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array))


class RandomCropFlip:
    """Random crop after zero padding, then a horizontal flip (p = 0.5).

    ``size=None``: crop back to the input size (CIFAR: ``RandomCrop(32, padding=4)``). With a
    `size`, the shorter side is resized to `size` first and a ``size x size`` window of the
    padded image is cropped.
    """

    def __init__(self, padding: int = CROP_PADDING, flip: bool = True, seed: int = 0,
                 size: int | None = None) -> None:
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        if size is not None and size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.padding = padding
        self.flip = flip
        self.size = size
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: Image.Image | np.ndarray) -> Image.Image:
        if self.size is not None:
            image = resize_shorter(_as_pil(image), self.size)
        array = np.asarray(to_rgb(image)) if isinstance(image, Image.Image) else image
        if array.dtype != np.uint8 or array.ndim != 3:
            raise ValueError(f"expected a uint8 [H, W, C] image, got {array.dtype} {array.shape}")
        height, width = array.shape[:2]
        pad = self.padding
        out_h, out_w = (height, width) if self.size is None else (self.size, self.size)
        if pad or (out_h, out_w) != (height, width):
            padded = np.zeros((height + 2 * pad, width + 2 * pad, array.shape[2]), np.uint8)
            padded[pad : pad + height, pad : pad + width] = array
            if self.size is None:
                top, left = self.rng.integers(0, 2 * pad + 1, size=2)
            else:
                top = self.rng.integers(0, height + 2 * pad - out_h + 1)
                left = self.rng.integers(0, width + 2 * pad - out_w + 1)
            array = padded[top : top + out_h, left : left + out_w]
        if self.flip and self.rng.random() < 0.5:
            array = array[:, ::-1]
        return Image.fromarray(np.ascontiguousarray(array))

    def __repr__(self) -> str:
        size = "" if self.size is None else f"size={self.size}, "
        return f"RandomCropFlip({size}padding={self.padding}, flip={self.flip})"


class RandomResizedCropFlip:
    """torchvision's ``RandomResizedCrop(size)`` then a horizontal flip (p = 0.5), seedable.

    The window is drawn as torchvision draws it (up to 10 tries of an area share in `scale`
    and a log-uniform aspect ratio in `ratio`, then the centred largest window of an allowed
    aspect ratio) and resized with Pillow's antialiased bilinear filter.
    """

    def __init__(self, size: int, scale: tuple[float, float] = RRC_SCALE,
                 ratio: tuple[float, float] = RRC_RATIO, flip: bool = True, seed: int = 0) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"need 0 < scale <= 1 and 0 < ratio, ordered; got {scale}, {ratio}")
        self.size, self.scale, self.ratio, self.flip = size, scale, ratio, flip
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def window(self, height: int, width: int) -> tuple[int, int, int, int]:
        """A crop window ``(top, left, height, width)`` of an ``height x width`` image."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * self.rng.uniform(*self.scale)
            aspect = math.exp(self.rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(self.rng.integers(0, height - h + 1))
                left = int(self.rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, image: Image.Image | np.ndarray) -> Image.Image:
        image = _as_pil(image)
        top, left, h, w = self.window(image.height, image.width)
        out = image.resize((self.size, self.size), Image.Resampling.BILINEAR,
                           box=(left, top, left + w, top + h))
        if self.flip and self.rng.random() < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return out

    def __repr__(self) -> str:
        return f"RandomResizedCropFlip(size={self.size}, scale={self.scale}, flip={self.flip})"


def train_crop(size: int, kind: TrainCrop = "random-resized") -> RandomResizedCropFlip | RandomCropFlip:
    """The training crop + flip at `size`: ``random-resized`` (default) or the paper's ``pad``.

    ``pad`` uses a padding of size / 8 (4 px at 32 px, 28 px at 224 px), the CIFAR ratio.
    """
    if kind == "random-resized":
        return RandomResizedCropFlip(size)
    if kind == "pad":
        return RandomCropFlip(padding=max(1, size // 8), size=size)
    raise ValueError(f"train crop must be one of {', '.join(TRAIN_CROPS)}, got {kind!r}")


def eval_transform(size: int, dtype: torch.dtype = torch.uint8) -> v2.Compose:
    """``Resize(round(size * 256 / 224))``, ``CenterCrop(size)``, to a ``[3, size, size]`` tensor.

    `dtype`: uint8 (default; scale on the device) or a float dtype (values in [0, 1]).
    """
    steps: list[v2.Transform] = [
        v2.Resize(eval_resize(size), antialias=True), v2.CenterCrop(size), v2.PILToTensor(),
    ]
    if dtype != torch.uint8:
        steps.append(v2.ToDtype(dtype, scale=True))
    return v2.Compose(steps)
