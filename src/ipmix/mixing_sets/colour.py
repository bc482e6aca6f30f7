"""Random colour schemes shared by the picture generators: palettes and HSV conversion.

Every function takes an explicit `numpy.random.Generator`, so a picture's colours are fixed by
its seed like the rest of its parameters.
"""

from __future__ import annotations

import numba
import numpy as np

#: Entries in a palette lookup table.
PALETTE_SIZE = 256


@numba.njit(cache=True)
def _hsv_to_rgb_flat(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    out = np.empty((len(hue), 3))
    for i in range(len(hue)):
        h = (hue[i] % 1.0) * 6.0
        sector = int(h) % 6
        f = h - np.floor(h)
        s, v = saturation[i], value[i]
        p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
        if sector == 0:
            out[i, 0], out[i, 1], out[i, 2] = v, t, p
        elif sector == 1:
            out[i, 0], out[i, 1], out[i, 2] = q, v, p
        elif sector == 2:
            out[i, 0], out[i, 1], out[i, 2] = p, v, t
        elif sector == 3:
            out[i, 0], out[i, 1], out[i, 2] = p, q, v
        elif sector == 4:
            out[i, 0], out[i, 1], out[i, 2] = t, p, v
        else:
            out[i, 0], out[i, 1], out[i, 2] = v, p, q
    return out


def hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """HSV -> RGB, inputs broadcast together, in [0, 1] (hue wraps); float ``[..., 3]``."""
    hue, saturation, value = np.broadcast_arrays(
        np.asarray(hue, np.float64), np.asarray(saturation, np.float64),
        np.asarray(value, np.float64),
    )
    shape = hue.shape
    flat = _hsv_to_rgb_flat(hue.ravel(), saturation.ravel(), value.ravel())
    return flat.reshape(*shape, 3)


def cosine_palette(rng: np.random.Generator, size: int = PALETTE_SIZE) -> np.ndarray:
    """Palette ``a + b cos(2 pi (c t + d))`` with random per-channel a, b, c, d (float [size, 3])."""
    t = np.linspace(0.0, 1.0, size)[:, None]
    a = rng.uniform(0.35, 0.65, 3)
    b = rng.uniform(0.25, 0.5, 3)
    c = rng.choice([0.5, 1.0, 1.0, 1.5, 2.0], 3)
    d = rng.uniform(0.0, 1.0, 3)
    return np.clip(a + b * np.cos(2 * np.pi * (c * t + d)), 0.0, 1.0)


def gradient_palette(rng: np.random.Generator, size: int = PALETTE_SIZE) -> np.ndarray:
    """Piecewise-linear palette through 3-6 random HSV colours, dark and light ones included."""
    stops = int(rng.integers(3, 7))
    hue = rng.uniform(0, 1) + np.cumsum(rng.uniform(0.08, 0.45, stops))
    saturation = rng.uniform(0.35, 1.0, stops)
    value = rng.uniform(0.15, 1.0, stops)
    value[rng.integers(stops)] = rng.uniform(0.0, 0.2)  # one dark stop for contrast
    value[rng.integers(stops)] = rng.uniform(0.85, 1.0)  # and one bright one
    colours = hsv_to_rgb(hue, saturation, value)
    positions = np.linspace(0.0, 1.0, stops)
    t = np.linspace(0.0, 1.0, size)
    return np.stack([np.interp(t, positions, colours[:, k]) for k in range(3)], -1)


def random_palette(rng: np.random.Generator, size: int = PALETTE_SIZE) -> np.ndarray:
    """A cosine or a gradient palette (even odds), float ``[size, 3]`` in [0, 1]."""
    return cosine_palette(rng, size) if rng.random() < 0.5 else gradient_palette(rng, size)


def apply_palette(t: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] through a palette table; returns uint8 ``[..., 3]``."""
    index = np.clip((t * (len(palette) - 1)).round().astype(np.int64), 0, len(palette) - 1)
    return (palette[index] * 255.0).round().astype(np.uint8)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8."""
    return (np.clip(rgb, 0.0, 1.0) * 255.0).round().astype(np.uint8)
