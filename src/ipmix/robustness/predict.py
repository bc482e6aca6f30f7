"""Running a classifier over benchmark images: arrays in memory or a stream from disk.

Every model takes float images ``[B, 3, H, W]`` in [0, 1] and returns logits. Arrays (CIFAR
files, possibly memory-mapped) are fed one batch at a time; image folders and videos, which do
not fit in memory at ImageNet scale, stream through a `torch.utils.data.DataLoader` (workers
decode, the device predicts). Only what the protocols need is kept per image: the top-1 class,
its softmax probability and the label (and the top-5 ranking for ImageNet-P).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ipmix.utils.devices import torch_device
from ipmix.utils.images import BATCH_LAYOUTS, as_nhwc, check_unit_range


class SuiteError(ValueError):
    """The suite cannot run as asked (bad part name, mismatched model, data or files)."""


def base_meta(device: torch.device, batch_size: int, seed: int) -> dict[str, Any]:
    """What every results file records about how it was measured."""
    return {
        "seed": seed,
        "device": str(device),
        "batch_size": batch_size,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _images_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``[B, H, W, 3]`` or ``[B, 3, H, W]`` (or float in [0, 1], checked) to float
    ``[B, 3, H, W]`` in [0, 1]."""
    images, _ = as_nhwc(images, allowed=BATCH_LAYOUTS, channels=(3,), what="images given to the model")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise SuiteError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        check_unit_range(images, "images given to the model")
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
    ``[N, 3, H, W]`` arrays are read too; float images must lie in [0, 1] (checked per batch).
    """
    device = torch_device(device)
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
    check_logits(logits, num_classes, "the data")


def check_logits(logits: torch.Tensor, num_classes: int, what: str) -> None:
    """Refuse logits that are not ``[B, num_classes]``."""
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise SuiteError(
            f"the model outputs {tuple(logits.shape[1:])} scores per image but {what} has "
            f"{num_classes} classes: is the checkpoint for another dataset?"
        )


@dataclass(frozen=True)
class Predictions:
    """Per image: the predicted class, its softmax probability (MSP) and the label.

    Classes are indices into the evaluated class list (the model's own classes, or the subset a
    mask keeps). `top5` (``[N, 5]``, best first) is filled only when asked for.
    """

    predicted: np.ndarray  # int64 [N]
    confidence: np.ndarray  # float64 [N]
    labels: np.ndarray  # int64 [N]
    top5: np.ndarray | None = None

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Streamer:
    """How benchmark images are streamed to a model: device, batch size, workers, progress."""

    model: nn.Module
    device: torch.device
    batch_size: int = 256
    workers: int = 0
    progress: bool = True

    def batches(self, dataset: Dataset, desc: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(images on the device, labels)`` per batch, in the dataset's order."""
        loader = DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
        )
        batches = iter(tqdm(loader, desc=desc, disable=not self.progress, leave=False))
        while True:
            try:
                images, labels = next(batches)
            except StopIteration:
                return
            except (ValueError, FileNotFoundError) as error:  # from a worker: keep one line
                raise _one_line(error) from None
            images = images.to(self.device, non_blocking=True)
            yield (images.float().div_(255) if images.dtype == torch.uint8 else images), labels

    def logits(self, images: torch.Tensor, num_classes: int, what: str) -> torch.Tensor:
        """The model's float logits on one batch, checked to have `num_classes` columns."""
        with torch.no_grad():
            logits = self.model(images).float()
        check_logits(logits, num_classes, f"the class list {what} is scored on (model_classes, "
                     "ImageNet-1k's 1000 wnids unless given)")
        return logits

    def predict(
        self,
        dataset: Dataset,
        num_classes: int,
        desc: str,
        keep: Sequence[int | Sequence[int]] | None = None,
        top5: bool = False,
    ) -> Predictions:
        """Predictions on every image of `dataset` (items ``(image [3, H, W], label)``).

        The model must output `num_classes` logits. With `keep`, only those columns are kept
        (the 200-class masks of ImageNet-R/-A/-O) before the softmax and the arg-max, and the
        predicted class is an index into `keep`; an entry of `keep` that is a group of columns
        scores their maximum (ObjectNet's classes, each covering several ImageNet classes).
        """
        columns = None if keep is None else column_groups(keep)
        predicted, confidence, labels, best5 = [], [], [], []
        for images, batch_labels in self.batches(dataset, desc):
            logits = self.logits(images, num_classes, desc)
            if columns is not None:
                logits = logits[:, columns.to(logits.device)].amax(dim=2)
            probabilities = torch.softmax(logits, dim=1)
            conf, pred = probabilities.max(dim=1)
            predicted.append(pred.cpu().numpy())
            confidence.append(conf.double().cpu().numpy())
            labels.append(np.asarray(batch_labels, dtype=np.int64))
            if top5:
                best5.append(top_classes(logits, 5).cpu().numpy())
        if not labels:
            raise SuiteError(f"{desc}: no images to evaluate")
        return Predictions(
            np.concatenate(predicted).astype(np.int64),
            np.concatenate(confidence),
            np.concatenate(labels),
            np.concatenate(best5) if top5 else None,
        )


def column_groups(keep: Sequence[int | Sequence[int]]) -> torch.Tensor:
    """``[K, W]`` column indices, row k the k-th group padded with its first column."""
    groups = [[int(entry)] if isinstance(entry, (int, np.integer)) else [int(c) for c in entry]
              for entry in keep]
    if not groups or not all(groups):
        raise ValueError("keep needs at least one group, and every group a column")
    width = max(len(group) for group in groups)
    return torch.tensor([group + group[:1] * (width - len(group)) for group in groups],
                        dtype=torch.long)


def _one_line(error: Exception) -> Exception:
    """A DataLoader worker's error re-raised with its original one-line message.

    torch re-raises a worker's exception with the worker's whole traceback as its message; the
    user caused it (a file that does not decode, a wrong size) and should read one line.
    """
    text = str(error)
    if "DataLoader worker" not in text:
        return error
    last = text.strip().splitlines()[-1]
    name, sep, message = last.partition(": ")  # "[module.]ErrorName: message"
    return type(error)(message if sep and name.split(".")[-1] == type(error).__name__ else last)


def top_classes(logits: torch.Tensor, k: int) -> torch.Tensor:
    """The `k` best classes per row, best first; ties go to the lower class index.

    A stable descending sort, so equal scores rank in index order as ``scipy.stats.rankdata(-x,
    method="ordinal")`` ranks them in hendrycks/robustness ``ImageNet-P/test.py``.
    """
    return torch.sort(logits, dim=1, descending=True, stable=True).indices[:, :k]
