"""Writing CIFAR-C / CIFAR-P sets in the official file layout, cached and resumable.

Official layouts (Hendrycks & Dietterich's CIFAR-10-C / CIFAR-10-P releases):
- CIFAR-C: ``<corruption>.npy`` uint8 ``[5 * N, 32, 32, 3]``, severities 1..5 stacked in order,
  plus ``labels.npy`` with the N test labels repeated for each severity (``[5 * N]``, uint8).
- CIFAR-P: ``<perturbation>.npy`` uint8 ``[N, F, 32, 32, 3]``; ``make_cifar_p.py`` saves no labels
  (its evaluation only compares a model's predictions across frames).
``ipmix.robustness.benchmarks.cifar_files`` reads both.

Generation writes each (corruption, severity) or (perturbation, chunk) part atomically under
``<out>/.parts/`` and assembles ``<name>.npy`` when all parts exist, so an interrupted run
resumes where it stopped and a finished file is never recomputed. ``ipmix-meta.json`` records
which images and seed a folder was made from; reusing a folder for other inputs is an error.
Every part draws from its own generator, seeded from (seed, name, severity or chunk), so the
output does not depend on which parts were already cached.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ipmix.corruptions.cbar import corrupt_bar
from ipmix.corruptions.cbar.levels import CIFAR_CBAR
from ipmix.corruptions.imagenet_c import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    SEVERITIES,
    CorruptionError,
    check_images,
    corrupt,
    frost_for,
)
from ipmix.corruptions.perturbations import (
    FRAME_COUNTS,
    PERTURBATIONS,
    PerturbationError,
    perturb_sequence,
)
from ipmix.utils.io import READ_ERRORS, atomic_write_bytes, atomic_write_json, make_dirs

LABELS_FILE = "labels.npy"
META_FILE = "ipmix-meta.json"
PARTS_DIR = ".parts"
CHUNK = 1000
"""Images per generation step. Fixed: the random streams are per chunk, so changing it would
change the output for a given seed."""


class BenchmarkFileError(ValueError):
    """A benchmark file is malformed, inconsistent with its labels, or a folder holds a set made
    from other inputs."""


# ----------------------------------------------------------------------------- helpers


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _peek(path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """Shape and dtype from an .npy header, or None when the file is unreadable."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except READ_ERRORS:
        return None
    return tuple(array.shape), array.dtype


def _is_complete(path: Path, shape: tuple[int, ...]) -> bool:
    return path.is_file() and _peek(path) == (shape, np.dtype(np.uint8))


def _stream(seed: int, name: str, index: int, chunk: int) -> np.random.Generator:
    """The generator of one part: independent of any other part and of the run order."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode()), index, chunk]))


def _fingerprint(images: np.ndarray, labels: np.ndarray | None) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    if labels is not None:
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:32]


def _claim_folder(out_dir: Path, meta: dict, labels: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> None:
    """Record what `out_dir` is made from (and write its `labels`, ``(to_write, per_image)``);
    refuse a folder made from other inputs, or holding other labels, before writing anything."""
    path = out_dir / META_FILE
    existing = None
    if path.is_file():
        try:
            existing = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise BenchmarkFileError(f"{path} is unreadable ({error}); remove it") from error
        if existing != meta:
            differ = sorted(k for k in {*existing, *meta} if existing.get(k) != meta.get(k))
            raise BenchmarkFileError(
                f"{out_dir} holds a set generated from other inputs or settings (differing: "
                f"{', '.join(differ)}; {META_FILE}: {existing}; now: {meta}); use another "
                "folder or empty this one"
            )
    if labels is not None and _new_labels(out_dir / LABELS_FILE, *labels):
        atomic_write_bytes(out_dir / LABELS_FILE, _npy_bytes(labels[0]))
    if existing is None:
        atomic_write_json(path, meta)


def _new_labels(path: Path, to_write: np.ndarray, per_image: np.ndarray) -> bool:
    """Whether `to_write` is to be written to `path`: no labels file is there yet. An equal one
    (as `to_write` or as one label per image) is kept; a folder holding other labels (an
    official set for other images, say) is never overwritten: that is an error."""
    if not path.is_file():
        return True
    try:
        existing = np.load(path, allow_pickle=False)
    except READ_ERRORS as error:
        raise BenchmarkFileError(f"{path} is not a readable .npy array: {error}") from error
    if not any(np.array_equal(existing, form) for form in (to_write, per_image)):
        raise BenchmarkFileError(
            f"{path} holds other labels ({existing.shape[0]} of them) than the images being "
            f"generated ({per_image.shape[0]}); generate into another folder"
        )
    return False


def _check_labels(labels: np.ndarray | None, count: int, required: bool) -> np.ndarray | None:
    if labels is None:
        if required:
            raise BenchmarkFileError("labels are required")
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise BenchmarkFileError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.shape[0] != count:
        raise BenchmarkFileError(f"{labels.shape[0]} labels for {count} images")
    if labels.size and labels.min() < 0:
        raise BenchmarkFileError("labels must be non-negative class indices")
    return labels.astype(np.int64)


def _assemble(parts: list[Path], final: Path) -> None:
    """Concatenate finished parts into `final` atomically, then drop them."""
    atomic_write_bytes(final, _npy_bytes(np.concatenate([np.load(p) for p in parts])))
    for part in parts:
        part.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- CIFAR-C


def _requested(
    names: Sequence[str], known: Sequence[str], error: type[Exception], kind: str
) -> list[str]:
    """`names` without repeats, in order; an `error` naming any unknown one."""
    requested = list(dict.fromkeys(names))
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise error(f"unknown {kind}(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return requested


def make_cifar_c(
    images: np.ndarray,
    labels: np.ndarray,
    out_dir: str | Path,
    corruptions: Sequence[str] = BENCHMARK_CORRUPTIONS,
    frost_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    *,
    require_frost: bool = False,
) -> dict[str, Path]:
    """Write a CIFAR-C-style set of `images` (uint8 ``[N, H, W, 3]``) to `out_dir`.

    One ``<name>.npy`` per corruption (``[5 * N, H, W, 3]``, severities 1..5 stacked) plus
    ``labels.npy`` (``[5 * N]``), as the official release. `corruptions` may also name the ten
    CIFAR-10-C-bar corruptions (`cbar.CIFAR_CBAR`): the same ``<name>.npy`` form, their five
    published levels stacked in increasing order, as augmentation-corruption's
    ``make_cifar10_c_bar.py`` writes them (its names never clash with CIFAR-C's). Finished files
    are skipped; an interrupted run resumes per (corruption, severity). Without frost textures
    (see `find_frost_dir`) frost is skipped with a warning, or FrostTexturesNotFoundError is
    raised when `require_frost`. Returns ``{name: path}`` of the files present for the requested names.
    """
    images = check_images(images)
    n = images.shape[0]
    labels = _check_labels(labels, n, required=True)
    known = ALL_CORRUPTIONS + CIFAR_CBAR
    names = _requested(corruptions, known, CorruptionError, "corruption")
    frost_dir = frost_for(names, frost_dir, require_frost)
    out_dir = Path(out_dir)
    make_dirs(out_dir)
    tiled = np.tile(labels, len(SEVERITIES)).astype(np.uint8 if labels.max(initial=0) < 256 else np.int64)
    _claim_folder(
        out_dir,
        {
            "kind": "cifar-c",
            "seed": int(seed),
            "count": n,
            "chunk": CHUNK,
            "inputs_sha256": _fingerprint(images, labels),
        },
        labels=(tiled, labels),
    )

    final_shape = (len(SEVERITIES) * n, *images.shape[1:])
    part_shape = (n, *images.shape[1:])
    chunks = range(0, n, CHUNK)
    todo: list[tuple[str, int, Path]] = []
    for name in names:
        if _is_complete(out_dir / f"{name}.npy", final_shape):
            continue
        for severity in SEVERITIES:
            part = out_dir / PARTS_DIR / f"{name}-s{severity}.npy"
            if not _is_complete(part, part_shape):
                todo.append((name, severity, part))
    bar = tqdm(total=len(todo) * len(chunks), desc="CIFAR-C", unit="chunk", disable=not progress)
    for name, severity, part in todo:
        bar.set_postfix_str(f"{name} s{severity}")
        pieces = []
        for index, start in enumerate(chunks):
            rng = _stream(seed, name, severity, index)
            batch = images[start : start + CHUNK]
            if name in CIFAR_CBAR:
                pieces.append(corrupt_bar(batch, name, severity, rng, preset="cifar"))
            else:
                pieces.append(corrupt(batch, name, severity, rng, frost_dir=frost_dir))
            bar.update(1)
        atomic_write_bytes(part, _npy_bytes(np.concatenate(pieces)))
    bar.close()
    written = {}
    for name in names:
        final = out_dir / f"{name}.npy"
        if not _is_complete(final, final_shape):
            parts = [out_dir / PARTS_DIR / f"{name}-s{s}.npy" for s in SEVERITIES]
            _assemble(parts, final)
        written[name] = final
    _drop_empty_parts(out_dir)
    return written


def _drop_empty_parts(out_dir: Path) -> None:
    parts = out_dir / PARTS_DIR
    if parts.is_dir() and not any(parts.iterdir()):
        shutil.rmtree(parts)


# ----------------------------------------------------------------------------- CIFAR-P


def make_cifar_p(
    images: np.ndarray,
    out_dir: str | Path,
    perturbations: Sequence[str] = PERTURBATIONS,
    seed: int = 0,
    progress: bool = True,
    *,
    labels: np.ndarray | None = None,
) -> dict[str, Path]:
    """Write CIFAR-P-style sequences of `images` (uint8 ``[N, H, W, 3]``) to `out_dir`.

    One ``<name>.npy`` per perturbation, uint8 ``[N, F, H, W, 3]`` as the official release.
    The official set has no labels; when `labels` are given they are written to
    ``labels.npy`` (``[N]``, an ipmix addition) for frame-0 accuracy checks. Cached and
    resumable per chunk of images. Returns ``{name: path}``.
    """
    images = check_images(images)
    n = images.shape[0]
    labels = _check_labels(labels, n, required=False)
    names = _requested(perturbations, PERTURBATIONS, PerturbationError, "perturbation")
    out_dir = Path(out_dir)
    make_dirs(out_dir)
    _claim_folder(
        out_dir,
        {
            "kind": "cifar-p",
            "seed": int(seed),
            "count": n,
            "chunk": CHUNK,
            "inputs_sha256": _fingerprint(images, labels),
        },
        labels=None if labels is None else (labels, labels),
    )
    chunks = list(range(0, n, CHUNK))
    todo: list[tuple[str, int, Path]] = []
    for name in names:
        final_shape = (n, FRAME_COUNTS[name], *images.shape[1:])
        if _is_complete(out_dir / f"{name}.npy", final_shape):
            continue
        for index, start in enumerate(chunks):
            part = out_dir / PARTS_DIR / f"{name}-c{index}.npy"
            count = min(CHUNK, n - start)
            if not _is_complete(part, (count, FRAME_COUNTS[name], *images.shape[1:])):
                todo.append((name, index, part))
    bar = tqdm(
        total=sum(min(CHUNK, n - chunks[i]) for _, i, _ in todo),
        desc="CIFAR-P",
        unit="img",
        disable=not progress,
    )
    for name, index, part in todo:
        bar.set_postfix_str(name)
        rng = _stream(seed, name, 0, index)
        sequences = []
        for image in images[chunks[index] : chunks[index] + CHUNK]:
            sequences.append(perturb_sequence(image, name, rng))
            bar.update(1)
        atomic_write_bytes(part, _npy_bytes(np.stack(sequences)))
    bar.close()
    written = {}
    for name in names:
        final = out_dir / f"{name}.npy"
        if not _is_complete(final, (n, FRAME_COUNTS[name], *images.shape[1:])):
            _assemble([out_dir / PARTS_DIR / f"{name}-c{i}.npy" for i in range(len(chunks))], final)
        written[name] = final
    _drop_empty_parts(out_dir)
    return written
