"""Natural shifts: ImageNet-V2's class-index folders, wnid folders, a CIFAR model's folders."""

from __future__ import annotations

import numpy as np
import pytest
from fake_benchmarks import WNIDS, LogitTable, write_image
from PIL import Image

from ipmix.data.cifar import CifarArrays
from ipmix.robustness.imagenet_suite import evaluate_imagenet
from ipmix.robustness.predict import SuiteError
from ipmix.robustness.suite import evaluate


def test_imagenet_v2_folders_are_class_indices(tmp_path):
    """Folders 0, 2, 10, 100: ImageFolder's string order (0, 10, 100, 2) would mislabel them."""
    table = LogitTable()
    for index in (0, 2, 10, 100):
        write_image(tmp_path / "v2" / str(index) / "x", table.predicting(index), size=12)
    write_image(tmp_path / "v2" / "10" / "y", table.predicting(11), size=12)  # one wrong
    for index in (5, 7):
        write_image(tmp_path / "sketch" / WNIDS[index] / "x", table.predicting(index), size=12)
    results = evaluate_imagenet(table.model(), imagenet_v2=tmp_path / "v2",
                                imagenet_sketch=tmp_path / "sketch",
                                shifts={"mine": tmp_path / "sketch"}, image_size=8, progress=False)
    v2 = results["shifts"]["imagenet-v2"]
    assert v2["accuracy"] == pytest.approx(80.0) and v2["matched_by"] == "index"
    assert v2["count"] == 5 and v2["classes"] == 4
    assert results["shifts"]["imagenet-sketch"]["accuracy"] == pytest.approx(100.0)
    assert results["shifts"]["mine"]["matched_by"] == "name"
    assert results["meta"]["imagenet"]["not_run"]["stylized-imagenet"] == "not given"


def test_a_shift_with_foreign_classes_is_refused(tmp_path):
    write_image(tmp_path / "s" / "zebra" / "x", 1)
    with pytest.raises(SuiteError, match=r"shift 'odd'.*zebra"):
        evaluate_imagenet(LogitTable().model(), shifts={"odd": tmp_path / "s"}, image_size=8,
                          progress=False)
    with pytest.raises(SuiteError, match="are benchmark names"):
        evaluate_imagenet(LogitTable().model(), shifts={"imagenet-a": tmp_path / "s"}, progress=False)



def test_a_cifar_model_on_a_folder_of_its_classes(tmp_path):
    """A CIFAR-10 test set and a folder of two of its classes, larger images resized to 32."""
    import torch
    from torch import nn

    class BrightIsClassOne(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            bright = x.mean(dim=(1, 2, 3))
            return torch.stack([1 - bright, bright] + [torch.zeros_like(bright)] * 8, dim=1)

    names = ("airplane", "automobile", *(f"c{i}" for i in range(8)))
    images = np.zeros((4, 32, 32, 3), np.uint8)
    images[2:] = 250
    arrays = CifarArrays(images, np.array([0, 0, 1, 1]), names)
    for name, level in (("airplane", 10), ("automobile", 240), ("automobile", 20)):
        folder = tmp_path / "shift" / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 40), (level,) * 3).save(folder / f"{level}.png")
    results = evaluate(BrightIsClassOne(), suite="clean", data=arrays, progress=False,
                       shifts={"folder": tmp_path / "shift"})
    assert results["clean"]["error"] == 0.0
    shift = results["shifts"]["folder"]
    assert shift["count"] == 3 and shift["accuracy"] == pytest.approx(200 / 3)
