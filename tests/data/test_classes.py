"""Class lists: ImageNet's wnid order, mapping folders onto a model's classes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ipmix.data import (
    UnknownClassError,
    check_imagenet_classes,
    imagenet_wnids,
    map_classes,
    scan_image_folder,
)


def test_wnids_are_the_sorted_thousand():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 == len(set(wnids)) and list(wnids) == sorted(wnids)
    # torchvision's class 0 (tench) and 999 (toilet tissue) and a well-known one between.
    assert wnids[0] == "n01440764" and wnids[999] == "n15075141" and wnids[207] == "n02099601"


@pytest.fixture(scope="module")
def fake_imagenet(tmp_path_factory):
    """1,000 wnid folders (shuffled creation order) with one 8x8 picture each."""
    root = tmp_path_factory.mktemp("imagenet") / "train"
    tiny = Image.new("RGB", (8, 8), (90, 30, 200))
    order = np.random.default_rng(0).permutation(1000)
    for i in order:
        folder = root / imagenet_wnids()[i]
        folder.mkdir(parents=True)
        tiny.save(folder / f"{imagenet_wnids()[i]}_1.png")
    return root


def test_a_fake_imagenet_tree_lists_in_torchvision_order(fake_imagenet, monkeypatch, tmp_path):
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path))
    index = scan_image_folder(fake_imagenet, progress=False)
    assert index.classes == imagenet_wnids()
    check_imagenet_classes(index.classes)
    for i in (0, 207, 999):
        assert index.relative_path(i).startswith(imagenet_wnids()[i] + "/")
        assert index.labels[i] == i


def test_imagenet_check_names_missing_and_foreign_folders():
    classes = list(imagenet_wnids()[1:]) + ["n99999999"]
    with pytest.raises(UnknownClassError, match="missing 1: n01440764.*not ImageNet-1k wnids .1.: n99999999"):
        check_imagenet_classes(classes)


def test_a_200_class_subset_maps_by_name():
    wnids = imagenet_wnids()
    subset = tuple(wnids[i] for i in range(0, 1000, 5))  # ImageNet-R/-A style: 200 folders
    mapping = map_classes(subset, wnids)
    assert mapping.indices.tolist() == list(range(0, 1000, 5))
    assert mapping(np.array([0, 1, 199])).tolist() == [0, 5, 995]
    assert mapping.mask.sum() == 200 and mapping.mask[995] and not mapping.mask[996]
    assert mapping.model_subset.tolist() == list(range(0, 1000, 5))


def test_index_named_folders_map_by_index():
    wnids = imagenet_wnids()
    folders = sorted(str(i) for i in range(1000))  # ImageNet-V2: "0", "1", "10", "100", ...
    mapping = map_classes(folders, wnids)
    assert mapping(np.array([0, 1, 2])).tolist() == [0, 1, 10]
    with pytest.raises(UnknownClassError, match="not the model's class indices"):
        map_classes(["0", "1000"], wnids, by="index")


def test_unknown_classes_are_named():
    with pytest.raises(UnknownClassError, match="2 of the folder's 3 classes are not among.*dog, emu"):
        map_classes(["cat", "dog", "emu"], ["cat", "bird"], by="name")
    with pytest.raises(UnknownClassError, match="unknown: dog"):
        map_classes(["cat", "dog"], ["cat", "bird"])
    assert map_classes(["bird"], ["cat", "bird"]).indices.tolist() == [1]
