"""What the per-image transforms (IPMix, PixMix, CutOut) take, and how a sample is read.

Images: PIL images (RGB or L), tensors ``[C, H, W]`` (torchvision's layout), `tv_tensors.Image`,
and numpy arrays ``[H, W, C]`` or ``[H, W]`` (numpy's and PIL's layout), C = 1 or 3, uint8 or
float in [0, 1] (checked with `ipmix.utils.images.check_unit_range`, never clamped). Each
comes back as the same kind, dtype and shape.

`as_image_array` reads an image as numpy ``[H, W, C]`` (the reference path's layout),
`as_planar_image` as numpy ``[C, H, W]`` (the compiled kernels'), each with the function that
gives a result back as the input's kind.

Samples (`ImageTransform`): as in torchvision v2, a sample may be a tuple, list or dict holding
an image among other things (labels, boxes). Explicit images (PIL, `tv_tensors.Image`) are
transformed; without one, the first plain tensor or numpy array is the image. torchvision
passes unknown types through unchanged; here a sample that holds nothing to transform is an
error, so a numpy image or a wrong sample never comes back silently untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
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
        array = np.asarray(_checked_pil(image, what))
        array = array[:, :, None] if array.ndim == 2 else array
        squeeze = image.mode == "L"
        return array, lambda out: PIL.Image.fromarray(to_uint8(out)[:, :, 0] if squeeze else to_uint8(out))
    if isinstance(image, torch.Tensor):
        data, is_float, restore_tensor = _tensor_bytes(image, what)
        array = np.ascontiguousarray(data.permute(1, 2, 0).numpy())

        def restore(out: np.ndarray) -> Any:
            chw = torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
            return restore_tensor(chw if is_float else (chw * 255 + 0.5).to(torch.uint8))

        return array, restore
    if isinstance(image, np.ndarray):
        return _numpy_image(image, what)
    raise _not_an_image(image, what)


def as_planar_image(image: Any, what: str = "IPMix") -> tuple[np.ndarray, bool, Callable[[np.ndarray], Any]]:
    """An input as a uint8 ``[C, H, W]`` array, whether results come back as bytes, and how.

    The restoring function takes a ``[C, H, W]`` result: uint8 for uint8 inputs (PIL images,
    uint8 tensors and arrays), float32 in [0, 1] for float inputs (the second value is False).
    """
    if isinstance(image, PIL.Image.Image):
        array = np.asarray(_checked_pil(image, what))
        if array.ndim == 2:
            return array[None], True, lambda out: PIL.Image.fromarray(out[0])
        return planar(array), True, lambda out: PIL.Image.fromarray(interleaved(out))
    if isinstance(image, torch.Tensor):
        data, is_float, restore_tensor = _tensor_bytes(image, what)
        return data.contiguous().numpy(), not is_float, lambda out: restore_tensor(torch.from_numpy(out))
    if isinstance(image, np.ndarray):
        check_numpy_image(image, what)
        grey, dtype = image.ndim == 2, image.dtype
        array = _numpy_bytes(image[:, :, None] if grey else image)

        def restore(out: np.ndarray) -> np.ndarray:
            result = interleaved(out).astype(dtype, copy=False)
            return result[:, :, 0] if grey else result

        return planar(array), dtype == np.uint8, restore
    raise _not_an_image(image, what)


@numba.njit(cache=True, nogil=True)
def planar(hwc: np.ndarray) -> np.ndarray:
    """``[H, W, C]`` (C = 1 or 3; a crop is fine) to a new contiguous ``[C, H, W]`` array."""
    height, width, channels = hwc.shape
    out = np.empty((channels, height, width), hwc.dtype)
    for y in range(height):
        row = np.ascontiguousarray(hwc[y]).reshape(-1)  # a view unless the crop strides columns
        if channels == 3:  # unrolled: a loop that vectorises
            for x in range(width):
                out[0, y, x], out[1, y, x], out[2, y, x] = row[3 * x], row[3 * x + 1], row[3 * x + 2]
        else:
            out[0, y] = row
    return out


@numba.njit(cache=True, nogil=True)
def interleaved(chw: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` (C = 1 or 3) to a new contiguous ``[H, W, C]`` array."""
    channels, height, width = chw.shape
    out = np.empty((height, width, channels), chw.dtype)
    source, target = np.ascontiguousarray(chw).reshape(channels, -1), out.reshape(-1)
    if channels == 3:
        for j in range(height * width):
            target[3 * j], target[3 * j + 1], target[3 * j + 2] = source[0, j], source[1, j], source[2, j]
    else:
        target[:] = source[0]
    return out


def _not_an_image(image: Any, what: str) -> TypeError:
    return TypeError(
        f"{what} takes PIL images, tensors [C, H, W] or numpy arrays [H, W, C], got {type(image).__name__}"
    )


def _checked_pil(image: PIL.Image.Image, what: str) -> PIL.Image.Image:
    if image.mode not in ("RGB", "L"):
        raise ValueError(
            f"{what} takes RGB or grayscale (L) images, got mode {image.mode!r}; "
            "convert first with ipmix.utils.images.to_rgb(image) (image.convert('RGB') turns "
            "16-bit images white)"
        )
    return image


def _tensor_bytes(image: torch.Tensor, what: str) -> tuple[torch.Tensor, bool, Callable[[torch.Tensor], Any]]:
    """A ``[C, H, W]`` tensor as uint8 on the CPU, whether it was float, and how to give a
    ``[C, H, W]`` result (float32 for float inputs, else uint8) back as the input's kind."""
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
    wrap = tv_tensors.Image if isinstance(image, tv_tensors.Image) else (lambda t: t)
    device, dtype = image.device, image.dtype
    return data, is_float, lambda chw: wrap(chw.to(dtype).to(device))


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


def _numpy_bytes(image: np.ndarray) -> np.ndarray:
    """A checked ``[H, W, C]`` numpy image as uint8 (floats rounded; the clip is the rounding slack)."""
    if image.dtype == np.uint8:
        return image
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _numpy_image(image: np.ndarray, what: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    check_numpy_image(image, what)
    grey = image.ndim == 2
    is_float = image.dtype != np.uint8
    array = _numpy_bytes(image[:, :, None] if grey else image)
    dtype = image.dtype

    def restore(out: np.ndarray) -> np.ndarray:
        result = out.astype(dtype) if is_float else to_uint8(out)
        return result[:, :, 0] if grey else result

    return np.ascontiguousarray(array), restore


__all__ = [
    "ImageTransform", "as_image_array", "as_planar_image", "check_numpy_image", "interleaved", "planar",
    "to_float", "to_uint8",
]
