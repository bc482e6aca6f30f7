"""Image files: decode any of them to RGB, and find the ones that cannot be used.

`load_rgb` is the one decoder of image files in ipmix's data layer. Modes are converted as
torchvision's ``pil_loader`` does (``convert("RGB")``: alpha dropped, palette expanded, CMYK
through Pillow's conversion, which undoes Adobe's inverted CMYK JPEGs), except where that
conversion is wrong: 16-bit integer images (``I;16``, and ``I`` holding values above 255),
which Pillow clips at 255 instead of scaling, are scaled to 8 bits; float images (``F``) are
read as [0, 1] when they lie in it, else clipped to [0, 255]. Palette images with transparency go through RGBA
(Pillow warns otherwise). EXIF orientation is not applied (torchvision does not either, and
every published ImageNet number is computed without it).

`check_image` says why a file cannot be used (None when it can) at three levels:
``"none"`` (trust the extension), ``"header"`` (Pillow opens and verifies the file; JPEG and
PNG files must also end with their end marker, and a file that does not is decoded fully to
tell a truncated file from one with trailing bytes) and ``"decode"`` (every file is decoded).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: torchvision's ``IMG_EXTENSIONS`` (torchvision/datasets/folder.py), compared lower-case.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp",
)
CHECK_LEVELS: tuple[str, ...] = ("none", "header", "decode")

_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"
#: How far from the end of a file its end marker is looked for (trailing metadata is small).
_TAIL_BYTES = 4096
#: Errors Pillow raises for files it cannot read (DecompressionBombError is a subclass of
#: Exception, raised for absurd sizes).
_DECODE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError)


class CorruptImageError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def _wide_to_rgb(image: Image.Image) -> Image.Image:
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


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """Decode the image file at `path` to an RGB PIL image; `CorruptImageError` names it."""
    try:
        with Image.open(path) as image, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "truncated EXIF data"
            image.load()
            return to_rgb(image)
    except FileNotFoundError as error:
        raise CorruptImageError(f"{path}: image file vanished since the folder was listed") from error
    except _DECODE_ERRORS as error:
        raise CorruptImageError(f"{path}: cannot decode image ({error})") from error


def _ends_with_marker(path: Path, marker: bytes) -> bool:
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        return marker in handle.read()


def check_image(path: str | os.PathLike[str], level: str = "header") -> str | None:
    """Why the file at `path` is unusable at check `level`, or None if it is fine."""
    if level not in CHECK_LEVELS:
        raise ValueError(f"check level must be one of {', '.join(CHECK_LEVELS)}, got {level!r}")
    path = Path(path)
    if level == "none":
        return None
    try:
        if level == "decode":
            load_rgb(path)
            return None
        with Image.open(path) as image, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            kind = image.format
            image.verify()
        marker = {"JPEG": _JPEG_END, "PNG": _PNG_END}.get(kind or "")
        if marker is not None and not _ends_with_marker(path, marker):
            load_rgb(path)  # no end marker: truncated, unless the whole file decodes
    except CorruptImageError as error:
        return str(error.__cause__ or error)
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except _DECODE_ERRORS as error:
        return f"{type(error).__name__}: {error}"
    return None
