"""The CIFAR-P and ImageNet-P perturbation sequences of Hendrycks & Dietterich (ICLR 2019).

Each perturbation turns one clean uint8 ``[H, W, 3]`` image into a short "video" of frames,
with the frame counts and constants of a reference script (``presets.py``):
``cifar`` (``make_cifar_p.py``) and ``imagenet`` (``make_imagenet_p.py``). One set of kernels
serves both. For ``imagenet`` the input is the Resize(256) image (any aspect ratio): geometric
perturbations (zoom blur, translate, rotate, tilt, scale, shear) act on it and every frame is
then centre-cropped to 224, pixel-wise ones act on the crop, as the script does.

CIFAR-P (``cifar``):

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

ImageNet-P's constants are in ``docs/corruptions.md``. The flip probability compares each frame
with frame 0 for the noise perturbations (``'noise' in name``) and with the previous frame for
the others (``cifar-p-eval.py``, ``ImageNet-P/test.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import cv2
import numba
import numpy as np
from PIL import Image

from ipmix.corruptions.kernels import common, fused, noise, pil
from ipmix.corruptions.perturbations.presets import CIFAR_P, IMAGENET_P, P_PRESETS, PerturbationPreset

PERTURBATIONS: tuple[str, ...] = tuple(CIFAR_P.table)
"""The ten CIFAR-P perturbations."""
NOISE_PERTURBATIONS: tuple[str, ...] = tuple(p for p in PERTURBATIONS if "noise" in p)
"""CIFAR-P perturbations whose frames are compared with frame 0 (``'noise' in name``)."""

IMAGENET_PERTURBATIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "motion_blur",
    "zoom_blur",
    "snow",
    "brightness",
    "translate",
    "rotate",
    "tilt",
    "scale",
)
"""The ten ImageNet-P test perturbations (mFR and mT5D average over these)."""
IMAGENET_VALIDATION_PERTURBATIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "shear")
IMAGENET_HARDER_NOISE: tuple[str, ...] = tuple(name for name in IMAGENET_P.table if name[-2:] in ("_2", "_3"))
"""Folders ``<noise>_2`` / ``<noise>_3``: the harder noise levels (``test.py --difficulty 2, 3``)."""


class PerturbationError(ValueError):
    """An unknown perturbation name or an image of the wrong shape or dtype."""


def get_p_preset(preset: str | PerturbationPreset) -> PerturbationPreset:
    if isinstance(preset, PerturbationPreset):
        return preset
    if preset not in P_PRESETS:
        raise PerturbationError(f"unknown perturbation preset {preset!r}; known: {', '.join(P_PRESETS)}")
    return P_PRESETS[preset]


def frame_count(name: str, preset: str | PerturbationPreset = "cifar") -> int:
    """Frames of perturbation `name` in `preset`'s sequences."""
    params = get_p_preset(preset).table[name]
    return int(params.get("frames", 31))  # type: ignore[call-overload]


FRAME_COUNTS: dict[str, int] = {name: frame_count(name) for name in PERTURBATIONS}
"""CIFAR-P frame counts."""


def legacy_affine(
    image: np.ndarray | pil.AffineSource,
    angle: float = 0.0,
    translate: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    resample: Image.Resampling = Image.Resampling.NEAREST,
    shear: float = 0.0,
    window: tuple[int, int, int, int] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """torchvision's PIL ``affine`` as it was when CIFAR-P and ImageNet-P were made.

    torchvision then rotated and scaled about ``(w / 2 + 0.5, h / 2 + 0.5)`` (today's version
    uses ``(w / 2, h / 2)``) and took one shear angle on the x axis. We build the same inverse
    matrix (torchvision 0.2's ``_get_inverse_affine_matrix``; without shear in the scaling that
    leaves CIFAR-P's files unchanged) and apply it as PIL does, filling outside pixels with
    black (`kernels.pil`, bit for bit; PIL itself for nearest-neighbour rotations). `window`
    ``(top, left, height, width)`` computes only that part of the output (the centre crop);
    `image` may be an `AffineSource` prepared once for the frames of a sequence; `out`, a uint8
    array of the output's shape to write into.
    """
    source = image if isinstance(image, pil.AffineSource) else pil.AffineSource(image)
    h, w = source.image.shape[:2]
    cx, cy = w * 0.5 + 0.5, h * 0.5 + 0.5
    tx, ty = translate
    rot = math.radians(angle)
    if shear:
        sh = math.radians(shear)
        d = math.cos(rot + sh) * math.cos(rot) + math.sin(rot + sh) * math.sin(rot)
        m = [math.cos(rot + sh), math.sin(rot + sh), 0.0, -math.sin(rot), math.cos(rot), 0.0]
        m = [(1.0 / scale) / d * value for value in m]
    else:
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
    if resample not in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR):
        raise PerturbationError(f"legacy_affine resamples NEAREST or BILINEAR, got {resample!r}")
    result = source.transform(tuple(m), resample == Image.Resampling.BILINEAR, window, out)
    if result is None:
        picture = Image.fromarray(source.image)
        result = np.asarray(picture.transform((w, h), Image.Transform.AFFINE, m, resample))
        if window is not None:
            top, left, height, width = window
            result = result[top : top + height, left : left + width]
        if out is not None:
            out[...] = result
            result = out
    return result


# ------------------------------------------------------------------------------ kernels


class _Frames:
    """The input image and the preset's crop, handed to every kernel."""

    def __init__(self, image: np.ndarray, preset: PerturbationPreset):
        self.image = image
        self.size = preset.size if preset.resize is not None else None
        self.source = pil.AffineSource(image)  # for the affine frames

    @property
    def window(self) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of torchvision's CenterCrop(size) of a frame of the
        input's size (the whole frame for CIFAR-P)."""
        h, w = self.image.shape[:2]
        if self.size is None:
            return 0, 0, h, w
        return int(round((h - self.size) / 2.0)), int(round((w - self.size) / 2.0)), self.size, self.size

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """torchvision's CenterCrop(size) (identity for CIFAR-P)."""
        top, left, height, width = self.window
        return frame[top : top + height, left : left + width]

    @property
    def clean(self) -> np.ndarray:
        return self.crop(self.image)


def _noise(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    """Frame 0 clean, then 30 independent noisy copies, drawn frame after frame."""
    clean = frames.clean
    if p["kind"] != "shot":  # gaussian: torch in float32 (ToTensor, + sigma * randn, clamp, * 255)
        noisy = noise.noise_frames(clean, p["kind"], p["sigma"], 30, rng)
        return np.concatenate([clean[None], noisy])
    out = np.empty((31, *clean.shape), dtype=np.uint8)
    out[0] = clean
    for i in range(1, 31):
        out[i] = noise.add_shot_noise(clean, p["photons"], rng, uint8_out=True)
    return out


def _motion_blur(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    count = p["frames"]
    angles = (np.arange(count) - p["offset"]) * p["step"]
    clean = frames.clean
    return common.magick_motion_blur_uint8(np.broadcast_to(clean, (count, *clean.shape)), p["radius"],
                                            p["sigma"], angles)  # fmt: skip


def _zoom_blur(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    """Running mean, in float32, of the clean crop and the crops of the zooms 1 + step * i."""
    out = np.empty((31, *frames.clean.shape), dtype=np.uint8)
    out[0] = frames.clean
    total = frames.clean.astype(np.float32) / np.float32(255)
    for i in range(1, 31):
        zoom = 1 + p["step"] * i
        zoomed = legacy_affine(frames.source, scale=zoom, resample=_BILINEAR, window=frames.window)
        _add_frame_mean(total, zoomed, np.float32(i + 1), out[i])
    return out


@numba.njit(cache=True, nogil=True)
def _add_frame_mean(total, frame, count, out) -> None:
    """``total += frame / 255``, ``out = uint8(total / count * 255)``, all in float32."""
    flat_total, flat_frame, flat_out = total.reshape(-1), frame.reshape(-1), out.reshape(-1)
    for i in range(flat_total.shape[0]):
        flat_total[i] += np.float32(flat_frame[i]) / np.float32(255.0)
        flat_out[i] = flat_total[i] / count * np.float32(255.0)


def _snow(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    x = frames.clean / 255.0
    h, w = x.shape[:2]
    layer = rng.normal(p["loc"], p["scale"], size=(h, w))
    layer = common.clipped_zoom(layer[None, ..., None], p["zoom"])[0, ..., 0]
    layer[layer < p["threshold"]] = 0
    layer = (np.clip(layer, 0, 1) * 255).astype(np.uint8)  # the 8-bit grey PNG
    angles = np.arange(31) * p["step"] + p["start"]
    moving = common.magick_motion_blur_uint8(
        np.broadcast_to(layer, (31, h, w)), p["radius"], p["sigma"], angles
    )
    grey = cv2.cvtColor(np.float32(x), cv2.COLOR_RGB2GRAY)[..., None]
    base = p["blend"] * x + (1 - p["blend"]) * np.maximum(x, grey * 1.5 + 0.5)
    return fused.add_flakes(base, moving)


def run_down(liquid: np.ndarray, taps: tuple[float, ...] = (0.2, 0.8)) -> np.ndarray:
    """One step of the running water of the P spatter: each column convolved with `taps`
    (``np.convolve(..., mode='same')``); CIFAR-P's ``[0.2, 0.8]`` is ``0.2 x[r] + 0.8 x[r - 1]``."""
    columns = np.ascontiguousarray(liquid, dtype=np.float64)
    return fused.convolve_columns(columns, np.asarray(taps, dtype=np.float64))


def _spatter(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    clean = frames.clean
    x = clean.astype(np.float32) / 255.0
    liquid = common.gaussian_filter_hw(
        rng.normal(p["loc"], p["scale"], size=(1, *clean.shape[:2])), p["sigma"]
    )
    liquid = liquid[0]
    liquid[liquid < p["threshold"]] = 0
    out = []
    for _ in range(31):
        out.append(common.add_water(x, liquid, p["intensity"], uint8_out=True))
        liquid = run_down(liquid, p["taps"])
    return np.stack(out)


def _brightness(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    clean = frames.clean
    return common.adjust_hsv(clean, (np.arange(31) - 15) * p["step"] / 100)


def _gaussian_blur(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    x = frames.clean[None] / 255.0
    sigmas = [p["start"] + p["step"] * i for i in range(31)]
    return np.concatenate(
        [common.to_uint8(common.gaussian_filter_hw(x, s, truncate=p["truncate"])) for s in sigmas]
    )


def _affine_frames(parameters: Callable[[int, Mapping], dict]):
    """Frames ``crop(legacy_affine(image, **parameters(i, p)))``, computing the crop only."""

    def kernel(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
        count = int(p.get("frames", 31))
        out = np.empty((count, *frames.clean.shape), dtype=np.uint8)
        for i in range(count):
            legacy_affine(frames.source, **parameters(i, p), window=frames.window, out=out[i])
        return out

    return kernel


def _tilt_frames(frames: _Frames, p: Mapping, rng: np.random.Generator) -> np.ndarray:
    return np.stack([frames.crop(_tilt(frames.image, i, p)) for i in range(31)])


def _tilt(image: np.ndarray, i: int, p: Mapping) -> np.ndarray:
    h, w = image.shape[:2]
    f = np.sqrt(w**2 + h**2)
    to_centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1], [0, 0, 1]])
    push = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, f], [0, 0, 0, 1]])
    project = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0]])
    phi = theta = np.deg2rad(p["step"] * (i - 15))
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
    return cv2.warpPerspective(image, project @ push @ rot_x @ rot_y @ to_centre, (w, h))


_BILINEAR = Image.Resampling.BILINEAR

_KERNELS: dict[str, Callable[[_Frames, Mapping, np.random.Generator], np.ndarray]] = {
    "noise": _noise,
    "motion_blur": _motion_blur,
    "zoom_blur": _zoom_blur,
    "snow": _snow,
    "spatter": _spatter,
    "brightness": _brightness,
    "gaussian_blur": _gaussian_blur,
    "translate": _affine_frames(lambda i, p: {"translate": (i - p["offset"], 0)}),
    "rotate": _affine_frames(lambda i, p: {"angle": (i - 15) * p["step"], "resample": _BILINEAR}),
    "tilt": _tilt_frames,
    "scale": _affine_frames(
        lambda i, p: {"scale": (i * p["step"] + p["start"]) / 100.0, "resample": _BILINEAR}
    ),
    "shear": _affine_frames(lambda i, p: {"shear": (i - 15) * p["step"], "resample": _BILINEAR}),
}


def perturb_sequence(
    image: np.ndarray, name: str, rng: np.random.Generator, *, preset: str | PerturbationPreset = "cifar"
) -> np.ndarray:
    """The P sequence `name` of one uint8 ``[H, W, 3]`` image: uint8 ``[F, S, S, 3]``.

    F is `frame_count`. ``cifar``: frames keep the image's size. ``imagenet``: `image` is the
    Resize(256) image (both sides >= 224) and frames are 224 x 224. Random perturbations (noise,
    snow, spatter) draw from `rng`; the others are deterministic.
    """
    spec = get_p_preset(preset)
    if name not in spec.table:
        raise PerturbationError(f"unknown perturbation {name!r}; known: {', '.join(spec.table)}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise PerturbationError(f"image must be uint8 [H, W, 3], got {image.dtype} {tuple(image.shape)}")
    if spec.resize is not None and min(image.shape[:2]) < spec.size:
        raise PerturbationError(
            f"{spec.name} sequences crop {spec.size} x {spec.size} frames; the image is {image.shape[1]} x "
            f"{image.shape[0]} (give the Resize({spec.resize}) image)"
        )
    params = spec.table[name]
    kernel = _KERNELS["noise"] if "kind" in params else _KERNELS[name]
    return np.ascontiguousarray(kernel(_Frames(image, spec), params, rng))
