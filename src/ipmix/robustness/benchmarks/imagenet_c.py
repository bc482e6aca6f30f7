"""ImageNet-C (15 benchmark + 4 extra corruptions) and ImageNet-C-bar, from their JPEG folders.

Layout (ImageNet-C release; ImageNet-C-bar as facebookresearch/augmentation-corruption
distributes it): ``<root>/<corruption>/<severity>/<wnid>/<name>.JPEG``. Severity folders are
``1``..``5``; ImageNet-C-bar as its ``make_imagenet_c_bar.py`` writes them is also read, with
the severity folders named by the corruption's parameter (``"{:.2f}"`` of the values in
``imagenet_c_bar.csv``), ordered as severities 1..5. Images are evaluated as they are (224 px
for the releases), as hendrycks/robustness ``ImageNet-C/test.py`` does.

Protocol (hendrycks/robustness ``ImageNet-C/test.py`` and Hendrycks & Dietterich, ICLR 2019):

- CE_c = sum_s E_{s,c} / sum_s E^AlexNet_{s,c}; **mCE** = mean of CE_c over the 15 (x 100);
- relative CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E^AlexNet_{s,c} - E^AlexNet_clean);
  **relative mCE** = their mean (needs the clean error: ImageNet val);
- the **unnormalised** mean error over the 15 x 5 sets (what ``test.py`` itself prints);
- the 4 extra corruptions are reported apart, unnormalised (no AlexNet errors are published);
- RMS calibration error: the mean over the 15 x 5 sets of each set's RMS, as
  hzlsaber/IPMix and andyzoujm/pixmix ``imagenet.py`` ``evaluate_c`` compute Table 5's "C".

ImageNet-C-bar: error per corruption and severity and the plain mean over the 10 x 5 sets
(augmentation-corruption ``test_c_bar.py``, "overall-avg"; the IPMix paper's Table 13).

Corrupted copies of any folder (``--corrupted``: what ``ipmix make-c`` writes, of any preset,
corruptions and severities): error per corruption and severity folder, their plain mean and
RMS, with no normalisation (AlexNet's errors are for ImageNet's images and classes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torchvision.models import AlexNet_Weights

from ipmix.corruptions.cbar.levels import CBAR_LEVELS
from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS, SEVERITIES
from ipmix.robustness import metrics
from ipmix.robustness.benchmarks.common import (
    made_by_ipmix,
    open_made_folder,
    rms_percent,
    subfolders,
)
from ipmix.robustness.benchmarks.image_sets import open_folder, same_files, scan
from ipmix.robustness.predict import Streamer, SuiteError

#: AlexNet's top-1 error on ImageNet-C per corruption and severity 1..5, as Hendrycks gave them
#: (hendrycks/robustness issue #10; timm's ``imagenetc_alexnet_error_rates_list``). Their means
#: are the ``ALEXNET_ERR`` of google-research/augmix ``imagenet.py``.
ALEXNET_ERRORS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.69528, 0.82542, 0.93554, 0.98138, 0.99452),
    "shot_noise": (0.71224, 0.85108, 0.93574, 0.98182, 0.99146),
    "impulse_noise": (0.78374, 0.89808, 0.9487, 0.9872, 0.99548),
    "defocus_blur": (0.656239999999999, 0.73202, 0.85036, 0.91364, 0.94714),
    "glass_blur": (0.64308, 0.75054, 0.88806, 0.91622, 0.93344),
    "motion_blur": (0.5843, 0.70048, 0.82108, 0.8975, 0.92638),
    "zoom_blur": (0.70008, 0.769919999999999, 0.80784, 0.84198, 0.87198),
    "snow": (0.71726, 0.88392, 0.86468, 0.9187, 0.94952),
    "frost": (0.6139, 0.797339999999999, 0.8879, 0.89942, 0.9343),
    "fog": (0.67474, 0.7605, 0.84378, 0.8726, 0.945),
    "brightness": (0.4514, 0.48502, 0.54048, 0.62166, 0.724399999999999),
    "contrast": (0.64548, 0.7615, 0.88874, 0.9776, 0.9927),
    "elastic_transform": (0.52596, 0.70116, 0.55686, 0.64076, 0.80554),
    "pixelate": (0.52218, 0.5462, 0.737279999999999, 0.87092, 0.91262),
    "jpeg_compression": (0.510019999999999, 0.54718, 0.57294, 0.654579999999999, 0.74778),
}


def alexnet_clean_error() -> float:
    """AlexNet's clean top-1 error: 1 - torchvision's published acc@1 of the weights Hendrycks
    used (``AlexNet_Weights.IMAGENET1K_V1``, 56.522%; his paper rounds it to 43.5)."""
    return 1 - AlexNet_Weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"] / 100


#: ImageNet-C-bar: corruption -> levels of severities 1..5 (the release's severity folders are
#: ``1``..``5`` or these, ``{:.2f}``).
IMAGENET_C_BAR: Mapping[str, tuple[float, ...]] = CBAR_LEVELS["imagenet"]


def severity_folders(corruption_dir: Path, parameters: Sequence[float] | None) -> list[Path]:
    """The 5 severity folders of a corruption: ``1``..``5``, or its parameters (C-bar)."""
    numbered = [corruption_dir / str(s) for s in SEVERITIES]
    if all(folder.is_dir() for folder in numbered):
        return numbered
    if parameters is not None:
        named = [corruption_dir / f"{value:.2f}" for value in parameters]
        if all(folder.is_dir() for folder in named):
            return named
    missing = [folder.name for folder in numbered if not folder.is_dir()]
    also = f" (or {', '.join(f'{v:.2f}' for v in parameters)})" if parameters is not None else ""
    raise SuiteError(f"{corruption_dir} lacks severity folder(s) {', '.join(missing)}{also}")


def _score_corruption(
    streamer: Streamer, root: Path, name: str, parameters: Sequence[float] | None,
    model_classes: Sequence[str], size: int, what: str,
) -> tuple[list[float], list[dict[str, float | None]], int]:
    """Error (%) and RMS per severity of one corruption, and the image count per severity."""
    return _score_folders(streamer, severity_folders(root / name, parameters), name, model_classes,
                          size, what)


def _score_folders(
    streamer: Streamer, folders: Sequence[Path], name: str, model_classes: Sequence[str], size: int,
    what: str,
) -> tuple[list[float], list[dict[str, float | None]], int]:
    """Error (%) and RMS of each severity folder of one corruption, and the image count of each."""
    indexes = [scan(folder, what, streamer.progress) for folder in folders]
    for index in indexes[1:]:
        same_files(indexes[0], index, what)
    errors, calibration = [], []
    for folder, index in zip(folders, indexes, strict=True):
        opened = open_folder(index, model_classes, size, what, exact_size=True, by="name")
        out = streamer.predict(opened.dataset, len(model_classes), f"{what} {name} {folder.name}")
        errors.append(100 * metrics.error_rate(out.predicted, out.labels))
        calibration.append(rms_percent(out.confidence, out.correct))
    return errors, calibration, len(indexes[0])


def _mean_rms(calibration: Mapping[str, Sequence[Mapping[str, float | None]]], key: str) -> float | None:
    values = [entry[key] for rows in calibration.values() for entry in rows]
    return float(np.mean(values)) if values and None not in values else None


def corruption_part(
    streamer: Streamer, root: str | Path, model_classes: Sequence[str], size: int,
    clean_error: float | None,
) -> dict[str, Any]:
    """ImageNet-C: errors, mCE (AlexNet-normalised), relative mCE, unnormalised mean, RMS."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise SuiteError(f"ImageNet-C folder {folder} does not exist")
    lacking = [name for name in BENCHMARK_CORRUPTIONS if not (folder / name).is_dir()]
    if lacking:
        raise SuiteError(f"ImageNet-C folder {folder} lacks corruption folder(s) {', '.join(lacking)}"
                         + made_by_ipmix(folder, "--corrupted"))
    extras = [name for name in EXTRA_CORRUPTIONS if (folder / name).is_dir()]
    errors: dict[str, list[float]] = {}
    calibration: dict[str, list[dict[str, float | None]]] = {}
    counts: dict[str, int] = {}
    for name in [*BENCHMARK_CORRUPTIONS, *extras]:
        errors[name], calibration[name], counts[name] = _score_corruption(
            streamer, folder, name, None, model_classes, size, "ImageNet-C"
        )
    benchmark = {name: calibration[name] for name in BENCHMARK_CORRUPTIONS}
    fractions = {name: [e / 100 for e in errors[name]] for name in BENCHMARK_CORRUPTIONS}
    ce = {
        name: 100 * metrics.normalized_mce({name: fractions[name]}, ALEXNET_ERRORS, [name])
        for name in BENCHMARK_CORRUPTIONS
    }
    relative = None
    if clean_error is not None:
        relative = 100 * metrics.relative_mce(
            fractions, clean_error / 100, ALEXNET_ERRORS, alexnet_clean_error(), BENCHMARK_CORRUPTIONS
        )
    missing_extras = [name for name in EXTRA_CORRUPTIONS if name not in extras]
    return {
        "errors": errors,
        "ce": ce,
        "mce": float(np.mean(list(ce.values()))),
        "relative_mce": relative,
        "unnormalized_mce": metrics.mean_corruption_error(errors, BENCHMARK_CORRUPTIONS),
        "extra_mean": metrics.mean_corruption_error(errors, extras) if extras else None,
        "rms": _mean_rms(benchmark, "rms"),
        "rms_reference": _mean_rms(benchmark, "rms_reference"),
        "rms_per_set": calibration,
        "counts": counts,
        "notes": [f"extra corruptions not in {folder}: {', '.join(missing_extras)}"]
        if missing_extras else [],
        "source": str(folder),
    }


def c_bar_part(
    streamer: Streamer, root: str | Path, model_classes: Sequence[str], size: int
) -> dict[str, Any]:
    """ImageNet-C-bar: error per corruption and severity and their plain mean, RMS."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise SuiteError(f"ImageNet-C-bar folder {folder} does not exist")
    lacking = [name for name in IMAGENET_C_BAR if not (folder / name).is_dir()]
    if lacking:
        raise SuiteError(f"ImageNet-C-bar folder {folder} lacks corruption folder(s) {', '.join(lacking)}"
                         + made_by_ipmix(folder, "--corrupted"))
    errors: dict[str, list[float]] = {}
    calibration: dict[str, list[dict[str, float | None]]] = {}
    for name, parameters in IMAGENET_C_BAR.items():
        errors[name], calibration[name], _ = _score_corruption(
            streamer, folder, name, parameters, model_classes, size, "ImageNet-C-bar"
        )
    return {
        "errors": errors,
        "mean_error": metrics.mean_corruption_error(errors, list(IMAGENET_C_BAR)),
        "rms": _mean_rms(calibration, "rms"),
        "rms_reference": _mean_rms(calibration, "rms_reference"),
        "source": str(folder),
    }


def _level(name: str) -> float:
    """Severity folders in order: ``1``..``5`` or C-bar levels (``3.00``), numerically."""
    try:
        return float(name)
    except ValueError:
        return math.inf


def corrupted_part(
    streamer: Streamer, root: str | Path, model_classes: Sequence[str], size: int
) -> dict[str, Any]:
    """Corrupted copies of any folder (module docstring): errors per corruption and severity
    folder, their plain mean, RMS (mean over the sets)."""
    what = "corrupted images"
    folder, names = open_made_folder(root, what, "corruption folders (<corruption>/<severity>/"
                                     "<class>/<image>, as ipmix make-c writes them)")
    errors: dict[str, dict[str, float]] = {}
    calibration: dict[str, list[dict[str, float | None]]] = {}
    counts: dict[str, int] = {}
    for name in names:
        levels = sorted(subfolders(folder / name), key=_level)
        if not levels:
            raise SuiteError(f"{folder / name} holds no severity folders (<severity>/<class>/<image>)")
        found, calibration[name], counts[name] = _score_folders(
            streamer, [folder / name / level for level in levels], name, model_classes, size, what
        )
        errors[name] = dict(zip(levels, found, strict=True))
    return {
        "errors": errors,
        "mean_error": float(np.mean([e for row in errors.values() for e in row.values()])),
        "rms": _mean_rms(calibration, "rms"),
        "rms_reference": _mean_rms(calibration, "rms_reference"),
        "counts": counts,
        "source": str(folder),
    }
