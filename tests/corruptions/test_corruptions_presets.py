"""ImageNet-C / Tiny-ImageNet-C presets: fidelity to the reference transcriptions on real photos.

Each ImageNet-preset corruption is compared, on the same seed, with a transcription of its
function in hendrycks/robustness ``make_imagenet_c.py`` (``hendrycks_reference.py``) on crops
of ``skimage.data`` photos at 224 px, at every severity (so every row of the table is checked).
"""

from __future__ import annotations

import hendrycks_reference as ref
import numpy as np
import pytest
from PIL import Image

from ipmix.corruptions.imagenet_c import (
    ALL_CORRUPTIONS,
    FROST_FILES,
    CorruptionError,
    PresetError,
    corrupt,
    glass_shuffle,
    glass_shuffle_sequential,
)
from ipmix.corruptions.imagenet_c.presets import IMAGENET, PRESETS, TINY_IMAGENET, get_preset

# Differences allowed against the transcription: (largest level difference, share of values).
# The mud of spatter (severities 4-5) blurs its mask with float64 intermediates where skimage
# keeps float32 between the two axis passes (kept: the CIFAR outputs must not change).
TOLERANCE = {"spatter": (1, 1e-4)}


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return ref.photos(2)


@pytest.fixture(scope="module")
def big_frost_dir(tmp_path_factory: pytest.TempPathFactory):
    """Stand-in frost textures larger than 224 px (the ImageNet script crops them unresized)."""
    folder = tmp_path_factory.mktemp("frost224")
    rng = np.random.default_rng(3)
    for name in FROST_FILES:
        Image.fromarray(rng.integers(0, 256, size=(250, 270, 3), dtype=np.uint8)).save(folder / name)
    return folder


def _severities(name: str) -> tuple[int, ...]:
    # glass blur's literal walk is slow in Python: one pass with max_delta 1, 2 and 3 each
    return (1, 2, 4) if name == "glass_blur" else (1, 2, 3, 4, 5)


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_imagenet_preset_matches_the_reference(name: str, photos, big_frost_dir) -> None:
    worst, share = TOLERANCE.get(name, (0, 0.0))
    images = photos[:1] if name == "glass_blur" else photos
    for severity in _severities(name):
        for index, image in enumerate(images):
            seed = 100 * severity + index
            expected = ref.imagenet_c(image, name, severity, np.random.default_rng(seed), big_frost_dir)
            ours = corrupt(
                image[None], name, severity, np.random.default_rng(seed), preset="imagenet",
                frost_dir=big_frost_dir,
            )[0]  # fmt: skip
            diff = np.abs(ours.astype(np.int64) - expected)
            assert diff.max() <= worst, f"{name} s{severity}: differs by {diff.max()}"
            assert (diff > 0).mean() <= share, f"{name} s{severity}: {(diff > 0).mean():.1e} differ"


def test_preset_tables_are_complete() -> None:
    for preset in PRESETS.values():
        assert set(preset.table) == set(ALL_CORRUPTIONS), preset.name
        assert all(len(rows) == 5 for rows in preset.table.values()), preset.name
    assert IMAGENET.elastic_scale(224) == 244.0 and TINY_IMAGENET.elastic_scale(64) == 64.0
    assert get_preset("imagenet") is IMAGENET and get_preset(IMAGENET) is IMAGENET
    with pytest.raises(PresetError, match="unknown preset 'svhn'; known: cifar, tinyimagenet, imagenet"):
        get_preset("svhn")
    with pytest.raises(CorruptionError, match="unknown preset"):
        corrupt(np.zeros((1, 32, 32, 3), np.uint8), "contrast", 1, np.random.default_rng(0), preset="x")


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_tinyimagenet_preset_runs_at_64_px(name: str, big_frost_dir) -> None:
    images = ref.photos(1, size=64)
    for severity in (1, 5):
        out = corrupt(images, name, severity, np.random.default_rng(severity), preset="tinyimagenet",
                      frost_dir=big_frost_dir)  # fmt: skip
        assert out.shape == images.shape and out.dtype == np.uint8
        assert not np.array_equal(out, images)


def literal_walk(image: np.ndarray, dx: np.ndarray, dy: np.ndarray, delta: int) -> np.ndarray:
    """The reference's glass-blur walk for any max_delta, run literally on one numpy image."""
    x = image.copy()
    h, w = x.shape[:2]
    for r in range(h - delta, delta, -1):
        for c in range(w - delta, delta, -1):
            rr, cc = r + dy[r - delta - 1, c - delta - 1], c + dx[r - delta - 1, c - delta - 1]
            x[r, c], x[rr, cc] = x[rr, cc], x[r, c]
    return x


@pytest.mark.parametrize("delta", [1, 2, 3, 4])
def test_sequential_glass_walk_equals_the_literal_loop(delta: int) -> None:
    rng = np.random.default_rng(delta)
    images = rng.integers(0, 256, size=(2, 20, 20, 3), dtype=np.uint8)
    dx, dy = rng.integers(-delta, delta, size=(2, 2, 20 - 2 * delta, 20 - 2 * delta))
    fast = glass_shuffle_sequential(images, dx, dy, delta)
    for i in range(2):
        np.testing.assert_array_equal(fast[i], literal_walk(images[i], dx[i], dy[i], delta))
    if delta == 1:
        np.testing.assert_array_equal(fast, glass_shuffle(images, dx, dy))


def test_sequential_glass_walk_rejects_bad_offsets() -> None:
    images = np.zeros((1, 20, 20, 3), np.uint8)
    with pytest.raises(CorruptionError, match=r"\[-2, 1\]"):
        glass_shuffle_sequential(images, np.full((1, 16, 16), 2), np.zeros((1, 16, 16), int), 2)
    with pytest.raises(CorruptionError, match="shape"):
        glass_shuffle_sequential(images, np.zeros((1, 18, 18), int), np.zeros((1, 18, 18), int), 2)


def test_frost_textures_too_small_for_the_image_size(tmp_path) -> None:
    for name in FROST_FILES:
        Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(tmp_path / name)
    with pytest.raises(CorruptionError, match="too small for 224 x 224"):
        corrupt(np.zeros((1, 224, 224, 3), np.uint8), "frost", 1, np.random.default_rng(0),
                preset="imagenet", frost_dir=tmp_path)  # fmt: skip
