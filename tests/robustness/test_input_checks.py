"""Images entering the robustness tools: OOD arrays and folders, corrupt() and the model inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from ipmix.corruptions.imagenet_c import CorruptionError, corrupt
from ipmix.data.cifar import CifarArrays
from ipmix.robustness import ood
from ipmix.robustness.suite import evaluate, predict_probabilities
from ipmix.utils.images import ImageRangeError
from ipmix.utils.io import UnreadableFileError


def images(n: int = 3, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


class MeanModel(nn.Module):
    """Two logits from the mean pixel value: what it sees shows in its probabilities."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return torch.stack([mean, 1 - mean], dim=1) * 10


@settings(max_examples=12)
@given(n=st.integers(1, 3), size=st.sampled_from([8, 16, 32, 40]), as_float=st.booleans())
def test_ood_arrays_read_alike_in_either_layout(n, size, as_float):
    nhwc = images(n, size)
    nhwc = (nhwc / 255).astype(np.float32) if as_float else nhwc
    nchw = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    expected = ood.prepare_outlier_array(nhwc, 32)
    np.testing.assert_array_equal(ood.prepare_outlier_array(nchw, 32), expected)
    assert expected.shape == (n, 32, 32, 3)


def test_ood_floats_with_nan_or_outside_the_range_are_refused(tmp_path):
    spoiled = (images(2) / 255).astype(np.float32)
    spoiled[0, 0, 0, 0] = np.nan  # compared as neither < 0 nor > 1, NaN used to pass
    with pytest.raises(ImageRangeError, match=r"OOD array: float images must lie in \[0, 1\].*1 NaN"):
        ood.load_outlier_source(spoiled, 5, None)
    np.save(tmp_path / "bright.npy", (images(2) * 1.0).astype(np.float32))
    with pytest.raises(ImageRangeError, match=rf"OOD {tmp_path / 'bright.npy'}: .*\[0, 255\] floats"):
        ood.load_outlier_source(tmp_path / "bright.npy", 5, None)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "bright.npy").read_bytes()[:300])
    with pytest.raises(UnreadableFileError, match=rf"cannot read OOD array file {tmp_path / 'cut.npy'}"):
        ood.load_outlier_source(tmp_path / "cut.npy", 5, None)


def _truncated_jpeg(path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(images(1, 48)[0]).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def test_ood_folder_skips_an_image_that_cannot_decode(tmp_path):
    Image.fromarray(images(1, 40)[0]).save(tmp_path / "a.png")
    _truncated_jpeg(tmp_path / "b.jpg")
    with pytest.warns(UserWarning, match=rf"cannot read OOD image {tmp_path / 'b.jpg'}: .*skipped"):
        loaded = ood.load_outlier_source(tmp_path, 5, None)
    assert loaded.images.shape == (1, 32, 32, 3)
    (tmp_path / "a.png").unlink()
    with pytest.warns(UserWarning), pytest.raises(ood.OutlierSourceError, match="none of the 1 image files"):
        ood.load_outlier_source(tmp_path, 5, None)


@settings(max_examples=6)
@given(name=st.sampled_from(["contrast", "brightness", "gaussian_noise", "pixelate"]), seed=st.integers(0, 9))
def test_corrupt_keeps_the_layout_it_is_given(name, seed):
    nhwc = images(2, 32, seed)
    nchw = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    expected = corrupt(nhwc, name, 3, np.random.default_rng(seed))
    out = corrupt(nchw, name, 3, np.random.default_rng(seed))
    assert out.shape == nchw.shape
    np.testing.assert_array_equal(out.transpose(0, 2, 3, 1), expected)
    with pytest.raises(CorruptionError, match=r"layout must be one of NHWC, NCHW"):
        corrupt(nhwc, name, 3, np.random.default_rng(0), layout="HWC")


def test_model_inputs_are_range_checked_and_read_in_either_layout():
    model = MeanModel()
    unit = (images(4) / 255).astype(np.float32)
    reference = predict_probabilities(model, unit, progress=False)
    np.testing.assert_allclose(predict_probabilities(model, images(4), progress=False), reference, atol=1e-6)
    channels_first = np.ascontiguousarray(unit.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(predict_probabilities(model, channels_first, progress=False), reference)
    with pytest.raises(ImageRangeError, match=r"images given to the model: .*\[0, 255\] floats"):
        predict_probabilities(model, unit * 255, progress=False)
    arrays = CifarArrays(unit * 255, np.zeros(4, np.int64), ("a", "b"))  # float [0, 255] "CIFAR"
    with pytest.raises(ImageRangeError, match="images given to the model"):
        evaluate(model, suite="clean", data=arrays, progress=False)


def test_pgd_refuses_images_outside_the_unit_range() -> None:
    from ipmix.robustness.attacks import pgd_attack

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    labels = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ImageRangeError, match=r"PGD images.*255"):
        pgd_attack(model, torch.full((2, 3, 4, 4), 255.0), labels, generator=torch.Generator())
    with pytest.raises(ValueError, match="float in \\[0, 1\\], got torch.uint8"):
        pgd_attack(model, torch.zeros((2, 3, 4, 4), dtype=torch.uint8), labels, generator=torch.Generator())


def test_training_tensors_outside_the_unit_range_are_refused() -> None:
    from ipmix.data.datasets import to_tensor

    assert to_tensor(torch.full((3, 2, 2), 0.5)).max() == 0.5
    with pytest.raises(ImageRangeError, match="training image"):
        to_tensor(torch.full((3, 2, 2), -1.0))
