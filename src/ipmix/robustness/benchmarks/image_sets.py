"""Opening a benchmark's image folder for a model: listing, class mapping, eval transform.

Built on `ipmix.data.folders` (the one ImageFolder reader) and `ipmix.data.classes`. Two
kinds of folders:

- natural images (ImageNet val, -R, -A, -O, -V2, -Sketch, Stylized-ImageNet, any folder):
  ``Resize(round(N * ratio)) + CenterCrop(N)``, ratio 256/224 as torchvision's references
  and hendrycks/imagenet-r ``eval.py`` (Resize(256), CenterCrop(224));
- pre-cropped benchmark images (ImageNet-C, -C-bar): evaluated as they are, as
  hendrycks/robustness ``ImageNet-C/test.py`` does (only a CenterCrop(224) of 224 px images),
  so each image must already be N x N; any other size is an error naming the file.

Unreadable files are errors naming them (benchmark folders are never evaluated on a silently
smaller set). Folders are listed without opening every file (``check="none"``); a file that
does not decode fails when it is read, naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from ipmix.data.classes import ClassMap, map_classes
from ipmix.data.datasets import ImageFolderDataset
from ipmix.data.folders import ImageFolderIndex, scan_image_folder
from ipmix.data.resize import EVAL_RESIZE_RATIO
from ipmix.robustness.predict import SuiteError


class ExactSizeImages(ImageFolderDataset):
    """``(uint8 [3, N, N] tensor, label)`` of pre-cropped benchmark images, checked to be N x N."""

    def __init__(self, index: ImageFolderIndex, size: int, what: str, **kwargs: Any) -> None:
        super().__init__(index, **kwargs)
        self.size = size
        self.what = what

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.load(int(index))
        if image.size != (self.size, self.size):
            raise SuiteError(
                f"{self.index.path(int(index))} is {image.size[0]}x{image.size[1]} but the model "
                f"evaluates {self.size}x{self.size} images; {self.what} images are evaluated "
                "without resizing, so they must have the model's size"
            )
        return _to_tensor(image), int(self.labels[int(index)])


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def natural_transform(size: int, ratio: float = EVAL_RESIZE_RATIO) -> v2.Compose:
    """``Resize(round(size * ratio))`` (shorter side, antialiased), ``CenterCrop(size)``, uint8."""
    return v2.Compose([
        v2.Resize(int(round(size * ratio)), antialias=True), v2.CenterCrop(size), v2.PILToTensor(),
    ])


@dataclass(frozen=True)
class BenchmarkFolder:
    """A benchmark folder opened for a model: the dataset (labels = model class indices)."""

    dataset: ImageFolderDataset
    class_map: ClassMap
    root: Path

    def __len__(self) -> int:
        return len(self.dataset)


def scan(root: str | Path, what: str, progress: bool = True) -> ImageFolderIndex:
    """The listing of `root`; a missing folder is an error naming the benchmark."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise SuiteError(f"{what} folder {folder} does not exist")
    return scan_image_folder(folder, check="none", strict=True, progress=progress)


def check_classes(index: ImageFolderIndex, expected: Sequence[str], what: str) -> None:
    """The folder's classes must be exactly the benchmark's (the mask assumes them)."""
    missing = sorted(set(expected) - set(index.classes))
    extra = sorted(set(index.classes) - set(expected))
    if missing or extra:
        parts = [f"{index.root}: {what} has {len(expected)} classes, the folder {len(index.classes)}"]
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if extra:
            parts.append(f"not {what} classes: {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else ""))
        raise SuiteError("; ".join(parts))


def open_folder(
    index: ImageFolderIndex,
    model_classes: Sequence[str],
    size: int,
    what: str,
    *,
    exact_size: bool = False,
    ratio: float = EVAL_RESIZE_RATIO,
    by: str = "auto",
) -> BenchmarkFolder:
    """`index` as a dataset whose labels are indices into `model_classes`.

    Folder classes are matched to the model's by name (wnids, CIFAR class names), or by index
    when every folder name is a class index (ImageNet-V2's ``0..999``, which ImageFolder's
    string sort would otherwise mislabel); a class the model lacks is an error naming it.
    """
    try:
        mapping = map_classes(index.classes, model_classes, by=by)  # type: ignore[arg-type]
    except ValueError as error:
        raise SuiteError(f"{index.root}: {what}: {error}") from error
    labels = mapping(index.labels)
    if exact_size:
        dataset: ImageFolderDataset = ExactSizeImages(
            index, size, what, labels=labels, classes=tuple(model_classes)
        )
    else:
        dataset = ImageFolderDataset(
            index, natural_transform(size, ratio), labels=labels, classes=tuple(model_classes)
        )
    return BenchmarkFolder(dataset, mapping, index.root)


def restrict_classes(index: ImageFolderIndex, classes: Sequence[str]) -> ImageFolderIndex:
    """The images of `classes` only (all present in `index`), labelled by position in `classes`."""
    names = np.asarray(index.classes)[index.labels]
    keep = np.flatnonzero(np.isin(names, classes))
    order = {name: i for i, name in enumerate(classes)}
    labels = np.array([order[name] for name in names[keep]], dtype=np.int64)
    return ImageFolderIndex(index.root, tuple(classes), index.files[keep], labels, index.skipped)


def same_files(first: ImageFolderIndex, other: ImageFolderIndex, what: str) -> None:
    """Every severity of a corruption holds the same files; name the first one missing."""
    if len(first) == len(other) and np.array_equal(first.files, other.files):
        return
    mine, theirs = set(first.files.tolist()), set(other.files.tolist())
    lacking = sorted(mine - theirs)
    if lacking:
        raise SuiteError(f"{what}: {other.root} lacks {lacking[0].decode()} (present in {first.root})"
                         + (f" and {len(lacking) - 1} more" if len(lacking) > 1 else ""))
    surplus = sorted(theirs - mine)
    raise SuiteError(f"{what}: {other.root} holds {surplus[0].decode()}, absent from {first.root}"
                     + (f" and {len(surplus) - 1} more" if len(surplus) > 1 else ""))
