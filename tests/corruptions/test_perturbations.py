"""CIFAR-P perturbation sequences: frame counts, known frames, determinism, growing change."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ipmix.corruptions.perturbations import (
    FRAME_COUNTS,
    NOISE_PERTURBATIONS,
    PERTURBATIONS,
    PerturbationError,
    legacy_affine,
    perturb_sequence,
    run_down,
)


def smooth_image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((32, 32), Image.Resampling.BICUBIC))


def mean_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).mean())


def test_names_and_noise_set() -> None:
    assert len(PERTURBATIONS) == 10 and set(FRAME_COUNTS) == set(PERTURBATIONS)
    assert NOISE_PERTURBATIONS == ("gaussian_noise", "shot_noise")


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_shape_dtype_and_determinism(name: str) -> None:
    image = smooth_image()
    a = perturb_sequence(image, name, np.random.default_rng(5))
    b = perturb_sequence(image, name, np.random.default_rng(5))
    assert a.shape == (FRAME_COUNTS[name], 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert len({frame.tobytes() for frame in a}) > 1, "all frames identical"


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "spatter"])
def test_random_perturbations_follow_the_seed(name: str) -> None:
    image = smooth_image()
    a = perturb_sequence(image, name, np.random.default_rng(1))
    b = perturb_sequence(image, name, np.random.default_rng(2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "zoom_blur"])
def test_first_frame_is_clean(name: str) -> None:
    image = smooth_image()
    np.testing.assert_array_equal(perturb_sequence(image, name, np.random.default_rng(0))[0], image)


@pytest.mark.parametrize(("name", "index"), [("translate", 7), ("rotate", 15), ("scale", 15)])
def test_identity_frame(name: str, index: int) -> None:
    """The frame with zero shift / angle / unit scale is the clean image."""
    image = smooth_image()
    np.testing.assert_array_equal(perturb_sequence(image, name, np.random.default_rng(0))[index], image)


def test_brightness_middle_frame_is_clean_up_to_truncation() -> None:
    image = smooth_image()
    frames = perturb_sequence(image, "brightness", np.random.default_rng(0))
    assert np.abs(frames[15].astype(int) - image).max() <= 1
    assert frames[30].mean() > frames[15].mean() > frames[0].mean()


def test_translate_shifts_right_with_black_fill() -> None:
    image = smooth_image()
    frames = perturb_sequence(image, "translate", np.random.default_rng(0))
    for index, shift in [(8, 1), (15, 8)]:
        np.testing.assert_array_equal(frames[index][:, shift:], image[:, :-shift])
        assert (frames[index][:, :shift] == 0).all()
    np.testing.assert_array_equal(frames[0][:, :-7], image[:, 7:])  # shift -7


def test_zoom_blur_drifts_away_from_clean() -> None:
    image = smooth_image()
    frames = perturb_sequence(image, "zoom_blur", np.random.default_rng(0))
    changes = [mean_change(frames[i], image) for i in (5, 15, 30)]
    assert changes[0] < changes[1] < changes[2]


def test_noise_frames_are_independent_draws() -> None:
    """Every noisy frame differs from the clean frame 0 and from its neighbours by a similar
    amount (noise is redrawn, not accumulated)."""
    image = smooth_image()
    frames = perturb_sequence(image, "gaussian_noise", np.random.default_rng(0))
    to_clean = [mean_change(frames[i], image) for i in range(1, 31)]
    assert max(to_clean) < 1.3 * min(to_clean)
    assert abs(mean_change(frames[30], image) - mean_change(frames[1], image)) < 1.0


def test_run_down_equals_numpy_convolve() -> None:
    liquid = np.random.default_rng(0).random((32, 32))
    expected = np.apply_along_axis(lambda col: np.convolve(col, [0.2, 0.8], mode="same"), 0, liquid)
    np.testing.assert_allclose(run_down(liquid), expected, atol=1e-15)


def test_legacy_affine_rotation_keeps_centre_pixel_region() -> None:
    """A 180 degree turn about (w/2 + 0.5, h/2 + 0.5) maps pixel (r, c) to (32 - r, 32 - c)."""
    image = smooth_image()
    turned = legacy_affine(image, angle=180.0)
    np.testing.assert_array_equal(turned[1:, 1:], image[:0:-1, :0:-1])


def test_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(PerturbationError, match="unknown perturbation 'shear'"):
        perturb_sequence(smooth_image(), "shear", rng)
    with pytest.raises(PerturbationError, match="uint8"):
        perturb_sequence(smooth_image().astype(np.float64), "rotate", rng)
    with pytest.raises(PerturbationError, match=r"\[H, W, 3\]"):
        perturb_sequence(smooth_image()[None], "rotate", rng)


@pytest.mark.parametrize(
    ("angle", "translate", "scale", "resample"),
    [
        (-15.0, (0.0, 0.0), 1.0, Image.Resampling.BILINEAR),
        (7.0, (0.0, 0.0), 1.0, Image.Resampling.BILINEAR),
        (0.0, (0.0, 0.0), 0.7, Image.Resampling.BILINEAR),
        (0.0, (0.0, 0.0), 1.12, Image.Resampling.BILINEAR),
        (0.0, (-7.0, 0.0), 1.0, Image.Resampling.NEAREST),
    ],
)
def test_legacy_affine_is_torchvision_affine_about_the_old_centre(angle, translate, scale, resample) -> None:
    """torchvision's PIL affine with its pre-0.8 centre (w/2 + 0.5, h/2 + 0.5) passed explicitly."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    image = smooth_image(3)
    mode = InterpolationMode.BILINEAR if resample == Image.Resampling.BILINEAR else InterpolationMode.NEAREST
    expected = tvf.affine(
        Image.fromarray(image), angle=angle, translate=[int(t) for t in translate], scale=scale,
        shear=[0.0], interpolation=mode, center=[16.5, 16.5],
    )  # fmt: skip
    ours = legacy_affine(image, angle=angle, translate=translate, scale=scale, resample=resample)
    np.testing.assert_array_equal(ours, np.asarray(expected))
