"""What the transforms take: float ranges refused (not clamped), numpy images augmented, samples
without an image refused, options read as the user meant them."""

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ipmix import IPMix, IPMixBatch, MixingSet
from ipmix.augment.methods.baselines import CutOut, PixMix
from ipmix.utils.images import ImageRangeError

PICTURES = np.repeat(np.repeat(np.random.default_rng(5).integers(0, 256, (4, 8, 8, 3), np.uint8), 5, 1), 5, 2)
SET = MixingSet.from_array(PICTURES)
TRANSFORMS = {
    "IPMix": lambda: IPMix(SET, seed=0),
    "PixMix": lambda: PixMix(SET, seed=0),
    "CutOut": lambda: CutOut(8, seed=0),
}


def _image(seed: int, size: int = 16, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, channels), dtype=np.uint8)


def _spoil(unit: np.ndarray, how: str) -> np.ndarray:
    """A float image in [0, 1] made into a common wrong input."""
    spoiled = unit.copy()
    if how == "0-255":
        return spoiled * 255
    if how == "normalised":
        return spoiled * 2 - 1
    spoiled.flat[len(spoiled.flat) // 2] = {"nan": np.nan, "inf": np.inf, "above": 1.01}[how]
    return spoiled


@settings(max_examples=30)
@given(
    name=st.sampled_from([*TRANSFORMS, "IPMixBatch"]),
    how=st.sampled_from(["0-255", "normalised", "nan", "inf", "above"]),
    as_numpy=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 100),
)
def test_float_images_outside_the_unit_range_are_refused_not_clamped(name, how, as_numpy, dtype, seed):
    unit = (_image(seed) / 255).astype(dtype)
    bad = _spoil(unit, how).astype(dtype)
    if name == "IPMixBatch":
        transform, label = IPMixBatch(SET, seed=0, backend="torch"), "IPMixBatch images"
        bad_input = torch.from_numpy(bad.transpose(2, 0, 1)[None])
    else:
        transform, label = TRANSFORMS[name](), f"{name} input"
        bad_input = bad if as_numpy else torch.from_numpy(np.ascontiguousarray(bad.transpose(2, 0, 1)))
    with pytest.raises(ImageRangeError, match=rf"^{label}: float images must lie in \[0, 1\]") as caught:
        transform(bad_input)
    found = {"nan": "1 NaN", "inf": "1 inf", "above": "values in [0, 1.01]", "0-255": "[0, 255] floats?"}
    assert found.get(how, "normalised images?") in str(caught.value)


def test_rounding_slack_is_accepted_and_in_range_floats_work():
    unit = _image(1) / 255
    unit[0, 0, 0], unit[0, 0, 1] = -0.001, 1.001  # within half a grey level
    for name, make in TRANSFORMS.items():
        out = make()(torch.from_numpy(unit.transpose(2, 0, 1).astype(np.float32)))
        slack = 0.001 if name == "CutOut" else 0  # CutOut keeps the pixels it does not cut
        assert out.dtype == torch.float32 and -slack <= out.min() and out.max() <= 1 + slack, name
    batch = torch.from_numpy(unit.transpose(2, 0, 1)[None].astype(np.float32))
    assert IPMixBatch(SET, seed=0, backend="torch")(batch).max() <= 1


@settings(max_examples=15)
@given(
    seed=st.integers(0, 1000),
    size=st.sampled_from([8, 12, 16]),
    kind=st.sampled_from(["rgb", "grey-2d", "grey-3d", "float"]),
)
def test_numpy_images_are_augmented_like_pil_and_tensor_images(seed, size, kind):
    """IPMix on a numpy image gives what it gives on the same image as PIL (uint8) or tensor (float)."""
    channels = 3 if kind in ("rgb", "float") else 1
    array = _image(seed, size, channels)
    if kind == "grey-2d":
        array = array[:, :, 0]
    if kind == "float":
        given_array = (array / 255).astype(np.float32)
        reference = IPMix(SET, seed=seed)(torch.from_numpy(given_array.transpose(2, 0, 1).copy()))
        reference = reference.permute(1, 2, 0).numpy()
    else:
        given_array = array
        pil = PIL.Image.fromarray(array if array.ndim == 2 else (array[:, :, 0] if channels == 1 else array))
        reference = np.asarray(IPMix(SET, seed=seed)(pil)).reshape(array.shape)
    out = IPMix(SET, seed=seed)(given_array)
    assert isinstance(out, np.ndarray) and out.shape == given_array.shape and out.dtype == given_array.dtype
    np.testing.assert_array_equal(out, reference)
    assert not np.array_equal(out, given_array)  # augmented, not passed through


def test_samples_without_an_image_are_refused_and_numpy_samples_work():
    image = _image(3)
    for make in TRANSFORMS.values():
        transform = make()
        augmented, label = transform((image, 7))
        assert isinstance(augmented, np.ndarray) and augmented.shape == image.shape and label == 7
        with pytest.raises(TypeError, match="the sample holds no image it can act on .* got int, str"):
            transform({"label": 3, "name": "x"})
    mask = np.zeros((16, 16), np.uint8)
    out_image, out_mask = IPMix(SET, seed=0)(PIL.Image.fromarray(image), mask)
    assert isinstance(out_image, PIL.Image.Image) and out_mask is mask  # an explicit image wins
    with pytest.raises(ValueError, match=r"numpy image \[H, W, C\] .* got shape \(3, 16, 16\); torch-style"):
        IPMix(SET, seed=0)(image.transpose(2, 0, 1).copy())
    with pytest.raises(ValueError, match=r"tensor \[C, H, W\] .* got shape \(16, 16, 3\); numpy-style"):
        IPMix(SET, seed=0)(torch.from_numpy(image))


def test_cutout_on_numpy_images_fills_one_square():
    image = np.full((16, 16, 3), 200, np.uint8)
    out = CutOut(4, fill=0.0, seed=1)(image)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert 0 < (out == 0).all(axis=2).sum() <= 16 and image.min() == 200  # input untouched
    grey = CutOut(4, fill=1.0, seed=1)(np.zeros((16, 16), np.float32))
    assert grey.shape == (16, 16) and 0 < (grey == 1).sum() <= 16


def test_options_take_one_name_as_a_name():
    image = PIL.Image.fromarray(_image(2))
    single = IPMix(SET, seed=0, mixing_ops="add", box_shapes="square", ops="rotate", patch_sizes=4)
    assert single.options.mixing_ops == ("add",) and single.options.box_shapes == ("square",)
    assert single.options.op_names == ("rotate",) and single.options.patch_sizes == (4,)
    listed = IPMix(
        SET, seed=0, mixing_ops=("add",), box_shapes=("square",), ops=("rotate",), patch_sizes=(4,)
    )
    np.testing.assert_array_equal(np.asarray(single(image)), np.asarray(listed(image)))
    assert IPMix(SET, patch_sizes="full").options.patch_sizes == ("full",)
    assert PixMix(SET, ops="rotate").ops == ("rotate",)


@pytest.mark.parametrize("severity", [0.05, 10.5, 50, float("nan"), "3"])
def test_op_severity_beyond_augmix_scale_is_refused(severity):
    with pytest.raises(ValueError, match=r"op_severity must be a number in \[0.1, 10\] .* 0-10 scale"):
        IPMix(SET, op_severity=severity)
    with pytest.raises(ValueError, match=r"PixMix: severity must be a number in \[0.1, 10\]"):
        PixMix(SET, severity=severity)
    IPMix(SET, op_severity=10)


def test_patch_sizes_larger_than_the_image_are_named():
    image = PIL.Image.fromarray(_image(4, 32))
    with pytest.raises(ValueError, match=r"patch_sizes \[64\] exceed the 32x32 image; .* 'full'"):
        IPMix(SET, patch_sizes=(64, "full"))(image)
    with pytest.raises(ValueError, match=r"patch_sizes \[64\] exceed the 32x32 image"):
        IPMix(SET, patch_sizes=(4, 64, "full"))(image)
    IPMix(SET, patch_sizes=(4, 32, "full"))(image)


def test_images_smaller_than_any_patch_get_advice_that_can_be_followed():
    with pytest.raises(ValueError, match=r"\(3x3\) is smaller than the smallest patch \(4 px\); pass "
                       r"patch_sizes of at most 3 px"):
        IPMix(SET, seed=0)(PIL.Image.fromarray(_image(1, 3)))
    IPMix(SET, seed=0, patch_sizes=(2, "full"))(PIL.Image.fromarray(_image(1, 3)))  # the advice works
    with pytest.raises(ValueError, match=r"\(1x1\) .*patches are at least 2 px, so IPMix needs images "
                       r"of at least 2 px a side"):
        IPMix(SET, seed=0)(PIL.Image.fromarray(_image(1, 1)))


@pytest.mark.parametrize("seed", ["abc", 1.5, -1, True])
def test_bad_seeds_are_refused_at_construction(seed):
    for build in (lambda: IPMix(SET, seed=seed), lambda: IPMixBatch(SET, seed=seed),
                  lambda: PixMix(SET, seed=seed)):
        with pytest.raises(ValueError, match=rf"seed must be None or a whole number >= 0, got {seed!r}"):
            build()
    with pytest.raises(ValueError, match="seed must be None or a whole number"):
        IPMix(SET, seed=0).reseed(seed)


def test_views_needs_at_least_one_and_meta_tensors_are_named():
    with pytest.raises(ValueError, match=r"IPMix.views: count must be a whole number >= 1, got 0"):
        IPMix(SET, seed=0).views(PIL.Image.fromarray(_image(2)), 0)
    for dtype in (torch.float32, torch.uint8):
        with pytest.raises(ImageRangeError, match="IPMix input: a tensor on torch's meta device"):
            IPMix(SET, seed=0)(torch.empty(3, 16, 16, device="meta", dtype=dtype))
        with pytest.raises(ImageRangeError, match="IPMixBatch images: a tensor on torch's meta device"):
            IPMixBatch(SET, seed=0)(torch.empty(2, 3, 16, 16, device="meta", dtype=dtype))
