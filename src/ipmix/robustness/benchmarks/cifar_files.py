"""Reading the official CIFAR-C / CIFAR-P files (Hendrycks & Dietterich's releases), checked.

The layouts, which ``ipmix.corruptions.writers.cifar`` writes too:
- CIFAR-C: ``<corruption>.npy`` uint8 ``[5 * N, 32, 32, 3]``, severities 1..5 stacked in order,
  and ``labels.npy``: the N test labels repeated for each severity (``[5 * N]``), or N of them.
- CIFAR-P: ``<perturbation>.npy`` uint8 ``[N, F, 32, 32, 3]``; the release has no labels (ipmix
  writes ``labels.npy``, ``[N]``, beside the sequences it generates).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ipmix.corruptions.imagenet_c import SEVERITIES
from ipmix.corruptions.writers.cifar import LABELS_FILE, BenchmarkFileError
from ipmix.utils.io import READ_ERRORS


class BenchmarkFileNotFoundError(FileNotFoundError):
    """A benchmark folder or file does not exist."""


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise BenchmarkFileError(f"not a benchmark file name: {name!r}")


def _open_npy(path: Path, what: str, mmap: bool) -> np.ndarray:
    if not path.is_file():
        folder = path.parent
        present = sorted(p.stem for p in folder.glob("*.npy") if p.name != LABELS_FILE)
        raise BenchmarkFileNotFoundError(
            f"{what} file {path} not found (present in {folder}: {', '.join(present) or 'none'})"
        )
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except READ_ERRORS as error:
        raise BenchmarkFileError(f"{path} is not a readable .npy array: {error}") from error


def _check_folder(directory: str | Path) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise BenchmarkFileNotFoundError(f"benchmark folder {directory} does not exist")
    return directory


def load_cifar_c(directory: str | Path, name: str, *, mmap: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read corruption `name` from a CIFAR-C folder (official or generated).

    Returns images uint8 ``[5, N, H, W, 3]`` (severity 1..5 first) and labels int64 ``[N]``.
    ``labels.npy`` may hold N labels or the official 5 * N (the N repeated per severity).
    `mmap` memory-maps the images instead of reading them.
    """
    directory = _check_folder(directory)
    _check_name(name)
    path = directory / f"{name}.npy"
    images = _open_npy(path, "corruption", mmap)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise BenchmarkFileError(
            f"{path} must hold uint8 [5 * N, H, W, 3] images, got {images.dtype} {images.shape}"
        )
    if images.shape[0] == 0 or images.shape[0] % len(SEVERITIES):
        raise BenchmarkFileError(
            f"{path} holds {images.shape[0]} images, not a positive multiple of 5 severities"
        )
    n = images.shape[0] // len(SEVERITIES)
    labels = _open_npy(directory / LABELS_FILE, "labels", False)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise BenchmarkFileError(
            f"{directory / LABELS_FILE} must be a 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if labels.shape[0] == len(SEVERITIES) * n:
        blocks = labels.reshape(len(SEVERITIES), n)
        if not (blocks == blocks[0]).all():
            raise BenchmarkFileError(
                f"{directory / LABELS_FILE}: the {len(SEVERITIES)} severity blocks of labels differ"
            )
        labels = blocks[0]
    elif labels.shape[0] != n:
        raise BenchmarkFileError(
            f"label count mismatch: {directory / LABELS_FILE} holds {labels.shape[0]} labels, "
            f"{path.name} holds 5 x {n} images (expected {n} or {5 * n} labels)"
        )
    return images.reshape(len(SEVERITIES), n, *images.shape[1:]), labels.astype(np.int64)


def load_cifar_p(directory: str | Path, name: str, *, mmap: bool = False) -> np.ndarray:
    """Read perturbation `name` from a CIFAR-P folder: uint8 ``[N, F, H, W, 3]``.

    Frame counts are not forced to ``make_cifar_p.py``'s, so any official sequence file reads.
    """
    directory = _check_folder(directory)
    _check_name(name)
    path = directory / f"{name}.npy"
    sequences = _open_npy(path, "perturbation", mmap)
    if sequences.dtype != np.uint8 or sequences.ndim != 5 or sequences.shape[-1] != 3:
        raise BenchmarkFileError(
            f"{path} must hold uint8 [N, F, H, W, 3] sequences, got {sequences.dtype} {sequences.shape}"
        )
    if sequences.shape[0] == 0 or sequences.shape[1] < 2:
        raise BenchmarkFileError(
            f"{path} must hold at least one sequence of at least 2 frames, got {sequences.shape}"
        )
    return sequences


def load_cifar_p_labels(directory: str | Path) -> np.ndarray | None:
    """The int64 ``[N]`` labels ipmix writes beside generated CIFAR-P files, or None if absent
    (the official release has none)."""
    path = _check_folder(directory) / LABELS_FILE
    if not path.is_file():
        return None
    labels = _open_npy(path, "labels", False)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise BenchmarkFileError(f"{path} must be a 1-D integer array, got {labels.dtype}")
    return labels.astype(np.int64)
