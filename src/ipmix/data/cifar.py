"""CIFAR readers: the npz layout of ``IPMIX_DATA`` and torchvision's standard folders.

Two layouts are read for CIFAR-10 and CIFAR-100 alike:
- ``<root>/cifar10.npz`` / ``<root>/cifar100.npz`` with ``x_train``, ``y_train``, ``x_test``,
  ``y_test`` (and optionally ``class_names``), see ``../shared/data/README.md``;
- torchvision's extracted archives ``<root>/cifar-10-batches-py`` (``data_batch_1..5``,
  ``test_batch``, ``batches.meta``) and ``<root>/cifar-100-python`` (``train``, ``test``,
  ``meta``, fine labels).

Arrays are uint8 ``[N, 32, 32, 3]`` images and int64 labels, in the original CIFAR order.
"""

from __future__ import annotations

import os
import pickle
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

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        """``(uint8 [32, 32, 3] image, label)``: CIFAR arrays are a `LabelledImages` source."""
        return self.images[index], int(self.labels[index])

    @property
    def classes(self) -> tuple[str, ...]:
        return self.class_names

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
        raise ValueError(
            f"{path}: x_{split} must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(f"{path}: {len(images)} images but {len(labels)} labels in split {split}")
    class_count = int(labels.max()) + 1 if len(labels) else 0
    class_names = tuple(str(n) for n in names) if names is not None else tuple(
        str(i) for i in range(class_count)
    )
    return CifarArrays(images, labels, class_names)


#: Dataset name -> (npz file name, torchvision folder, number of classes).
CIFAR_LAYOUTS: dict[str, tuple[str, str, int]] = {
    "cifar10": ("cifar10.npz", "cifar-10-batches-py", 10),
    "cifar100": ("cifar100.npz", "cifar-100-python", 100),
}
DATASET_NAMES = tuple(CIFAR_LAYOUTS)


def _unpickle(path: Path) -> dict:
    """Read one of the python-pickled CIFAR batch files (keys decoded to str)."""
    if not path.is_file():
        raise DataNotFoundError(f"CIFAR batch file not found: {path}")
    with path.open("rb") as handle:
        raw = pickle.load(handle, encoding="bytes")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}


def _rows_to_images(rows: np.ndarray, path: Path) -> np.ndarray:
    """CIFAR's row layout (N, 3*32*32, channel-major) to uint8 ``[N, 32, 32, 3]``."""
    rows = np.asarray(rows, dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: expected rows of 3072 bytes, got shape {rows.shape}")
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def load_cifar_folder(folder: str | Path, dataset: str, split: str = "train") -> CifarArrays:
    """One split from torchvision's extracted folder (`cifar-10-batches-py`, `cifar-100-python`)."""
    if dataset not in CIFAR_LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASET_NAMES)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"CIFAR folder not found: {folder}")
    if dataset == "cifar10":
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        label_key, meta_file, names_key = "labels", "batches.meta", "label_names"
    else:
        files = [split]
        label_key, meta_file, names_key = "fine_labels", "meta", "fine_label_names"
    images, labels = [], []
    for name in files:
        batch = _unpickle(folder / name)
        if "data" not in batch or label_key not in batch:
            raise ValueError(f"{folder / name} lacks 'data' or {label_key!r}: not {dataset} data")
        images.append(_rows_to_images(batch["data"], folder / name))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    meta_path = folder / meta_file
    class_names: tuple[str, ...]
    if meta_path.is_file():
        names = _unpickle(meta_path).get(names_key, [])
        class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    else:
        class_names = tuple(str(i) for i in range(CIFAR_LAYOUTS[dataset][2]))
    image_array, label_array = np.concatenate(images), np.concatenate(labels)
    if len(image_array) != len(label_array):
        raise ValueError(f"{folder}: {len(image_array)} images but {len(label_array)} labels")
    return CifarArrays(image_array, label_array, class_names)


def load_cifar(
    dataset: str, root: str | Path | None = None, split: str = "train", subset: int | None = None
) -> CifarArrays:
    """CIFAR-10 or CIFAR-100 from `root` (default ``$IPMIX_DATA``), whichever layout is there.

    The npz file wins over torchvision's folder when both exist. `subset` keeps the first N
    images (for small CPU budgets). The class count is checked against the dataset's.
    """
    if dataset not in CIFAR_LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASET_NAMES)}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of images, got {subset}")
    base = data_root(root)
    npz_name, folder_name, num_classes = CIFAR_LAYOUTS[dataset]
    if (base / npz_name).is_file():
        arrays = load_cifar_npz(base / npz_name, split)
    elif (base / folder_name).is_dir():
        arrays = load_cifar_folder(base / folder_name, dataset, split)
    else:
        raise DataNotFoundError(
            f"{dataset} not found in {base}: expected {npz_name} or the folder {folder_name}/"
        )
    if len(arrays) and (arrays.labels.min() < 0 or arrays.labels.max() >= num_classes):
        raise ValueError(
            f"{dataset} labels must lie in [0, {num_classes}), got "
            f"[{arrays.labels.min()}, {arrays.labels.max()}]"
        )
    if len(arrays.class_names) != num_classes:
        names = tuple(str(i) for i in range(num_classes))
        arrays = CifarArrays(arrays.images, arrays.labels, names)
    return arrays.subset(subset)


def load_cifar10(root: str | Path | None = None, split: str = "train") -> CifarArrays:
    """CIFAR-10 from ``<root>/cifar10.npz`` (root defaults to ``$IPMIX_DATA``)."""
    return load_cifar_npz(data_root(root) / "cifar10.npz", split)


def load_cifar100(root: str | Path | None = None, split: str = "train") -> CifarArrays:
    """CIFAR-100 (fine labels) from ``cifar100.npz`` or ``cifar-100-python/`` under `root`."""
    return load_cifar("cifar100", root, split)
