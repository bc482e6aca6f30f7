"""Reading the official CIFAR-C / CIFAR-P files: label forms, malformed and missing files."""

from __future__ import annotations

import numpy as np
import pytest

from ipmix.corruptions.writers.cifar import BenchmarkFileError, make_cifar_c, make_cifar_p
from ipmix.robustness.benchmarks.cifar_files import (
    BenchmarkFileNotFoundError,
    load_cifar_c,
    load_cifar_p,
    load_cifar_p_labels,
)


def write_official(folder, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "snow.npy", images)
    np.save(folder / "labels.npy", labels)


def test_load_cifar_c_accepts_n_or_5n_labels(tmp_path) -> None:
    images = np.zeros((10, 32, 32, 3), np.uint8)
    write_official(tmp_path / "a", images, np.array([1, 2] * 5, np.uint8))
    write_official(tmp_path / "b", images, np.array([1, 2], np.int64))
    for folder in ("a", "b"):
        stack, labels = load_cifar_c(tmp_path / folder, "snow")
        assert stack.shape == (5, 2, 32, 32, 3)
        np.testing.assert_array_equal(labels, [1, 2])
        assert labels.dtype == np.int64


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((10, 32, 32, 3), np.uint8), np.arange(3), "label count mismatch"),
        (np.zeros((10, 32, 32, 3), np.uint8), np.arange(10), "severity blocks of labels differ"),
        (np.zeros((10, 32, 32, 3), np.uint8), np.zeros((2, 5), np.int64), "1-D integer"),
        (np.zeros((10, 32, 32, 3), np.float32), np.arange(2), "uint8"),
        (np.zeros((10, 32, 32), np.uint8), np.arange(2), "uint8"),
        (np.zeros((7, 32, 32, 3), np.uint8), np.arange(2), "multiple of 5"),
    ],
    ids=["count", "blocks", "labels-shape", "dtype", "ndim", "not-5"],
)
def test_load_cifar_c_malformed(tmp_path, images, labels, message) -> None:
    write_official(tmp_path, images, labels)
    with pytest.raises(BenchmarkFileError, match=message):
        load_cifar_c(tmp_path, "snow")


def test_load_cifar_c_missing_and_unreadable(tmp_path) -> None:
    with pytest.raises(BenchmarkFileNotFoundError, match="does not exist"):
        load_cifar_c(tmp_path / "nowhere", "snow")
    write_official(tmp_path, np.zeros((5, 32, 32, 3), np.uint8), np.arange(1))
    with pytest.raises(BenchmarkFileNotFoundError, match="present in .*: snow"):
        load_cifar_c(tmp_path, "fog")
    (tmp_path / "fog.npy").write_bytes(b"not an array")
    with pytest.raises(BenchmarkFileError, match="not a readable .npy"):
        load_cifar_c(tmp_path, "fog")
    (tmp_path / "labels.npy").unlink()
    with pytest.raises(BenchmarkFileNotFoundError, match="labels"):
        load_cifar_c(tmp_path, "snow")
    with pytest.raises(BenchmarkFileError, match="not a benchmark file name"):
        load_cifar_c(tmp_path, "../snow")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 31, 32, 32, 3), np.float32), "uint8"),
        (np.zeros((2, 32, 32, 3), np.uint8), r"\[N, F, H, W, 3\]"),
        (np.zeros((2, 1, 32, 32, 3), np.uint8), "at least 2 frames"),
    ],
    ids=["dtype", "ndim", "one-frame"],
)
def test_load_cifar_p_malformed(tmp_path, array, message) -> None:
    np.save(tmp_path / "rotate.npy", array)
    with pytest.raises(BenchmarkFileError, match=message):
        load_cifar_p(tmp_path, "rotate")
    with pytest.raises(BenchmarkFileNotFoundError, match="rotate"):
        load_cifar_p(tmp_path, "tilt")


def test_generated_sets_read_back(tmp_path) -> None:
    """What the writers of ipmix.corruptions write, the readers read: severities first, int64
    labels, one label per image."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    labels = np.array([4, 0, 9])
    make_cifar_c(images, labels, tmp_path / "c", corruptions=["contrast"], seed=1, progress=False)
    stack, loaded = load_cifar_c(tmp_path / "c", "contrast")
    assert stack.shape == (5, 3, 32, 32, 3) and loaded.dtype == np.int64
    np.testing.assert_array_equal(stack.reshape(15, 32, 32, 3), np.load(tmp_path / "c" / "contrast.npy"))
    np.testing.assert_array_equal(loaded, labels)
    make_cifar_p(images, tmp_path / "p", perturbations=["translate"], progress=False, labels=labels)
    assert load_cifar_p(tmp_path / "p", "translate").shape == (3, 16, 32, 32, 3)
    np.testing.assert_array_equal(load_cifar_p_labels(tmp_path / "p"), labels)
