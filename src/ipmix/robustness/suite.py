"""The robustness suite: every safety metric of the paper for any classifier.

`evaluate(model, ...)` takes any ``torch.nn.Module`` that maps float images ``[B, 3, H, W]`` in
[0, 1] to logits (ipmix models normalise inside; wrap a model that expects normalised inputs
so that it takes [0, 1]). It measures the parts named in `suite`:

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

Official CIFAR-C / CIFAR-P files are read when the given folders hold them; the missing ones
are generated from the clean test subset (with the benchmark generators) into those folders,
or into a cache folder (``$IPMIX_CACHE`` or ``~/.cache/ipmix``) keyed by the subset and seed.

All reported numbers are percentages (as in the paper's tables); `results` is JSON-ready.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ipmix.data.cifar import CifarArrays, load_cifar
from ipmix.robustness import metrics
from ipmix.robustness.attacks import PGD_EPS, PGD_STEP_SIZE, PGD_STEPS, pgd_attack
from ipmix.robustness.ood import SYNTHETIC_OUTLIERS, load_outlier_source, msp_measures, outlier_count
from ipmix.robustness.ood import summarize as summarize_ood

SUITE_PARTS = ("clean", "c", "p", "calibration", "pgd", "ood")
CACHE_ENV = "IPMIX_CACHE"
RESULTS_FORMAT = "ipmix-results/1"


class SuiteError(ValueError):
    """The suite cannot run as asked (bad part name, mismatched model, data or files)."""


def parse_suite(suite: str | Sequence[str]) -> tuple[str, ...]:
    """``"all"`` or a comma-separated subset of `SUITE_PARTS`, in canonical order."""
    parts = suite.split(",") if isinstance(suite, str) else list(suite)
    parts = [part.strip() for part in parts if part.strip()]
    if parts == ["all"]:
        return SUITE_PARTS
    unknown = sorted(set(parts) - set(SUITE_PARTS))
    if unknown or not parts:
        raise SuiteError(
            f"unknown suite part(s) {unknown or parts}; use 'all' or a comma-separated subset "
            f"of {','.join(SUITE_PARTS)}"
        )
    return tuple(part for part in SUITE_PARTS if part in parts)


def cache_root() -> Path:
    """Where generated benchmark sets are cached: ``$IPMIX_CACHE`` or ``~/.cache/ipmix``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ipmix"


def _images_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``[B, H, W, 3]`` (or float in [0, 1]) to float ``[B, 3, H, W]`` in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    tensor = tensor.permute(0, 3, 1, 2).float()
    return tensor / 255 if images.dtype == np.uint8 else tensor


def predict_probabilities(
    model: nn.Module,
    images: np.ndarray,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    desc: str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Softmax outputs ``[N, K]`` (float32) of `model` on ``[N, H, W, 3]`` images.

    `images` may be a memory-mapped array: only one batch at a time is read into memory.
    """
    device = torch.device(device)
    outputs = []
    starts = range(0, len(images), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
            # a copy per batch: `images` may be a read-only memory map of a benchmark file
            batch = _images_to_tensor(np.array(images[start : start + batch_size]), device)
            outputs.append(torch.softmax(model(batch).float(), dim=1).cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def check_model_classes(
    model: nn.Module, images: np.ndarray, num_classes: int, device: torch.device
) -> None:
    """Refuse a model whose output count differs from the data's class count."""
    with torch.no_grad():
        logits = model(_images_to_tensor(images[:1], device))
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise SuiteError(
            f"the model outputs {tuple(logits.shape[1:])} scores per image but the data has "
            f"{num_classes} classes: is the checkpoint for another dataset?"
        )


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


def _subset_key(arrays: CifarArrays, dataset: str, seed: int) -> str:
    """A cache folder name that changes whenever the images, labels or seed change."""
    digest = hashlib.sha1(arrays.images.tobytes())
    digest.update(arrays.labels.astype(np.int64).tobytes())
    return f"{dataset}-n{len(arrays)}-seed{seed}-{digest.hexdigest()[:10]}"


def _benchmark_dir(
    given: str | Path | None, kind: str, arrays: CifarArrays, dataset: str, seed: int
) -> Path:
    if given is not None:
        return Path(given).expanduser()
    return cache_root() / f"cifar-{kind}" / _subset_key(arrays, dataset, seed)


def _take(stack: np.ndarray, count: int, what: str, folder: Path, axis: int) -> np.ndarray:
    have = stack.shape[axis]
    if have < count:
        raise SuiteError(
            f"{folder}: {what} holds {have} images but the evaluation needs {count} "
            "(use a larger set, a smaller --n, or another folder)"
        )
    return stack[(slice(None),) * axis + (slice(0, count),)]


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
    on_predictions: Callable[[str, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Run the suite parts in `suite` on `model` and return the results (percentages).

    `data` is a `CifarArrays` test split, or a data folder (default ``$IPMIX_DATA``) from
    which `dataset`'s test split is read; `n` keeps its first `n` images. `baseline` is another
    run's results (for the normalised mCE, when all 15 benchmark corruptions were measured).
    The RMS calibration error on CIFAR-C needs both ``calibration`` and ``c`` in `suite`.
    Every random draw (PGD start, synthetic outliers, generated CIFAR-C/-P) derives from `seed`.
    The model is put in eval mode on `device`. `on_predictions(label, probabilities)`, if
    given, receives every set's softmax outputs ``[N, K]`` (for per-image statistics such as
    bootstrap intervals); labels: ``clean``, ``<corruption> s<severity>``, ``<perturbation>``
    (all frames, sequence-major), ``OOD <source>`` and ``pgd`` (the adversarial images).
    """
    parts = parse_suite(suite)
    device = torch.device(device)
    model = model.to(device).eval()
    arrays = _load_data(data, dataset, n)
    if len(arrays) == 0:
        raise SuiteError("the test set is empty")
    num_classes = len(arrays.class_names)
    if arrays.labels.min() < 0 or arrays.labels.max() >= num_classes:
        raise SuiteError(f"test labels must lie in [0, {num_classes})")
    check_model_classes(model, arrays.images, num_classes, device)

    timer = _Timer()
    results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "meta": {
            "dataset": dataset,
            "n": len(arrays),
            "num_classes": num_classes,
            "suite": list(parts),
            "seed": seed,
            "device": str(device),
            "batch_size": batch_size,
            "torch": torch.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        },
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
        c_dir = _benchmark_dir(cifar_c_dir, "c", arrays, dataset, seed)
        corruption = timer.run(
            "c", lambda: _corruption_part(predict, arrays, c_dir, seed, frost_dir, progress)
        )
        rms_per_corruption = corruption.pop("_rms")
        if baseline is not None and corruption["mce"] is not None:
            corruption["normalized_mce"] = _normalized_against(corruption, baseline)
        results["corruption"] = corruption
        if "calibration" in parts:
            from ipmix.robustness.corruptions import BENCHMARK_CORRUPTIONS

            complete = all(name in rms_per_corruption for name in BENCHMARK_CORRUPTIONS)
            for key, suffix in (("rms", ""), ("rms_reference", "_reference")):
                per_corruption = {name: v[key] for name, v in rms_per_corruption.items()}
                results["calibration"][f"rms{suffix}_per_corruption"] = per_corruption
                values = [per_corruption[name] for name in BENCHMARK_CORRUPTIONS] if complete else []
                results["calibration"][f"rms_c{suffix}"] = (
                    float(np.mean(values)) if values and None not in values else None
                )

    if "p" in parts:
        p_dir = _benchmark_dir(cifar_p_dir, "p", arrays, dataset, seed)
        results["perturbation"] = timer.run(
            "p", lambda: _perturbation_part(predict, arrays, p_dir, seed, progress)
        )

    if "pgd" in parts:
        results["pgd"] = timer.run(
            "pgd",
            lambda: _pgd_part(model, arrays, batch_size, device, seed, progress, on_predictions),
        )

    if "ood" in parts:
        results["ood"] = timer.run(
            "ood", lambda: _ood_part(predict, clean_conf, arrays, ood_sources, seed)
        )

    results["meta"]["seconds"] = timer.seconds
    return results


def _corruption_part(
    predict: Callable[[np.ndarray, str], np.ndarray],
    arrays: CifarArrays,
    folder: Path,
    seed: int,
    frost_dir: Path | str | None,
    progress: bool,
) -> dict[str, Any]:
    from ipmix.robustness.benchmark_files import load_cifar_c, make_cifar_c
    from ipmix.robustness.corruptions import (
        BENCHMARK_CORRUPTIONS,
        EXTRA_CORRUPTIONS,
        FrostTexturesNotFoundError,
        find_frost_dir,
    )

    names = list(BENCHMARK_CORRUPTIONS) + list(EXTRA_CORRUPTIONS)
    missing = [name for name in names if not (folder / f"{name}.npy").is_file()]
    generated = bool(missing)
    notes = []
    if "frost" in missing:
        try:
            find_frost_dir(frost_dir)
        except FrostTexturesNotFoundError as error:
            missing.remove("frost")
            notes.append(f"frost skipped, so no full mCE: {error}")
            warnings.warn(f"CIFAR-C frost skipped: {error}", stacklevel=3)
    if missing:
        make_cifar_c(
            arrays.images, labels=arrays.labels, out_dir=folder, corruptions=missing,
            frost_dir=frost_dir, seed=seed, progress=progress,
        )
    count = len(arrays)
    errors: dict[str, list[float]] = {}
    rms: dict[str, dict[str, float | None]] = {}
    skipped = [name for name in names if not (folder / f"{name}.npy").is_file()]
    for name in tqdm(
        [name for name in names if name not in skipped], desc="CIFAR-C", disable=not progress
    ):
        stack, labels = load_cifar_c(folder, name, mmap=True)
        stack = _take(stack, count, f"{name}.npy", folder, axis=1)  # still memory-mapped
        labels = _take(np.asarray(labels), count, "labels.npy", folder, axis=0)
        if not np.array_equal(labels, arrays.labels):
            raise SuiteError(
                f"{folder}: labels.npy does not match the test labels of the first {count} "
                "images (label count or order mismatch)"
            )
        # load_cifar_c returns the 5 severities first
        severity_probs = [predict(stack[s], f"{name} s{s + 1}") for s in range(stack.shape[0])]
        errors[name] = [
            100 * metrics.error_rate(p.argmax(1), arrays.labels) for p in severity_probs
        ]
        pooled = np.concatenate(severity_probs)
        pooled_correct = pooled.argmax(1) == np.tile(arrays.labels, len(severity_probs))
        rms[name] = {
            "rms": 100 * metrics.rms_calibration_error(pooled.max(1), pooled_correct),
            "rms_reference": _reference_rms(pooled.max(1), pooled_correct),
        }
    present = [name for name in BENCHMARK_CORRUPTIONS if name in errors]
    extras = [name for name in EXTRA_CORRUPTIONS if name in errors]
    complete = len(present) == len(BENCHMARK_CORRUPTIONS)
    return {
        "errors": errors,
        "mce": metrics.mean_corruption_error(errors, BENCHMARK_CORRUPTIONS) if complete else None,
        # the mean over the benchmark corruptions that could be measured (== mce when complete)
        "mce_partial": metrics.mean_corruption_error(errors, present) if present else None,
        "extra_mean": metrics.mean_corruption_error(errors, extras) if extras else None,
        "missing": skipped,
        "notes": notes,
        "source": str(folder),
        "generated": generated,
        "_rms": rms,
    }


def _reference_rms(confidence: np.ndarray, correct: np.ndarray) -> float | None:
    """Hendrycks' RMS (last bin skipped), in percent; None below one bin of 100 samples."""
    if len(confidence) < 100:
        return None
    return 100 * metrics.rms_calibration_error(confidence, correct, skip_last_bin=True)


def _normalized_against(corruption: Mapping[str, Any], baseline: Mapping[str, Any]) -> float:
    from ipmix.robustness.corruptions import BENCHMARK_CORRUPTIONS

    try:
        base_errors = baseline["corruption"]["errors"]
    except (KeyError, TypeError) as error:
        raise SuiteError("the baseline results hold no CIFAR-C errors") from error
    return 100 * metrics.normalized_mce(corruption["errors"], base_errors, BENCHMARK_CORRUPTIONS)


def _perturbation_part(
    predict: Callable[[np.ndarray, str], np.ndarray],
    arrays: CifarArrays,
    folder: Path,
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    from ipmix.robustness.benchmark_files import load_cifar_p, load_cifar_p_labels, make_cifar_p
    from ipmix.robustness.perturbations import PERTURBATIONS

    missing = [name for name in PERTURBATIONS if not (folder / f"{name}.npy").is_file()]
    if missing:
        make_cifar_p(
            arrays.images, out_dir=folder, perturbations=missing, seed=seed, progress=progress,
            labels=arrays.labels,
        )
    labels = load_cifar_p_labels(folder)  # ipmix writes them; the official release has none
    if labels is not None:
        labels = _take(labels, len(arrays), "labels.npy", folder, axis=0)
        if not np.array_equal(labels, arrays.labels):
            raise SuiteError(
                f"{folder}: labels.npy does not match the test labels of the first "
                f"{len(arrays)} images (the sequences were made from other images)"
            )
    flips: dict[str, float] = {}
    for name in tqdm(PERTURBATIONS, desc="CIFAR-P", disable=not progress):
        sequences = load_cifar_p(folder, name, mmap=True)
        sequences = _take(sequences, len(arrays), f"{name}.npy", folder, axis=0)
        count, frames = sequences.shape[:2]
        probs = predict(sequences.reshape(count * frames, *sequences.shape[2:]), name)
        predictions = probs.argmax(1).reshape(count, frames)
        flips[name] = 100 * metrics.flip_probability(
            predictions, metrics.is_noise_perturbation(name)
        )
    return {
        "flip_probability": flips,
        "mfr": metrics.mean_flip_rate(flips, PERTURBATIONS),
        "source": str(folder),
        "generated": bool(missing),
    }


def _pgd_part(
    model: nn.Module,
    arrays: CifarArrays,
    batch_size: int,
    device: torch.device,
    seed: int,
    progress: bool,
    on_predictions: Callable[[str, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    wrong = 0
    outputs = []
    for start in tqdm(
        range(0, len(arrays), batch_size), desc="PGD", disable=not progress, leave=False
    ):
        images = _images_to_tensor(arrays.images[start : start + batch_size], device)
        labels = torch.from_numpy(arrays.labels[start : start + batch_size]).to(device)
        adversarial = pgd_attack(model, images, labels, generator=generator)
        with torch.no_grad():
            logits = model(adversarial)
        wrong += int((logits.argmax(1) != labels).sum())
        if on_predictions is not None:
            outputs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    if on_predictions is not None:
        on_predictions("pgd", np.concatenate(outputs))
    return {
        "error": 100 * wrong / len(arrays),
        "eps": PGD_EPS,
        "steps": PGD_STEPS,
        "step_size": PGD_STEP_SIZE,
    }


def _ood_part(
    predict: Callable[[np.ndarray, str], np.ndarray],
    clean_conf: np.ndarray,
    arrays: CifarArrays,
    sources: Sequence[str | Path | np.ndarray],
    seed: int,
) -> dict[str, Any]:
    if not sources:
        raise SuiteError("no OOD sources given")
    size = arrays.images.shape[1]
    per_source: dict[str, dict[str, float]] = {}
    measured = []
    for index, source in enumerate(sources):
        rng = np.random.default_rng([seed, index])
        outliers = load_outlier_source(source, outlier_count(len(arrays)), rng, size)
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
    mean = summarize_ood(measured)
    return {
        "sources": per_source,
        "auroc": 100 * mean.auroc,
        "aupr": 100 * mean.aupr,
        "fpr95": 100 * mean.fpr_at_95_tpr,
    }


def evaluate_checkpoint(
    run_or_checkpoint: str | Path,
    suite: str | Sequence[str] = "all",
    n: int | None = None,
    device: str | torch.device = "cpu",
    data: str | Path | None = None,
    dataset: str | None = None,
    out: str | Path | None = None,
    baseline_run: str | Path | None = None,
    **kwargs: Any,
) -> tuple[dict[str, Any], Path]:
    """Evaluate an ipmix checkpoint (or run dir) and write results.json and results.md.

    The files go to `out`, else to the run dir (the checkpoint's folder). The checkpoint's
    dataset and class count must match the data's; `dataset` (default: the checkpoint's) only
    confirms it. Other keyword arguments go to `evaluate`. Returns the results and the folder.
    """
    from ipmix.models import load_classifier
    from ipmix.robustness.report import RESULTS_FILE, RESULTS_MARKDOWN, load_results, results_markdown
    from ipmix.utils.io import atomic_write_bytes, atomic_write_json

    model, info = load_classifier(run_or_checkpoint, map_location=torch.device(device))
    trained_on = info.get("dataset")
    if dataset is not None and trained_on is not None and dataset != trained_on:
        raise SuiteError(
            f"the checkpoint was trained on {trained_on} but evaluation on {dataset} was asked"
        )
    dataset = dataset or trained_on or "cifar10"
    arrays = _load_data(data, dataset, n)
    if info["num_classes"] != len(arrays.class_names):
        raise SuiteError(
            f"the checkpoint has {info['num_classes']} classes but the {dataset} test data has "
            f"{len(arrays.class_names)}: the checkpoint is for another dataset"
        )
    baseline = load_results(baseline_run) if baseline_run is not None else None
    results = evaluate(
        model, suite=suite, n=None, device=device, data=arrays, dataset=dataset,
        baseline=baseline, **kwargs,
    )
    results["meta"].update(
        {
            "checkpoint": info["path"],
            "model_name": info["model_name"],
            "model_kwargs": info.get("model_kwargs", {}),
            "config": info.get("config", {}),
            "epoch": info.get("epoch"),
            "baseline": str(baseline_run) if baseline_run is not None else None,
        }
    )
    source = Path(run_or_checkpoint).expanduser()
    folder = Path(out).expanduser() if out is not None else (
        source if source.is_dir() else source.parent
    )
    atomic_write_json(folder / RESULTS_FILE, results)
    title = f"Robustness of {folder.name or folder}"
    atomic_write_bytes(folder / RESULTS_MARKDOWN, results_markdown(results, title).encode())
    return results, folder
