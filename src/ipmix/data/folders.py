"""Image folders in torchvision's ImageFolder layout: list, check, cache, and read them.

``root/<class>/<any sub-folders>/<image files>``. Classes are the sub-folders of `root` in
sorted order, as torchvision's ``ImageFolder`` (for ImageNet: sorted wnids, the order of every
published checkpoint); hidden folders and files (names starting with ".") are ignored.

`scan_image_folder(root)` lists the folder with ``os.scandir`` and checks every file
(`ipmix.data.images.check_image`, in parallel): files that are not images, cannot be read or
are truncated are skipped with one warning that counts and names them (``strict=True``:
an error instead). A class without a usable image, or a folder without classes, is an error
naming it. The result, an `ImageFolderIndex`, is cached in
``$IPMIX_CACHE/folders/<hash of the resolved path>.json`` together with the modification times
of every folder it walked; it is reused while none of them changed (adding, removing or
renaming a file changes its folder's time; rewriting a file in place does not: pass
``cache=False`` after that). ``IPMIX_CACHE`` defaults to ``~/.cache/ipmix``; a cache that cannot
be written is not an error.

`ipmix.data.datasets.ImageFolderDataset(index, transform)` is the torch Dataset over an index.
This module imports no torch: the corruption writers list their input folders with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ipmix.data.cifar import DataNotFoundError
from ipmix.data.images import CHECK_LEVELS, IMAGE_EXTENSIONS, check_image
from ipmix.utils.cache import cache_root
from ipmix.utils.io import atomic_write_json

CACHE_VERSION = 1
#: Files checked per task of the process pool.
_CHUNK = 512
#: How many skipped files the warning names.
_NAMED = 5


class FolderDataError(ValueError):
    """An image folder that cannot be used as it is (no classes, an empty class, bad files)."""


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of an index, relative to the folder's root, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ImageFolderIndex:
    """The usable images of an ImageFolder tree: relative paths and labels, in sorted order.

    Paths are held in one numpy bytes array (no per-file Python objects, so DataLoader
    workers that fork do not copy them page by page).
    """

    root: Path
    classes: tuple[str, ...]
    files: np.ndarray  # bytes [N]: paths relative to root, os.fsencode'd
    labels: np.ndarray  # int64 [N]
    skipped: tuple[SkippedFile, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def relative_path(self, index: int) -> str:
        """Path of image `index` relative to the root (``<class>/<name>``)."""
        return os.fsdecode(self.files[index])

    def path(self, index: int) -> Path:
        return self.root / self.relative_path(index)

    def class_counts(self) -> np.ndarray:
        """Number of images per class, int64 ``[len(classes)]``."""
        return np.bincount(self.labels, minlength=len(self.classes))

    def select(self, indices: Sequence[int] | np.ndarray) -> ImageFolderIndex:
        """The images at `indices` (classes unchanged)."""
        chosen = np.asarray(indices, dtype=np.int64)
        return ImageFolderIndex(self.root, self.classes, self.files[chosen], self.labels[chosen],
                                self.skipped)

    def subset(self, count: int | None) -> ImageFolderIndex:
        """`count` images evenly spaced over the sorted list, so every class keeps its share."""
        if count is None or count >= len(self):
            return self
        if count < 1:
            raise ValueError(f"subset must be a positive number of images, got {count}")
        return self.select(np.arange(count, dtype=np.int64) * len(self) // count)


def _walk(directory: Path, relative: str, dirs: dict[str, int], files: list[str],
          ignored: list[str]) -> None:
    """Append the files under `directory` (sorted, recursive) and record folder mtimes."""
    dirs[relative] = directory.stat().st_mtime_ns
    with os.scandir(directory) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        if entry.name.startswith("."):
            continue
        child = f"{relative}/{entry.name}"
        if entry.is_dir():
            _walk(Path(entry.path), child, dirs, files, ignored)
        elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
            files.append(child)
        else:
            ignored.append(child)


def _check_chunk(root: str, paths: list[str], level: str) -> list[str | None]:
    return [check_image(os.path.join(root, path), level) for path in paths]


def _check_all(root: Path, paths: list[str], level: str, workers: int, progress: bool
               ) -> list[str | None]:
    """`check_image` of every path, in a process pool when there are many."""
    if level == "none":
        return [None] * len(paths)
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    bar = tqdm(total=len(paths), desc=f"checking {root.name}", unit="file",
               disable=not progress or len(paths) < 4 * _CHUNK, leave=False)
    results: list[str | None] = []
    try:
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                results.extend(_check_chunk(str(root), chunk, level))
                bar.update(len(chunk))
            return results
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            for chunk, found in zip(
                chunks, pool.map(_check_chunk, [str(root)] * len(chunks), chunks,
                                 [level] * len(chunks)), strict=True,
            ):
                results.extend(found)
                bar.update(len(chunk))
        return results
    finally:
        bar.close()


def _cache_file(root: Path, level: str) -> Path:
    key = hashlib.sha256(f"{root}\0{level}\0{','.join(IMAGE_EXTENSIONS)}".encode()).hexdigest()
    return cache_root() / "folders" / f"{key[:32]}.json"


def _load_cached(path: Path, root: Path, level: str) -> dict[str, Any] | None:
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if cached.get("version") != CACHE_VERSION or cached.get("root") != str(root) or \
            cached.get("check") != level:
        return None
    try:
        for relative, mtime in cached["dirs"].items():
            if (root / relative).stat().st_mtime_ns != mtime:
                return None
    except (OSError, KeyError, AttributeError):
        return None
    return cached


def _scan(root: Path, level: str, workers: int, progress: bool) -> dict[str, Any]:
    """List and check `root` from scratch (the content of a cache file)."""
    dirs: dict[str, int] = {".": root.stat().st_mtime_ns}
    outside: list[str] = []
    classes: list[str] = []
    per_class: list[list[str]] = []
    ignored: list[str] = []
    with os.scandir(root) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files: list[str] = []
            _walk(Path(entry.path), entry.name, dirs, files, ignored)
            classes.append(entry.name)
            per_class.append(files)
        else:
            outside.append(entry.name)
    candidates = [path for files in per_class for path in files]
    problems = _check_all(root, candidates, level, workers, progress)
    bad = {path: reason for path, reason in zip(candidates, problems, strict=True) if reason}
    skipped = [[path, "not an image file (extension)"] for path in ignored]
    skipped += [[path, "outside the class folders"] for path in outside]
    skipped += [[path, reason] for path, reason in bad.items()]
    return {
        "version": CACHE_VERSION, "root": str(root), "check": level, "dirs": dirs,
        "classes": classes,
        "files": [[path for path in files if path not in bad] for files in per_class],
        "skipped": sorted(skipped),
    }


def default_check_workers() -> int:
    """Processes for checking files: the CPUs this process may use, at most 8."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def scan_image_folder(
    root: str | os.PathLike[str],
    check: str = "header",
    strict: bool = False,
    cache: bool = True,
    workers: int | None = None,
    progress: bool = True,
    warn: bool = True,
) -> ImageFolderIndex:
    """List and check the ImageFolder tree at `root` (see the module docstring).

    `check`: ``"none"``, ``"header"`` (default) or ``"decode"`` (`ipmix.data.images`).
    `strict`: any skipped file is an error (`FolderDataError`) instead of a warning.
    `cache`: read and write the listing cache. `workers`: processes checking files
    (default: the available CPUs, at most 8). `warn`: warn about skipped files (they are in
    ``index.skipped`` either way).
    """
    if check not in CHECK_LEVELS:
        raise ValueError(f"check must be one of {', '.join(CHECK_LEVELS)}, got {check!r}")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataNotFoundError(f"image folder not found: {base}")
    base = base.resolve()
    cache_path = _cache_file(base, check)
    listing = _load_cached(cache_path, base, check) if cache else None
    if listing is None:
        listing = _scan(base, check, workers or default_check_workers(), progress)
        if cache:
            with contextlib.suppress(OSError):  # a read-only cache only costs a rescan next time
                atomic_write_json(cache_path, listing)
    classes = tuple(listing["classes"])
    if not classes:
        raise FolderDataError(
            f"{base}: no class folders (expected {base}/<class>/<images>; an unsorted flat "
            "folder, such as ImageNet's original val/, must be sorted into class folders first)"
        )
    skipped = tuple(SkippedFile(path, reason) for path, reason in listing["skipped"])
    empty = [name for name, files in zip(classes, listing["files"], strict=True) if not files]
    if empty:
        unusable = sum(s.path.split("/", 1)[0] in empty for s in skipped)
        raise FolderDataError(
            f"{base}: {len(empty)} class folder(s) without a usable image: {', '.join(empty[:_NAMED])}"
            + (" ..." if len(empty) > _NAMED else "")
            + (f" ({unusable} unusable file(s) in them)" if unusable else "")
        )
    if skipped:
        named = "; ".join(f"{s.path} ({s.reason})" for s in skipped[:_NAMED])
        more = f"; and {len(skipped) - _NAMED} more" if len(skipped) > _NAMED else ""
        message = f"{base}: {len(skipped)} file(s) unusable and skipped: {named}{more}"
        if strict:
            raise FolderDataError(message.replace("skipped", "found (strict)"))
        if warn:
            warnings.warn(message, stacklevel=2)
    paths = [os.fsencode(path) for files in listing["files"] for path in files]
    labels = np.concatenate([np.full(len(files), label, dtype=np.int64)
                             for label, files in enumerate(listing["files"])])
    return ImageFolderIndex(base, classes, np.array(paths, dtype=np.bytes_), labels, skipped)
