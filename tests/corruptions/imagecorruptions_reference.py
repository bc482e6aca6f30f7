"""Transcription of bethgelab/imagecorruptions 1.1.2 (the release on PyPI), for fidelity tests.

Not ipmix code: ``imagecorruptions/corruptions.py`` and ``corrupt`` of ``__init__.py`` at tag
v1.1.2, restated for today's libraries and with the global ``np.random`` calls replaced by the
same calls on a ``numpy.random.Generator`` passed in (same draws, same order), so that ipmix's
output can be compared on the same seed. Departures:

- the two fixes without which the release fails on NumPy 2 and today's scikit-image: ``np.float_``
  is ``np.float64`` (fog's plasma fractal) and ``gaussian(multichannel=True)`` is
  ``gaussian(channel_axis=-1)`` (gaussian_blur, glass_blur);
- ``scipy.ndimage.interpolation.map_coordinates`` is ``scipy.ndimage.map_coordinates`` and the
  frost textures come from `frost_dir` (the release reads its package copies of the same files
  with ``pkg_resources``);
- impulse_noise passes ``rng`` to ``skimage.util.random_noise`` (the release lets it draw from a
  fresh, unseeded generator: its impulse noise is not reproducible at all);
- only the RGB paths: ``corrupt`` hands every function an RGB image (grey input is stacked to
  three channels first), so the functions' grey branches never run from it;
- the functions whose code is ``make_imagenet_c.py``'s (the release copied them: the four noises,
  gaussian, defocus (with ``disk``), contrast, brightness, saturate, ``plasma_fractal``, and
  spatter's water) are ``hendrycks_reference.py``'s, written once.
"""

from __future__ import annotations

import math
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from hendrycks_reference import (
    brightness,
    contrast,
    defocus_blur,
    gaussian_blur,
    gaussian_noise,
    impulse_noise,
    plasma_fractal,
    saturate,
    shot_noise,
    speckle_noise,
)
from hendrycks_reference import spatter as hendrycks_spatter
from PIL import Image
from scipy.ndimage import map_coordinates
from scipy.ndimage import zoom as scizoom
from skimage.filters import gaussian


def clipped_zoom(img, zoom_factor):
    ch0 = int(np.ceil(img.shape[0] / float(zoom_factor)))
    top0 = (img.shape[0] - ch0) // 2
    ch1 = int(np.ceil(img.shape[1] / float(zoom_factor)))
    top1 = (img.shape[1] - ch1) // 2
    img = scizoom(img[top0 : top0 + ch0, top1 : top1 + ch1], (zoom_factor, zoom_factor, 1), order=1)
    return img


def getOptimalKernelWidth1D(radius, sigma):
    return radius * 2 + 1


def gauss_function(x, mean, sigma):
    return (np.exp(-(x**2) / (2 * (sigma**2)))) / (np.sqrt(2 * np.pi) * sigma)


def getMotionBlurKernel(width, sigma):
    k = gauss_function(np.arange(width), 0, sigma)
    Z = np.sum(k)
    return k / Z


def shift(image, dx, dy):
    if dx < 0:
        shifted = np.roll(image, shift=image.shape[1] + dx, axis=1)
        shifted[:, dx:] = shifted[:, dx - 1 : dx]
    elif dx > 0:
        shifted = np.roll(image, shift=dx, axis=1)
        shifted[:, :dx] = shifted[:, dx : dx + 1]
    else:
        shifted = image
    if dy < 0:
        shifted = np.roll(shifted, shift=image.shape[0] + dy, axis=0)
        shifted[dy:, :] = shifted[dy - 1 : dy, :]
    elif dy > 0:
        shifted = np.roll(shifted, shift=dy, axis=0)
        shifted[:dy, :] = shifted[dy : dy + 1, :]
    return shifted


def _motion_blur(x, radius, sigma, angle):
    width = getOptimalKernelWidth1D(radius, sigma)
    kernel = getMotionBlurKernel(width, sigma)
    point = (width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle)))
    hypot = math.hypot(point[0], point[1])
    blurred = np.zeros_like(x, dtype=np.float32)
    for i in range(width):
        dy = -math.ceil(((i * point[0]) / hypot) - 0.5)
        dx = -math.ceil(((i * point[1]) / hypot) - 0.5)
        if np.abs(dy) >= x.shape[0] or np.abs(dx) >= x.shape[1]:
            break
        shifted = shift(x, dx, dy)
        blurred = blurred + kernel[i] * shifted
    return blurred


def glass_blur(x, severity, rng, **_):
    c = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)][severity - 1]
    x = np.uint8(gaussian(np.array(x) / 255.0, sigma=c[0], channel_axis=-1) * 255)
    x_shape = np.array(x).shape
    for _ in range(c[2]):
        for h in range(x_shape[0] - c[1], c[1], -1):
            for w in range(x_shape[1] - c[1], c[1], -1):
                dx, dy = rng.integers(-c[1], c[1], size=(2,))
                h_prime, w_prime = h + dy, w + dx
                x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]
    return np.clip(gaussian(x / 255.0, sigma=c[0], channel_axis=-1), 0, 1) * 255


def motion_blur(x, severity, rng, **_):
    c = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][severity - 1]
    x = np.array(x)
    angle = rng.uniform(-45, 45)
    x = _motion_blur(x, radius=c[0], sigma=c[1], angle=angle)
    return np.clip(x, 0, 255)


def zoom_blur(x, severity, rng, **_):
    c = [
        np.arange(1, 1.11, 0.01),
        np.arange(1, 1.16, 0.01),
        np.arange(1, 1.21, 0.02),
        np.arange(1, 1.26, 0.02),
        np.arange(1, 1.31, 0.03),
    ][severity - 1]
    x = (np.array(x) / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for zoom_factor in c:
        zoom_layer = clipped_zoom(x, zoom_factor)
        zoom_layer = zoom_layer[: x.shape[0], : x.shape[1], :]
        out += zoom_layer
    x = (x + out) / (len(c) + 1)
    return np.clip(x, 0, 1) * 255


def next_power_of_2(x):
    return 1 if x == 0 else 2 ** (x - 1).bit_length()


def fog(x, severity, rng, **_):
    c = [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)][severity - 1]
    shape = np.array(x).shape
    max_side = np.max(shape)
    map_size = next_power_of_2(int(max_side))
    x = np.array(x) / 255.0
    max_val = x.max()
    x += c[0] * plasma_fractal(rng, mapsize=map_size, wibbledecay=c[1])[: shape[0], : shape[1]][
        ..., np.newaxis
    ]
    return np.clip(x * max_val / (max_val + c[0]), 0, 1) * 255


def frost(x, severity, rng, frost_dir=None, **_):
    c = [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)][severity - 1]
    idx = rng.integers(5)
    filename = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"][idx]
    frost = cv2.imread(str(Path(frost_dir) / filename))
    frost_shape = frost.shape
    x_shape = np.array(x).shape
    scaling_factor = 1
    if frost_shape[0] >= x_shape[0] and frost_shape[1] >= x_shape[1]:
        scaling_factor = 1
    elif frost_shape[0] < x_shape[0] and frost_shape[1] >= x_shape[1]:
        scaling_factor = x_shape[0] / frost_shape[0]
    elif frost_shape[0] >= x_shape[0] and frost_shape[1] < x_shape[1]:
        scaling_factor = x_shape[1] / frost_shape[1]
    elif frost_shape[0] < x_shape[0] and frost_shape[1] < x_shape[1]:
        scaling_factor_0 = x_shape[0] / frost_shape[0]
        scaling_factor_1 = x_shape[1] / frost_shape[1]
        scaling_factor = np.maximum(scaling_factor_0, scaling_factor_1)
    scaling_factor *= 1.1
    new_shape = (int(np.ceil(frost_shape[1] * scaling_factor)), int(np.ceil(frost_shape[0] * scaling_factor)))
    frost_rescaled = cv2.resize(frost, dsize=new_shape, interpolation=cv2.INTER_CUBIC)
    x_start, y_start = (
        rng.integers(0, frost_rescaled.shape[0] - x_shape[0]),
        rng.integers(0, frost_rescaled.shape[1] - x_shape[1]),
    )
    frost_rescaled = frost_rescaled[x_start : x_start + x_shape[0], y_start : y_start + x_shape[1]][
        ..., [2, 1, 0]
    ]
    return np.clip(c[0] * np.array(x) + c[1] * frost_rescaled, 0, 255)


def snow(x, severity, rng, **_):
    c = [
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ][severity - 1]
    x = np.array(x, dtype=np.float32) / 255.0
    snow_layer = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    snow_layer = clipped_zoom(snow_layer[..., np.newaxis], c[2])
    snow_layer[snow_layer < c[3]] = 0
    snow_layer = np.clip(snow_layer.squeeze(), 0, 1)
    snow_layer = _motion_blur(snow_layer, radius=c[4], sigma=c[5], angle=rng.uniform(-135, -45))
    snow_layer = np.round(snow_layer * 255).astype(np.uint8) / 255.0
    snow_layer = snow_layer[..., np.newaxis]
    snow_layer = snow_layer[: x.shape[0], : x.shape[1], :]
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(x.shape[0], x.shape[1], 1)
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey * 1.5 + 0.5)
    return np.clip(x + snow_layer + np.rot90(snow_layer, k=2), 0, 1) * 255


def spatter(x, severity, rng, **_):
    """Severities 1-3 (water) are make_imagenet_c.py's code; the mud of 4 and 5 is the release's."""
    if severity <= 3:
        return hendrycks_spatter(x, severity, rng)
    c = [(0.65, 0.3, 1, 0.65, 1.5, 1), (0.67, 0.4, 1, 0.65, 1.5, 1)][severity - 4]
    x_PIL = x
    x = np.array(x, dtype=np.float32) / 255.0
    liquid_layer = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    liquid_layer = gaussian(liquid_layer, sigma=c[2])
    liquid_layer[liquid_layer < c[3]] = 0
    m = np.where(liquid_layer > c[3], 1, 0)
    m = gaussian(m.astype(np.float32), sigma=c[4])
    m[m < 0.8] = 0
    x_rgb = np.array(x_PIL.convert("RGB"))
    color = np.concatenate(
        (
            63 / 255.0 * np.ones_like(x_rgb[..., :1]),
            42 / 255.0 * np.ones_like(x_rgb[..., :1]),
            20 / 255.0 * np.ones_like(x_rgb[..., :1]),
        ),
        axis=2,
    )
    color *= m[..., np.newaxis]
    x *= 1 - m[..., np.newaxis]
    return np.clip(x + color, 0, 1) * 255


def jpeg_compression(x, severity, rng, **_):
    c = [25, 18, 15, 10, 7][severity - 1]
    output = BytesIO()
    x.save(output, "JPEG", quality=c)
    return Image.open(output)


def pixelate(x, severity, rng, **_):
    c = [0.6, 0.5, 0.4, 0.3, 0.25][severity - 1]
    x_shape = np.array(x).shape
    x = x.resize((int(x_shape[1] * c), int(x_shape[0] * c)), Image.BOX)
    return x.resize((x_shape[1], x_shape[0]), Image.NEAREST)


def elastic_transform(image, severity, rng, **_):
    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    shape_size = shape[:2]
    sigma = np.array(shape_size) * 0.01
    alpha = [250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12][severity - 1]
    max_dx = shape[0] * 0.005
    max_dy = shape[0] * 0.005
    dx = (
        gaussian(rng.uniform(-max_dx, max_dx, size=shape[:2]), sigma, mode="reflect", truncate=3) * alpha
    ).astype(np.float32)
    dy = (
        gaussian(rng.uniform(-max_dy, max_dy, size=shape[:2]), sigma, mode="reflect", truncate=3) * alpha
    ).astype(np.float32)
    dx, dy = dx[..., np.newaxis], dy[..., np.newaxis]
    x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = np.reshape(y + dy, (-1, 1)), np.reshape(x + dx, (-1, 1)), np.reshape(z, (-1, 1))
    return np.clip(map_coordinates(image, indices, order=1, mode="reflect").reshape(shape), 0, 1) * 255


CORRUPTIONS = (
    gaussian_noise, shot_noise, impulse_noise, defocus_blur, glass_blur, motion_blur, zoom_blur, snow,
    frost, fog, brightness, contrast, elastic_transform, pixelate, jpeg_compression, speckle_noise,
    gaussian_blur, spatter, saturate,
)  # fmt: skip
CORRUPTION_DICT = {function.__name__: function for function in CORRUPTIONS}


def corrupt(image, severity=1, corruption_name=None, rng=None, frost_dir=None):
    """``imagecorruptions.corrupt`` for a uint8 RGB ``[H, W, 3]`` image (its checks left out)."""
    corrupted = CORRUPTION_DICT[corruption_name](Image.fromarray(image), severity, rng, frost_dir=frost_dir)
    return np.uint8(corrupted)


def photos(sizes: tuple[tuple[int, int], ...]) -> list[np.ndarray]:
    """Real photos at each ``(height, width)``: ``skimage.data`` pictures resized (bilinear) to
    cover the size, then centre-cropped; a different photo for each size."""
    import skimage.data

    out = []
    for index, (height, width) in enumerate(sizes):
        name = ("astronaut", "coffee", "chelsea", "rocket")[index % 4]
        picture = Image.fromarray(getattr(skimage.data, name)())
        scale = max(height / picture.size[1], width / picture.size[0])
        picture = picture.resize((math.ceil(picture.size[0] * scale), math.ceil(picture.size[1] * scale)),
                                 Image.BILINEAR)
        left, top = (picture.size[0] - width) // 2, (picture.size[1] - height) // 2
        out.append(np.asarray(picture.crop((left, top, left + width, top + height))))
    return out
