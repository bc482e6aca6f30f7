"""CIFAR-10/100 through both layouts, subsets and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from ipmix.data import DataNotFoundError, load_cifar, load_cifar100


def test_cifar100_npz(npz_root):
    root, arrays = npz_root
    train = load_cifar100(root, "train")
    np.testing.assert_array_equal(train.images, arrays["x_train"])
    np.testing.assert_array_equal(train.labels, arrays["y_train"])
    assert len(train.class_names) == 100
    test = load_cifar("cifar100", root, "test", subset=5)
    np.testing.assert_array_equal(test.images, arrays["x_test"][:5])


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_torchvision_folders(tmp_path, dataset, cifar_writers):
    write_torchvision_folder = cifar_writers[1]
    arrays = write_torchvision_folder(tmp_path, dataset)
    for split in ("train", "test"):
        loaded = load_cifar(dataset, tmp_path, split)
        np.testing.assert_array_equal(loaded.images, arrays[f"x_{split}"])
        np.testing.assert_array_equal(loaded.labels, arrays[f"y_{split}"])
        assert loaded.images.dtype == np.uint8 and loaded.images.shape[1:] == (32, 32, 3)
    names = load_cifar(dataset, tmp_path).class_names
    assert names[0] == ("c0" if dataset == "cifar10" else "f0")


def test_npz_wins_over_folder(tmp_path, cifar_writers):
    write_npz, write_torchvision_folder = cifar_writers
    write_torchvision_folder(tmp_path, "cifar10")
    arrays = write_npz(tmp_path / "cifar10.npz", classes=10, train=7)
    assert len(load_cifar("cifar10", tmp_path)) == 7
    np.testing.assert_array_equal(load_cifar("cifar10", tmp_path).images, arrays["x_train"])


def test_subset_keeps_first_images(npz_root):
    root, arrays = npz_root
    assert len(load_cifar("cifar100", root, subset=3)) == 3
    assert len(load_cifar("cifar100", root, subset=10_000)) == len(arrays["y_train"])
    with pytest.raises(ValueError, match="subset"):
        load_cifar("cifar100", root, subset=0)


def test_errors_name_the_problem(tmp_path, cifar_writers):
    write_npz = cifar_writers[0]
    with pytest.raises(DataNotFoundError, match="cifar100.npz or the folder cifar-100-python"):
        load_cifar("cifar100", tmp_path)
    with pytest.raises(DataNotFoundError, match="data folder not found"):
        load_cifar("cifar10", tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_cifar("svhn", tmp_path)
    write_npz(tmp_path / "cifar10.npz", classes=100)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        load_cifar("cifar10", tmp_path)
