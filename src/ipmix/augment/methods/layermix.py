"""LayerMix (Ahmad et al., arXiv 2501.04861, 2025): one op across up to three layers.

Following the authors' code (ahmadmughees/LayerMix: ``MixerDataset.laddermix`` in ``data.py``,
the ops of ``transforms.py``; their README's ``layermix``), per image, on float tensors:

1. draw ``steps`` uniformly from {0, 1, 2} and one op from the twelve below;
2. ``x1 = op(x)``; with ``steps = 0`` that is the result;
3. blend ``x1`` with ``op(x)`` (the op applied afresh to the original image) and clip to
   [0, 1]; with ``steps = 1`` that is the result;
4. blend the result with the mixing picture, clip, and apply ``op`` once more.

Every application of the op draws its own magnitude. The blend is drawn from the authors'
list ``add, multiply, add, multiply, random pixels, random elements``, i.e. IPMix's four mixing
operations (`ipmix.augment.mixing`) with probabilities 1/3, 1/3, 1/6, 1/6; add and multiply
take PixMix's coefficients at ``beta = blending_ratio`` (3). One mixing picture per sample,
shared by both JSD views as in the authors' dataset; pictures are resized to `picture_scale`
times the image side and randomly cropped (their ``Resize(36), RandomCrop(32)`` on CIFAR,
``Resize(256), RandomCrop(224)`` on ImageNet).

The ops (`LAYERMIX_OPS`) are the authors' ``augs_image + augs_spatial``, torchvision-v2
functional calls on float images with their magnitudes, ``m = magnitude / 10`` of each op's
range, a level uniform between 0.1 and that (a sign for the spatial ops): equalize,
posterize (``int(level)`` bits of 4 m, i.e. 0 or 1 bit at magnitude 3), posterize_increasing
(``4 - int(level)`` bits), solarize (threshold ``level`` of m), solarize_increasing (threshold
drawn between 0.1 and ``(1 - magnitude) / 10``: mostly below 0, an inversion), autocontrast,
grayscale, rotate (degrees of 30 m), shear_x / shear_y (``atan`` of 0.3 m, in degrees),
translate_x / translate_y (pixels of ``int(0.33 side)`` m). They are transcribed as they are,
quirks included; their released ``cifar.py`` defaults to a mixer name its dataset lacks
(``layermix``), ``laddermix`` being the mixer it means.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from ipmix.augment.inputs import ImageTransform, as_image_array, to_float
from ipmix.augment.methods.baselines import MixingPictures
from ipmix.augment.mixing import add, masked, multiply
from ipmix.augment.plan import mixing_coefficients
from ipmix.augment.seeding import ProcessGenerator
from ipmix.mixing_sets.store import PICTURE_SCALE

LayerOp = Callable[[torch.Tensor, float, np.random.Generator], torch.Tensor]


def _level(rng: np.random.Generator, largest: float, magnitude: float, signed: bool) -> float:
    """The authors' ``random_magnitude``: uniform between 0.1 and ``largest * magnitude / 10``
    (Python's ``random.uniform``, either order), negated with probability 1/2 when `signed`."""
    level = 0.1 + (largest * magnitude / 10 - 0.1) * float(rng.random())
    return -level if signed and rng.random() < 0.5 else level


def _affine(image: torch.Tensor, **params: Any) -> torch.Tensor:
    settings = {"angle": 0.0, "translate": [0.0, 0.0], "scale": 1.0, "shear": [0.0, 0.0], **params}
    return F.affine(image, interpolation=InterpolationMode.BILINEAR, **settings)


def _grayscale(image: torch.Tensor) -> torch.Tensor:
    return image if image.shape[0] == 1 else F.rgb_to_grayscale(image, num_output_channels=3)


def _shear(image: torch.Tensor, level: float, axis: int) -> torch.Tensor:
    shear = [0.0, 0.0]
    shear[axis] = math.degrees(math.atan(level))
    return _affine(image, shear=shear)


def _translate(image: torch.Tensor, level: float, axis: int) -> torch.Tensor:
    shift = [0.0, 0.0]
    shift[axis] = level
    return _affine(image, translate=shift)


#: The authors' ``augs_image + augs_spatial``: name -> (image, magnitude, rng) -> image.
LAYERMIX_OPS: dict[str, LayerOp] = {
    "equalize": lambda x, m, rng: F.equalize(x),
    "posterize": lambda x, m, rng: F.posterize(x, int(_level(rng, 4, m, False))),
    "posterize_increasing": lambda x, m, rng: F.posterize(x, 4 - int(_level(rng, 4, m, False))),
    "solarize": lambda x, m, rng: F.solarize(x, _level(rng, 1, m, False)),
    "solarize_increasing": lambda x, m, rng: F.solarize(x, _level(rng, 1, 1 - m, False)),
    "autocontrast": lambda x, m, rng: F.autocontrast(x),
    "grayscale": lambda x, m, rng: _grayscale(x),
    "rotate": lambda x, m, rng: F.rotate(x, _level(rng, 30, m, True),
                                         interpolation=InterpolationMode.BILINEAR),
    "shear_x": lambda x, m, rng: _shear(x, _level(rng, 0.3, m, True), 0),
    "shear_y": lambda x, m, rng: _shear(x, _level(rng, 0.3, m, True), 1),
    "translate_x": lambda x, m, rng: _translate(x, _level(rng, int(x.shape[2] * 0.33), m, True), 0),
    "translate_y": lambda x, m, rng: _translate(x, _level(rng, int(x.shape[1] * 0.33), m, True), 1),
}
#: The authors' blending list (`ipmix.augment.mixing` names), drawn uniformly.
BLENDS: tuple[str, ...] = ("add", "multiply", "add", "multiply", "random_pixels", "random_elements")


def blend(x1: torch.Tensor, x2: torch.Tensor, name: str, ratio: float,
          rng: np.random.Generator) -> torch.Tensor:
    """One of LayerMix's blends of float CHW images (CPU), clipped to [0, 1]: IPMix's mixing
    operations, on the tensors' numpy views."""
    if name in ("add", "multiply"):
        a, b = mixing_coefficients(rng, ratio)
        mixed = (add if name == "add" else multiply)(x1.numpy(), x2.numpy(), a, b)
        return torch.from_numpy(np.ascontiguousarray(mixed, dtype=np.float32))
    channels = x1.shape[0] if name == "random_elements" else 1
    noise = rng.random((channels, *x1.shape[1:]), dtype=np.float32)
    keep = torch.from_numpy(noise < rng.random(dtype=np.float32))
    return masked(x1, x2, keep)


def layermix(image: torch.Tensor, picture: torch.Tensor, magnitude: float, ratio: float,
             rng: np.random.Generator) -> torch.Tensor:
    """LayerMix of float CHW `image` with the float CHW mixing `picture` (module docstring)."""
    steps = int(rng.integers(3))
    op = LAYERMIX_OPS[list(LAYERMIX_OPS)[rng.integers(len(LAYERMIX_OPS))]]
    mixed = op(image, magnitude, rng)
    if steps == 0:
        return mixed
    mixed = blend(mixed, op(image, magnitude, rng), BLENDS[rng.integers(len(BLENDS))], ratio, rng)
    if steps == 1:
        return mixed
    mixed = blend(mixed, picture, BLENDS[rng.integers(len(BLENDS))], ratio, rng)
    return op(mixed, magnitude, rng)


class LayerMix(ImageTransform, MixingPictures):
    """LayerMix for one image at a time (module docstring).

    Takes what `ipmix.augment.inputs` describes (PIL, tensors ``[C, H, W]``, numpy ``[H, W, C]``)
    and returns the same kind; `views(image, n)` gives n augmentations sharing one picture.

    Args:
        mixing_set: the pictures (a `MixingSet`, a folder, a uint8 array, a dataset); None uses
            the built-in generated set.
        magnitude: op magnitude on the 0-10 scale (3). blending_ratio: beta of add/multiply (3).
        picture_scale: pictures are resized to this times the image side, then cropped (9/8 on
            CIFAR, 8/7 on ImageNet).
        seed: seed of the random stream (None: fresh entropy).
    """

    def __init__(self, mixing_set: Any = None, magnitude: float = 3.0, blending_ratio: float = 3.0,
                 picture_scale: float = PICTURE_SCALE, seed: int | None = None) -> None:
        super().__init__()
        if not 0 < magnitude <= 10:
            raise ValueError(f"LayerMix: magnitude must be in (0, 10], got {magnitude!r}")
        if not blending_ratio > 0:
            raise ValueError(f"LayerMix: blending_ratio must be > 0, got {blending_ratio!r}")
        if not picture_scale >= 1:
            raise ValueError(f"LayerMix: picture_scale must be >= 1, got {picture_scale!r}")
        self.magnitude, self.blending_ratio = float(magnitude), float(blending_ratio)
        self.picture_scale = float(picture_scale)
        self._use_mixing_set(mixing_set, "LayerMix")
        self.generator = ProcessGenerator(seed)

    def views(self, inpt: Any, count: int) -> tuple[Any, ...]:
        """`count` LayerMix draws of one image, sharing its mixing picture."""
        array, restore = as_image_array(inpt, "LayerMix")
        rng = self.generator.get()
        picture = torch.from_numpy(self.draw_picture(rng, *array.shape, self.picture_scale)
                                   .transpose(2, 0, 1).copy())
        image = torch.from_numpy(to_float(array).transpose(2, 0, 1).copy())
        return tuple(
            restore(layermix(image, picture, self.magnitude, self.blending_ratio, rng)
                    .permute(1, 2, 0).numpy())
            for _ in range(count)
        )

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self.views(inpt, 1)[0]

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`."""
        self.generator.reseed(seed)

    def extra_repr(self) -> str:
        return (f"magnitude={self.magnitude}, blending_ratio={self.blending_ratio}, "
                f"picture_scale={self.picture_scale:.4g}")


__all__ = ["BLENDS", "LAYERMIX_OPS", "LayerMix", "blend", "layermix"]
