"""Images entering ipmix: their value range and their axis layout, checked in one place.

Value range. Float images are in [0, 1] everywhere in ipmix. A float image outside it (a
[0, 255] float array, a normalised [-1, 1] tensor) or holding NaN/inf is refused with
`ImageRangeError`, never clamped: clamping turns a [0, 255] float image almost white, and
training or evaluating on that gives no error at all. Values within half a grey level of the
range (`RANGE_SLACK`, 1/510) round into [0, 255] at 8-bit precision and are accepted as
rounding error. The check is one reduction over the data (`torch.aminmax`, or numpy's min and
max) and one host synchronisation; the full diagnosis is only computed for the error message.
The opt-out is explicit and in the caller's hands: clamp first (``x.clamp(0, 1)``,
``np.clip(x, 0, 1)``) when clamping is what you want.

Layout. Arrays of images come as ``NHWC`` or ``NCHW`` batches, ``HWC`` or ``CHW`` single
images, or ``NHW`` / ``HW`` grey ones. `image_layout` reads the layout from the shape only when
exactly one of the allowed layouts fits it, and raises `ImageLayoutError` naming the readings
otherwise; a ``layout=`` argument settles it. A layout fits a shape when its channel axis has
an allowed channel count and, when inferring, its height and width are at least
`MIN_INFERRED_SIDE` pixels (so an ``[H, W, 3]`` image is never read as H grey pictures 3 px
wide). `to_nhwc` returns the ``[N, H, W, C]`` view of an array (numpy or torch, no copy).

Modes. `to_rgb` is the one conversion of decoded PIL images to RGB (the training reader, the
mixing-set and OOD folders, benchmark makers): Pillow's ``convert("RGB")`` except where it is
wrong. 16-bit integer images (``I;16``, and ``I`` holding values above 255), which Pillow clips
at 255 (an all-white picture) instead of scaling, are scaled to 8 bits; float images (``F``)
are read as [0, 1] when they lie in it, else clipped to [0, 255]; palette images with
transparency go through RGBA (Pillow warns otherwise).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

#: Accepted distance of float values outside [0, 1]: half a grey level at 8 bits.
RANGE_SLACK = 0.5 / 255
#: When inferring a layout, axes shorter than this are never image sides.
MIN_INFERRED_SIDE = 5
#: Every layout `image_layout` knows (N: images, C: channels, H, W: rows, columns).
LAYOUTS = ("NHWC", "NCHW", "HWC", "CHW", "NHW", "HW")
BATCH_LAYOUTS = ("NHWC", "NCHW")


class ImageRangeError(ValueError):
    """Float images outside [0, 1] or holding NaN/inf values."""


class ImageLayoutError(ValueError):
    """An array whose image layout is unknown, ambiguous or does not fit its shape."""


def is_tensor(value: Any) -> bool:
    """Whether `value` is a torch tensor, without importing torch: if torch was never
    imported, nothing can be a tensor (this keeps torch-free commands fast to start)."""
    torch_module = sys.modules.get("torch")
    return torch_module is not None and isinstance(value, torch_module.Tensor)


def _is_float(images: Any) -> bool:
    if is_tensor(images):
        return images.is_floating_point()
    return np.issubdtype(np.asarray(images).dtype, np.floating)


def check_unit_range(images: Any, what: str = "images") -> None:
    """Refuse float `images` (numpy array or torch tensor) outside [0, 1] or holding NaN/inf.

    Integer images are not checked (their range is their dtype's). Raises `ImageRangeError`
    with what was found (min, max, NaN and inf counts) and what is expected; tensors on torch's
    meta device (shapes without values) are refused whatever their dtype.
    """
    if is_tensor(images) and images.is_meta:
        raise ImageRangeError(
            f"{what}: a tensor on torch's meta device, which holds shapes, not values; give "
            "images with data (on cpu or cuda)"
        )
    if not _is_float(images):
        return
    if is_tensor(images):
        if images.numel() == 0:
            return
        low, high = (value.item() for value in _aminmax(images.detach()))
    else:
        images = np.asarray(images)
        if images.size == 0:
            return
        low, high = float(images.min()), float(images.max())
    if low >= -RANGE_SLACK and high <= 1 + RANGE_SLACK:  # False for NaN
        return
    raise ImageRangeError(f"{what}: {_range_diagnosis(images)}")


def _aminmax(tensor: Any) -> tuple[Any, Any]:
    """(min, max) of a tensor in one pass (NaN propagates into both)."""
    import torch

    return torch.aminmax(tensor)


def _range_diagnosis(images: Any) -> str:
    """What is wrong with out-of-range float images, and what to do (the slow, error path)."""
    values = images.detach().cpu().double().numpy() if is_tensor(images) else np.asarray(images)
    nan = int(np.isnan(values).sum())
    inf = int(np.isinf(values).sum())
    finite = values[np.isfinite(values)]
    found = []
    if finite.size:
        found.append(f"values in [{float(finite.min()):.4g}, {float(finite.max()):.4g}]")
    if nan:
        found.append(f"{nan} NaN")
    if inf:
        found.append(f"{inf} inf")
    hint = ""
    if not nan and not inf and finite.size:
        low, high = float(finite.min()), float(finite.max())
        if high > 1 and low >= 0 and high <= 255 + 0.5:
            hint = "; [0, 255] floats? divide by 255"
        elif low < 0 and low >= -3 and high <= 3:
            hint = "; normalised images? undo the normalisation (ipmix models normalise inside)"
    return (
        f"float images must lie in [0, 1] and be finite, found {', '.join(found)}{hint}; "
        "to clamp on purpose, clamp before passing them (x.clamp(0, 1) / np.clip(x, 0, 1))"
    )


def _fits(layout: str, shape: tuple[int, ...], channels: Sequence[int], min_side: int) -> bool:
    if len(layout) != len(shape):
        return False
    sizes = dict(zip(layout, shape, strict=True))
    if "C" in sizes and sizes["C"] not in channels:
        return False
    return sizes["H"] >= min_side and sizes["W"] >= min_side


def _nhwc_order(layout: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes of `layout` in N, H, W, C order, and where size-1 axes are inserted."""
    order = tuple(layout.index(axis) for axis in "NHWC" if axis in layout)
    missing = tuple(position for position, axis in enumerate("NHWC") if axis not in layout)
    return order, missing


def _same_reading(first: str, second: str, shape: tuple[int, ...]) -> bool:
    """Whether two layouts give the same NHWC array for `shape` (they differ in size-1 axes)."""
    def reading(layout: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        order, _ = _nhwc_order(layout)
        sizes = dict(zip(layout, shape, strict=True))
        nhwc = tuple(sizes.get(axis, 1) for axis in "NHWC")
        return nhwc, tuple(axis for axis in order if shape[axis] != 1)

    return reading(first) == reading(second)


def _spell(layout: str, channels: Sequence[int]) -> str:
    """``NHWC`` as ``[N, H, W, C]`` (``[N, H, W, 3]`` when 3 channels is the only choice)."""
    axes = [str(channels[0]) if axis == "C" and len(channels) == 1 else axis for axis in layout]
    return "[" + ", ".join(axes) + "]"


def image_layout(
    shape: Sequence[int],
    layout: str | None = None,
    *,
    allowed: Sequence[str] = LAYOUTS,
    channels: Sequence[int] = (1, 3, 4),
    what: str = "images",
) -> str:
    """The layout of an image array of `shape`: `layout` if given (checked), else inferred.

    Inference succeeds when exactly one of `allowed` fits (see the module docstring);
    otherwise `ImageLayoutError` names the shape, the fitting readings and the ``layout=``
    values that settle it.
    """
    shape = tuple(int(size) for size in shape)
    allowed = tuple(allowed)
    if layout is not None:
        name = str(layout).upper()
        if name not in allowed:
            raise ImageLayoutError(f"{what}: layout must be one of {', '.join(allowed)}, got {layout!r}")
        if not _fits(name, shape, channels, min_side=1):
            expected = f"{len(name)} axes" + (
                f" with {' or '.join(map(str, channels))} channels" if "C" in name else ""
            )
            raise ImageLayoutError(f"{what}: shape {shape} does not fit layout {name} ({expected})")
        return name
    fits = [name for name in allowed if _fits(name, shape, channels, MIN_INFERRED_SIDE)]
    if fits and all(_same_reading(fits[0], other, shape) for other in fits[1:]):
        return fits[0]
    if not fits:
        spelled = ", ".join(_spell(name, channels) for name in allowed)
        raise ImageLayoutError(
            f"{what}: shape {shape} fits none of {spelled} (C = {' or '.join(map(str, channels))}, "
            f"sides of at least {MIN_INFERRED_SIDE} px); pass layout= to say how to read it"
        )
    raise ImageLayoutError(
        f"{what}: shape {shape} is ambiguous: it reads as {' or as '.join(fits)}; "
        f"pass layout={fits[0]!r} (or {', '.join(repr(name) for name in fits[1:])}) to say which"
    )


def to_nhwc(images: Any, layout: str) -> Any:
    """The ``[N, H, W, C]`` view of `images` (numpy array or torch tensor) in `layout`."""
    order, missing = _nhwc_order(layout)
    view = images.permute(*order) if is_tensor(images) else np.transpose(images, order)
    for position in missing:
        view = view.unsqueeze(position) if is_tensor(view) else np.expand_dims(view, position)
    return view


def from_nhwc(images: Any, layout: str) -> Any:
    """Undo `to_nhwc`: an ``[N, H, W, C]`` array back in `layout` (axes it lacks must be 1)."""
    order, missing = _nhwc_order(layout)
    for position in reversed(missing):
        images = images.squeeze(position) if is_tensor(images) else np.squeeze(images, position)
    inverse = tuple(int(i) for i in np.argsort(order))
    return images.permute(*inverse) if is_tensor(images) else np.transpose(images, inverse)


def as_nhwc(
    images: Any,
    layout: str | None = None,
    *,
    allowed: Sequence[str] = LAYOUTS,
    channels: Sequence[int] = (1, 3, 4),
    what: str = "images",
) -> tuple[Any, str]:
    """`images` as an ``[N, H, W, C]`` view, and the layout it was read in (see `image_layout`)."""
    shape = tuple(images.shape) if hasattr(images, "shape") else np.shape(images)
    name = image_layout(shape, layout, allowed=allowed, channels=channels, what=what)
    return to_nhwc(images, name), name


def _wide_to_rgb(image: Image.Image) -> Image.Image:
    from PIL import Image

    array = np.asarray(image)
    if image.mode == "F":
        finite = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        scaled = finite * 255 if finite.size and finite.min() >= 0 and finite.max() <= 1 else finite
        eight = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    else:  # I;16*: 16 bits; I: 16 bits unless every value fits in 8 (32-bit TIFFs of bytes)
        wide = array.astype(np.float64)
        sixteen = image.mode.startswith("I;16") or (wide.size and wide.max() > 255)
        eight = np.clip(np.rint(wide / 257 if sixteen else wide), 0, 255).astype(np.uint8)
    return Image.fromarray(eight, mode="L").convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """`image` in mode RGB (see the module docstring for the conversion of each mode)."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return _wide_to_rgb(image)
    if image.mode in ("P", "PA") and "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


__all__ = [
    "BATCH_LAYOUTS",
    "ImageLayoutError",
    "ImageRangeError",
    "LAYOUTS",
    "MIN_INFERRED_SIDE",
    "RANGE_SLACK",
    "as_nhwc",
    "check_unit_range",
    "from_nhwc",
    "image_layout",
    "is_tensor",
    "to_nhwc",
    "to_rgb",
]
