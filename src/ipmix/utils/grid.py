"""Image grids with captions: `ipmix show`, `ipmix mixing-set inspect` and reports use this."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ipmix.utils.images import to_rgb
from ipmix.utils.io import atomic_write_bytes


def _as_uint8_hwc(image: np.ndarray | Image.Image) -> np.ndarray:
    array = np.asarray(to_rgb(image) if isinstance(image, Image.Image) else image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return array


def image_grid(
    rows: Sequence[Sequence[np.ndarray | Image.Image]],
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    cell: int = 96,
    gap: int = 4,
) -> Image.Image:
    """Lay images out in rows, each scaled (nearest neighbour) to `cell` pixels, with captions."""
    font = ImageFont.load_default()
    label_width = 0 if not row_labels else 8 + max(int(font.getlength(t)) for t in row_labels)
    header = 0 if not column_labels else 16
    columns = max(len(row) for row in rows)
    width = label_width + columns * (cell + gap) + gap
    height = header + len(rows) * (cell + gap) + gap
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, text in enumerate(column_labels or ()):
        draw.text((label_width + gap + c * (cell + gap), 2), text, fill=(0, 0, 0), font=font)
    for r, row in enumerate(rows):
        top = header + gap + r * (cell + gap)
        if row_labels:
            draw.text((4, top + cell // 2 - 6), row_labels[r], fill=(0, 0, 0), font=font)
        for c, image in enumerate(row):
            tile = Image.fromarray(_as_uint8_hwc(image)).resize((cell, cell), Image.Resampling.NEAREST)
            canvas.paste(tile, (label_width + gap + c * (cell + gap), top))
    return canvas


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Write a PNG atomically (a reader never sees half a file)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
