"""C-bar corruptions: fidelity to a transcription of augmentation-corruption's corrupt.py, tables."""

from __future__ import annotations

import cbar_reference as ref
import hendrycks_reference as photos_ref
import numpy as np
import pytest

from ipmix.corruptions.cbar import cbar_level, cbar_names, corrupt_bar
from ipmix.corruptions.cbar.levels import ALL_CBAR, CBAR_LEVELS, CIFAR_CBAR, IMAGENET_CBAR
from ipmix.corruptions.cbar.warps import line_aa
from ipmix.corruptions.imagenet_c.presets import CorruptionError


@pytest.fixture(scope="module")
def cifar_photos() -> np.ndarray:
    return photos_ref.photos(2, size=32)


@pytest.fixture(scope="module")
def small_photo() -> np.ndarray:
    return photos_ref.photos(1, size=48)


def test_names_and_levels() -> None:
    assert len(IMAGENET_CBAR) == 10 and len(CIFAR_CBAR) == 10 and len(ALL_CBAR) == 15
    assert set(IMAGENET_CBAR) & set(CIFAR_CBAR) == {
        "blue_noise_sample", "brownish_noise", "checkerboard_cutout", "inverse_sparkles", "sparkles",
    }  # fmt: skip
    assert cbar_level("caustic_refraction", 1, "imagenet") == 2.35
    assert cbar_level("sparkles", 2, "cifar") == 3.5 and cbar_level("sparkles", 2, "imagenet") == 2.0
    assert cbar_names("tinyimagenet") == IMAGENET_CBAR
    for table in CBAR_LEVELS.values():
        assert all(len(levels) == 5 and list(levels) == sorted(levels) for levels in table.values())


@pytest.mark.parametrize("name", CIFAR_CBAR)
def test_cifar_cbar_matches_the_reference(name: str, cifar_photos) -> None:
    """All five published CIFAR-10-C-bar levels, at 32 px, on the same seeds."""
    for severity in range(1, 6):
        level = CBAR_LEVELS["cifar"][name][severity - 1]
        for index, image in enumerate(cifar_photos):
            seed = 10 * severity + index
            expected = ref.CBAR[name](image.copy(), level, np.random.default_rng(seed), 32)
            ours = corrupt_bar(image[None], name, severity, np.random.default_rng(seed), preset="cifar")[0]
            np.testing.assert_array_equal(ours, expected, err_msg=f"{name} s{severity} image {index}")


@pytest.mark.parametrize("name", IMAGENET_CBAR)
def test_imagenet_cbar_matches_the_reference(name: str, small_photo) -> None:
    """All five ImageNet-C-bar levels on a 48 px photo (the reference's per-pixel Python loops
    make 224 px slow; the transforms are size-generic, and benchmarks/corruptions.py compares
    them at 224 px)."""
    image = small_photo[0]
    for severity in range(1, 6):
        level = CBAR_LEVELS["imagenet"][name][severity - 1]
        expected = ref.CBAR[name](image.copy(), level, np.random.default_rng(severity), 48)
        ours = corrupt_bar(small_photo, name, severity, np.random.default_rng(severity), preset="imagenet")[0]
        diff = np.abs(ours.astype(np.int64) - expected)
        assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3, f"{name} s{severity}: {diff.max()}"


@pytest.mark.parametrize("name", ["single_frequency_greyscale", "checkerboard_cutout", "brownish_noise"])
def test_imagenet_cbar_at_224_px(name: str) -> None:
    image = photos_ref.photos(1)[0]
    expected = ref.CBAR[name](image.copy(), CBAR_LEVELS["imagenet"][name][4], np.random.default_rng(5), 224)
    ours = corrupt_bar(image[None], name, 5, np.random.default_rng(5), preset="imagenet")[0]
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("name", ALL_CBAR)
def test_batches_draw_per_image_and_follow_the_seed(name: str, cifar_photos) -> None:
    preset = "cifar" if name in CIFAR_CBAR else "imagenet"
    a = corrupt_bar(cifar_photos, name, 3, np.random.default_rng(1), preset=preset)
    b = corrupt_bar(cifar_photos, name, 3, np.random.default_rng(1), preset=preset)
    assert a.shape == cifar_photos.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cifar_photos)


@pytest.mark.parametrize(
    ("r0", "c0", "r1", "c1"), [(0, 0, 9, 4), (5, 30, -3, 2), (7, 7, 7, 7), (2, -5, 2, 40), (31, 0, 0, 31)]
)
def test_line_aa_matches_skimage(r0: int, c0: int, r1: int, c1: int) -> None:
    from skimage.draw import line_aa as skimage_line_aa

    for ours, theirs in zip(line_aa(r0, c0, r1, c1), skimage_line_aa(r0, c0, r1, c1), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_errors() -> None:
    images = np.zeros((1, 32, 32, 3), np.uint8)
    rng = np.random.default_rng(0)
    with pytest.raises(CorruptionError, match="unknown C-bar corruption 'rain'"):
        corrupt_bar(images, "rain", 1, rng)
    with pytest.raises(CorruptionError, match="'lines' is not a imagenet C-bar corruption"):
        corrupt_bar(images, "lines", 1, rng, preset="imagenet")
    with pytest.raises(CorruptionError, match="severity"):
        corrupt_bar(images, "lines", 6, rng)
