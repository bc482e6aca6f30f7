"""The robustness suite: every safety metric of the paper for any classifier.

`evaluate(model, ...)` takes any ``torch.nn.Module`` that maps float images ``[B, 3, H, W]`` in
[0, 1] to logits (ipmix models normalise inside; wrap a model that expects normalised inputs
so that it takes [0, 1]). On a CIFAR test set it measures the parts named in `suite`:

- ``clean``: test error;
- ``c``: error per corruption and severity on CIFAR-C, their unnormalised mean over the 15
  benchmark corruptions ("mCE"), the 4 extra ones apart, and the normalised mCE against a
  baseline run's results when one is given;
- ``p``: flip probability per CIFAR-P perturbation and their plain mean (mFR);
- ``calibration``: RMS calibration error on the clean set and on CIFAR-C (per corruption over
  its 5 severities pooled, then the mean over the 15), plus reliability-diagram bins;
- ``pgd``: error under PGD (L-inf, 2/255, 20 steps of 0.5/255, random start);
- ``ood``: AUROC, AUPR and FPR at 95% TPR of the maximum softmax probability against outlier
  sets (synthetic Gaussian, Rademacher and blobs by default; any folder or array).

and, when given, CIFAR-C-bar and natural shifts (image folders of the test set's classes).
ImageNet benchmarks are in `ipmix.robustness.imagenet_suite`; `evaluate_checkpoint` runs both.

Official CIFAR-C / CIFAR-P files are read from the folders given and checked against the test
set (`ipmix.robustness.benchmarks.cifar`); a named folder is never filled in unless `generate`
is set. Without folders, the sets are generated into a cache (``$IPMIX_CACHE`` or
``~/.cache/ipmix``) keyed by the test subset and seed.

All reported numbers are percentages (as in the paper's tables); `results` is JSON-ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ipmix.data.cifar import CifarArrays, load_cifar
from ipmix.robustness import metrics
from ipmix.robustness.attacks import pgd_part
from ipmix.robustness.benchmarks.cifar import (
    benchmark_dir,
    c_bar_part,
    corruption_part,
    perturbation_part,
)
from ipmix.robustness.ood import OOD_COUNTS, SYNTHETIC_OUTLIERS, ood_part
from ipmix.robustness.predict import (  # noqa: F401  (re-exported: the suite's prediction API)
    SuiteError,
    _images_to_tensor,
    base_meta,
    check_model_classes,
    predict_probabilities,
)
from ipmix.robustness.results import RESULTS_FORMAT, SUITE_PARTS
from ipmix.utils.devices import torch_device

CIFAR_DATASETS = ("cifar10", "cifar100")


def parse_suite(suite: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"``, ``"none"`` or a comma-separated subset of `SUITE_PARTS`, in canonical order."""
    parts = suite.split(",") if isinstance(suite, str) else list(suite)
    parts = [part.strip() for part in parts if part.strip()]
    if parts == ["all"]:
        return SUITE_PARTS
    if parts == ["none"]:
        return ()
    unknown = sorted(set(parts) - set(SUITE_PARTS))
    if unknown or not parts:
        raise SuiteError(
            f"unknown suite part(s) {unknown or parts}; use 'all', 'none' or a comma-separated "
            f"subset of {','.join(SUITE_PARTS)}"
        )
    return tuple(part for part in SUITE_PARTS if part in parts)


def _load_data(
    data: CifarArrays | str | Path | None, dataset: str, n: int | None
) -> CifarArrays:
    if isinstance(data, CifarArrays):
        arrays = data
    else:
        arrays = load_cifar(dataset, root=data, split="test")
    if n is not None:
        if n < 1:
            raise SuiteError(f"--n must be a positive number of images, got {n}")
        arrays = arrays.subset(n)
    if len(arrays.images) != len(arrays.labels):
        raise SuiteError(
            f"label count mismatch: {len(arrays.images)} test images but {len(arrays.labels)} labels"
        )
    return arrays


class _Timer:
    """Wall time per suite part."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, name: str, func: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = func()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)
        return result


def evaluate(
    model: nn.Module,
    suite: str | Sequence[str] = "all",
    n: int | None = None,
    device: str | torch.device = "cpu",
    data: CifarArrays | str | Path | None = None,
    dataset: str = "cifar10",
    cifar_c_dir: str | Path | None = None,
    cifar_p_dir: str | Path | None = None,
    ood_sources: Sequence[str | Path | np.ndarray] = SYNTHETIC_OUTLIERS,
    baseline: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    seed: int = 0,
    frost_dir: str | Path | None = None,
    progress: bool = True,
    *,
    generate: bool = False,
    cifar_c_bar_dir: str | Path | None = None,
    shifts: Mapping[str, str | Path] | None = None,
    pgd_reference: bool = False,
    ood_count: str = "protocol",
    workers: int = 0,
    on_predictions: Callable[[str, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Run the suite parts in `suite` on `model` and return the results (percentages).

    `data` is a `CifarArrays` test split, or a data folder (default ``$IPMIX_DATA``) from
    which `dataset`'s test split is read; `n` keeps its first `n` images. `baseline` is another
    run's results (for the normalised mCE, when all 15 benchmark corruptions were measured).
    The RMS calibration error on CIFAR-C needs both ``calibration`` and ``c`` in `suite`.
    `generate` allows generating missing CIFAR-C/-P files into the folders given (announced on
    stderr); `cifar_c_bar_dir` adds CIFAR-C-bar; `shifts` maps names to image folders of the
    test set's classes (natural shifts). `pgd_reference` runs the authors' PGD (see
    `pgd_attack`); `ood_count` is ``"protocol"`` (folders and arrays subsampled to N // 5
    images, as Hendrycks' test script) or ``"all"``. Every random draw (PGD start, outliers,
    generated CIFAR-C/-P) derives from `seed`. The model is put in eval mode on `device`.
    `on_predictions(label, probabilities)`, if given, receives every set's softmax outputs
    ``[N, K]`` (for per-image statistics such as bootstrap intervals); labels: ``clean``,
    ``<corruption> s<severity>``, ``<perturbation>`` (all frames, sequence-major),
    ``OOD <source>`` and ``pgd`` (the adversarial images).
    """
    parts = parse_suite(suite)
    if ood_count not in OOD_COUNTS:
        raise SuiteError(f"ood_count must be one of {OOD_COUNTS}, got {ood_count!r}")
    device = torch_device(device)
    model = model.to(device).eval()
    arrays = _load_data(data, dataset, n)
    if len(arrays) == 0:
        raise SuiteError("the test set is empty")
    num_classes = len(arrays.class_names)
    if arrays.labels.min() < 0 or arrays.labels.max() >= num_classes:
        raise SuiteError(f"test labels must lie in [0, {num_classes})")
    check_model_classes(model, arrays.images, num_classes, device)

    timer = _Timer()
    meta = {"dataset": dataset, "n": len(arrays), "num_classes": num_classes, "suite": list(parts)}
    results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "meta": {**meta, **base_meta(device, batch_size, seed)},
    }

    def predict(images: np.ndarray, desc: str) -> np.ndarray:
        probabilities = predict_probabilities(model, images, batch_size, device, desc, progress)
        if on_predictions is not None:
            on_predictions(desc, probabilities)
        return probabilities

    if {"clean", "calibration", "ood"} & set(parts):
        clean_probs = timer.run("clean", lambda: predict(arrays.images, "clean"))
        clean_pred = clean_probs.argmax(1)
        clean_conf = clean_probs.max(1)
        results["clean"] = {"error": 100 * metrics.error_rate(clean_pred, arrays.labels)}

    if "calibration" in parts:
        clean_correct = clean_pred == arrays.labels
        bins = metrics.calibration_bins(clean_conf, clean_correct)
        results["calibration"] = {
            "rms_clean": 100 * metrics.rms_calibration_error(clean_conf, clean_correct),
            # Hendrycks' loop (last bin left out), for comparison with published numbers
            "rms_clean_reference": _reference_rms(clean_conf, clean_correct),
            "bins_clean": {
                "confidence": bins.confidence.tolist(),
                "accuracy": bins.accuracy.tolist(),
                "counts": bins.counts.tolist(),
            },
        }

    if "c" in parts:
        c_dir, named = benchmark_dir(cifar_c_dir, "c", arrays, dataset, seed)
        corruption = timer.run("c", lambda: corruption_part(
            predict, arrays, c_dir, user_named=named, generate=generate, seed=seed,
            frost_dir=frost_dir, progress=progress,
        ))
        rms_per_corruption = corruption.pop("_rms")
        if baseline is not None and corruption["mce"] is not None:
            corruption["normalized_mce"] = _normalized_against(corruption, baseline)
        results["corruption"] = corruption
        if "calibration" in parts:
            _corruption_calibration(results["calibration"], rms_per_corruption)

    if "p" in parts:
        p_dir, named = benchmark_dir(cifar_p_dir, "p", arrays, dataset, seed)
        results["perturbation"] = timer.run("p", lambda: perturbation_part(
            predict, arrays, p_dir, user_named=named, generate=generate, seed=seed,
            progress=progress,
        ))

    if "pgd" in parts:
        results["pgd"] = timer.run(
            "pgd",
            lambda: pgd_part(model, arrays.images, arrays.labels, batch_size, device, seed, progress,
                             pgd_reference, on_predictions),
        )

    if "ood" in parts:
        results["ood"] = timer.run(
            "ood", lambda: ood_part(predict, clean_conf, arrays.images.shape[1], ood_sources, seed, ood_count)
        )

    if cifar_c_bar_dir is not None:
        results["cifar_c_bar"] = timer.run("c-bar", lambda: c_bar_part(
            predict, arrays, Path(cifar_c_bar_dir).expanduser(), progress
        ))

    if shifts:
        from ipmix.robustness.benchmarks.shifts import shift_part
        from ipmix.robustness.predict import Streamer

        streamer = Streamer(model, device, batch_size, workers, progress)
        size = int(arrays.images.shape[1])
        results["shifts"] = {
            name: timer.run(f"shift {name}", lambda name=name, folder=folder: shift_part(
                streamer, name, folder, arrays.class_names, size, resize_ratio=1.0
            ))
            for name, folder in shifts.items()
        }

    results["meta"]["seconds"] = timer.seconds
    return results


def _corruption_calibration(
    calibration: dict[str, Any], rms_per_corruption: Mapping[str, Mapping[str, float | None]]
) -> None:
    """RMS on CIFAR-C: per corruption (5 severities pooled), then the mean over the 15."""
    from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS

    complete = all(name in rms_per_corruption for name in BENCHMARK_CORRUPTIONS)
    for key, suffix in (("rms", ""), ("rms_reference", "_reference")):
        per_corruption = {name: v[key] for name, v in rms_per_corruption.items()}
        calibration[f"rms{suffix}_per_corruption"] = per_corruption
        values = [per_corruption[name] for name in BENCHMARK_CORRUPTIONS] if complete else []
        calibration[f"rms_c{suffix}"] = (
            float(np.mean(values)) if values and None not in values else None
        )


def _reference_rms(confidence: np.ndarray, correct: np.ndarray) -> float | None:
    from ipmix.robustness.benchmarks.common import reference_rms

    return reference_rms(confidence, correct)


def _normalized_against(corruption: Mapping[str, Any], baseline: Mapping[str, Any]) -> float:
    from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS

    try:
        base_errors = baseline["corruption"]["errors"]
    except (KeyError, TypeError) as error:
        raise SuiteError("the baseline results hold no CIFAR-C errors") from error
    return 100 * metrics.normalized_mce(corruption["errors"], base_errors, BENCHMARK_CORRUPTIONS)


def evaluate_checkpoint(
    run_or_checkpoint: str | Path,
    suite: str | Sequence[str] = "all",
    n: int | None = None,
    device: str | torch.device = "cpu",
    data: str | Path | None = None,
    dataset: str | None = None,
    out: str | Path | None = None,
    baseline_run: str | Path | None = None,
    imagenet: Mapping[str, Any] | None = None,
    shifts: Mapping[str, str | Path] | None = None,
    **kwargs: Any,
) -> tuple[dict[str, Any], Path]:
    """Evaluate an ipmix checkpoint (or run dir) and write results.json and results.md.

    The files go to `out`, else to the run dir (the checkpoint's folder); parts already in its
    results.json that were not measured again are kept (`merge_results`). For a CIFAR
    checkpoint, the `suite` parts run on the test set (its dataset and class count must match
    the data's; `dataset`, default the checkpoint's, only confirms it); for other checkpoints
    the CIFAR parts are not run unless `suite` names them explicitly (an error). `imagenet`
    holds the keyword arguments of `ipmix.robustness.imagenet_suite.evaluate_imagenet` (the
    benchmark folders given): those benchmarks run too, on the classes the checkpoint records
    and, unless `imagenet` says otherwise, at the image size it was trained at. `shifts` (name
    -> image folder of the model's classes) go to whichever of the two fits the checkpoint.
    Nothing to run is an error. Other keyword arguments go to `evaluate`. Returns the results
    and the folder.
    """
    import hashlib

    from ipmix.models import load_classifier
    from ipmix.robustness.report import RESULTS_FILE, RESULTS_MARKDOWN, load_results, results_markdown
    from ipmix.robustness.results import merge_results
    from ipmix.utils.io import atomic_write_bytes, atomic_write_json

    model, info = load_classifier(run_or_checkpoint, map_location=torch_device(device))
    trained_on = info.get("dataset")
    if dataset is not None and trained_on is not None and dataset != trained_on:
        raise SuiteError(
            f"the checkpoint was trained on {trained_on} but evaluation on {dataset} was asked"
        )
    dataset = dataset or trained_on or "cifar10"
    baseline = load_results(baseline_run) if baseline_run is not None else None
    is_cifar = dataset in CIFAR_DATASETS
    if not is_cifar and parse_suite(suite) and suite != "all":
        raise SuiteError(
            f"the suite parts {suite!r} run on CIFAR test sets but the checkpoint was trained "
            f"on {dataset}; give its benchmarks instead (e.g. --imagenet-val DIR)"
        )
    imagenet = dict(imagenet or {})
    if shifts and not is_cifar:
        imagenet["shifts"] = shifts
    benchmarks = set(imagenet) - {"image_size", "model_classes"}
    runs_cifar = is_cifar and bool(parse_suite(suite) or shifts or kwargs.get("cifar_c_bar_dir"))
    if not (runs_cifar or benchmarks):
        raise SuiteError(
            f"nothing to evaluate {run_or_checkpoint} on: it was trained on {dataset}; name a "
            "benchmark (e.g. --imagenet-val DIR, --corrupted DIR from make-c, --perturbed DIR "
            "from make-p, --shift NAME=DIR)" + (", or CIFAR --suite parts" if is_cifar else "")
        )
    if runs_cifar:
        arrays = _load_data(data, dataset, n)
        if info["num_classes"] != len(arrays.class_names):
            raise SuiteError(
                f"the checkpoint has {info['num_classes']} classes but the {dataset} test data "
                f"has {len(arrays.class_names)}: the checkpoint is for another dataset"
            )
        results = evaluate(
            model, suite=suite, n=None, device=device, data=arrays, dataset=dataset,
            baseline=baseline, shifts=shifts, **kwargs,
        )
    else:
        results = {"format": RESULTS_FORMAT, "meta": {"dataset": dataset, "suite": []}}
    if benchmarks:
        from ipmix.robustness.imagenet_suite import evaluate_imagenet

        imagenet.setdefault("model_classes", _model_classes(info))
        imagenet.setdefault("image_size", info.get("image_size") or (32 if is_cifar else 224))
        extra = evaluate_imagenet(
            model, device=device, baseline=baseline,
            batch_size=kwargs.get("batch_size", 64), workers=kwargs.get("workers", 0),
            progress=kwargs.get("progress", True), seed=kwargs.get("seed", 0), **imagenet,
        )
        meta = extra.pop("meta")
        results.update(extra)
        results["meta"] = {**meta, **results["meta"], "imagenet": meta.get("imagenet", {})}
    results["meta"].update(
        {
            "checkpoint": info["path"],
            "model_name": info["model_name"],
            "model_kwargs": info.get("model_kwargs", {}),
            "config": info.get("config", {}),
            "epoch": info.get("epoch"),
            "checkpoint_sha256": hashlib.sha256(Path(info["path"]).read_bytes()).hexdigest()[:16],
            "baseline": str(baseline_run) if baseline_run is not None else None,
        }
    )
    source = Path(run_or_checkpoint).expanduser()
    folder = Path(out).expanduser() if out is not None else (
        source if source.is_dir() else source.parent
    )
    previous = load_results(folder) if (folder / RESULTS_FILE).is_file() else None
    results = merge_results(previous, results, folder / RESULTS_FILE)
    atomic_write_json(folder / RESULTS_FILE, results)
    title = f"Robustness of {folder.name or folder}"
    atomic_write_bytes(folder / RESULTS_MARKDOWN, results_markdown(results, title).encode())
    return results, folder


def _model_classes(info: Mapping[str, Any]) -> list[str]:
    """The class names of a checkpoint's logits: those ipmix's trainer records, else ImageNet-1k's
    wnids for a 1000-class checkpoint."""
    if info.get("classes"):
        return list(info["classes"])
    if info["num_classes"] == 1000:
        from ipmix.data.classes import imagenet_wnids

        return list(imagenet_wnids())
    raise SuiteError(
        f"{info['path']} has {info['num_classes']} classes but records no class names, so no "
        "benchmark folder can be matched to them (ipmix's trainer records them; from Python, pass "
        "model_classes to evaluate_imagenet)"
    )
