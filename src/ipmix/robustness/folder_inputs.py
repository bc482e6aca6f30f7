"""Listing and preparing the images of an ImageFolder for `make-c` / `make-p`.

STAND-IN, to be replaced by ``ipmix.data.folders`` (the project's one image-folder reader,
written on another branch) when it lands: class listing, decoding and the eval transform belong
there. This module holds only what generation needs: class folders sorted by name, image files
found recursively inside each (sorted), RGB decoding that names a bad file, and the reference
scripts' preprocessing (``Resize(resize)`` then ``CenterCrop(size)``, torchvision on PIL, as
``make_imagenet_c.py`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
)


class FolderInputError(ValueError):
    """An image folder that cannot be used: missing, no class folders, no images, unreadable file."""


@dataclass(frozen=True)
class FolderImage:
    """One input image: its path and its class folder's name."""

    path: Path
    class_name: str


def list_image_folder(root: str | Path) -> list[FolderImage]:
    """Every image of an ImageFolder ``root/<class>/**/<file>``, classes and files sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FolderInputError(f"image folder {root} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise FolderInputError(f"{root} holds no class folders (expected {root}/<class>/<image>)")
    images = []
    for name in classes:
        files = sorted(
            p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        )
        images.extend(FolderImage(path, name) for path in files)
    if not images:
        raise FolderInputError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in the class folders of {root}")
    return images


def load_prepared(path: Path, size: int, resize: int | None, *, crop: bool = True) -> np.ndarray:
    """Decode `path` as RGB and bring it to ``size x size`` (uint8 ``[size, size, 3]``).

    ``resize`` given: torchvision ``Resize(resize)`` (shorter side, bilinear) then
    ``CenterCrop(size)``, as the ImageNet scripts; without `crop` the resized image is returned
    (ImageNet-P perturbs it before cropping). None: images already ``size x size`` are used as
    they are; others get ``Resize(round(size * 256 / 224))`` and ``CenterCrop(size)``.
    """
    from torchvision.transforms import functional as tvf

    try:
        with Image.open(path) as handle:
            image = handle.convert("RGB")
    except (OSError, ValueError) as error:
        raise FolderInputError(f"cannot decode image {path}: {error}") from error
    if resize is None and image.size == (size, size):
        return np.asarray(image)
    image = tvf.resize(image, resize or round(size * 256 / 224), tvf.InterpolationMode.BILINEAR)
    return np.asarray(tvf.center_crop(image, size) if crop or resize is None else image)
