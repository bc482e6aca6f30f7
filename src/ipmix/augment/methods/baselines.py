"""Baselines torchvision lacks: CutOut (DeVries & Taylor 2017) and PixMix (Hendrycks et al. 2022).

Both are torchvision-v2-style transforms with their own seedable random stream (``seed``;
``reseed(seed)`` restarts it, as the training pipeline does per sample). PixMix is built on the
same image ops (`ipmix.augment.ops`), mixing kernels (`ipmix.augment.mixing`), coefficient
sampler (`ipmix.augment.plan`) and mixing sets (`ipmix.mixing_sets.MixingSet`) as IPMix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import PIL.Image
import torch
from torchvision import tv_tensors

from ipmix.augment.inputs import ImageTransform, as_image_array, check_numpy_image
from ipmix.augment.kernels.reference import crop_picture
from ipmix.augment.mixing import add, multiply
from ipmix.augment.ops import AUGMIX_KERNELS, AUGMIX_OPS, random_op
from ipmix.augment.options import as_names, check_op_severity
from ipmix.augment.plan import mixing_coefficients
from ipmix.augment.seeding import ProcessGenerator
from ipmix.mixing_sets.store import PICTURE_SCALE, MixingSet, resized_picture_size
from ipmix.utils.images import check_unit_range

#: Appendix A of the paper: CutOut box side per dataset.
CUTOUT_SIZES: dict[str, int] = {"cifar10": 16, "cifar100": 8}

#: PixMix's (= AugMix's) default image ops, and the four its ``--all-ops`` adds.
PIXMIX_OPS: tuple[str, ...] = AUGMIX_OPS
PIXMIX_ALL_OPS: tuple[str, ...] = PIXMIX_OPS + ("color", "contrast", "brightness", "sharpness")


class CutOut(ImageTransform):
    """Fill one ``size x size`` square per image with a constant (DeVries & Taylor's Cutout).

    As the reference code: the square's centre is uniform over the image and the square is
    clipped at the borders (so it may be partly outside), applied to every image. Takes [0, 1]
    float tensors ``[..., C, H, W]`` (a batch gets one square per image, drawn on the CPU and
    applied on the tensor's device), uint8 tensors, PIL images (RGB or L), or numpy images
    ``[H, W, C]`` / ``[H, W]`` (uint8 or float in [0, 1]), and returns the same kind. Float
    values outside [0, 1] or NaN/inf are an error (`ipmix.utils.images.check_unit_range`).

    Args:
        size: side of the square (16 on CIFAR-10, 8 on CIFAR-100: `CUTOUT_SIZES`).
        fill: value in [0, 1] of the square. 0.5 is the reference's 0 after its mean
            normalisation (here normalisation lives in the model, mean 0.5); uint8 images get
            ``round(255 * fill)``.
        seed: seed of the random stream (None: fresh entropy).
    """

    def __init__(self, size: int = 16, fill: float = 0.5, seed: int | None = None) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"CutOut: size must be an integer >= 1, got {size!r}")
        if not 0.0 <= fill <= 1.0:
            raise ValueError(f"CutOut: fill must be in [0, 1], got {fill!r}")
        self.size, self.fill = int(size), float(fill)
        self.generator = ProcessGenerator(seed)

    def boxes(self, count: int, height: int, width: int) -> np.ndarray:
        """Draw `count` squares as ``[count, 4]`` (top, bottom, left, right), clipped, exclusive."""
        rng = self.generator.get()
        centre_y = rng.integers(0, height, count)
        centre_x = rng.integers(0, width, count)
        top, left = centre_y - self.size // 2, centre_x - self.size // 2
        return np.stack(
            [np.clip(top, 0, height), np.clip(top + self.size, 0, height),
             np.clip(left, 0, width), np.clip(left + self.size, 0, width)], axis=1,
        )

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image | np.ndarray):
            if isinstance(inpt, PIL.Image.Image) and inpt.mode not in ("RGB", "L"):
                raise ValueError(f"CutOut takes RGB or L images, got mode {inpt.mode!r}")
            if isinstance(inpt, np.ndarray):
                check_numpy_image(inpt, "CutOut")
            array = np.array(inpt)
            top, bottom, left, right = self.boxes(1, array.shape[0], array.shape[1])[0]
            array[top:bottom, left:right] = round(255 * self.fill) if array.dtype == np.uint8 else self.fill
            return PIL.Image.fromarray(array) if isinstance(inpt, PIL.Image.Image) else array
        if not isinstance(inpt, torch.Tensor) or inpt.ndim < 3:
            raise ValueError(
                f"CutOut takes PIL images, numpy [H, W, C] arrays or tensors [..., C, H, W], got "
                f"{type(inpt).__name__} {tuple(getattr(inpt, 'shape', ()))}"
            )
        if not inpt.is_floating_point() and inpt.dtype != torch.uint8:
            raise ValueError(f"CutOut takes float (in [0, 1]) or uint8 tensors, got {inpt.dtype}")
        check_unit_range(inpt, "CutOut input")
        height, width = inpt.shape[-2:]
        count = int(np.prod(inpt.shape[:-3], dtype=np.int64))
        boxes = torch.from_numpy(self.boxes(count, height, width)).to(inpt.device)
        rows = torch.arange(height, device=inpt.device)
        cols = torch.arange(width, device=inpt.device)
        inside_rows = (rows >= boxes[:, 0:1]) & (rows < boxes[:, 1:2])  # [count, H]
        inside_cols = (cols >= boxes[:, 2:3]) & (cols < boxes[:, 3:4])  # [count, W]
        mask = (inside_rows[:, :, None] & inside_cols[:, None, :]).view(
            *inpt.shape[:-3], 1, height, width
        )
        fill = self.fill if inpt.is_floating_point() else round(255 * self.fill)
        out = inpt.masked_fill(mask, fill)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.Image) else out

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`."""
        self.generator.reseed(seed)

    def extra_repr(self) -> str:
        return f"size={self.size}, fill={self.fill}"


class MixingPictures:
    """A transform's mixing set, loaded on first use (the built-in generated set when none was
    given), and the per-sample picture crop PixMix and LayerMix mix with."""

    _mixing_set: MixingSet | None

    def _use_mixing_set(self, mixing_set: Any, what: str) -> None:
        self._mixing_set = MixingSet.from_source(mixing_set) if mixing_set is not None else None
        if self._mixing_set is not None and len(self._mixing_set) == 0:
            raise ValueError(f"{what}: the mixing set is empty")

    @property
    def mixing_set(self) -> MixingSet:
        """The mixing set (the built-in generated set when none was given)."""
        if self._mixing_set is None:
            from ipmix.mixing_sets import default_mixing_set

            self._mixing_set = default_mixing_set()
        return self._mixing_set

    def draw_picture(self, rng: np.random.Generator, height: int, width: int, channels: int,
                     scale: float = PICTURE_SCALE) -> np.ndarray:
        """A random picture, resized to `scale` times the image side and randomly cropped to
        ``height x width`` (the authors' ``Resize(36), RandomCrop(32)`` on CIFAR): float HWC."""
        side = resized_picture_size(max(height, width), scale)
        index = int(rng.integers(len(self.mixing_set)))
        offset = np.array([rng.integers(0, side - height + 1), rng.integers(0, side - width + 1)])
        return crop_picture(self.mixing_set.picture(index, side), offset, height, width,
                            gray=channels == 1)


class PixMix(ImageTransform, MixingPictures):
    """PixMix (Hendrycks et al., CVPR 2022) for one image at a time; PIL in, PIL out.

    Following the PixMix authors' CIFAR code: start from x or from a random image op applied
    to x (probability 0.5 each); then ``randint(k + 1)`` times (0..k rounds) mix in either a
    fresh random op applied to the original x or the mixing picture (probability 0.5 each),
    with add or multiply (probability 0.5 each) at coefficients drawn with `beta`, clipping
    to [0, 1] after every round. One mixing picture per call, resized to 9/8 of the image
    size and randomly cropped back (``Resize(36), RandomCrop(32)`` on CIFAR).

    Defaults are the PixMix code's (k = 4, beta = 3, op severity 3); the IPMix paper's
    Appendix A writes k = 3, beta = 4 (see docs/models.md). ``all_ops=True`` (the PixMix
    authors' recommended ``--all-ops``) adds color, contrast, brightness and sharpness to
    AugMix's nine ops.

    Accepts PIL images (RGB or L), uint8 or [0, 1] float tensors ``[C, H, W]``,
    `tv_tensors.Image` and numpy ``[H, W, C]`` arrays, and returns the same kind
    (`ipmix.augment.inputs`; floats outside [0, 1] are an error).

    Args:
        mixing_set: the pictures to mix with (a `MixingSet`, a folder, a uint8 ``[N, H, W, C]``
            array or a dataset); None uses the built-in generated set, as IPMix.
        k: maximum number of mixing rounds. beta: severity of the mixing coefficients.
        severity: image-op levels are drawn uniformly in [0.1, severity].
        all_ops: use `PIXMIX_ALL_OPS` instead of `PIXMIX_OPS`. ops: explicit op names.
        seed: seed of the random stream (None: fresh entropy).
    """

    def __init__(
        self,
        mixing_set: Any = None,
        k: int = 4,
        beta: float = 3.0,
        severity: float = 3.0,
        all_ops: bool = True,
        ops: tuple[str, ...] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"PixMix: k must be an integer >= 0, got {k!r}")
        if not beta > 0:
            raise ValueError(f"PixMix: beta must be > 0, got {beta!r}")
        check_op_severity(severity, "PixMix: severity")
        names = as_names(ops) if ops is not None else (PIXMIX_ALL_OPS if all_ops else PIXMIX_OPS)
        unknown = [name for name in names if name not in AUGMIX_KERNELS]
        if unknown or not names:
            raise ValueError(
                f"PixMix: ops must be a non-empty list of {', '.join(AUGMIX_KERNELS)}; got {list(names)}"
            )
        self.k, self.beta, self.severity, self.ops = int(k), float(beta), float(severity), names
        self._kernels = [AUGMIX_KERNELS[name] for name in names]
        self._use_mixing_set(mixing_set, "PixMix")
        self.generator = ProcessGenerator(seed)

    def _augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random op at a random level (and direction) on uint8 HWC `image`, as float."""
        return random_op(image, self._kernels, self.severity, rng).astype(np.float32) * (1 / 255)

    def mix(self, image: np.ndarray, picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """PixMix of uint8 HWC `image` with float HWC `picture` (same size); float HWC result."""
        if rng.random() < 0.5:
            mixed = self._augment(image, rng)
        else:
            mixed = image.astype(np.float32) * (1 / 255)
        for _ in range(rng.integers(0, self.k + 1)):
            other = self._augment(image, rng) if rng.random() < 0.5 else picture
            mixing = add if rng.random() < 0.5 else multiply
            a, b = mixing_coefficients(rng, self.beta)
            mixed = np.clip(mixing(mixed, other, a, b), 0, 1).astype(np.float32)
        return mixed

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        array, restore = as_image_array(inpt, "PixMix")
        rng = self.generator.get()
        return restore(self.mix(array, self.draw_picture(rng, *array.shape), rng))

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`."""
        self.generator.reseed(seed)

    def extra_repr(self) -> str:
        return f"k={self.k}, beta={self.beta}, severity={self.severity}, ops={len(self.ops)}"


__all__ = ["CUTOUT_SIZES", "PIXMIX_ALL_OPS", "PIXMIX_OPS", "CutOut", "MixingPictures", "PixMix"]
