"""Training crops and the evaluation transform at any resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.transforms import v2

from ipmix.data import RandomCropFlip, RandomResizedCropFlip, eval_resize, eval_transform, train_crop


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(1, 400), width=st.integers(1, 400))
def test_random_resized_windows_lie_inside_the_image(seed, height, width):
    crop = RandomResizedCropFlip(64, seed=seed)
    top, left, h, w = crop.window(height, width)
    assert min(top, left) >= 0 and min(h, w) > 0
    assert top + h <= height and left + w <= width


def test_random_resized_crops_follow_torchvision_s_laws():
    from scipy.stats import ks_2samp

    crop = RandomResizedCropFlip(32, seed=0)
    ours = np.array([crop.window(300, 400) for _ in range(4000)])
    image = torch.zeros(3, 300, 400)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        theirs = np.array([v2.RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3])
                           for _ in range(4000)])
    for column in range(4):  # top, left, height, width: same laws (two-sample KS, fixed seeds)
        assert ks_2samp(ours[:, column], theirs[:, column]).pvalue > 1e-3
    aspects = ours[:, 3] / ours[:, 2]
    assert aspects.min() >= 0.74 and aspects.max() <= 1.34


def test_crops_are_seeded_sized_and_flipped():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8))
    a = [np.asarray(RandomResizedCropFlip(48, seed=s)(image)) for s in range(20)]
    b = [np.asarray(RandomResizedCropFlip(48, seed=s)(image)) for s in range(20)]
    assert all(x.shape == (48, 48, 3) for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len({x.tobytes() for x in a}) == 20
    no_crop = RandomResizedCropFlip(70, scale=(1.0, 1.0), ratio=(70 / 90, 70 / 90), seed=0)
    outputs = {np.asarray(no_crop(image.resize((70, 90)))).tobytes() for _ in range(30)}
    assert len(outputs) == 2  # the whole image, mirrored or not


def test_pad_crop_at_a_size_is_a_window_of_the_padded_resized_image():
    image = Image.fromarray(np.full((60, 90, 3), 200, np.uint8))
    crop = train_crop(32, "pad")
    assert isinstance(crop, RandomCropFlip) and crop.padding == 4
    outputs = [np.asarray(crop(image)) for _ in range(50)]
    assert all(out.shape == (32, 32, 3) for out in outputs)
    assert any((out == 0).any() for out in outputs)  # the zero padding shows up at times
    assert all(((out == 0) | (out == 200)).all() for out in outputs)
    with pytest.raises(ValueError, match="train crop must be one of"):
        train_crop(32, "center")


@pytest.mark.parametrize("size", [224, 64, 32])
def test_eval_transform_is_torchvision_s_reference(size):
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 420, 3), dtype=np.uint8))
    reference = v2.Compose([v2.Resize(eval_resize(size)), v2.CenterCrop(size), v2.PILToTensor()])
    assert eval_resize(224) == 256
    out = eval_transform(size)(image)
    assert out.dtype == torch.uint8 and out.shape == (3, size, size)
    torch.testing.assert_close(out, reference(image), rtol=0, atol=0)
    floats = eval_transform(size, torch.float32)(image)
    torch.testing.assert_close(floats, out.float() / 255)


@pytest.mark.parametrize(
    ("height", "width", "size"), [(300, 420, 224), (257, 256, 224), (37, 41, 32), (64, 64, 64)]
)
def test_the_torch_free_resize_and_crop_are_torchvision_s(height, width, size):
    """`ipmix.data.resize` (what make-c uses without torch) gives torchvision's PIL pixels."""
    from torchvision.transforms import functional

    from ipmix.data.resize import center_crop, resize_shorter

    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (height, width, 3), dtype=np.uint8))
    resized = resize_shorter(image, eval_resize(size))
    expected = functional.resize(image, eval_resize(size), antialias=True)
    np.testing.assert_array_equal(np.asarray(resized), np.asarray(expected))
    np.testing.assert_array_equal(np.asarray(center_crop(resized, size)),
                                  np.asarray(functional.center_crop(resized, [size])))
