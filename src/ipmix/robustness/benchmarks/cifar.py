"""CIFAR-10/100-C, -C-bar and -P: the official ``.npy`` files, checked against the test set.

Layouts (read by `cifar_files`, written by `ipmix.corruptions.writers.cifar`):

- CIFAR-C (Hendrycks & Dietterich): ``<corruption>.npy`` uint8 ``[5 * N, 32, 32, 3]``, severities
  1..5 stacked, and ``labels.npy`` (``[5 * N]``). The CIFAR papers' "mCE" is the unnormalised mean
  error over the 15 benchmark corruptions x 5 severities (hzlsaber/IPMix ``cifar.py`` ``test_c``).
- CIFAR-10-C-bar (facebookresearch/augmentation-corruption ``make_cifar10_c_bar.py``): the same
  layout with the 10 corruptions of ``cifar10_c_bar.csv``; its error is the plain mean over the
  10 x 5 sets (``test_c_bar.py``, the PixMix / IPMix ``test_c`` on the ``-Bar`` folder).
- CIFAR-P: ``<perturbation>.npy`` uint8 ``[N, F, 32, 32, 3]``; flip probability per
  ``ImageNet-P/cifar-p-eval.py`` and their plain mean (mFR).

Every file is checked against the test set evaluated: image size, dtype, image count (at least
the N evaluated; the first N are used) and labels. A folder the user names is read, never
filled in: a missing file is an error naming it, unless generation was asked for (then it is
announced). Without a folder, sets are generated into a cache keyed by the test subset.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ipmix.corruptions.cbar.levels import CIFAR_CBAR
from ipmix.data.cifar import CifarArrays
from ipmix.robustness import metrics
from ipmix.robustness.benchmarks.common import announce, rms_percent
from ipmix.robustness.predict import SuiteError
from ipmix.utils.cache import cache_root

Predict = Callable[[np.ndarray, str], np.ndarray]


def subset_key(arrays: CifarArrays, dataset: str, seed: int) -> str:
    """A cache folder name that changes whenever the images, labels or seed change."""
    digest = hashlib.sha1(arrays.images.tobytes())
    digest.update(arrays.labels.astype(np.int64).tobytes())
    return f"{dataset}-n{len(arrays)}-seed{seed}-{digest.hexdigest()[:10]}"


def benchmark_dir(
    given: str | Path | None, kind: str, arrays: CifarArrays, dataset: str, seed: int
) -> tuple[Path, bool]:
    """The folder to read (and whether the user named it), else the cache folder for `kind`."""
    if given is not None:
        return Path(given).expanduser(), True
    return cache_root() / f"cifar-{kind}" / subset_key(arrays, dataset, seed), False


def _missing_files(folder: Path, names: Sequence[str]) -> list[str]:
    return [f"{name}.npy" for name in names if not (folder / f"{name}.npy").is_file()]


def _refuse_missing(folder: Path, what: str, missing: Sequence[str], option: str) -> None:
    """A user-named folder is never filled in silently: say what is missing, and how to ask."""
    if not folder.is_dir():
        raise SuiteError(
            f"{option} folder {folder} does not exist; check the path, or add --generate "
            f"(generate=True) to generate {what} there (without {option}, the cache is used)"
        )
    raise SuiteError(
        f"{option} folder {folder} lacks {', '.join(missing)}; add --generate (generate=True) "
        f"to generate the missing {what} files there"
    )


def _take(stack: np.ndarray, count: int, what: str, folder: Path, axis: int) -> np.ndarray:
    have = stack.shape[axis]
    if have < count:
        raise SuiteError(
            f"{folder}: {what} holds {have} images but the evaluation needs {count} "
            "(use a larger set, a smaller --n, or another folder)"
        )
    return stack[(slice(None),) * axis + (slice(0, count),)]


def _check_size(images: np.ndarray, arrays: CifarArrays, path: Path) -> None:
    """The benchmark images must have the test images' size (a 16 px file is not CIFAR-C)."""
    have, want = tuple(images.shape[-3:-1]), tuple(arrays.images.shape[1:3])
    if have != want:
        raise SuiteError(
            f"{path} holds {have[0]}x{have[1]} images but the test images are "
            f"{want[0]}x{want[1]}: not a benchmark file for this test set"
        )


def _check_labels(labels: np.ndarray, arrays: CifarArrays, folder: Path, note: str) -> None:
    labels = _take(np.asarray(labels), len(arrays), "labels.npy", folder, axis=0)
    if not np.array_equal(labels, arrays.labels):
        raise SuiteError(
            f"{folder}: labels.npy does not match the test labels of the first {len(arrays)} "
            f"images ({note})"
        )


def corruption_part(
    predict: Predict,
    arrays: CifarArrays,
    folder: Path,
    *,
    user_named: bool,
    generate: bool,
    seed: int,
    frost_dir: Path | str | None,
    progress: bool,
) -> dict[str, Any]:
    """CIFAR-C error per corruption and severity, the mCE, and per-corruption RMS (``_rms``)."""
    from ipmix.corruptions.imagenet_c import (
        BENCHMARK_CORRUPTIONS,
        EXTRA_CORRUPTIONS,
        FrostTexturesNotFoundError,
        find_frost_dir,
    )
    from ipmix.corruptions.writers.cifar import make_cifar_c

    names = list(BENCHMARK_CORRUPTIONS) + list(EXTRA_CORRUPTIONS)
    notes: list[str] = []
    if user_named and not generate:
        missing = _missing_files(folder, [*BENCHMARK_CORRUPTIONS, "labels"])
        if missing or not folder.is_dir():
            _refuse_missing(folder, "CIFAR-C", missing, "--cifar-c")
        to_make = []
        absent = [name for name in EXTRA_CORRUPTIONS if not (folder / f"{name}.npy").is_file()]
        if absent:
            notes.append(f"extra corruptions not in {folder}: {', '.join(absent)}")
    else:
        to_make = [name for name in names if not (folder / f"{name}.npy").is_file()]
    if "frost" in to_make:
        try:
            find_frost_dir(frost_dir)
        except FrostTexturesNotFoundError as error:
            to_make.remove("frost")
            notes.append(f"frost skipped, so no full mCE: {error}")
            warnings.warn(f"CIFAR-C frost skipped: {error}", stacklevel=3)
    if to_make:
        announce(f"generating CIFAR-C {', '.join(to_make)} for {len(arrays)} test images into {folder}")
        make_cifar_c(
            arrays.images, labels=arrays.labels, out_dir=folder, corruptions=to_make,
            frost_dir=frost_dir, seed=seed, progress=progress,
        )
    measured = [name for name in names if (folder / f"{name}.npy").is_file()]
    errors, rms = _score_corruptions(predict, arrays, folder, measured, "CIFAR-C", progress)
    present = [name for name in BENCHMARK_CORRUPTIONS if name in errors]
    extras = [name for name in EXTRA_CORRUPTIONS if name in errors]
    complete = len(present) == len(BENCHMARK_CORRUPTIONS)
    return {
        "errors": errors,
        "mce": metrics.mean_corruption_error(errors, BENCHMARK_CORRUPTIONS) if complete else None,
        # the mean over the benchmark corruptions that could be measured (== mce when complete)
        "mce_partial": metrics.mean_corruption_error(errors, present) if present else None,
        "extra_mean": metrics.mean_corruption_error(errors, extras) if extras else None,
        "missing": [name for name in names if name not in errors],
        "notes": notes,
        "source": str(folder),
        "generated": bool(to_make),
        "_rms": rms,
    }


def c_bar_part(predict: Predict, arrays: CifarArrays, folder: Path, progress: bool) -> dict[str, Any]:
    """CIFAR-10/100-C-bar: error per corruption and severity and the plain mean (no generation:
    the files come from facebookresearch/augmentation-corruption or ``ipmix make-cifar-c``)."""
    missing = _missing_files(folder, [*CIFAR_CBAR, "labels"])
    if missing or not folder.is_dir():
        if not folder.is_dir():
            raise SuiteError(f"CIFAR-C-bar folder {folder} does not exist")
        raise SuiteError(f"CIFAR-C-bar folder {folder} lacks {', '.join(missing)}")
    errors, rms = _score_corruptions(
        predict, arrays, folder, CIFAR_CBAR, "CIFAR-C-bar", progress
    )
    return {
        "errors": errors,
        "mean_error": metrics.mean_corruption_error(errors, CIFAR_CBAR),
        "rms": float(np.mean([v["rms"] for v in rms.values()])),
        "source": str(folder),
    }


def _score_corruptions(
    predict: Predict,
    arrays: CifarArrays,
    folder: Path,
    names: Sequence[str],
    what: str,
    progress: bool,
) -> tuple[dict[str, list[float]], dict[str, dict[str, float | None]]]:
    from ipmix.robustness.benchmarks.cifar_files import load_cifar_c

    count = len(arrays)
    errors: dict[str, list[float]] = {}
    rms: dict[str, dict[str, float | None]] = {}
    for name in tqdm(names, desc=what, disable=not progress):
        stack, labels = load_cifar_c(folder, name, mmap=True)  # the 5 severities first
        _check_size(stack, arrays, folder / f"{name}.npy")
        stack = _take(stack, count, f"{name}.npy", folder, axis=1)  # still memory-mapped
        _check_labels(labels, arrays, folder, "label count or order mismatch")
        severity_probs = [predict(stack[s], f"{name} s{s + 1}") for s in range(stack.shape[0])]
        errors[name] = [
            100 * metrics.error_rate(p.argmax(1), arrays.labels) for p in severity_probs
        ]
        pooled = np.concatenate(severity_probs)
        rms[name] = rms_percent(
            pooled.max(1), pooled.argmax(1) == np.tile(arrays.labels, len(severity_probs))
        )
    return errors, rms


def perturbation_part(
    predict: Predict,
    arrays: CifarArrays,
    folder: Path,
    *,
    user_named: bool,
    generate: bool,
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    """CIFAR-P flip probability per perturbation and mFR (their plain mean)."""
    from ipmix.corruptions.perturbations import PERTURBATIONS
    from ipmix.corruptions.writers.cifar import make_cifar_p
    from ipmix.robustness.benchmarks.cifar_files import load_cifar_p, load_cifar_p_labels

    missing = _missing_files(folder, PERTURBATIONS)
    if user_named and not generate and (missing or not folder.is_dir()):
        _refuse_missing(folder, "CIFAR-P", missing, "--cifar-p")
    to_make = [name.removesuffix(".npy") for name in missing]
    if to_make:
        announce(f"generating CIFAR-P {', '.join(to_make)} for {len(arrays)} test images into {folder}")
        make_cifar_p(
            arrays.images, out_dir=folder, perturbations=to_make, seed=seed, progress=progress,
            labels=arrays.labels,
        )
    labels = load_cifar_p_labels(folder)  # ipmix writes them; the official release has none
    if labels is not None:
        _check_labels(labels, arrays, folder, "the sequences were made from other images")
    flips: dict[str, float] = {}
    for name in tqdm(PERTURBATIONS, desc="CIFAR-P", disable=not progress):
        sequences = load_cifar_p(folder, name, mmap=True)
        _check_size(sequences, arrays, folder / f"{name}.npy")
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
        "generated": bool(to_make),
    }
