"""Image files: decode any of them to RGB, and find the ones that cannot be used.

`load_rgb` is the one decoder of image files in ipmix's data layer. Modes are converted by
`ipmix.utils.images.to_rgb`, as torchvision's ``pil_loader`` does (``convert("RGB")``: alpha
dropped, palette expanded, CMYK through Pillow's conversion, which undoes Adobe's inverted CMYK
JPEGs), except where that conversion is wrong: 16-bit integer images are scaled to 8 bits
(Pillow clips them at 255), float images read as [0, 1]. EXIF orientation is not applied
(torchvision does not either, and every published ImageNet number is computed without it).

`check_image` says why a file cannot be used (None when it can) at three levels:
``"none"`` (trust the extension), ``"header"`` (Pillow opens and verifies the file; JPEG and
PNG files must also end with their end marker, and a file that does not is decoded fully to
tell a truncated file from one with trailing bytes) and ``"decode"`` (every file is decoded).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ipmix.utils.images import to_rgb

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
