"""Tiny ImageFolder trees for the data and training tests (nothing is downloaded).

Crops of scikit-image's bundled photos and synthetic pictures, 48-96 px, non-square, in every
mode a reader must convert: RGB, grayscale and CMYK JPEGs, palette PNGs (one with
transparency), a 16-bit PNG and an RGBA PNG; plus, on request, a truncated JPEG, a text file
named like an image and a stray non-image file.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
_KINDS = ("rgb_jpeg", "gray_jpeg", "cmyk_jpeg", "palette_png", "sixteen_png", "rgba_png")


def _photo(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _crop(rng: np.random.Generator, photo: np.ndarray, height: int, width: int) -> np.ndarray:
    top = int(rng.integers(0, photo.shape[0] - height + 1))
    left = int(rng.integers(0, photo.shape[1] - width + 1))
    return photo[top : top + height, left : left + width]


def _synthetic(rng: np.random.Generator, height: int, width: int, label: int) -> np.ndarray:
    """A class-coloured gradient with noise: learnable from colour alone."""
    colour = np.array([(60 * label) % 256, (120 + 50 * label) % 256, (200 - 40 * label) % 256])
    ramp = np.linspace(0.6, 1.0, width)[None, :, None]
    image = colour[None, None, :] * ramp + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(path: Path, rgb: np.ndarray, kind: str) -> Path:
    image = Image.fromarray(rgb)
    if kind == "rgb_jpeg":
        image.save(path.with_suffix(".jpg"), quality=90)
        return path.with_suffix(".jpg")
    if kind == "gray_jpeg":
        image.convert("L").save(path.with_suffix(".jpeg"))
        return path.with_suffix(".jpeg")
    if kind == "cmyk_jpeg":
        image.convert("CMYK").save(path.with_suffix(".JPEG"))
        return path.with_suffix(".JPEG")
    if kind == "palette_png":
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path.with_suffix(".png"))
        return path.with_suffix(".png")
    if kind == "sixteen_png":
        wide = (np.asarray(image.convert("L")).astype(np.uint16) * 257)
        Image.fromarray(wide).save(path.with_suffix(".png"))  # mode I;16
        return path.with_suffix(".png")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
    Image.fromarray(rgba).save(path.with_suffix(".png"))
    return path.with_suffix(".png")


def build_image_folder(
    root: Path,
    classes: int = 4,
    per_class: int = 6,
    seed: int = 0,
    broken: bool = False,
    class_names: list[str] | None = None,
) -> Path:
    """Write ``root/<class>/<images>``; returns root.

    Each class mixes photo crops and synthetic pictures in the six modes above, 48-96 px on
    each side. `broken` adds ``<first class>/truncated.jpg`` (a JPEG cut in half),
    ``<first class>/notes.jpg`` (text) and ``<second class>/README.txt``.
    """
    rng = np.random.default_rng(seed)
    photos = [_photo(name) for name in PHOTOS]
    names = class_names or [f"class_{i}" for i in range(classes)]
    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = (int(v) for v in rng.integers(48, 97, size=2))
            if i % 2:
                rgb = _crop(rng, photos[(label + i) % len(photos)], height, width)
            else:
                rgb = _synthetic(rng, height, width, label)
            _save(folder / f"img_{i:03d}", np.ascontiguousarray(rgb), _KINDS[(label + i) % len(_KINDS)])
    if broken:
        buffer = io.BytesIO()
        Image.fromarray(_crop(rng, photos[0], 80, 64)).save(buffer, format="JPEG")
        data = buffer.getvalue()
        (root / names[0] / "truncated.jpg").write_bytes(data[: len(data) // 2])
        (root / names[0] / "notes.jpg").write_text("not an image\n")
        (root / names[min(1, len(names) - 1)] / "README.txt").write_text("class notes\n")
    return root


def build_train_val(root: Path, classes: int = 4, train: int = 6, val: int = 2, seed: int = 0,
                    broken: bool = False) -> Path:
    """``root/train`` and ``root/val`` with the same classes; returns root."""
    build_image_folder(root / "train", classes, train, seed, broken=broken)
    build_image_folder(root / "val", classes, val, seed + 1)
    return root
