# ruff: noqa: E501  (a transcription keeps the reference's long lines)
"""Transcription of ImageNet-P's frame generation, for fidelity tests. Not ipmix code.

hendrycks/robustness ``ImageNet-P/create_p/make_imagenet_p.py``: for each perturbation, the
frames the script saves as PNGs before ffmpeg encodes them, from ``img = Resize(256)(picture)``.
torchvision's ``affine`` is the one of that time (torchvision 0.2's
``_get_inverse_affine_matrix``, centre ``(w / 2 + 0.5, h / 2 + 0.5)``), transcribed here.
Departures, forced: ``torch.randn_like`` / ``np.random`` are draws from a
``numpy.random.Generator`` (gaussian noise: normals scaled by the sigma held in float32, as
torch multiplies a float32 tensor by a Python number, then kept in float32); Wand's motion
blur is ipmix's re-implementation (see ``hendrycks_reference.wand_motion_blur_png``).
"""

from __future__ import annotations

import math
from io import BytesIO

import cv2
import hendrycks_reference as c_ref
import numpy as np
from PIL import Image as PILImage
from skimage import color as skcolor
from skimage.filters import gaussian

SIZE = 224


def _inverse_affine_matrix(center, angle, translate, scale, shear):
    angle = math.radians(angle)
    shear = math.radians(shear)
    scale = 1.0 / scale
    d = math.cos(angle + shear) * math.cos(angle) + math.sin(angle + shear) * math.sin(angle)
    matrix = [math.cos(angle + shear), math.sin(angle + shear), 0, -math.sin(angle), math.cos(angle), 0]
    matrix = [scale / d * m for m in matrix]
    matrix[2] += matrix[0] * (-center[0] - translate[0]) + matrix[1] * (-center[1] - translate[1])
    matrix[5] += matrix[3] * (-center[0] - translate[0]) + matrix[4] * (-center[1] - translate[1])
    matrix[2] += center[0]
    matrix[5] += center[1]
    return matrix


def affine(img, angle, translate, scale, shear, resample=0, fillcolor=0):
    center = (img.size[0] * 0.5 + 0.5, img.size[1] * 0.5 + 0.5)
    matrix = _inverse_affine_matrix(center, angle, translate, scale, shear)
    return img.transform(img.size, PILImage.AFFINE, matrix, resample, fillcolor=fillcolor)


def center_crop(img, size=SIZE):
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def to_tensor(img):  # HWC float32, as trn.ToTensor() without the transpose
    return np.asarray(img).astype(np.float32) / 255


def to_pil(x):  # trn.ToPILImage(): pic.mul(255).byte()
    return PILImage.fromarray((x * np.float32(255)).astype(np.uint8))


def brightness(_x, c=0.0):
    _x = np.array(_x, copy=True) / 255.0
    _x = skcolor.rgb2hsv(_x)
    _x[:, :, 2] = np.clip(_x[:, :, 2] + c, 0, 1)
    _x = skcolor.hsv2rgb(_x)
    return np.uint8(_x * 255)


def frames(img: PILImage.Image, name: str, rng) -> list[np.ndarray]:
    """The saved frames of perturbation `name` (uint8 arrays)."""
    out = []
    sigma = {"gaussian_noise": 0.03, "gaussian_noise_2": 0.05, "gaussian_noise_3": 0.08}.get(name)
    photons = {"shot_noise": 300, "shot_noise_2": 120, "shot_noise_3": 60}.get(name)
    speckle = {"speckle_noise": 0.05, "speckle_noise_2": 0.10, "speckle_noise_3": 0.15}.get(name)
    if sigma is not None:
        x = to_tensor(center_crop(img))
        out.append(np.asarray(to_pil(x)))
        for _ in range(1, 31):
            noise = (np.float32(sigma) * rng.standard_normal(x.shape)).astype(np.float32)
            out.append(np.asarray(to_pil(np.clip(x + noise, 0, 1))))
    elif photons is not None:
        x = center_crop(img)
        out.append(np.asarray(x))
        for _ in range(1, 31):
            z = np.array(x, copy=True) / 255.0
            out.append(np.uint8(255 * np.clip(rng.poisson(z * photons) / photons, 0, 1)))
    elif speckle is not None:
        x = center_crop(img)
        out.append(np.asarray(x))
        x = np.array(x) / 255.0
        for _ in range(1, 31):
            out.append(np.uint8(255 * np.clip(x + x * rng.normal(size=x.shape, scale=speckle), 0, 1)))
    elif name == "motion_blur":
        for i in range(0, 31):
            z = center_crop(img)
            output = BytesIO()
            z.save(output, format="PNG")
            z = c_ref.wand_motion_blur_png(output.getvalue(), 10, 3, (i - 30) * 4)
            z = np.clip(z[..., [2, 1, 0]], 0, 255) if z.shape != (SIZE, SIZE) else np.stack([z] * 3, axis=-1)
            out.append(z)
    elif name == "zoom_blur":
        z = center_crop(img)
        avg = to_tensor(z)
        out.append(np.asarray(z))
        for i in range(1, 31):
            z = center_crop(affine(img, angle=0, translate=(0, 0), scale=1 + 0.004 * i, shear=0,
                                   resample=PILImage.BILINEAR))  # fmt: skip
            avg += to_tensor(z)
            out.append(np.asarray(to_pil(avg / (i + 1))))
    elif name == "snow":
        x = np.array(center_crop(img)) / 255.0
        snow_layer = rng.normal(size=(SIZE, SIZE), loc=0.05, scale=0.3)
        snow_layer = c_ref.clipped_zoom(snow_layer[..., np.newaxis], 3)
        snow_layer[snow_layer < 0.5] = 0
        layer = PILImage.fromarray((np.clip(snow_layer.squeeze(), 0, 1) * 255).astype(np.uint8), mode="L")
        output = BytesIO()
        layer.save(output, format="PNG")
        for i in range(0, 31):
            moving = c_ref.wand_motion_blur_png(output.getvalue(), 14, 4, i * 4 - 150) / 255.0
            moving = moving[..., np.newaxis]
            grey = cv2.cvtColor(np.float32(x), cv2.COLOR_RGB2GRAY).reshape(SIZE, SIZE, 1)
            z = 0.85 * x + (1 - 0.85) * np.maximum(x, grey * 1.5 + 0.5)
            out.append(np.uint8(np.clip(z + moving + np.rot90(moving, k=2), 0, 1) * 255))
    elif name == "brightness":
        x = center_crop(img)
        out = [brightness(x, c=(i - 15) * 2 / 100.0) for i in range(0, 31)]
    elif name == "translate":
        out = [np.asarray(center_crop(affine(img, 0, (i - 20, 0), 1, 0))) for i in range(0, 41)]
    elif name in ("rotate", "scale", "shear"):
        for i in range(0, 31):
            angle, scale, shear = {"rotate": (i - 15, 1.0, 0), "scale": (0, (i * 2.5 + 40) / 100.0, 0),
                                   "shear": (0, 1.0, i - 15)}[name]  # fmt: skip
            z = affine(
                img, angle=angle, translate=(0, 0), scale=scale, shear=shear, resample=PILImage.BILINEAR
            )
            out.append(np.asarray(center_crop(z)))
    elif name == "tilt":
        x = np.array(img)
        h, w = x.shape[0:2]
        for i in range(0, 31):
            phi, theta = np.deg2rad(i - 15), np.deg2rad(i - 15)
            f = np.sqrt(w**2 + h**2)
            P1 = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1], [0, 0, 1]])
            RX = np.array([[1, 0, 0, 0], [0, np.cos(theta), -np.sin(theta), 0], [0, np.sin(theta), np.cos(theta), 0],
                           [0, 0, 0, 1]])  # fmt: skip
            RY = np.array([[np.cos(phi), 0, -np.sin(phi), 0], [0, 1, 0, 0], [np.sin(phi), 0, np.cos(phi), 0],
                           [0, 0, 0, 1]])  # fmt: skip
            T = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, f], [0, 0, 0, 1]])
            P2 = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0]])
            mat = P2 @ T @ RX @ RY @ P1
            out.append(np.asarray(center_crop(PILImage.fromarray(cv2.warpPerspective(x, mat, (w, h))))))
    elif name == "gaussian_blur":
        x = center_crop(img)
        for i in range(0, 31):
            blurred = gaussian(
                np.array(x, copy=True) / 255.0, sigma=0.25 + 0.035 * i, channel_axis=-1, truncate=6.0
            )
            out.append(np.uint8(255 * blurred))
    elif name == "spatter":
        x = cv2.cvtColor(np.array(center_crop(img), dtype=np.float32) / 255.0, cv2.COLOR_BGR2BGRA)
        liquid_layer = rng.normal(size=x.shape[:2], loc=0.65, scale=0.27)
        liquid_layer = gaussian(liquid_layer, sigma=3.7)
        liquid_layer[liquid_layer < 0.69] = 0
        for _ in range(0, 31):
            liquid_layer_i = (liquid_layer * 255).astype(np.uint8)
            dist = 255 - cv2.Canny(liquid_layer_i, 50, 150)
            dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
            _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
            dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
            dist = cv2.equalizeHist(dist)
            ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
            dist = cv2.filter2D(dist, cv2.CV_8U, ker)
            dist = cv2.blur(dist, (3, 3)).astype(np.float32)
            m = cv2.cvtColor(liquid_layer_i * dist, cv2.COLOR_GRAY2BGRA)
            with np.errstate(invalid="ignore"):
                m /= np.max(m, axis=(0, 1))
            m *= 0.6
            colour = np.concatenate([v / 255.0 * np.ones_like(m[..., :1]) for v in (175, 238, 238)], axis=2)
            colour = cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA)
            with np.errstate(invalid="ignore"):
                z = np.uint8(
                    np.nan_to_num(cv2.cvtColor(np.clip(x + m * colour, 0, 1), cv2.COLOR_BGRA2BGR) * 255)
                )
            liquid_layer = np.apply_along_axis(
                lambda mat: np.convolve(mat, np.array([0.05, 0.1, 0.15, 0.7]), mode="same"),
                axis=0,
                arr=liquid_layer,
            )
            out.append(z)
    else:
        raise KeyError(name)
    return out
