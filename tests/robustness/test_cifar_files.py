"""Issue 13, item 4: official CIFAR-C/-P files checked against the test set; named folders are
never filled in silently."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS, BENCHMARK_CORRUPTIONS
from ipmix.corruptions.perturbations import PERTURBATIONS
from ipmix.data.cifar import CifarArrays
from ipmix.robustness.suite import SuiteError, evaluate

N = 4


class MeanModel(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return torch.stack([mean] + [torch.zeros_like(mean)] * 9, dim=1)


def _test_set(size: int = 32) -> CifarArrays:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N, size, size, 3), dtype=np.uint8)
    return CifarArrays(images, np.arange(N) % 10, tuple("abcdefghij"))


def _official_c(folder, size=32, names=ALL_CORRUPTIONS, count=N, dtype=np.uint8):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        np.save(folder / f"{name}.npy", np.zeros((5 * count, size, size, 3), dtype))
    np.save(folder / "labels.npy", np.tile(np.arange(count) % 10, 5).astype(np.uint8))


def test_a_16_px_file_in_a_32_px_evaluation_is_refused(tmp_path):
    _official_c(tmp_path / "c", size=16)
    message = r"gaussian_noise\.npy holds 16x16 images but the test images are 32x32"
    with pytest.raises(SuiteError, match=message):
        evaluate(MeanModel(), suite="c", data=_test_set(), cifar_c_dir=tmp_path / "c", progress=False)


def test_a_folder_missing_a_file_names_it_and_nothing_is_generated(tmp_path):
    _official_c(tmp_path / "c", names=[n for n in ALL_CORRUPTIONS if n not in ("fog", "saturate")])
    with pytest.raises(SuiteError, match=r"lacks fog\.npy; add --generate"):
        evaluate(MeanModel(), suite="c", data=_test_set(), cifar_c_dir=tmp_path / "c", progress=False)
    assert not (tmp_path / "c" / "fog.npy").exists()
    (tmp_path / "c" / "labels.npy").unlink()
    with pytest.raises(SuiteError, match=r"lacks fog\.npy, labels\.npy"):
        evaluate(MeanModel(), suite="c", data=_test_set(), cifar_c_dir=tmp_path / "c", progress=False)


def test_missing_extras_are_reported_not_generated(tmp_path):
    _official_c(tmp_path / "c", names=BENCHMARK_CORRUPTIONS)
    results = evaluate(MeanModel(), suite="c", data=_test_set(), cifar_c_dir=tmp_path / "c",
                       progress=False)["corruption"]
    assert results["mce"] is not None and results["generated"] is False
    assert results["missing"] == ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
    assert "extra corruptions not in" in results["notes"][0]


def test_a_mistyped_path_is_an_error_unless_generation_is_asked_for(tmp_path, capsys):
    typo = tmp_path / "CIFAR-10-CC"
    with pytest.raises(SuiteError, match=r"--cifar-c folder .*CIFAR-10-CC does not exist"):
        evaluate(MeanModel(), suite="c", data=_test_set(), cifar_c_dir=typo, progress=False)
    assert not typo.exists()
    with pytest.raises(SuiteError, match=r"--cifar-p folder .*does not exist"):
        evaluate(MeanModel(), suite="p", data=_test_set(), cifar_p_dir=typo, progress=False)
    results = evaluate(MeanModel(), suite="p", data=_test_set(), cifar_p_dir=typo, generate=True,
                       progress=False)
    assert results["perturbation"]["generated"] is True
    announced = f"generating CIFAR-P {', '.join(PERTURBATIONS)} for {N} test images into {typo}"
    assert announced in capsys.readouterr().err


def test_official_cifar_p_files_are_checked(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    for name in PERTURBATIONS:
        np.save(folder / f"{name}.npy", np.zeros((N, 3, 32, 32, 3), np.uint8))
    np.save(folder / "rotate.npy", np.zeros((N, 3, 24, 24, 3), np.uint8))
    with pytest.raises(SuiteError, match=r"rotate\.npy holds 24x24 images"):
        evaluate(MeanModel(), suite="p", data=_test_set(), cifar_p_dir=folder, progress=False)
    np.save(folder / "rotate.npy", np.zeros((N - 1, 3, 32, 32, 3), np.uint8))
    with pytest.raises(SuiteError, match=r"rotate\.npy holds 3 images but the evaluation needs 4"):
        evaluate(MeanModel(), suite="p", data=_test_set(), cifar_p_dir=folder, progress=False)
    (folder / "rotate.npy").unlink()
    with pytest.raises(SuiteError, match=r"lacks rotate\.npy"):
        evaluate(MeanModel(), suite="p", data=_test_set(), cifar_p_dir=folder, progress=False)


def test_cifar_c_bar(tmp_path):
    from ipmix.corruptions.cbar.levels import CIFAR_CBAR

    _official_c(tmp_path / "bar", names=CIFAR_CBAR)
    results = evaluate(MeanModel(), suite="clean", data=_test_set(), cifar_c_bar_dir=tmp_path / "bar",
                       progress=False)
    # black images: the model predicts class 0 (ties to the first), right for labels 0 only
    assert results["cifar_c_bar"]["mean_error"] == pytest.approx(75.0)
    (tmp_path / "bar" / "ripple.npy").unlink()
    with pytest.raises(SuiteError, match=r"CIFAR-C-bar folder .* lacks ripple\.npy"):
        evaluate(MeanModel(), suite="clean", data=_test_set(), cifar_c_bar_dir=tmp_path / "bar",
                 progress=False)
