"""The noise-like "C-bar" corruptions of Mintun et al. (2021), vectorised.

Formulas and parameter sampling of facebookresearch/augmentation-corruption
``imagenet_c_bar/corrupt.py`` (and its ``PerlinNoiseGenerator``), evaluated on the whole pixel
grid at once instead of pixel by pixel. Each function takes one uint8 ``[S, S, 3]`` image, the
corruption's level (the float "severity" of the reference's csv files) and a
``numpy.random.Generator``, and returns a uint8 image. Random draws happen in the reference's
order; where the reference seeds an inner ``RandomState`` from ``randint(0, 2**32)``, the seed
is drawn the same way and seeds an inner ``Generator``.
"""

from __future__ import annotations

import numpy as np
from scipy.fftpack import ifft2

LUMA = np.array([0.2126, 0.7152, 0.0722])


def float_parameter(level: float, maxval: float) -> float:
    """The reference's severity scaling: ``level * maxval / 10``."""
    return float(level) * maxval / 10.0


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row (y) and column (x) index grids of a ``size x size`` image."""
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return yy, xx


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


def single_frequency_greyscale(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    freq_mag = rng.uniform(-np.pi, np.pi)
    freq_2 = rng.uniform(-abs(freq_mag), abs(freq_mag))
    freq = np.array([freq_mag, freq_2])[rng.permutation(2)]
    phase = rng.uniform(0, 2 * np.pi)
    intensity = float_parameter(level, 196)
    yy, xx = pixel_grid(image.shape[0])
    noise = np.sin(xx * freq[0] + yy * freq[1] + phase)
    return _to_uint8(image + intensity * noise[..., None])


def cocentric_sine_waves(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    offset = rng.uniform(0, size, size=2)
    freq = rng.uniform(0, 10)
    amplitude = rng.uniform(0, size / 10)
    ring_width = rng.uniform(0, size / 10)
    intensity = float_parameter(level, 128)
    yy, xx = pixel_grid(size)
    dx, dy = xx - offset[0], yy - offset[1]
    angle = np.arctan2(dx, dy) * freq
    distance = ((np.sqrt(dx**2 + dy**2) + np.sin(angle) * amplitude) % ring_width) / ring_width
    noise = distance - 1 / 2
    return _to_uint8(image + intensity * noise[..., None])


def plasma_noise(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    time = rng.uniform(0.0, 6 * np.pi)
    iterations = int(rng.integers(4, 7))
    sharpness = rng.uniform(0.5, 1.0)
    scale = rng.uniform(0.075, 0.2) * size
    intensity = float_parameter(level, 64)
    yy, xx = pixel_grid(size)
    x, y = xx / scale, yy / scale
    i = np.array([1.0, 1.0, 1.0, 0.0])
    for _ in range(iterations):
        r0 = np.cos(y * i[0] - i[3] + time / i[1]) / i[2]
        r1 = np.sin(x * i[0] - i[3] + time / i[1]) / i[2]
        r0, r1 = r0 + -r1 * 0.3, r1 + r0 * 0.3
        x = x + r0
        y = y + r1
        i *= np.array([1.93, 1.15, (2.25 - sharpness), time * i[1]])
    noise = np.stack([np.sin(x - time), np.sin((x + y + np.sin(time)) * 0.5), np.sin(y + time)], axis=-1)
    return _to_uint8((1 - intensity / 255) * image + intensity * noise)


class PerlinNoise:
    """Ken Perlin's 2-D gradient noise as the reference's ``PerlinNoiseGenerator``, on arrays."""

    B = 256
    N = 16 * 256

    def __init__(self, rng: np.random.Generator):
        b = self.B
        vectors = []
        for _ in range(2 * b + 2):
            v = (rng.integers(0, 2**31, size=2) % (2 * b) - b) / b
            vectors.append(v / np.linalg.norm(v))
        self.g = np.array(vectors)
        self.p = np.arange(2 * b + 2)
        for i in range(b - 1, -1, -1):
            j = int(rng.integers(0, 2**31)) % b
            self.p[i], self.p[j] = self.p[j], self.p[i]
        for i in range(b + 2):
            self.p[b + i] = self.p[i]
            self.g[b + i, :] = self.g[i, :]

    def noise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p, g, b = self.p, self.g, self.B
        t = x + self.N
        bx0 = t.astype(np.int64) % b
        bx1 = (bx0 + 1) % b
        rx0 = t % 1
        rx1 = rx0 - 1.0
        t = y + self.N
        by0 = t.astype(np.int64) % b
        by1 = (by0 + 1) % b
        ry0 = t % 1
        ry1 = ry0 - 1.0
        i, j = p[bx0], p[bx1]
        b00, b10, b01, b11 = p[i + by0], p[j + by0], p[i + by1], p[j + by1]
        sx = rx0**2 * (3.0 - 2.0 * rx0)
        sy = ry0**2 * (3.0 - 2.0 * ry0)
        u = rx0 * g[b00, 0] + ry0 * g[b00, 1]
        v = rx1 * g[b10, 0] + ry0 * g[b10, 1]
        a = u + sx * (v - u)
        u = rx0 * g[b01, 0] + ry1 * g[b01, 1]
        v = rx1 * g[b11, 0] + ry1 * g[b11, 1]
        bb = u + sx * (v - u)
        return 1.5 * (a + sy * (bb - a))

    def turbulence(self, x: np.ndarray, y: np.ndarray, octaves: float) -> np.ndarray:
        total = np.zeros_like(x)
        f = 1.0
        while f <= octaves:
            total = total + np.abs(self.noise(f * x, f * y)) / f
            f = f * 2
        return total


def perlin_noise(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    m = np.array([[1, 0], [0, 1]]) / (32 * size / 224)
    turbulence, gain, bias = 16.0, 0.5, 0.5
    alpha = float_parameter(level, 0.50)
    generator = PerlinNoise(np.random.default_rng(int(rng.integers(0, 2**32))))
    yy, xx = pixel_grid(size)
    first = yy * m[0, 0] + xx * m[1, 0]  # [y, x] @ m
    second = yy * m[0, 1] + xx * m[1, 1]
    f = gain * generator.turbulence(first, second, turbulence) + bias
    noise = np.clip(f, 0, 1.0)[..., None]
    return _to_uint8((1 - alpha) * image.astype(np.float32) + 255 * alpha * noise)


def _spectral_noise(size: int, rng: np.random.Generator, power: np.ndarray) -> np.ndarray:
    """One channel of the reference's ``gen_noise``: random phases with a given power spectrum,
    made Hermitian, inverse FFT (scipy.fftpack), standardised."""
    phases = rng.uniform(0, 2 * np.pi, size=(size, size // 2))
    if size % 2 == 0:
        phases = np.concatenate((phases, phases[::-1, ::-1]), axis=1)
    else:
        centre = rng.uniform(0, 2 * np.pi, size=(size // 2, 1))
        centre = np.concatenate((centre, np.array([[0.0]]), centre[::-1, :]), axis=0)
        phases = np.concatenate((phases, centre, phases[::-1, ::-1]), axis=1)
    spectrum = power * (np.cos(phases) + np.sin(phases) * 1j)
    spectrum = np.roll(spectrum, size // 2, axis=0)
    spectrum = np.roll(spectrum, size // 2, axis=1)
    noise = np.real(ifft2(spectrum))
    return noise / np.std(noise)


def _distance_to_centre(size: int) -> np.ndarray:
    """``norm([x, y] - size / 2)`` at every pixel (rows y, columns x)."""
    yy, xx = pixel_grid(size)
    return np.sqrt((xx - size / 2) ** 2 + (yy - size / 2) ** 2)


def brownish_noise(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    inner = np.random.default_rng(int(rng.integers(0, 2**32)))
    intensity = float_parameter(level, 64)
    power = 1 / (_distance_to_centre(size) ** 2 + 1)
    noise = np.stack([_spectral_noise(size, inner, power) for _ in range(3)], axis=2)
    return _to_uint8(image + intensity * noise)


def blue_noise_sample(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    inner = np.random.default_rng(int(rng.integers(0, 2**32)))
    threshold = float_parameter(level, 3.0) - 2.5
    noise = _spectral_noise(size, inner, _distance_to_centre(size))
    return _to_uint8(image * (noise > threshold)[..., None])
