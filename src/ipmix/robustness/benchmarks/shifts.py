"""Natural distribution shifts: ImageNet-V2, ImageNet-Sketch, Stylized-ImageNet, any folder.

A shift is an image folder of (some of) the model's classes, scored by top-1 accuracy over all
the model's outputs (no mask: the IPMix paper's Table 14 reports plain accuracy). Layouts:

- ImageNet-V2 (Recht et al.; the ``imagenetv2-*-format-val`` releases): folders named by class
  index ``0``..``999``. They are matched by index (ImageFolder's string sort would put ``10``
  before ``2`` and mislabel almost everything);
- ImageNet-Sketch (``sketch/<wnid>/``) and Stylized-ImageNet (``<wnid>/``): wnid folders;
- any ImageFolder whose class folders are among the model's class names (wnids for ImageNet
  models, the CIFAR class names for CIFAR models), or its class indices.

Images go through ``Resize(round(N * ratio)) + CenterCrop(N)``: ratio 256/224 for ImageNet
models (the references' eval transform), 1 for CIFAR models (Resize(32) + CenterCrop(32), as
hendrycks/outlier-exposure reads folders at CIFAR scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ipmix.robustness import metrics
from ipmix.robustness.benchmarks.common import rms_percent
from ipmix.robustness.benchmarks.image_sets import open_folder, scan
from ipmix.robustness.predict import Streamer

#: Named ImageNet shifts (CLI options); any other name is a user folder.
IMAGENET_SHIFTS = ("imagenet-v2", "imagenet-sketch", "stylized-imagenet")


def shift_part(
    streamer: Streamer,
    name: str,
    folder: str | Path,
    model_classes: Sequence[str],
    size: int,
    resize_ratio: float,
) -> dict[str, Any]:
    """Accuracy (and error, RMS) of the model on the image folder `folder`."""
    index = scan(folder, f"shift {name!r}", streamer.progress)
    opened = open_folder(index, model_classes, size, f"shift {name!r}", ratio=resize_ratio)
    outputs = streamer.predict(opened.dataset, len(model_classes), f"shift {name}")
    error = 100 * metrics.error_rate(outputs.predicted, outputs.labels)
    return {
        "accuracy": 100 - error,
        "error": error,
        **rms_percent(outputs.confidence, outputs.correct),
        "count": len(outputs),
        "classes": len(index.classes),
        "matched_by": "name" if set(index.classes) <= set(model_classes) else "index",
        "source": str(index.root),
    }
