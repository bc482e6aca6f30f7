"""Synthetic inputs for the corruption tests, built from numpy alone (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ipmix.corruptions.imagenet_c import FROST_FILES


def smooth_images(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """Photo-like uint8 images: low-frequency colour fields with edges and some texture."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, height)[:, None]
    cols = np.linspace(0.0, 1.0, width)[None, :]
    images = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        channels = []
        for _ in range(3):
            a, b, c, d = rng.uniform(0.5, 6.0, size=4)
            field = np.sin(a * rows * np.pi + b) * np.cos(c * cols * np.pi + d)
            field += (rows * rng.uniform(-1, 1) + cols * rng.uniform(-1, 1)) > 0.1  # an edge
            field += 0.15 * rng.standard_normal((height, width))
            channels.append(field)
        stack = np.stack(channels, axis=-1)
        stack = (stack - stack.min()) / (stack.max() - stack.min())
        images[i] = (stack * 255).astype(np.uint8)
    return images


def frost_textures(folder: Path, shapes: list[tuple[int, int]]) -> Path:
    """The five frost texture files, of the given ``(height, width)``s, as PNG data under the
    official names (OpenCV reads a file by its content, whatever its suffix)."""
    folder.mkdir()
    for index, (name, (height, width)) in enumerate(zip(FROST_FILES, shapes, strict=True)):
        texture = smooth_images(1, height, width, seed=100 + index)[0]
        Image.fromarray(texture).save(folder / name, format="PNG")
    return folder
