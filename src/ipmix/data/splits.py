"""Datasets by name: the one place that knows where each dataset's files are.

`open_split(DataSpec(...), "train" | "val")` returns a `LabelledImages` source, CIFAR arrays
or an image folder, so that training and evaluation never learn about file layouts:

- ``cifar10`` / ``cifar100``: `ipmix.data.cifar.load_cifar` (``val`` is the test split);
- ``imagefolder``: ``DATA/train`` and ``DATA/val`` (or ``train_dir`` / ``val_dir``) in the
  ImageFolder layout (`ipmix.data.folders`); the classes are the training folder's, and the
  validation folder's classes must be among them;
- ``imagenet``: the same, and the training folder must hold exactly ImageNet-1k's 1,000 wnid
  folders (the class order is then that of every published ImageNet checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ipmix.data.cifar import CIFAR_LAYOUTS, DataNotFoundError, load_cifar
from ipmix.data.classes import check_imagenet_classes, map_classes
from ipmix.data.datasets import ImageFolderDataset, LabelledImages
from ipmix.data.folders import FolderDataError, scan_image_folder

FOLDER_DATASETS: tuple[str, ...] = ("imagefolder", "imagenet")
DATASETS: tuple[str, ...] = (*CIFAR_LAYOUTS, *FOLDER_DATASETS)
SPLITS = ("train", "val")


@dataclass(frozen=True)
class DataSpec:
    """Where a dataset is and how to read it (the data options of a training run)."""

    dataset: str = "cifar10"
    data: str | None = None  # root folder; None: $IPMIX_DATA (CIFAR) / required for folders
    train_dir: str | None = None
    val_dir: str | None = None
    strict: bool = False  # unusable image files are an error instead of a warning
    check: str = "header"  # file check level, see ipmix.data.images.check_image
    progress: bool = True

    @property
    def is_folder(self) -> bool:
        return self.dataset in FOLDER_DATASETS


def is_folder_dataset(name: str) -> bool:
    """Whether `name` is read from an image folder (rather than CIFAR arrays)."""
    return name in FOLDER_DATASETS


def split_folder(spec: DataSpec, split: str) -> Path:
    """The folder of `split` of a folder dataset: its explicit directory, else ``DATA/<split>``."""
    explicit = spec.train_dir if split == "train" else spec.val_dir
    if explicit is not None:
        return Path(explicit).expanduser()
    if spec.data is None:
        option = "--train-dir" if split == "train" else "--val-dir"
        raise DataNotFoundError(
            f"--dataset {spec.dataset} needs --data DIR (holding train/ and val/) or {option}"
        )
    folder = Path(spec.data).expanduser() / split
    if not folder.is_dir():
        raise DataNotFoundError(
            f"{folder} not found: --data expects DIR/train/<class>/... and DIR/val/<class>/... "
            f"(or pass --train-dir/--val-dir)"
        )
    return folder


def open_split(spec: DataSpec, split: str, subset: int | None = None) -> LabelledImages:
    """The `split` ("train" or "val") of the dataset `spec` names, its first/evenly spaced
    `subset` images when given."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if spec.dataset in CIFAR_LAYOUTS:
        return load_cifar(spec.dataset, spec.data, "train" if split == "train" else "test", subset)
    if spec.dataset not in FOLDER_DATASETS:
        raise ValueError(f"unknown dataset {spec.dataset!r}; choose from {', '.join(DATASETS)}")
    train_index = scan_image_folder(split_folder(spec, "train"), check=spec.check,
                                    strict=spec.strict, progress=spec.progress,
                                    warn=split == "train")
    if spec.dataset == "imagenet":
        check_imagenet_classes(train_index.classes, where=str(train_index.root))
    if len(train_index.classes) < 2:
        raise FolderDataError(
            f"{train_index.root} has one class folder ({train_index.classes[0]}): a classifier "
            "needs at least 2 classes, or every prediction is right"
        )
    if split == "train":
        return ImageFolderDataset(train_index.subset(subset), on_error="raise" if spec.strict else "skip")
    index = scan_image_folder(split_folder(spec, "val"), check=spec.check, strict=spec.strict,
                              progress=spec.progress).subset(subset)
    mapping = map_classes(index.classes, train_index.classes, by="name")
    # Labels follow the training classes, so a val folder lacking a class still lines up.
    return ImageFolderDataset(index, labels=mapping(index.labels), classes=train_index.classes,
                              on_error="raise" if spec.strict else "skip")

