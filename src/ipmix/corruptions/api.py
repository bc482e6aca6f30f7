"""`corrupt` and `get_corruption_names`: imagecorruptions' interface on ipmix's kernels.

``from ipmix.corruptions import corrupt`` in place of ``from imagecorruptions import corrupt``:
the same signature, names, numbers and subsets, and by default the same computation
(`imagenet_c.imagecorruptions`), on one image of any size of at least 32 x 32. Besides:

- the draws come from a ``numpy.random.Generator`` (`rng`) or a `seed`, so a call can be
  repeated (imagecorruptions draws from numpy's global state, and its impulse noise from a fresh
  unseeded generator);
- batches (``[N, H, W, C]``, ``[N, C, H, W]``) and torch tensors (``[C, H, W]`` and
  ``[N, C, H, W]``, returned as tensors on their device) besides ``[H, W, C]`` and ``[H, W]``
  arrays; grey images come back with three channels, as imagecorruptions returns them;
- the C-bar corruptions by name (`get_corruption_names("cbar")`, square images);
- ``preset="imagenet"`` (or ``"cifar"``, ``"tinyimagenet"``): the constants and kernels of
  hendrycks/robustness's script for that dataset instead (square images).

Errors are `CorruptionError` (a ValueError), where imagecorruptions raises AttributeError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ipmix.corruptions.cbar import corrupt_bar
from ipmix.corruptions.cbar.levels import ALL_CBAR, IMAGENET_CBAR
from ipmix.corruptions.imagenet_c import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    PRESETS,
    CorruptionError,
    check_severity,
)
from ipmix.corruptions.imagenet_c import corrupt as corrupt_batch
from ipmix.corruptions.imagenet_c.imagecorruptions import corrupt_any_size
from ipmix.utils.images import ImageLayoutError, as_nhwc, from_nhwc, is_tensor

SUBSETS: dict[str, tuple[str, ...]] = {
    "common": BENCHMARK_CORRUPTIONS,
    "validation": EXTRA_CORRUPTIONS,
    "all": ALL_CORRUPTIONS,
    "noise": BENCHMARK_CORRUPTIONS[0:3],
    "blur": BENCHMARK_CORRUPTIONS[3:7],
    "weather": BENCHMARK_CORRUPTIONS[7:11],
    "digital": BENCHMARK_CORRUPTIONS[11:15],
    "cbar": IMAGENET_CBAR,
}
"""imagecorruptions' subsets, and the ten ImageNet-C-bar corruptions."""
MIN_SIDE = 32
"""The smallest height and width imagecorruptions accepts."""
INPUT_LAYOUTS = ("HWC", "HW", "CHW", "NHWC", "NCHW")
DEFAULT_PRESET = "imagecorruptions"


def get_corruption_names(subset: str = "common") -> list[str]:
    """The names of `subset`: ``common`` (the 15 of ImageNet-C), ``validation`` (its 4 extra),
    ``all`` (the 19, numbered 0..18 in this order), ``noise``, ``blur``, ``weather``,
    ``digital`` (ImageNet-C's groups of the 15), ``cbar`` (ImageNet-C-bar's 10)."""
    if subset not in SUBSETS:
        raise CorruptionError(f"subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    return list(SUBSETS[subset])


def _name(corruption_name: str | None, corruption_number: int) -> str:
    if corruption_name is not None:
        if corruption_name not in ALL_CORRUPTIONS + ALL_CBAR:
            known = ", ".join(ALL_CORRUPTIONS + ALL_CBAR)
            raise CorruptionError(f"unknown corruption {corruption_name!r}; known: {known}")
        return corruption_name
    if corruption_number == -1:
        raise CorruptionError("either corruption_name or corruption_number must be given")
    if isinstance(corruption_number, bool) or corruption_number not in range(len(ALL_CORRUPTIONS)):
        raise CorruptionError(f"corruption_number must be an integer in 0..18, got {corruption_number!r}")
    return ALL_CORRUPTIONS[corruption_number]


def _generator(seed: Any, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise CorruptionError("give a seed or a generator (rng), not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise CorruptionError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _read(image: Any, layout: str | None) -> tuple[np.ndarray, str]:
    """`image` as a uint8 RGB ``[N, H, W, 3]`` array, and the layout it was read in."""
    array = image.detach().cpu().numpy() if is_tensor(image) else np.asarray(image)
    rgb = layout is None and array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
    if rgb and min(array.shape[:2]) >= MIN_SIDE:  # an RGB image's one reading, without inference
        return np.ascontiguousarray(array)[None], "HWC"
    try:
        nhwc, read_as = as_nhwc(array, layout, allowed=INPUT_LAYOUTS, channels=(1, 3), what="image")
    except ImageLayoutError as error:
        raise CorruptionError(str(error)) from None
    if nhwc.dtype != np.uint8:
        raise CorruptionError(f"image must be uint8 (values 0..255), got {nhwc.dtype}")
    if min(nhwc.shape[1:3]) < MIN_SIDE:
        raise CorruptionError(f"image sides must be at least {MIN_SIDE} px, got {nhwc.shape[1:3]}")
    return np.ascontiguousarray(np.broadcast_to(nhwc, (*nhwc.shape[:3], 3))), read_as


def corrupt(
    image: Any,
    severity: int = 1,
    corruption_name: str | None = None,
    corruption_number: int = -1,
    *,
    seed: Any = None,
    rng: np.random.Generator | None = None,
    frost_dir: str | Path | None = None,
    preset: str = DEFAULT_PRESET,
    layout: str | None = None,
) -> Any:
    """`image` corrupted by `corruption_name` (or number 0..18 of ``get_corruption_names("all")``)
    at `severity` 1..5, as imagecorruptions' ``corrupt`` returns it: uint8, three channels.

    `image`: uint8 ``[H, W, 3]``, ``[H, W]`` or ``[H, W, 1]``, sides of at least 32 px, or a batch,
    or a torch tensor (see the module docstring; `layout` settles a shape that reads two ways).
    Draws come from `rng`, else from a generator seeded with `seed` (None: fresh entropy).
    `frost_dir`: the frost textures (default ``$IPMIX_DATA/frost``). `preset`:
    ``"imagecorruptions"`` or a make_*_c.py script's (``"imagenet"``, ``"cifar"``,
    ``"tinyimagenet"``, square images).
    """
    name = _name(corruption_name, corruption_number)
    severity = check_severity(severity)
    generator = _generator(seed, rng)
    if preset != DEFAULT_PRESET and preset not in PRESETS:
        raise CorruptionError(f"preset must be one of {DEFAULT_PRESET}, {', '.join(PRESETS)}; got {preset!r}")
    images, read_as = _read(image, layout)
    if name in ALL_CBAR:
        out = corrupt_bar(images, name, severity, generator, preset=preset)
    elif preset == DEFAULT_PRESET:
        out = corrupt_any_size(images, name, severity, generator, frost_dir)
    else:
        out = corrupt_batch(images, name, severity, generator, frost_dir=frost_dir, preset=preset)
    if read_as == "HWC":
        out = out[0]
    else:  # grey "HW" images come back as "HWC"
        out = np.ascontiguousarray(from_nhwc(out, read_as if "C" in read_as else read_as + "C"))
    if is_tensor(image):
        import torch

        return torch.from_numpy(out).to(image.device)
    return out
