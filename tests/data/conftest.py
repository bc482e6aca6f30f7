"""Synthetic CIFAR stand-ins written in both on-disk layouts."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest


def synthetic_split(count: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % classes
    return images, labels


def write_npz(path: Path, classes: int, train: int = 40, test: int = 20) -> dict[str, np.ndarray]:
    x_train, y_train = synthetic_split(train, classes, 1)
    x_test, y_test = synthetic_split(test, classes, 2)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    np.savez(path, **arrays)
    return arrays


def _rows(images: np.ndarray) -> np.ndarray:
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def write_torchvision_folder(root: Path, dataset: str, per_file: int = 10) -> dict[str, np.ndarray]:
    """Write the pickled batch files of torchvision's extracted CIFAR archives."""
    if dataset == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        train, test = [], None
        for i in range(1, 6):
            x, y = synthetic_split(per_file, 10, 10 + i)
            train.append((x, y))
            with (folder / f"data_batch_{i}").open("wb") as f:
                pickle.dump({b"data": _rows(x), b"labels": list(y)}, f)
        test = synthetic_split(per_file, 10, 99)
        with (folder / "test_batch").open("wb") as f:
            pickle.dump({b"data": _rows(test[0]), b"labels": list(test[1])}, f)
        with (folder / "batches.meta").open("wb") as f:
            pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)
        x_train = np.concatenate([x for x, _ in train])
        y_train = np.concatenate([y for _, y in train])
        return {"x_train": x_train, "y_train": y_train, "x_test": test[0], "y_test": test[1]}
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    out = {}
    for split, seed in (("train", 5), ("test", 6)):
        x, y = synthetic_split(per_file * 2, 100, seed)
        y = (y * 7) % 100
        with (folder / split).open("wb") as f:
            batch = {b"data": _rows(x), b"fine_labels": list(y), b"coarse_labels": list(y // 5)}
            pickle.dump(batch, f)
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    with (folder / "meta").open("wb") as f:
        pickle.dump({b"fine_label_names": [f"f{i}".encode() for i in range(100)]}, f)
    return out


@pytest.fixture
def cifar_writers():
    """The two writers, for tests that build their own layouts."""
    return write_npz, write_torchvision_folder


@pytest.fixture
def npz_root(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    return tmp_path, write_npz(tmp_path / "cifar100.npz", classes=100)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Folder listings are cached under $IPMIX_CACHE: keep each test's cache to itself."""
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path_factory.mktemp("cache")))
