"""ImageNet-R, ImageNet-A (accuracy on 200 classes) and ImageNet-O (anomaly detection).

Protocols of hendrycks/imagenet-r ``eval.py`` and hendrycks/natural-adv-examples ``eval.py`` /
``eval_many_models.py``:

- the 1,000 logits of an ImageNet model are restricted to the benchmark's 200 wnids
  (``net(x)[:, mask]``) before the arg-max and the softmax; the folder's sorted classes are
  those 200 wnids, so label k is the k-th of them. Without the mask top-1 is near zero, the
  field's best-known harness mistake. ImageNet-R reports the error, ImageNet-A the accuracy,
  both with the RMS calibration error of the masked maximum softmax probability;
- ImageNet-O: the in-distribution set is ImageNet val restricted to the 200 ImageNet-O classes
  (the symlinked ``imagenet_val_for_imagenet_o_ood`` folder of ``eval_many_models.py``), both
  sets are scored with the same 200-class mask, the anomaly score is -MSP and the anomalies
  (ImageNet-O images) are the positive class of the AUPR (``get_measures(out_score,
  in_score)``).

A model trained on exactly the 200 classes (the authors' ``--num-classes 200``) needs no mask:
the subset then covers all its outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ipmix.robustness import metrics
from ipmix.robustness.benchmarks.common import rms_percent
from ipmix.robustness.benchmarks.image_sets import (
    check_classes,
    open_folder,
    restrict_classes,
    scan,
)
from ipmix.robustness.predict import Predictions, Streamer, SuiteError

SUBSET_FILES = {"imagenet-r": "imagenet_r.txt", "imagenet-a": "imagenet_a.txt",
                "imagenet-o": "imagenet_o.txt"}
LABELS = {"imagenet-r": "ImageNet-R", "imagenet-a": "ImageNet-A", "imagenet-o": "ImageNet-O"}


@cache
def subset_wnids(benchmark: str) -> tuple[str, ...]:
    """The 200 wnids of ``imagenet-r``, ``imagenet-a`` or ``imagenet-o``, sorted (package data)."""
    if benchmark not in SUBSET_FILES:
        raise ValueError(f"no 200-class subset for {benchmark!r}; known: {', '.join(SUBSET_FILES)}")
    text = resources.files("ipmix.robustness").joinpath(f"wnids/{SUBSET_FILES[benchmark]}").read_text()
    return tuple(text.split())


def subset_columns(benchmark: str, model_classes: Sequence[str]) -> np.ndarray:
    """Positions of the benchmark's 200 wnids among the model's classes (the logit mask)."""
    positions = {name: i for i, name in enumerate(model_classes)}
    wnids = subset_wnids(benchmark)
    lacking = [wnid for wnid in wnids if wnid not in positions]
    if lacking:
        raise SuiteError(
            f"{LABELS[benchmark]} needs a model of ImageNet classes; the model's {len(model_classes)} "
            f"classes lack {len(lacking)} of its wnids (e.g. {', '.join(lacking[:3])})"
        )
    return np.array([positions[wnid] for wnid in wnids], dtype=np.int64)


def _masked_predictions(
    streamer: Streamer, folder: str | Path, benchmark: str, model_classes: Sequence[str],
    size: int,
) -> Predictions:
    what = LABELS[benchmark]
    index = scan(folder, what, streamer.progress)
    check_classes(index, subset_wnids(benchmark), what)
    opened = open_folder(index, subset_wnids(benchmark), size, what, by="name")
    columns = subset_columns(benchmark, model_classes)
    return streamer.predict(opened.dataset, len(model_classes), what, keep=columns)


def accuracy_part(
    streamer: Streamer, folder: str | Path, benchmark: str, model_classes: Sequence[str],
    size: int,
) -> dict[str, Any]:
    """ImageNet-R or -A: accuracy and error on the 200 classes, and the RMS calibration error."""
    outputs = _masked_predictions(streamer, folder, benchmark, model_classes, size)
    error = 100 * metrics.error_rate(outputs.predicted, outputs.labels)
    return {
        "error": error,
        "accuracy": 100 - error,
        **rms_percent(outputs.confidence, outputs.correct),
        "count": len(outputs),
        "source": str(Path(folder).expanduser()),
    }


def anomaly_part(
    streamer: Streamer, folder: str | Path, val_folder: str | Path | None,
    model_classes: Sequence[str], size: int,
) -> dict[str, Any]:
    """ImageNet-O: AUPR (anomalies positive, score -MSP), AUROC and FPR at 95% TPR."""
    if val_folder is None:
        raise SuiteError(
            "ImageNet-O needs ImageNet val (--imagenet-val DIR): its in-distribution set is the "
            "validation images of the 200 ImageNet-O classes"
        )
    anomalies = _masked_predictions(streamer, folder, "imagenet-o", model_classes, size)
    val = scan(val_folder, "ImageNet val", streamer.progress)
    wnids = subset_wnids("imagenet-o")
    lacking = sorted(set(wnids) - set(val.classes))
    if lacking:
        raise SuiteError(f"{val.root}: ImageNet val lacks ImageNet-O classes {', '.join(lacking[:5])}")
    opened = open_folder(restrict_classes(val, wnids), wnids, size,
                         "ImageNet val (ImageNet-O classes)", by="name")
    columns = subset_columns("imagenet-o", model_classes)
    normal = streamer.predict(opened.dataset, len(model_classes), "ImageNet val (IN-O classes)",
                              keep=columns)
    measures = metrics.anomaly_measures(-anomalies.confidence, -normal.confidence)
    return {
        "aupr": 100 * measures.aupr,
        "auroc": 100 * measures.auroc,
        "fpr95": 100 * measures.fpr_at_95_tpr,
        "count": len(anomalies),
        "in_distribution_count": len(normal),
        "source": str(Path(folder).expanduser()),
    }
