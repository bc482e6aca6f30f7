"""The geometric and overlay "C-bar" corruptions of Mintun et al. (2021), vectorised.

Same contract and source as ``noise.py`` (facebookresearch/augmentation-corruption
``imagenet_c_bar/corrupt.py``): one uint8 ``[S, S, 3]`` image, a float level, a Generator.
Per-pixel kernels of the reference (sparkle rays, checkerboard mask, warps, caustic
refraction, its ``bilinear_interpolation``) are evaluated on whole pixel grids; sequential steps
of the reference (one sparkle after another, one twirl cell after another, one line after
another) stay sequential.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.ndimage import gaussian_filter, rotate

from ipmix.corruptions.cbar.noise import LUMA, float_parameter, pixel_grid
from ipmix.corruptions.kernels import ndimage


def bilinear_sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The reference's ``bilinear_interpolation`` at many points: neighbours outside the image
    count as black. Returns float64 ``[..., 3]``."""
    h, w = image.shape[:2]
    top = np.floor(rows).astype(np.int64)
    left = np.floor(cols).astype(np.int64)

    def pick(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        values = image[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
        return np.where(inside[..., None], values, 0)

    bottom, right = top + 1, left + 1
    wu = (1.0 - cols + left)[..., None]
    wd = (1.0 - right + cols)[..., None]
    upper = pick(top, left) * wu + pick(top, right) * wd
    lower = pick(bottom, left) * wu + pick(bottom, right) * wd
    return upper * (1.0 - rows + top)[..., None] + lower * (1.0 - bottom + rows)[..., None]


def _ray_factor(image_size: int, center: np.ndarray, radius: float, ray_lengths: np.ndarray, amount):
    """The sparkle kernel's blend factor ``f`` at every pixel (before the final blend)."""
    yy, xx = pixel_grid(image_size)
    dp0, dp1 = yy - center[0], xx - center[1]
    dist = np.sqrt(dp0**2 + dp1**2)
    rays = len(ray_lengths)
    d = (np.arctan2(dp1, dp0) + np.pi) / (2 * np.pi) * rays
    i = d.astype(np.int64)
    f = d - i
    if radius != 0:
        low = ray_lengths[i % rays]
        length = low + f * (ray_lengths[(i + 1) % rays] - low)
        g = length**2 / (dist**2 + 1e-4)
        g = g ** ((100 - amount) / 50.0)
        f = (1 - (f - 0.5) ** 2) * g
    return np.clip(f, 0, 1)[..., None]


def sparkles(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    centers = rng.uniform(0, size, size=(5, 2))
    radius = float_parameter(level, 0.1) * size
    inner = np.random.default_rng(int(rng.integers(0, 2**32)))
    nrays = rng.integers(50, 200, size=5)
    colour = np.array([255, 255, 255])
    out = image
    for center, rays in zip(centers, nrays, strict=True):
        lengths = np.maximum(1, radius + 25 / 100.0 * radius * inner.standard_normal(int(rays)))
        value = out.astype(np.float32)
        out = value + _ray_factor(size, center, radius, lengths, np.int64(50)) * (colour - value)
    return np.clip(out, 0, 255).astype(np.uint8)


def inverse_sparkles(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    center = rng.uniform(0.25, 0.75, size=2) * size
    radius = 0.25 * size
    amount = 100 - float_parameter(level, 65)
    inner = np.random.default_rng(int(rng.integers(0, 2**32)))
    rays = int(rng.integers(50, 200))
    lengths = radius + 25 / 100.0 * radius * inner.standard_normal(rays)
    value = image.astype(np.float32)
    colour = np.array([255, 255, 255])
    out = colour + _ray_factor(size, center, radius, lengths, amount) * (value - colour)
    return np.clip(out, 0, 255).astype(np.uint8)


def checkerboard_cutout(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    angle = rng.uniform(0, 2 * np.pi)
    scale = np.maximum(rng.uniform(0.1, 0.25) * size, 1)
    fraction = float_parameter(level, 1.0)
    inner = np.random.default_rng(int(rng.integers(0, 2**32)))
    cells = int(4 * size // scale)
    grid = inner.uniform(size=(cells, cells)) < fraction
    yy, xx = pixel_grid(size)
    nx = (np.cos(angle) * yy + np.sin(angle) * xx) / scale
    ny = (-np.sin(angle) * yy + np.cos(angle) * xx) / scale
    ix, iy = np.trunc(nx).astype(np.int64), np.trunc(ny).astype(np.int64)  # int(), negatives wrap
    keep = ((nx % 2).astype(np.int64) != (ny % 2).astype(np.int64)) | ~grid[ix % cells, iy % cells]
    return np.where(keep[..., None], image, np.uint8(128)).astype(np.uint8)


@numba.njit(cache=True)
def line_aa(r0: int, c0: int, r1: int, c1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """skimage's anti-aliased line (Zingl's algorithm), as ``skimage.draw.line_aa``."""
    dc, dr = abs(c0 - c1), abs(r0 - r1)
    err = float(dc - dr)
    sign_c = 1 if c0 < c1 else -1
    sign_r = 1 if r0 < r1 else -1
    ed = 1.0 if dc + dr == 0 else math.sqrt(dc * dc + dr * dr)
    rr, cc, val = [0], [0], [0.0]  # typed lists for numba; the seeds are dropped below
    rr.pop()
    cc.pop()
    val.pop()
    c, r = c0, r0
    while True:
        cc.append(c)
        rr.append(r)
        val.append(abs(err - dc + dr) / ed)
        err_prime, c_prime = err, c
        if 2 * err_prime >= -dc:
            if c == c1:
                break
            if (err_prime + dr) < ed:
                cc.append(c)
                rr.append(r + sign_r)
                val.append(abs(err_prime + dr) / ed)
            err -= dr
            c += sign_c
        if 2 * err_prime <= dr:
            if r == r1:
                break
            if (dc - err_prime) < ed:
                cc.append(c_prime + sign_c)
                rr.append(r)
                val.append(abs(dc - err_prime) / ed)
            err += dc
            r += sign_r
    return np.array(rr), np.array(cc), 1.0 - np.array(val)


def lines(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    density = float_parameter(level, 1.0)
    angle = rng.uniform(0.0, 2 * np.pi)
    angle_variation = rng.uniform(0.1, 1.0)
    inner = np.random.default_rng(int(rng.integers(0, 2**32)))
    length = 1.0 * size
    out = image.copy()
    for _ in range(int(density * size)):
        x = size * inner.uniform()
        y = size * inner.uniform()
        a = angle + 2 * np.pi * angle_variation * (inner.uniform() - 0.5)
        s, c = np.sin(a) * length, np.cos(a) * length
        rows, cols, val = line_aa(int(x - c), int(y - s), int(x + c), int(y + s))
        inside = (rows >= 0) & (cols >= 0) & (rows < size) & (cols < size)
        rows, cols, val = rows[inside], cols[inside], val[inside].reshape(-1, 1)
        out[rows, cols, :] = (1.0 - val) * out[rows, cols, :].astype(np.float32) + val * 128
    return out


def pinch_and_twirl(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    per_axis = 5 if size == 224 else 3
    angles = np.array(
        [rng.choice([1, -1]) * float_parameter(level, np.pi / 2) for _ in range(per_axis**2)]
    ).reshape(per_axis, per_axis)
    amount = float_parameter(level, 0.4) + 0.1
    out = image.copy().astype(np.float32)
    cell = size // per_axis
    radius = cell / 2
    for i in range(per_axis):
        for j in range(per_axis):
            left, up = i * cell, j * cell
            yy, xx = np.meshgrid(np.arange(up, up + cell), np.arange(left, left + cell), indexing="ij")
            cy, cx = up + radius, left + radius
            dy, dx = yy - cy, xx - cx  # the reference's dx (rows) and dy (columns), renamed
            dist = np.sqrt(dy**2 + dx**2)
            moved = ~((dist > radius) | (np.round(dist, 3) == 0.0))
            d = dist / radius
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.sin(np.pi * 0.5 * d) ** (-amount)
                dy, dx = dy * t, dx * t
                a = angles[i, j] * (1 - d) ** 2
                rows = np.where(moved, cy + (dy * np.cos(a) - dx * np.sin(a)), yy)
                cols = np.where(moved, cx + (dy * np.sin(a) + dx * np.cos(a)), xx)
            out[up : up + cell, left : left + cell] = bilinear_sample(out, rows, cols)
    return np.clip(out, 0, 255).astype(np.uint8)


def ripple(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    amplitude = float_parameter(level, 0.025) * size
    wavelengths = rng.uniform(0.1, 0.3, size=2) * size
    phases = rng.uniform(0, 2 * np.pi, size=2)
    yy, xx = pixel_grid(size)
    rows = yy + amplitude * np.sin(2 * np.pi * yy / wavelengths[0] + phases[0])
    cols = xx + amplitude * np.sin(2 * np.pi * xx / wavelengths[1] + phases[1])
    return np.clip(bilinear_sample(image, rows, cols), 0, 255).astype(np.uint8)


def transverse_chromatic_abberation(image: np.ndarray, level: float, rng: np.random.Generator):
    size = image.shape[0]
    scale = float_parameter(level, 0.5)
    scales = np.array([1.0, 1.0 + scale / 2, 1.0 + scale])[rng.permutation(3)]
    out = image.copy()
    for c in range(3):  # scipy.ndimage.zoom(image[:, :, c], scale, prefilter=False), bit for bit
        zoomed = ndimage.zoom_cubic_uint8(image[:, :, c], scales[c])
        edge = (zoomed.shape[0] - size) // 2
        out[:, :, c] = zoomed[edge : edge + size, edge : edge + size]
    return out.astype(np.uint8)


def circular_motion_blur(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    amount = float_parameter(level, 15)
    num = 21
    image = image.astype(np.float32) / 255
    out = np.zeros_like(image)
    factors = []
    for i in range(num):
        position = 2 * i / (num - 1) - 1
        factor = np.exp(-2 * position**2)
        out += factor * rotate(image, position * amount, reshape=False)
        factors.append(factor)
    out /= sum(factors)
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def caustic_pattern(size: int, time: float, scale: float) -> np.ndarray:
    """The reference's ``caustic_noise_kernel`` at every pixel, ``[S, S]``."""
    yy, xx = pixel_grid(size)
    p0 = ((yy / scale) % 1) * 6.28318530718 - 250
    p1 = ((xx / scale) % 1) * 6.28318530718 - 250
    i0, i1 = p0.copy(), p1.copy()
    c = 1.0
    inten = 0.005
    for n in range(5):
        t = time * (1.0 - (3.5 / (n + 1)))
        i0, i1 = p0 + (np.cos(t - i0) + np.sin(t + i1)), p1 + (np.sin(t - i1) + np.cos(t + i0))
        length = np.sqrt((p0 / (np.sin(i0 + t) / inten)) ** 2 + (p1 / (np.cos(i1 + t) / inten)) ** 2)
        c = c + 1.0 / length
    c = c / 5.0
    c = 1.17 - c**1.4
    return np.clip(np.abs(c) ** 8.0, 0, 1)


def caustic_refraction(image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    time = rng.uniform(0.5, 2.0)
    scale = rng.uniform(0.75, 1.25) * size
    eta = 4.0
    lens_scale = float_parameter(level, 0.5 * size)
    lighting = float_parameter(level, 2.0)
    pattern = caustic_pattern(size, time, scale)
    caustics = gaussian_filter(np.stack([pattern] * 3, axis=-1), sigma=1)
    luma = np.pad(caustics @ LUMA, 1)  # pixels outside the image have luma 0
    north, south = luma[1:-1, :-2], luma[1:-1, 2:]  # offsets (0, -1) and (0, +1)
    west, east = luma[:-2, 1:-1], luma[2:, 1:-1]  # offsets (-1, 0) and (+1, 0)
    normal = np.stack([east - west, south - north, np.ones_like(east)], axis=-1)
    normal = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    # refract the view ray (0, 0, 1) through the lens normal n: the reference rotates
    # (cos, sin, 0) of the refracted angle back from the frame (n, n x s, s), s = z x n / |z x n|
    cos_in = normal[..., 2]
    straight = np.abs(cos_in) >= 1.0 - 1e-3
    out_angle = np.arcsin(np.sin(np.arccos(np.where(straight, 1.0, cos_in))) / eta)
    spectator = np.stack([-normal[..., 1], normal[..., 0], np.zeros_like(cos_in)], axis=-1)
    spectator /= np.where(straight, 1.0, np.linalg.norm(spectator, axis=-1))[..., None]
    orthogonal = np.cross(normal, spectator)
    refracted = np.cos(out_angle)[..., None] * normal + np.sin(out_angle)[..., None] * orthogonal
    refracted[straight] = (0.0, 0.0, 1.0)
    shift = np.round(refracted * lens_scale, 3)
    yy, xx = pixel_grid(size)
    picture = image.astype(np.float32) / 255
    out = bilinear_sample(picture, yy + shift[..., 0], xx + shift[..., 1])
    out += ((north - south) * lighting)[..., None]
    out += ((east - west) * lighting)[..., None]
    return np.clip((np.clip(out, 0, 1) * 255).astype(np.uint8), 0, 255)
