"""The ImageNet robustness suite: whichever of the benchmarks were given, for any classifier.

`evaluate_imagenet(model, imagenet_c=DIR, imagenet_r=DIR, ...)` streams each benchmark folder
through a DataLoader (workers decode, the device predicts, one batch at a time: nothing is held
in memory but per-image predictions) and scores it with its reference protocol (modules of
`ipmix.robustness.benchmarks`). A benchmark not given is not run; the results say so
(``meta.not_run``), and nothing is generated in place of a benchmark that was named.

The model takes float ``[B, 3, N, N]`` images in [0, 1] and returns logits over
`model_classes` (default: ImageNet-1k's 1,000 wnids in sorted order, the label order of every
published checkpoint). Every benchmark runs for any model whose class names the folder uses: a
run on one's own folder passes its classes (`evaluate_checkpoint` does), and ``corrupted`` /
``perturbed`` evaluate what ``ipmix make-c`` / ``make-p`` made of such a folder, as it is.
Results are percentages (ImageNet-P's top-5 distances are distances); the keys are documented
in docs/robustness.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ipmix.robustness import metrics
from ipmix.robustness.benchmarks.common import rms_percent
from ipmix.robustness.benchmarks.objectnet import objectnet_part
from ipmix.robustness.benchmarks.shifts import IMAGENET_SHIFTS, shift_part
from ipmix.robustness.predict import Streamer, SuiteError, base_meta
from ipmix.robustness.results import RESULTS_FORMAT
from ipmix.utils.devices import torch_device

#: Benchmarks in the order they run (clean first: relative mCE needs its error).
IMAGENET_BENCHMARKS: tuple[str, ...] = (
    "imagenet-val", "imagenet-c", "imagenet-c-bar", "imagenet-p", "imagenet-r", "imagenet-a",
    "imagenet-o", *IMAGENET_SHIFTS, "objectnet",
)
#: Benchmarks of any folder's corrupted copies and perturbation videos (make-c, make-p), run
#: last and never listed as not run (they belong to no published protocol).
FOLDER_BENCHMARKS: tuple[str, ...] = ("corrupted", "perturbed")
#: results.json key of each benchmark (shifts go under ``shifts``).
RESULT_KEYS = {
    "imagenet-val": "imagenet_val", "imagenet-c": "imagenet_c", "imagenet-c-bar": "imagenet_c_bar",
    "imagenet-p": "imagenet_p", "imagenet-r": "imagenet_r", "imagenet-a": "imagenet_a",
    "imagenet-o": "imagenet_o", "corrupted": "corrupted", "perturbed": "perturbed",
}


def evaluate_imagenet(
    model: nn.Module,
    *,
    imagenet_val: str | Path | None = None,
    imagenet_c: str | Path | None = None,
    imagenet_c_bar: str | Path | None = None,
    imagenet_p: str | Path | None = None,
    imagenet_r: str | Path | None = None,
    imagenet_a: str | Path | None = None,
    imagenet_o: str | Path | None = None,
    imagenet_v2: str | Path | None = None,
    imagenet_sketch: str | Path | None = None,
    stylized_imagenet: str | Path | None = None,
    objectnet: str | Path | None = None,
    corrupted: str | Path | None = None,
    perturbed: str | Path | None = None,
    shifts: Mapping[str, str | Path] | None = None,
    model_classes: Sequence[str] | None = None,
    image_size: int = 224,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    progress: bool = True,
    baseline: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the given ImageNet benchmarks on `model` (see the module docstring).

    `imagenet_o` needs `imagenet_val` (its in-distribution set); the relative mCE needs it too.
    `objectnet` is the ObjectNet 1.0 release (its own class mapping, see
    `ipmix.robustness.benchmarks.objectnet`). `corrupted` and `perturbed` are folders in the
    layouts ``ipmix make-c`` and ``make-p`` write (any corruptions, severities, perturbations).
    `shifts` maps extra names to image folders of the model's classes. `baseline` is another
    run's results: its raw ImageNet-P values normalise mFR / mT5D.
    """
    from ipmix.data.classes import imagenet_wnids

    if image_size < 1:
        raise SuiteError(f"image size must be >= 1, got {image_size}")
    if batch_size < 1:
        raise SuiteError(f"batch size must be >= 1, got {batch_size}")
    classes = tuple(model_classes) if model_classes is not None else imagenet_wnids()
    folders = {
        "imagenet-val": imagenet_val, "imagenet-c": imagenet_c, "imagenet-c-bar": imagenet_c_bar,
        "imagenet-p": imagenet_p, "imagenet-r": imagenet_r, "imagenet-a": imagenet_a,
        "imagenet-o": imagenet_o, "imagenet-v2": imagenet_v2,
        "imagenet-sketch": imagenet_sketch, "stylized-imagenet": stylized_imagenet,
        "objectnet": objectnet, "corrupted": corrupted, "perturbed": perturbed,
    }
    clashing = sorted(set(shifts or {}) & set(folders))
    if clashing:
        raise SuiteError(f"shift name(s) {', '.join(clashing)} are benchmark names: use their options")
    if imagenet_o is not None and imagenet_val is None:
        raise SuiteError(
            "ImageNet-O needs ImageNet val (--imagenet-val DIR): its in-distribution set is the "
            "validation images of the 200 ImageNet-O classes"
        )
    device = torch_device(device)
    model = model.to(device).eval()
    streamer = Streamer(model, device, batch_size, workers, progress)
    given = [name for name in (*IMAGENET_BENCHMARKS, *FOLDER_BENCHMARKS) if folders[name] is not None]
    results: dict[str, Any] = {"format": RESULTS_FORMAT}
    seconds: dict[str, float] = {}

    def timed(name: str, run: Any) -> Any:
        start = time.perf_counter()
        value = run()
        seconds[name] = round(time.perf_counter() - start, 3)
        return value

    for name in given:
        folder = folders[name]
        if name in IMAGENET_SHIFTS:
            results.setdefault("shifts", {})[name] = timed(name, lambda f=folder, n=name: shift_part(
                streamer, n, f, classes, image_size, resize_ratio=256 / 224
            ))
        elif name == "objectnet":
            results.setdefault("shifts", {})[name] = timed(name, lambda f=folder: objectnet_part(
                streamer, f, classes, image_size, resize_ratio=256 / 224
            ))
        else:
            results[RESULT_KEYS[name]] = timed(name, lambda f=folder, n=name: _run(
                n, streamer, f, classes, image_size, results, folders, baseline
            ))
    for name, folder in (shifts or {}).items():
        results.setdefault("shifts", {})[name] = timed(f"shift {name}", lambda f=folder, n=name: shift_part(
            streamer, n, f, classes, image_size, resize_ratio=256 / 224
        ))
    not_run = {name: "not given" for name in IMAGENET_BENCHMARKS if folders[name] is None}
    results["meta"] = {
        **base_meta(device, batch_size, seed),
        "imagenet": {
            "benchmarks": given + [f"shift {name}" for name in shifts or {}],
            "not_run": not_run,
            "image_size": image_size,
            "num_classes": len(classes),
            "workers": workers,
            "seconds": seconds,
        },
    }
    return results


def _run(
    name: str, streamer: Streamer, folder: str | Path, classes: Sequence[str], size: int,
    results: Mapping[str, Any], folders: Mapping[str, Any], baseline: Mapping[str, Any] | None,
) -> dict[str, Any]:
    from ipmix.robustness.benchmarks import imagenet_c, imagenet_p, imagenet_subsets

    if name == "corrupted":
        return imagenet_c.corrupted_part(streamer, folder, classes, size)
    if name == "perturbed":
        return imagenet_p.perturbed_part(streamer, folder, classes, size)
    if name == "imagenet-val":
        return _clean_part(streamer, folder, classes, size)
    if name == "imagenet-c":
        clean = results.get("imagenet_val", {}).get("error")
        return imagenet_c.corruption_part(streamer, folder, classes, size, clean)
    if name == "imagenet-c-bar":
        return imagenet_c.c_bar_part(streamer, folder, classes, size)
    if name == "imagenet-p":
        return imagenet_p.perturbation_part(streamer, folder, classes, size, baseline)
    if name in ("imagenet-r", "imagenet-a"):
        return imagenet_subsets.accuracy_part(streamer, folder, name, classes, size)
    return imagenet_subsets.anomaly_part(streamer, folder, folders["imagenet-val"], classes, size)


def _clean_part(streamer: Streamer, folder: str | Path, classes: Sequence[str], size: int
                ) -> dict[str, Any]:
    """ImageNet val: error and RMS with the eval transform (all classes of the model)."""
    from ipmix.robustness.benchmarks.image_sets import open_folder, scan

    index = scan(folder, "ImageNet val", streamer.progress)
    opened = open_folder(index, classes, size, "ImageNet val", by="name")
    outputs = streamer.predict(opened.dataset, len(classes), "ImageNet val")
    return {
        "error": 100 * metrics.error_rate(outputs.predicted, outputs.labels),
        **rms_percent(outputs.confidence, outputs.correct),
        "count": len(outputs),
        "source": str(index.root),
    }
