"""Transcriptions of reference corruption functions, for fidelity tests and the speed benchmark.

Not ipmix code: each function restates one function of a reference script as literally as the
libraries of today allow, with the global ``np.random`` calls replaced by calls on a
``numpy.random.Generator`` passed in (same draws, same order), so that ipmix's output can be
compared on the same seed. Sources:

- ImageNet-C: hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py`` (224 px).
- ImageNet-C-bar: facebookresearch/augmentation-corruption ``imagenet_c_bar/corrupt.py`` (see
  ``cbar_reference.py``).

Departures, all forced: ``skimage.filters.gaussian(multichannel=True)`` is spelled
``channel_axis=-1``; ``np.fromstring`` is ``np.frombuffer``; the Wand / ImageMagick motion blur
(motion_blur, snow) is not installed for the tests and is ipmix's re-implementation
(``common.magick_motion_blur_uint8``), so there those two check everything but that kernel
(``use_wand`` switches to the real one, as ``benchmarks/corruptions.py`` does); glass
blur's per-pixel ``randint(-d, d, size=2)`` draws are taken from one block drawn up front in the
layout ipmix uses (``[2, H - 2d, W - 2d]``: dx then dy per target pixel), the walk itself is
literal.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import skimage as sk
from PIL import Image as PILImage
from scipy.ndimage import map_coordinates
from scipy.ndimage import zoom as scizoom
from skimage.filters import gaussian

from ipmix.corruptions.kernels import common

SIZE = 224


def disk(radius, alias_blur=0.1, dtype=np.float32):
    if radius <= 8:
        L = np.arange(-8, 8 + 1)
        ksize = (3, 3)
    else:
        L = np.arange(-radius, radius + 1)
        ksize = (5, 5)
    X, Y = np.meshgrid(L, L)
    aliased_disk = np.array(radius**2 >= (X**2 + Y**2), dtype=dtype)
    aliased_disk /= np.sum(aliased_disk)
    return cv2.GaussianBlur(aliased_disk, ksize=ksize, sigmaX=alias_blur)


def _stand_in_motion_blur(png: bytes, radius, sigma, angle) -> np.ndarray:
    picture = np.asarray(PILImage.open(BytesIO(png)))
    blurred = common.magick_motion_blur_uint8(picture[None], radius, sigma, np.array([angle]))[0]
    return blurred[..., ::-1] if blurred.ndim == 3 else blurred


_MOTION_BLUR = {"run": _stand_in_motion_blur, "by": "ipmix's re-implementation (Wand not installed)"}


def use_wand() -> str:
    """Switch the transcriptions to the real Wand / ImageMagick motion blur (benchmark only:
    neither is an ipmix dependency). Returns the ImageMagick version."""
    import ctypes

    from wand.api import library
    from wand.image import Image as WandImage
    from wand.version import MAGICK_VERSION

    double = ctypes.c_double
    library.MagickMotionBlurImage.argtypes = (ctypes.c_void_p, double, double, double)

    class MotionImage(WandImage):
        def motion_blur(self, radius=0.0, sigma=0.0, angle=0.0):
            library.MagickMotionBlurImage(self.wand, radius, sigma, angle)

    def run(png: bytes, radius, sigma, angle) -> np.ndarray:
        with MotionImage(blob=png) as x:
            x.motion_blur(radius=radius, sigma=sigma, angle=angle)
            return cv2.imdecode(np.frombuffer(x.make_blob(), np.uint8), cv2.IMREAD_UNCHANGED)

    _MOTION_BLUR.update(run=run, by=MAGICK_VERSION)
    return MAGICK_VERSION


def wand_motion_blur_png(png: bytes, radius, sigma, angle) -> np.ndarray:
    """``MotionImage(blob=png).motion_blur(...)`` then ``cv2.imdecode``: BGR (or grey) uint8,
    by ipmix's re-implementation unless `use_wand` switched to the real one."""
    return _MOTION_BLUR["run"](png, radius, sigma, angle)


def plasma_fractal(rng, mapsize=256, wibbledecay=3):
    assert mapsize & (mapsize - 1) == 0
    maparray = np.empty((mapsize, mapsize), dtype=np.float64)
    maparray[0, 0] = 0
    stepsize = mapsize
    wibble = 100

    def wibbledmean(array):
        return array / 4 + wibble * rng.uniform(-wibble, wibble, array.shape)

    def fillsquares():
        cornerref = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        squareaccum = cornerref + np.roll(cornerref, shift=-1, axis=0)
        squareaccum += np.roll(squareaccum, shift=-1, axis=1)
        maparray[stepsize // 2 : mapsize : stepsize, stepsize // 2 : mapsize : stepsize] = wibbledmean(
            squareaccum
        )

    def filldiamonds():
        mapsize_ = maparray.shape[0]
        drgrid = maparray[stepsize // 2 : mapsize_ : stepsize, stepsize // 2 : mapsize_ : stepsize]
        ulgrid = maparray[0:mapsize_:stepsize, 0:mapsize_:stepsize]
        ldrsum = drgrid + np.roll(drgrid, 1, axis=0)
        lulsum = ulgrid + np.roll(ulgrid, -1, axis=1)
        ltsum = ldrsum + lulsum
        maparray[0:mapsize_:stepsize, stepsize // 2 : mapsize_ : stepsize] = wibbledmean(ltsum)
        tdrsum = drgrid + np.roll(drgrid, 1, axis=1)
        tulsum = ulgrid + np.roll(ulgrid, -1, axis=0)
        ttsum = tdrsum + tulsum
        maparray[stepsize // 2 : mapsize_ : stepsize, 0:mapsize_:stepsize] = wibbledmean(ttsum)

    while stepsize >= 2:
        fillsquares()
        filldiamonds()
        stepsize //= 2
        wibble /= wibbledecay

    maparray -= maparray.min()
    return maparray / maparray.max()


def clipped_zoom(img, zoom_factor):
    h = img.shape[0]
    ch = int(np.ceil(h / zoom_factor))
    top = (h - ch) // 2
    img = scizoom(img[top : top + ch, top : top + ch], (zoom_factor, zoom_factor, 1), order=1)
    trim_top = (img.shape[0] - h) // 2
    return img[trim_top : trim_top + h, trim_top : trim_top + h]


# ----------------------------------------------------------------------- the corruptions


def gaussian_noise(x, severity, rng, **_):
    c = [0.08, 0.12, 0.18, 0.26, 0.38][severity - 1]
    x = np.array(x) / 255.0
    return np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255


def shot_noise(x, severity, rng, **_):
    c = [60, 25, 12, 5, 3][severity - 1]
    x = np.array(x) / 255.0
    return np.clip(rng.poisson(x * c) / c, 0, 1) * 255


def impulse_noise(x, severity, rng, **_):
    c = [0.03, 0.06, 0.09, 0.17, 0.27][severity - 1]
    x = sk.util.random_noise(np.array(x) / 255.0, mode="s&p", amount=c, rng=rng)
    return np.clip(x, 0, 1) * 255


def speckle_noise(x, severity, rng, **_):
    c = [0.15, 0.2, 0.35, 0.45, 0.6][severity - 1]
    x = np.array(x) / 255.0
    return np.clip(x + x * rng.normal(size=x.shape, scale=c), 0, 1) * 255


def gaussian_blur(x, severity, rng, **_):
    c = [1, 2, 3, 4, 6][severity - 1]
    x = gaussian(np.array(x) / 255.0, sigma=c, channel_axis=-1)
    return np.clip(x, 0, 1) * 255


def glass_blur(x, severity, rng, per_pixel_draws=False, **_):
    """With `per_pixel_draws` the draws are the reference's own, one call per pixel (for timing;
    the stream then differs from ipmix's block draws)."""
    c = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)][severity - 1]
    x = np.uint8(gaussian(np.array(x) / 255.0, sigma=c[0], channel_axis=-1) * 255)
    for _ in range(c[2]):
        draws = rng.integers(-c[1], c[1], size=(2, SIZE - 2 * c[1], SIZE - 2 * c[1]))
        for h in range(SIZE - c[1], c[1], -1):
            for w in range(SIZE - c[1], c[1], -1):
                if per_pixel_draws:
                    dx, dy = rng.integers(-c[1], c[1], size=(2,))
                else:
                    dx, dy = draws[:, h - c[1] - 1, w - c[1] - 1]
                h_prime, w_prime = h + dy, w + dx
                x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]
    return np.clip(gaussian(x / 255.0, sigma=c[0], channel_axis=-1), 0, 1) * 255


def defocus_blur(x, severity, rng, **_):
    c = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][severity - 1]
    x = np.array(x) / 255.0
    kernel = disk(radius=c[0], alias_blur=c[1])
    channels = [cv2.filter2D(x[:, :, d], -1, kernel) for d in range(3)]
    channels = np.array(channels).transpose((1, 2, 0))
    return np.clip(channels, 0, 1) * 255


def motion_blur(x, severity, rng, **_):
    c = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][severity - 1]
    output = BytesIO()
    PILImage.fromarray(x).save(output, format="PNG")
    x = wand_motion_blur_png(output.getvalue(), c[0], c[1], rng.uniform(-45, 45))
    if x.shape != (SIZE, SIZE):
        return np.clip(x[..., [2, 1, 0]], 0, 255)
    return np.clip(np.array([x, x, x]).transpose((1, 2, 0)), 0, 255)


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
        out += clipped_zoom(x, zoom_factor)
    x = (x + out) / (len(c) + 1)
    return np.clip(x, 0, 1) * 255


def fog(x, severity, rng, **_):
    c = [(1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)][severity - 1]
    x = np.array(x) / 255.0
    max_val = x.max()
    x += c[0] * plasma_fractal(rng, wibbledecay=c[1])[:SIZE, :SIZE][..., np.newaxis]
    return np.clip(x * max_val / (max_val + c[0]), 0, 1) * 255


def frost(x, severity, rng, frost_dir=None, **_):
    c = [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)][severity - 1]
    idx = rng.integers(5)
    filename = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"][idx]
    frost = cv2.imread(str(Path(frost_dir) / filename))
    x_start, y_start = rng.integers(0, frost.shape[0] - SIZE), rng.integers(0, frost.shape[1] - SIZE)
    frost = frost[x_start : x_start + SIZE, y_start : y_start + SIZE][..., [2, 1, 0]]
    return np.clip(c[0] * np.array(x) + c[1] * frost, 0, 255)


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
    snow_layer = PILImage.fromarray((np.clip(snow_layer.squeeze(), 0, 1) * 255).astype(np.uint8), mode="L")
    output = BytesIO()
    snow_layer.save(output, format="PNG")
    snow_layer = wand_motion_blur_png(output.getvalue(), c[4], c[5], rng.uniform(-135, -45)) / 255.0
    snow_layer = snow_layer[..., np.newaxis]
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(SIZE, SIZE, 1)
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey * 1.5 + 0.5)
    return np.clip(x + snow_layer + np.rot90(snow_layer, k=2), 0, 1) * 255


def spatter(x, severity, rng, **_):
    c = [
        (0.65, 0.3, 4, 0.69, 0.6, 0),
        (0.65, 0.3, 3, 0.68, 0.6, 0),
        (0.65, 0.3, 2, 0.68, 0.5, 0),
        (0.65, 0.3, 1, 0.65, 1.5, 1),
        (0.67, 0.4, 1, 0.65, 1.5, 1),
    ][severity - 1]
    x = np.array(x, dtype=np.float32) / 255.0
    liquid_layer = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    liquid_layer = gaussian(liquid_layer, sigma=c[2])
    liquid_layer[liquid_layer < c[3]] = 0
    if c[5] == 0:
        liquid_layer = (liquid_layer * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid_layer, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.filter2D(dist, cv2.CV_8U, ker)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = cv2.cvtColor(liquid_layer * dist, cv2.COLOR_GRAY2BGRA)
        m /= np.max(m, axis=(0, 1))
        m *= c[4]
        color = np.concatenate(
            (
                175 / 255.0 * np.ones_like(m[..., :1]),
                238 / 255.0 * np.ones_like(m[..., :1]),
                238 / 255.0 * np.ones_like(m[..., :1]),
            ),
            axis=2,
        )
        color = cv2.cvtColor(color, cv2.COLOR_BGR2BGRA)
        x = cv2.cvtColor(x, cv2.COLOR_BGR2BGRA)
        return cv2.cvtColor(np.clip(x + m * color, 0, 1), cv2.COLOR_BGRA2BGR) * 255
    m = np.where(liquid_layer > c[3], 1, 0)
    m = gaussian(m.astype(np.float32), sigma=c[4])
    m[m < 0.8] = 0
    color = np.concatenate(
        (
            63 / 255.0 * np.ones_like(x[..., :1]),
            42 / 255.0 * np.ones_like(x[..., :1]),
            20 / 255.0 * np.ones_like(x[..., :1]),
        ),
        axis=2,
    )
    color *= m[..., np.newaxis]
    x *= 1 - m[..., np.newaxis]
    return np.clip(x + color, 0, 1) * 255


def contrast(x, severity, rng, **_):
    c = [0.4, 0.3, 0.2, 0.1, 0.05][severity - 1]
    x = np.array(x) / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def brightness(x, severity, rng, **_):
    c = [0.1, 0.2, 0.3, 0.4, 0.5][severity - 1]
    x = np.array(x) / 255.0
    x = sk.color.rgb2hsv(x)
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    x = sk.color.hsv2rgb(x)
    return np.clip(x, 0, 1) * 255


def saturate(x, severity, rng, **_):
    c = [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)][severity - 1]
    x = np.array(x) / 255.0
    x = sk.color.rgb2hsv(x)
    x[:, :, 1] = np.clip(x[:, :, 1] * c[0] + c[1], 0, 1)
    x = sk.color.hsv2rgb(x)
    return np.clip(x, 0, 1) * 255


def jpeg_compression(x, severity, rng, **_):
    c = [25, 18, 15, 10, 7][severity - 1]
    output = BytesIO()
    PILImage.fromarray(x).save(output, "JPEG", quality=c)
    return np.asarray(PILImage.open(output))


def pixelate(x, severity, rng, **_):
    c = [0.6, 0.5, 0.4, 0.3, 0.25][severity - 1]
    x = PILImage.fromarray(x)
    x = x.resize((int(SIZE * c), int(SIZE * c)), PILImage.BOX)
    return np.asarray(x.resize((SIZE, SIZE), PILImage.BOX))


def elastic_transform(image, severity, rng, **_):
    c = [
        (244 * 2, 244 * 0.7, 244 * 0.1),
        (244 * 2, 244 * 0.08, 244 * 0.2),
        (244 * 0.05, 244 * 0.01, 244 * 0.02),
        (244 * 0.07, 244 * 0.01, 244 * 0.02),
        (244 * 0.12, 244 * 0.01, 244 * 0.02),
    ][severity - 1]
    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    shape_size = shape[:2]
    center_square = np.float32(shape_size) // 2
    square_size = min(shape_size) // 3
    pts1 = np.float32(
        [
            center_square + square_size,
            [center_square[0] + square_size, center_square[1] - square_size],
            center_square - square_size,
        ]
    )
    pts2 = pts1 + rng.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    M = cv2.getAffineTransform(pts1, pts2)
    image = cv2.warpAffine(image, M, shape_size[::-1], borderMode=cv2.BORDER_REFLECT_101)
    dx = (gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(
        np.float32
    )
    dy = (gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(
        np.float32
    )
    dx, dy = dx[..., np.newaxis], dy[..., np.newaxis]
    x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = np.reshape(y + dy, (-1, 1)), np.reshape(x + dx, (-1, 1)), np.reshape(z, (-1, 1))
    return np.clip(map_coordinates(image, indices, order=1, mode="reflect").reshape(shape), 0, 1) * 255


IMAGENET_C = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "snow": snow,
    "frost": frost,
    "fog": fog,
    "brightness": brightness,
    "contrast": contrast,
    "elastic_transform": elastic_transform,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
    "speckle_noise": speckle_noise,
    "gaussian_blur": gaussian_blur,
    "spatter": spatter,
    "saturate": saturate,
}


def imagenet_c(image: np.ndarray, name: str, severity: int, rng, frost_dir=None, **options) -> np.ndarray:
    """The reference's stored result for one uint8 224 x 224 image: ``np.uint8(method(x, s))``."""
    return np.uint8(IMAGENET_C[name](image.copy(), severity, rng, frost_dir=frost_dir, **options))


def photos(count: int = 3, size: int = SIZE) -> np.ndarray:
    """Real photos for fidelity tests: centre crops of ``skimage.data`` pictures, resized so the
    shorter side is 256 * size / 224, then centre-cropped to `size` (the ImageNet transform)."""
    import skimage.data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")[:count]:
        picture = PILImage.fromarray(getattr(skimage.data, name)())
        short = round(size * 256 / 224)
        w, h = picture.size
        scale = short / min(w, h)
        picture = picture.resize((max(short, int(w * scale)), max(short, int(h * scale))), PILImage.BILINEAR)
        left, top = (picture.size[0] - size) // 2, (picture.size[1] - size) // 2
        out.append(np.asarray(picture.crop((left, top, left + size, top + size))))
    return np.stack(out)
