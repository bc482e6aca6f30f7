"""Noise and blur corruptions of Hendrycks & Dietterich, for any preset.

Every function takes a uint8 batch ``[N, H, W, 3]``, the preset's constants `c` for one
severity (see ``presets.py``), a ``numpy.random.Generator`` and the call's
`CorruptionContext`, and returns values in [0, 255] that ``corrupt`` truncates to uint8 as the
reference's ``np.uint8(...)`` does. The formulas are those shared by ``make_cifar_c.py``,
``make_tinyimagenet_c.py`` and ``make_imagenet_c.py`` (hendrycks/robustness).
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from ipmix.corruptions.imagenet_c.presets import CorruptionContext, CorruptionError
from ipmix.corruptions.kernels import common, draws, noise

# -------------------------------------------------------------------------------- noise


def gaussian_noise(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    return noise.add_gaussian_noise(x, c, rng, uint8_out=True)


def shot_noise(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    return noise.add_shot_noise(x, c, rng, uint8_out=True)


def impulse_noise(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    """skimage ``random_noise(mode='s&p', amount=c)``: each value flipped with probability c,
    to 1 or 0 with equal odds, independently per channel: ``rng.random(x.shape)`` (< c:
    flipped), then another (< 0.5: to 1, else to 0). From a PCG64 generator the two blocks of
    uniforms are read side by side (a second stream starts where the first one ends)."""
    out = np.empty(x.shape, dtype=np.uint8)
    first = draws.Stream.open(rng)
    if first is None:
        flipped, salted = rng.random(x.size), rng.random(x.size)
        _salt_and_pepper(x.reshape(-1), flipped, salted, c, out.reshape(-1))
        return out
    second = draws.Stream.open(rng, skip=x.size)
    streams = (first.state, second.state, first.buffer, second.buffer)
    second.close(_drawn_salt_and_pepper(x.reshape(-1), c, out.reshape(-1), *streams))
    return out


@numba.njit(cache=True, nogil=True)
def _salt_and_pepper(x, flipped, salted, amount, out) -> None:
    for i in range(x.shape[0]):
        v = x[i] / 255.0
        if flipped[i] < amount:
            v = 1.0 if salted[i] < 0.5 else 0.0
        out[i] = v * 255.0


@numba.njit(cache=True, nogil=True)
def _drawn_salt_and_pepper(x, amount, out, first, second, flips, salts) -> int:
    """`_salt_and_pepper` with the uniforms of the two streams, a buffer of each at a time;
    returns the second stream's read position."""
    n, block = x.shape[0], flips.shape[0]
    flipped, salted = np.empty(block), np.empty(block)
    pos = block
    for start in range(0, n, block):
        draws.refill(first, flips)
        draws.refill(second, salts)
        pos = min(block, n - start)
        for j in range(pos):
            flipped[j] = draws.to_double(flips[j])
            salted[j] = draws.to_double(salts[j])
        stop = start + pos
        _salt_and_pepper(x[start:stop], flipped[:pos], salted[:pos], amount, out[start:stop])
    return pos


def speckle_noise(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    return noise.add_speckle_noise(x, c, rng, uint8_out=True)


# -------------------------------------------------------------------------------- blur


def gaussian_blur(x: np.ndarray, c: float, rng: np.random.Generator, ctx: CorruptionContext):
    return np.clip(common.gaussian_filter_hw(x / 255.0, c), 0.0, 1.0) * 255.0


def _check_glass_offsets(images: np.ndarray, dx: np.ndarray, dy: np.ndarray, delta: int) -> None:
    n, h, w = images.shape[:3]
    expected = (n, h - 2 * delta, w - 2 * delta)
    if dx.shape != expected or dy.shape != expected:
        raise CorruptionError(f"glass offsets must have shape {expected}, got {dx.shape}")
    low = min(dx.min(initial=0), dy.min(initial=0))
    high = max(dx.max(initial=-1), dy.max(initial=-1))
    if low < -delta or high > delta - 1:
        raise CorruptionError(f"glass offsets must lie in [-{delta}, {delta - 1}]")


def glass_shuffle(images: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """One pass of glass blur's local pixel shuffle with offsets in {-1, 0}, batched.

    The reference walks rows and columns from ``H - 1`` down to 2 and runs
    ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` with ``(h', w') = (h + dy, w + dx)`` and
    ``dx, dy = randint(-1, 1)``. On numpy pixels that line copies ``x[h', w']`` into
    ``x[h, w]`` and leaves ``x[h', w']`` as it was (the right-hand side is a view). The source
    lies at or before the target in the walk, so it is never overwritten earlier in the same
    pass: the pass equals one simultaneous gather, done here for the whole batch.
    `dx`, `dy` are ``[N, H - 2, W - 2]`` integer arrays for the targets ``[2:, 2:]``.
    """
    if min(dx.min(initial=0), dy.min(initial=0)) < -1 or max(dx.max(initial=0), dy.max(initial=0)) > 0:
        raise CorruptionError("glass offsets must lie in {-1, 0} for the gather to be exact")
    _check_glass_offsets(images, dx, dy, 1)
    n, h, w = images.shape[:3]
    out = images.copy()
    batch = np.arange(n)[:, None, None]
    rows = np.arange(2, h)[None, :, None]
    cols = np.arange(2, w)[None, None, :]
    out[batch, rows, cols] = images[batch, rows + dy, cols + dx]
    return out


@numba.njit(cache=True, nogil=True)
def _glass_walk(images: np.ndarray, dx: np.ndarray, dy: np.ndarray, delta: int) -> None:
    n, h, w, channels = images.shape
    for i in range(n):
        for r in range(h - delta, delta, -1):
            for col in range(w - delta, delta, -1):
                rr = r + dy[i, r - delta - 1, col - delta - 1]
                cc = col + dx[i, r - delta - 1, col - delta - 1]
                for k in range(channels):
                    images[i, r, col, k] = images[i, rr, cc, k]


def glass_shuffle_sequential(images: np.ndarray, dx: np.ndarray, dy: np.ndarray, delta: int) -> np.ndarray:
    """One pass of glass blur's shuffle for any ``max_delta`` (offsets in ``[-delta, delta - 1]``).

    With ``delta > 1`` a source pixel can lie after its target in the reference's walk (rows
    and columns from ``H - delta`` down to ``delta + 1``) and may already have been overwritten,
    so the pass is the literal sequential walk, compiled with numba. `dx`, `dy` are
    ``[N, H - 2 delta, W - 2 delta]`` for the targets ``[delta + 1:H - delta + 1, ...]``.
    """
    _check_glass_offsets(images, dx, dy, delta)
    out = np.ascontiguousarray(images).copy()
    dx, dy = (np.ascontiguousarray(d, dtype=np.int64) for d in (dx, dy))
    _glass_walk(out, dx, dy, delta)
    return out


def glass_blur(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    """Blur, locally shuffle pixels (`iterations` passes), blur again."""
    sigma, delta, iterations = c
    n, h, w = x.shape[:3]
    out = common.to_uint8(common.gaussian_filter_hw(x / 255.0, sigma))
    for _ in range(iterations):
        # randint(-delta, delta) per pixel: values in [-delta, delta - 1]; [0] is dx, [1] dy
        offsets = rng.integers(-delta, delta, size=(2, n, h - 2 * delta, w - 2 * delta))
        if delta == 1:
            out = glass_shuffle(out, offsets[0], offsets[1])
        else:
            out = glass_shuffle_sequential(out, offsets[0], offsets[1], delta)
    return np.clip(common.gaussian_filter_hw(out / 255.0, sigma), 0.0, 1.0) * 255.0


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """The anti-aliased disk kernel of the reference (17 x 17 for radius <= 8)."""
    if radius <= 8:
        support, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        support, ksize = np.arange(-radius, radius + 1), (5, 5)
    xx, yy = np.meshgrid(support, support)
    disk = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def defocus_blur(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    radius, alias_blur = c
    kernel = disk_kernel(radius, alias_blur)
    x = x / 255.0
    out = np.stack([cv2.filter2D(image, -1, kernel) for image in x])
    return np.clip(out, 0.0, 1.0) * 255.0


def motion_blur(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext):
    radius, sigma = c
    angles = rng.uniform(-45.0, 45.0, size=x.shape[0])
    return common.magick_motion_blur_uint8(x, radius, sigma, angles)


def zoom_blur(x: np.ndarray, c: tuple, rng: np.random.Generator, ctx: CorruptionContext, *,
              trim: str = "centre"):
    """The mean of the image and its zooms; `trim`: where each zoom is cut back to the image
    (``"centre"``, make_imagenet_c.py; ``"start"``, imagecorruptions)."""
    stop, step = c
    factors = np.arange(1, stop, step)
    x = (x / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for factor in factors:
        out += common.clipped_zoom(x, factor, trim)
    return np.clip((x + out) / (len(factors) + 1), 0.0, 1.0) * 255.0
