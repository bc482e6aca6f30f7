"""The CIFAR-10-P / CIFAR-100-P perturbation sequences of Hendrycks & Dietterich (ICLR 2019).

Each of the ten perturbations of ``ImageNet-P/create_p/make_cifar_p.py`` (hendrycks/robustness)
turns one clean uint8 ``[H, W, 3]`` image into a short "video" of frames, with the same frame
counts and parameters as that script:

| perturbation   | frames | frame i                                                      |
|----------------|--------|--------------------------------------------------------------|
| gaussian_noise | 31     | 0: clean; then clean + N(0, 0.02^2), fresh noise per frame   |
| shot_noise     | 31     | 0: clean; then Poisson(700 x) / 700                          |
| motion_blur    | 21     | ImageMagick motion blur radius 6, sigma 1.8, angle 9 (i - 20)|
| zoom_blur      | 31     | running mean of zooms by 1 + 0.004 j, j <= i                 |
| spatter        | 31     | water drops that run down one step per frame                 |
| brightness     | 31     | HSV value + 0.015 (i - 15)                                   |
| translate      | 16     | horizontal shift by i - 7 pixels                             |
| rotate         | 31     | rotation by i - 15 degrees                                   |
| tilt           | 31     | perspective tilt by 0.75 (i - 15) degrees on both axes       |
| scale          | 31     | zoom by (70 + 2 i) / 100                                     |

The flip probability compares each frame with frame 0 for the noise perturbations
(`NOISE_PERTURBATIONS`) and with the previous frame for the others (``cifar-p-eval.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from ipmix.robustness import kernels

PERTURBATIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "motion_blur",
    "zoom_blur",
    "spatter",
    "brightness",
    "translate",
    "rotate",
    "tilt",
    "scale",
)
NOISE_PERTURBATIONS: tuple[str, ...] = tuple(p for p in PERTURBATIONS if "noise" in p)
"""Perturbations whose frames are compared with frame 0 (``'noise' in name`` in the eval)."""

FRAME_COUNTS: dict[str, int] = {
    "gaussian_noise": 31,
    "shot_noise": 31,
    "motion_blur": 21,
    "zoom_blur": 31,
    "spatter": 31,
    "brightness": 31,
    "translate": 16,
    "rotate": 31,
    "tilt": 31,
    "scale": 31,
}


class PerturbationError(ValueError):
    """An unknown perturbation name or an image of the wrong shape or dtype."""


def legacy_affine(
    image: np.ndarray,
    angle: float = 0.0,
    translate: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    resample: Image.Resampling = Image.Resampling.NEAREST,
) -> np.ndarray:
    """torchvision's PIL ``affine`` (no shear) as it was when CIFAR-P was made.

    torchvision then rotated and scaled about ``(w / 2 + 0.5, h / 2 + 0.5)``; today's version
    uses ``(w / 2, h / 2)``. We build the same inverse matrix and let PIL apply it, filling
    outside pixels with black.
    """
    h, w = image.shape[:2]
    cx, cy = w * 0.5 + 0.5, h * 0.5 + 0.5
    tx, ty = translate
    rot = math.radians(angle)
    m = [
        math.cos(rot) / scale,
        math.sin(rot) / scale,
        0.0,
        -math.sin(rot) / scale,
        math.cos(rot) / scale,
        0.0,
    ]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    picture = Image.fromarray(image).transform((w, h), Image.Transform.AFFINE, m, resample)
    return np.asarray(picture)


def _gaussian_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float32) / np.float32(255)  # ToTensor
    noise = (np.float32(0.02) * rng.standard_normal((30, *x.shape))).astype(np.float32)
    frames = (np.clip(x + noise, 0, 1) * np.float32(255)).astype(np.uint8)
    return np.concatenate([image[None], frames])


def _shot_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = np.broadcast_to(image / 255.0, (30, *image.shape))
    frames = kernels.to_uint8(kernels.add_shot_noise(x, 700, rng))
    return np.concatenate([image[None], frames])


def _motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angles = (np.arange(21) - 20) * 9.0
    frames = np.broadcast_to(image, (21, *image.shape))
    return kernels.magick_motion_blur_uint8(frames, 6, 1.8, angles)


def _zoom_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    frames = [image]
    total = image.astype(np.float32) / np.float32(255)
    for i in range(1, 31):
        zoomed = legacy_affine(image, scale=1 + 0.004 * i, resample=Image.Resampling.BILINEAR)
        total += zoomed.astype(np.float32) / np.float32(255)
        frames.append((total / np.float32(i + 1) * np.float32(255)).astype(np.uint8))
    return np.stack(frames)


def run_down(liquid: np.ndarray) -> np.ndarray:
    """One step of the running water of CIFAR-P spatter: each column convolved with
    ``[0.2, 0.8]`` (``np.convolve(..., mode='same')``), i.e. ``0.2 x[r] + 0.8 x[r - 1]``."""
    moved = 0.2 * liquid
    moved[1:] += 0.8 * liquid[:-1]
    return moved


def _spatter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    liquid = kernels.gaussian_filter_hw(rng.normal(0.6, 0.265, size=(1, *image.shape[:2])), 1.75)
    liquid = liquid[0]
    liquid[liquid < 0.7] = 0
    frames = []
    for _ in range(31):
        frames.append(kernels.to_uint8(kernels.add_water(x, liquid, 0.6)))
        liquid = run_down(liquid)
    return np.stack(frames)


def _brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    deltas = (np.arange(31) - 15) * 1.5 / 100
    frames = np.broadcast_to(image / 255.0, (31, *image.shape))
    return kernels.to_uint8(kernels.shift_value(frames, deltas[:, None, None]))


def _translate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([legacy_affine(image, translate=(i - 7, 0)) for i in range(16)])


def _rotate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    bilinear = Image.Resampling.BILINEAR
    return np.stack([legacy_affine(image, angle=i - 15, resample=bilinear) for i in range(31)])


def _tilt(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    f = np.sqrt(w**2 + h**2)
    to_centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1], [0, 0, 1]])
    push = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, f], [0, 0, 0, 1]])
    project = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0]])
    frames = []
    for i in range(31):
        phi = theta = np.deg2rad(0.75 * (i - 15))
        rot_x = np.array(
            [
                [1, 0, 0, 0],
                [0, np.cos(theta), -np.sin(theta), 0],
                [0, np.sin(theta), np.cos(theta), 0],
                [0, 0, 0, 1],
            ]
        )
        rot_y = np.array(
            [[np.cos(phi), 0, -np.sin(phi), 0], [0, 1, 0, 0], [np.sin(phi), 0, np.cos(phi), 0], [0, 0, 0, 1]]
        )
        matrix = project @ push @ rot_x @ rot_y @ to_centre
        frames.append(cv2.warpPerspective(image, matrix, (w, h)))
    return np.stack(frames)


def _scale(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    bilinear = Image.Resampling.BILINEAR
    return np.stack([legacy_affine(image, scale=(i * 2 + 70) / 100.0, resample=bilinear) for i in range(31)])


_PERTURBATIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "motion_blur": _motion_blur,
    "zoom_blur": _zoom_blur,
    "spatter": _spatter,
    "brightness": _brightness,
    "translate": _translate,
    "rotate": _rotate,
    "tilt": _tilt,
    "scale": _scale,
}


def perturb_sequence(image: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """The CIFAR-P sequence `name` of one uint8 ``[H, W, 3]`` image: uint8 ``[F, H, W, 3]``.

    F is ``FRAME_COUNTS[name]``. Random perturbations (noise, spatter) draw from `rng`; the
    others are deterministic.
    """
    if name not in _PERTURBATIONS:
        raise PerturbationError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise PerturbationError(f"image must be uint8 [H, W, 3], got {image.dtype} {tuple(image.shape)}")
    return np.ascontiguousarray(_PERTURBATIONS[name](image, rng))
