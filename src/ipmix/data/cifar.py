"""CIFAR readers: the `cifar10.npz` layout of ``IPMIX_DATA`` (see docs/data.md).

Arrays are uint8 ``[N, 32, 32, 3]`` images and int64 labels, in the original CIFAR order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV = "IPMIX_DATA"


class DataNotFoundError(FileNotFoundError):
    """The data a command needs is not where it was told to look."""


@dataclass(frozen=True)
class CifarArrays:
    """One split of a CIFAR dataset held in memory."""

    images: np.ndarray  # uint8 [N, 32, 32, 3]
    labels: np.ndarray  # int64 [N]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, count: int | None) -> CifarArrays:
        """The first `count` images (all of them when `count` is None)."""
        if count is None or count >= len(self):
            return self
        return CifarArrays(self.images[:count], self.labels[:count], self.class_names)


def data_root(root: str | Path | None = None) -> Path:
    """The data folder: `root` if given, else ``$IPMIX_DATA``; a clear error if neither exists."""
    if root is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise DataNotFoundError(
                f"no data folder given: pass --data DIR or set {DATA_ENV} "
                "(the folder holding cifar10.npz)"
            )
        root = env
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"data folder not found: {path}")
    return path


def load_cifar_npz(path: str | Path, split: str = "train") -> CifarArrays:
    """Read one split (`train` or `test`) of a CIFAR ``.npz`` file."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"CIFAR file not found: {path}")
    with np.load(path) as archive:
        missing = {f"x_{split}", f"y_{split}"} - set(archive.files)
        if missing:
            raise ValueError(f"{path} lacks the arrays {sorted(missing)}")
        images = archive[f"x_{split}"]
        labels = archive[f"y_{split}"].astype(np.int64)
        names = archive["class_names"] if "class_names" in archive.files else None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{path}: x_{split} must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{path}: {len(images)} images but {len(labels)} labels in split {split}")
    class_count = int(labels.max()) + 1 if len(labels) else 0
    class_names = tuple(str(n) for n in names) if names is not None else tuple(
        str(i) for i in range(class_count)
    )
    return CifarArrays(images, labels, class_names)


def load_cifar10(root: str | Path | None = None, split: str = "train") -> CifarArrays:
    """CIFAR-10 from ``<root>/cifar10.npz`` (root defaults to ``$IPMIX_DATA``)."""
    return load_cifar_npz(data_root(root) / "cifar10.npz", split)
