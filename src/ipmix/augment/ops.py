"""Image-level operations of IPMix, with AugMix-style magnitudes.

Kernels work on uint8 ``H x W x C`` arrays (C = 1 or 3). Lookup-table ops (equalize,
posterize, solarize, invert) and mirror are numpy and give PIL's exact results; geometric and
enhance ops go through PIL (bilinear resampling, black fill, as AugMix and the authors).
Each op takes an image, a level in ``[0.1, severity]`` and a sign (+1/-1). The level is
mapped to the op's magnitude exactly as AugMix and the authors' code do
(``int(level * maxval / 10)`` or ``level * maxval / 10``); the sign flips the direction of
geometric ops. Sampling the level and sign is the plan sampler's job (`ipmix.augment.plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

#: The ops of Algorithm 1 and of the authors' code (disjoint from the CIFAR-C corruptions).
IMAGE_OPS: tuple[str, ...] = (
    "equalize",
    "posterize",
    "rotate",
    "solarize",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "mirror",
    "invert",
)

#: Ops that overlap the test corruptions; added by ``all_ops=True``.
CORRUPTION_LIKE_OPS: tuple[str, ...] = ("autocontrast", "color", "contrast", "brightness", "sharpness")

#: Every op, in a fixed order: plans refer to ops by their index in this tuple.
ALL_OPS: tuple[str, ...] = IMAGE_OPS + CORRUPTION_LIKE_OPS


Kernel = Callable[[np.ndarray, float, int], np.ndarray]


def int_magnitude(level: float, maxval: float) -> int:
    """AugMix's ``int_parameter``: scale a level in [0, 10] to an int in [0, maxval]."""
    return int(level * maxval / 10)


def float_magnitude(level: float, maxval: float) -> float:
    """AugMix's ``float_parameter``: scale a level in [0, 10] to a float in [0, maxval]."""
    return float(level) * maxval / 10


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def _array(image: Image.Image) -> np.ndarray:
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array


def _affine(image: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    pil = _pil(image)
    return _array(pil.transform(pil.size, Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR))


def _lut(image: np.ndarray, table: np.ndarray) -> np.ndarray:
    return table.astype(np.uint8)[image]


_IDENTITY = np.arange(256)


def autocontrast(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    """The IPMix authors' autocontrast: `level` sets the cutoff (10 - level percent)."""
    return _array(ImageOps.autocontrast(_pil(image), cutoff=10 - float_magnitude(level, 10)))


def autocontrast_no_cutoff(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    """AugMix's and PixMix's autocontrast: no cutoff, `level` unused."""
    return _array(ImageOps.autocontrast(_pil(image)))


def equalize(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    """Histogram equalisation per channel, the same lookup table as PIL's `ImageOps.equalize`."""
    out = np.empty_like(image)
    for c in range(image.shape[2]):
        channel = image[:, :, c]
        histogram = np.bincount(channel.ravel(), minlength=256)
        used = histogram[histogram > 0]
        step = (used.sum() - used[-1]) // 255 if len(used) > 1 else 0
        if step == 0:
            out[:, :, c] = channel
            continue
        below = np.concatenate(([0], np.cumsum(histogram)[:-1]))
        out[:, :, c] = _lut(channel, np.minimum((step // 2 + below) // step, 255))
    return out


def posterize(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    bits = 4 - int_magnitude(level, 4)
    return image & np.uint8(~(2 ** (8 - bits) - 1) & 0xFF)


def rotate(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    degrees = sign * int_magnitude(level, 30)
    return _array(_pil(image).rotate(degrees, resample=Image.Resampling.BILINEAR))


def solarize(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    threshold = 256 - int_magnitude(level, 256)
    return _lut(image, np.where(threshold > _IDENTITY, _IDENTITY, 255 - _IDENTITY))


def shear_x(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    return _affine(image, (1, sign * float_magnitude(level, 0.3), 0, 0, 1, 0))


def shear_y(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    return _affine(image, (1, 0, 0, sign * float_magnitude(level, 0.3), 1, 0))


def translate_x(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    return _affine(image, (1, 0, sign * int_magnitude(level, image.shape[1] / 3), 0, 1, 0))


def translate_y(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    return _affine(image, (1, 0, 0, 0, 1, sign * int_magnitude(level, image.shape[0] / 3)))


def mirror(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    return image[:, ::-1]


def invert(image: np.ndarray, level: float, sign: int) -> np.ndarray:
    return 255 - image


def _enhance(enhancer: type) -> Kernel:
    def op(image: np.ndarray, level: float, sign: int) -> np.ndarray:
        return _array(enhancer(_pil(image)).enhance(float_magnitude(level, 1.8) + 0.1))

    return op


color = _enhance(ImageEnhance.Color)
contrast = _enhance(ImageEnhance.Contrast)
brightness = _enhance(ImageEnhance.Brightness)
sharpness = _enhance(ImageEnhance.Sharpness)

OP_KERNELS: dict[str, Kernel] = {name: globals()[name] for name in ALL_OPS}

#: AugMix's ops (google-research/augmix ``augmentations.py``), also PixMix's and AugMax's.
AUGMIX_OPS: tuple[str, ...] = (
    "autocontrast", "equalize", "posterize", "rotate", "solarize",
    "shear_x", "shear_y", "translate_x", "translate_y",
)
#: AugMix's kernels: its autocontrast has no cutoff (the IPMix authors' has a level-set one).
AUGMIX_KERNELS: dict[str, Kernel] = {**OP_KERNELS, "autocontrast": autocontrast_no_cutoff}


def random_op(image: np.ndarray, kernels: list[Kernel] | tuple[Kernel, ...], severity: float,
              rng: np.random.Generator) -> np.ndarray:
    """AugMix's draw on uint8 HWC `image`: one of `kernels` at a level uniform in
    [0.1, `severity`], its direction flipped with probability 1/2."""
    kernel = kernels[rng.integers(len(kernels))]
    level = rng.uniform(0.1, severity)
    sign = -1 if rng.random() < 0.5 else 1
    return kernel(image, level, sign)


def apply_op(image: Image.Image | np.ndarray, name: str, level: float, sign: int = 1) -> Any:
    """Apply the image op `name` at `level` (AugMix scale, usually in [0.1, severity]).

    `image` is a PIL image (RGB or L) or a uint8 ``H x W x C`` array; the result is the same kind.
    """
    try:
        kernel = OP_KERNELS[name]
    except KeyError:
        raise ValueError(f"unknown image op {name!r}; known ops: {', '.join(ALL_OPS)}") from None
    if isinstance(image, Image.Image):
        return _pil(np.ascontiguousarray(kernel(_array(image), level, sign)))
    return kernel(image, level, sign)


def resolve_ops(ops: tuple[str, ...] | list[str] | None, all_ops: bool) -> tuple[str, ...]:
    """Validate an op list (None means the default list, plus the corruption-like ops if `all_ops`)."""
    if ops is None:
        return ALL_OPS if all_ops else IMAGE_OPS
    ops = tuple(ops)
    unknown = [name for name in ops if name not in OP_KERNELS]
    if unknown:
        raise ValueError(f"unknown image op(s) {unknown}; known ops: {', '.join(ALL_OPS)}")
    if not ops:
        raise ValueError("the image-op list is empty")
    return ops
