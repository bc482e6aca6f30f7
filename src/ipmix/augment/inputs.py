"""What the per-image transforms (IPMix, PixMix, CutOut) take, and how a sample is read.

Images: PIL images (RGB or L), tensors ``[C, H, W]`` (torchvision's layout), `tv_tensors.Image`,
and numpy arrays ``[H, W, C]`` or ``[H, W]`` (numpy's and PIL's layout), C = 1 or 3, uint8 or
float in [0, 1] (checked with `ipmix.utils.images.check_unit_range`, never clamped). Each
comes back as the same kind, dtype and shape.

Samples (`ImageTransform`): as in torchvision v2, a sample may be a tuple, list or dict holding
an image among other things (labels, boxes). Explicit images (PIL, `tv_tensors.Image`) are
transformed; without one, the first plain tensor or numpy array is the image. torchvision
passes unknown types through unchanged; here a sample that holds nothing to transform is an
error, so a numpy image or a wrong sample never comes back silently untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2._utils import has_any, is_pure_tensor

from ipmix.utils.images import check_unit_range


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 to float32 in [0, 1]."""
    return image.astype(np.float32) * (1 / 255)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float in [0, 1] to uint8, rounding to the nearest level."""
    return (image * 255 + 0.5).astype(np.uint8)


class ImageTransform(Transform):
    """A torchvision-v2 transform of one image per sample that refuses samples without one.

    Which input of a sample is its image is decided here (the module docstring's rule), in place
    of torchvision's `_transformed_types` filter, which passes numpy arrays through.
    """

    def _needs_transform_list(self, flat_inputs: list[Any]) -> list[bool]:
        if has_any(flat_inputs, PIL.Image.Image, tv_tensors.Image):
            needs = [isinstance(x, PIL.Image.Image | tv_tensors.Image) for x in flat_inputs]
        else:  # torchvision's rule for plain tensors, extended to numpy arrays
            first = next(
                (i for i, x in enumerate(flat_inputs) if is_pure_tensor(x) or isinstance(x, np.ndarray)),
                None,
            )
            needs = [i == first for i in range(len(flat_inputs))]
        if not any(needs):
            kinds = ", ".join(sorted({type(x).__name__ for x in flat_inputs})) or "nothing"
            raise TypeError(
                f"{type(self).__name__}: the sample holds no image it can act on (a PIL image, a "
                f"tensor [C, H, W], a tv_tensors.Image or a numpy [H, W, C] array); got {kinds}"
            )
        return needs


def as_image_array(image: Any, what: str = "IPMix") -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """An input as a uint8 HWC array, and a function mapping float HWC results back to its kind."""
    if isinstance(image, PIL.Image.Image):
        if image.mode not in ("RGB", "L"):
            raise ValueError(
                f"{what} takes RGB or grayscale (L) images, got mode {image.mode!r}; "
                "convert first with ipmix.utils.images.to_rgb(image) (image.convert('RGB') turns "
                "16-bit images white)"
            )
        array = np.asarray(image)
        array = array[:, :, None] if array.ndim == 2 else array
        squeeze = image.mode == "L"
        return array, lambda out: PIL.Image.fromarray(to_uint8(out)[:, :, 0] if squeeze else to_uint8(out))
    if isinstance(image, torch.Tensor):
        return _tensor_image(image, what)
    if isinstance(image, np.ndarray):
        return _numpy_image(image, what)
    raise TypeError(
        f"{what} takes PIL images, tensors [C, H, W] or numpy arrays [H, W, C], got {type(image).__name__}"
    )


def _tensor_image(image: torch.Tensor, what: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        looks_hwc = image.ndim == 3 and image.shape[-1] in (1, 3)
        hint = "; numpy-style [H, W, C]? permute(2, 0, 1) it" if looks_hwc else ""
        raise ValueError(
            f"{what} takes one image tensor [C, H, W] with C = 1 or 3, got shape {tuple(image.shape)}{hint}"
        )
    is_float = image.is_floating_point()
    if not is_float and image.dtype != torch.uint8:
        raise ValueError(f"{what} takes uint8 or float image tensors, got {image.dtype}")
    check_unit_range(image, f"{what} input")
    data = image.detach().cpu()
    if is_float:
        data = (data.clamp(0, 1) * 255).round().to(torch.uint8)  # clamp: the accepted rounding slack
    array = np.ascontiguousarray(data.permute(1, 2, 0).numpy())
    wrap = tv_tensors.Image if isinstance(image, tv_tensors.Image) else (lambda t: t)
    device, dtype = image.device, image.dtype

    def restore(out: np.ndarray) -> Any:
        chw = torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
        result = chw.to(dtype) if is_float else (chw * 255 + 0.5).to(torch.uint8)
        return wrap(result.to(device))

    return array, restore


def check_numpy_image(image: np.ndarray, what: str) -> None:
    """Refuse a numpy image that is not ``[H, W]`` / ``[H, W, 1 or 3]``, uint8 or float in [0, 1]."""
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3))):
        looks_chw = image.ndim == 3 and image.shape[0] in (1, 3)
        hint = "; torch-style [C, H, W]? transpose(1, 2, 0) it" if looks_chw else ""
        raise ValueError(
            f"{what} takes one numpy image [H, W, C] with C = 1 or 3 (or [H, W]), "
            f"got shape {image.shape}{hint}"
        )
    if np.issubdtype(image.dtype, np.floating):
        check_unit_range(image, f"{what} input")
    elif image.dtype != np.uint8:
        raise ValueError(f"{what} takes uint8 or float numpy images, got {image.dtype}")


def _numpy_image(image: np.ndarray, what: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    check_numpy_image(image, what)
    grey = image.ndim == 2
    is_float = image.dtype != np.uint8
    array = image[:, :, None] if grey else image
    if is_float:
        array = np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)  # clip: the rounding slack
    dtype = image.dtype

    def restore(out: np.ndarray) -> np.ndarray:
        result = out.astype(dtype) if is_float else to_uint8(out)
        return result[:, :, 0] if grey else result

    return np.ascontiguousarray(array), restore


__all__ = ["ImageTransform", "as_image_array", "check_numpy_image", "to_float", "to_uint8"]
