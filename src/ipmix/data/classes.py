"""Class lists: ImageNet-1k's wnids, and mapping a folder's classes onto a model's.

A model trained on ImageNet predicts the 1,000 wnids in sorted order (torchvision's
``ImageFolder`` order, that of every published checkpoint). Test folders often hold fewer or
differently named classes: ImageNet-R and ImageNet-A have 200 of the wnid folders,
ImageNet-V2 names its folders by class index ``0..999``, and any folder can be a natural shift
whose class names are a subset of the model's. `map_classes(folder_classes, model_classes)`
turns such a folder's labels into the model's label indices and names every class the model
does not know.

The wnid list (`imagenet_wnids`) is timm's ``imagenet_synsets.txt``
(huggingface/pytorch-image-models, timm/data/_info), shipped as package data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np

IMAGENET_CLASS_COUNT = 1000
_WNID = re.compile(r"n\d{8}")
_NAMED = 5

MatchBy = Literal["name", "index", "auto"]


class UnknownClassError(ValueError):
    """A folder holds classes the model's class list does not have."""


@lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """ImageNet-1k's 1,000 wnids in sorted order (= the label order of ImageNet models)."""
    text = resources.files("ipmix.data").joinpath("resources/imagenet1k_wnids.txt").read_text()
    wnids = tuple(text.split())
    assert len(wnids) == IMAGENET_CLASS_COUNT and list(wnids) == sorted(wnids)
    return wnids


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")


def check_imagenet_classes(classes: Sequence[str], where: str = "the folder") -> None:
    """An error naming what differs unless `classes` are exactly ImageNet-1k's 1,000 wnids."""
    wnids = imagenet_wnids()
    missing = sorted(set(wnids) - set(classes))
    extra = sorted(set(classes) - set(wnids))
    if missing or extra:
        parts = [f"{where} has {len(classes)} class folders, ImageNet-1k has {len(wnids)} wnids"]
        if missing:
            parts.append(f"missing {len(missing)}: {_listed(missing)}")
        if extra:
            parts.append(f"not ImageNet-1k wnids ({len(extra)}): {_listed(extra)}")
        raise UnknownClassError("; ".join(parts))


@dataclass(frozen=True)
class ClassMap:
    """Folder labels -> model labels.

    ``indices[i]`` is the model's index of folder class ``source[i]``. `model_subset` is the
    sorted set of model classes the folder covers (ImageNet-R/-A restrict the logits to it),
    `mask` the same as a boolean vector over the model's classes.
    """

    source: tuple[str, ...]
    target: tuple[str, ...]
    indices: np.ndarray  # int64 [len(source)]

    def __call__(self, labels: np.ndarray | Sequence[int]) -> np.ndarray:
        """Model labels of folder `labels`."""
        return self.indices[np.asarray(labels, dtype=np.int64)]

    @property
    def model_subset(self) -> np.ndarray:
        return np.unique(self.indices)

    @property
    def mask(self) -> np.ndarray:
        mask = np.zeros(len(self.target), dtype=bool)
        mask[self.indices] = True
        return mask

    @property
    def is_identity(self) -> bool:
        return self.source == self.target


def _by_index(source: Sequence[str], target: Sequence[str]) -> np.ndarray | None:
    """Folder names read as class indices ``0..len(target)-1`` (ImageNet-V2), or None."""
    if not all(name.isdigit() for name in source):
        return None
    indices = np.array([int(name) for name in source], dtype=np.int64)
    if len(indices) and (indices.max() >= len(target)):
        return None
    return indices


def map_classes(
    source: Sequence[str], target: Sequence[str], by: MatchBy = "auto"
) -> ClassMap:
    """Map folder classes `source` onto model classes `target`.

    `by`: ``"name"`` (each folder class is one of the model's class names), ``"index"`` (folder
    names are model class indices, as ImageNet-V2's ``0..999``), or ``"auto"``: by name when
    every folder class is a model class name, else by index when every name is an index in
    range. Classes the model lacks are an `UnknownClassError` naming them.
    """
    if by not in ("name", "index", "auto"):
        raise ValueError(f"by must be 'name', 'index' or 'auto', got {by!r}")
    source, target = tuple(source), tuple(target)
    if len(set(source)) != len(source):
        raise ValueError("the folder's class names are not unique")
    positions = {name: i for i, name in enumerate(target)}
    unknown = [name for name in source if name not in positions]
    if by == "name" or (by == "auto" and not unknown):
        if unknown:
            raise UnknownClassError(
                f"{len(unknown)} of the folder's {len(source)} classes are not among the model's "
                f"{len(target)}: {_listed(unknown)}"
            )
        return ClassMap(source, target, np.array([positions[n] for n in source], dtype=np.int64))
    indices = _by_index(source, target)
    if indices is None:
        how = "class indices" if by == "index" else "class names or indices"
        raise UnknownClassError(
            f"the folder's classes are not the model's {how} (the model has {len(target)} "
            f"classes, e.g. {_listed(list(target))}); unknown: {_listed(unknown)}"
        )
    return ClassMap(source, target, indices)


def looks_like_wnids(classes: Sequence[str]) -> bool:
    """Whether every class name is a WordNet id (``n`` + 8 digits)."""
    return bool(classes) and all(_WNID.fullmatch(name) for name in classes)
