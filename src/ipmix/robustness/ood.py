"""Out-of-distribution sets for anomaly detection with the maximum softmax probability.

Synthetic sets follow hendrycks/outlier-exposure's CIFAR test script (the sets the PixMix /
IPMix papers' "anomaly detection" rows build on), rewritten for [0, 1] pixel inputs:

- ``gaussian``: N(0, 0.5) clipped to [-1, 1] in the [-1, 1] input space, i.e. pixels
  ``clip(N(0.5, 0.25), 0, 1)``;
- ``rademacher``: +-1 per value in [-1, 1], i.e. pixels 0 or 1 with probability 1/2;
- ``blobs``: Bernoulli(0.7) per value of an ``[H, W, 3]`` array, a Gaussian blur with sigma 1.5
  over all three axes (skimage's ``gaussian(..., multichannel=False)``: mode ``nearest``,
  truncate 4), values below 0.75 set to 0.

The reference scores ``len(test set) // 5`` outliers from every source (2,000 on CIFAR): it
draws that many synthetic images, and takes that many from a shuffled loader of each folder
dataset (Textures, Places365, ...). ipmix does the same by default (``subsample=True``): a
folder or array larger than the count is subsampled uniformly without replacement with the
seeded generator; ``subsample=False`` scores the whole folder (AUPR then depends on the ratio
of outliers to test images, so it is not comparable with published numbers). The reference's
loop keeps whole batches only (``batch_idx >= ood_num_examples // test_bs``), so with a batch
size that does not divide the count it scores slightly fewer; ipmix takes the count exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ipmix.robustness.metrics import AnomalyMeasures, anomaly_measures
from ipmix.utils.images import BATCH_LAYOUTS, as_nhwc, check_unit_range, to_rgb
from ipmix.utils.io import UnreadableFileError, open_image, reading

SYNTHETIC_OUTLIERS = ("gaussian", "rademacher", "blobs")
#: How many outliers are scored from a folder or array: the protocol's N // 5, or all of them.
OOD_COUNTS = ("protocol", "all")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}


class OutlierSourceError(FileNotFoundError):
    """An OOD source (folder, array file or synthetic name) cannot be used."""


@dataclass(frozen=True)
class OutlierSet:
    """Outlier images: float32 ``[N, H, W, 3]`` in [0, 1], or uint8 ``[N, H, W, 3]``."""

    name: str
    images: np.ndarray


def outlier_count(in_distribution_count: int) -> int:
    """Outliers per set: a fifth of the in-distribution test images (at least one)."""
    return max(1, in_distribution_count // 5)


def synthetic_outliers(
    name: str, count: int, rng: np.random.Generator, size: int = 32
) -> OutlierSet:
    """One synthetic outlier set (see the module docstring), drawn from `rng`."""
    if count < 1:
        raise ValueError(f"outlier count must be >= 1, got {count}")
    shape = (count, size, size, 3)
    if name == "gaussian":
        images = np.clip(rng.normal(0.5, 0.25, size=shape), 0, 1)
    elif name == "rademacher":
        images = rng.binomial(1, 0.5, size=shape).astype(np.float64)
    elif name == "blobs":
        images = rng.binomial(1, 0.7, size=shape).astype(np.float64)
        for i in range(count):
            blurred = gaussian_filter(images[i], sigma=1.5, mode="nearest", truncate=4.0)
            blurred[blurred < 0.75] = 0.0
            images[i] = blurred
    else:
        raise OutlierSourceError(
            f"unknown synthetic outlier set {name!r}; choose from {SYNTHETIC_OUTLIERS}"
        )
    return OutlierSet(name, images.astype(np.float32))


def _resize_center_crop(image: Image.Image, size: int) -> np.ndarray:
    """Resize the shorter side to `size`, then crop the centre (torchvision Resize + CenterCrop)."""
    image = to_rgb(image)
    width, height = image.size
    if width <= height:  # torchvision truncates the longer side
        new_w, new_h = size, int(size * height / width)
    else:
        new_w, new_h = int(size * width / height), size
    image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = int(round((new_w - size) / 2)), int(round((new_h - size) / 2))
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)


def load_image_folder(
    path: str | Path,
    size: int = 32,
    limit: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Images under `path` (recursively, sorted by path) as uint8 ``[N, size, size, 3]``.

    With `limit`, only that many are read: the first ones, or a uniform random subset (in path
    order) drawn from `rng` when given. A file that cannot be decoded is skipped with a warning
    naming it; a folder where none can is an error.
    """
    root = Path(path)
    if not root.is_dir():
        raise OutlierSourceError(f"OOD folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise OutlierSourceError(
            f"OOD folder {root} holds no images (looked for {sorted(IMAGE_SUFFIXES)})"
        )
    if limit is not None and len(files) > limit:
        if rng is None:
            files = files[:limit]
        else:
            files = [files[i] for i in np.sort(rng.choice(len(files), limit, replace=False))]
    images = []
    for file in files:
        try:
            images.append(_resize_center_crop(open_image(file, "OOD image"), size))
        except UnreadableFileError as error:
            warnings.warn(f"{error}; skipped", stacklevel=2)
    if not images:
        raise OutlierSourceError(f"none of the {len(files)} image files in OOD folder {root} can be decoded")
    return np.stack(images)


def prepare_outlier_array(
    array: np.ndarray, size: int = 32, name: str = "array", layout: str | None = None
) -> np.ndarray:
    """Check a user array of RGB images (uint8, or float in [0, 1]) and resize it.

    ``[N, H, W, 3]`` and ``[N, 3, H, W]`` are both read (`layout` settles an ambiguous shape);
    the result is ``[N, size, size, 3]``.
    """
    array = np.asarray(array)
    array, _ = as_nhwc(array, layout, allowed=BATCH_LAYOUTS, channels=(3,), what=f"OOD {name}")
    if array.shape[0] == 0:
        raise ValueError(f"OOD {name} must hold at least one [N, H, W, 3] image, got shape {array.shape}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"OOD {name} must be uint8 or float in [0, 1], got {array.dtype}")
        check_unit_range(array, f"OOD {name}")
        array = np.clip(array, 0, 1).astype(np.float32)
    if array.shape[1:3] == (size, size):
        return np.ascontiguousarray(array)
    as_uint8 = array if array.dtype == np.uint8 else np.round(array * 255).astype(np.uint8)
    return np.stack([_resize_center_crop(Image.fromarray(img), size) for img in as_uint8])


def _subsample(array: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    if len(array) <= count:
        return array
    return array[np.sort(rng.choice(len(array), count, replace=False))]


def load_outlier_source(
    source: str | Path | np.ndarray,
    count: int,
    rng: np.random.Generator,
    size: int = 32,
    subsample: bool = True,
    layout: str | None = None,
) -> OutlierSet:
    """A synthetic set by name, an image folder, a ``.npy`` array file, or an array in memory.

    Synthetic sets draw `count` images. Folders and arrays give `count` images drawn uniformly
    without replacement from `rng` (all of them when they hold fewer), as the reference does;
    with ``subsample=False`` they are used whole. `layout` applies to arrays (see
    `prepare_outlier_array`).
    """
    limit = count if subsample else None
    if isinstance(source, np.ndarray):
        array = prepare_outlier_array(source, size, layout=layout)
        return OutlierSet("array", _subsample(array, count, rng) if subsample else array)
    text = str(source)
    if text in SYNTHETIC_OUTLIERS:
        return synthetic_outliers(text, count, rng, size)
    path = Path(text).expanduser()
    if path.is_dir():
        return OutlierSet(path.name or text, load_image_folder(path, size, limit, rng))
    if path.is_file() and path.suffix == ".npy":
        with reading(path, "OOD array file"):
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        if subsample and array.ndim == 4 and len(array) > count:
            array = _subsample(array, count, rng)
        return OutlierSet(
            path.stem, prepare_outlier_array(np.asarray(array), size, name=str(path), layout=layout)
        )
    raise OutlierSourceError(
        f"OOD source {text!r} is neither one of {SYNTHETIC_OUTLIERS}, an image folder, "
        "nor a .npy array file"
    )


def msp_measures(normal_msp: np.ndarray, outlier_msp: np.ndarray) -> AnomalyMeasures:
    """Detection of outliers by a low maximum softmax probability (score = -MSP)."""
    return anomaly_measures(-np.asarray(outlier_msp), -np.asarray(normal_msp))


def summarize(measures: Sequence[AnomalyMeasures]) -> AnomalyMeasures:
    """Mean of the measures over several outlier sets (the papers' single OOD column)."""
    if not measures:
        raise ValueError("no OOD measures to summarise")
    return AnomalyMeasures(
        auroc=float(np.mean([m.auroc for m in measures])),
        aupr=float(np.mean([m.aupr for m in measures])),
        fpr_at_95_tpr=float(np.mean([m.fpr_at_95_tpr for m in measures])),
    )


def ood_part(
    predict: Callable[[np.ndarray, str], np.ndarray],
    clean_conf: np.ndarray,
    size: int,
    sources: Sequence[str | Path | np.ndarray],
    seed: int,
    count_mode: str,
) -> dict[str, Any]:
    """The suite's ``ood`` part: MSP detection of every source against the clean confidences."""
    if not sources:
        raise OutlierSourceError("no OOD sources given")
    per_source: dict[str, dict[str, float]] = {}
    measured = []
    for index, source in enumerate(sources):
        rng = np.random.default_rng([seed, index])
        outliers = load_outlier_source(
            source, outlier_count(len(clean_conf)), rng, size, subsample=count_mode == "protocol"
        )
        name = outliers.name if outliers.name not in per_source else f"{outliers.name}-{index}"
        outlier_conf = predict(outliers.images, f"OOD {name}").max(1)
        measures = msp_measures(clean_conf, outlier_conf)
        measured.append(measures)
        per_source[name] = {
            "auroc": 100 * measures.auroc,
            "aupr": 100 * measures.aupr,
            "fpr95": 100 * measures.fpr_at_95_tpr,
            "count": len(outliers.images),
        }
    mean = summarize(measured)
    return {
        "sources": per_source,
        "auroc": 100 * mean.auroc,
        "aupr": 100 * mean.aupr,
        "fpr95": 100 * mean.fpr_at_95_tpr,
        "count_mode": count_mode,
    }
