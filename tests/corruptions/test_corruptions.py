"""CIFAR-C corruptions: contracts, strength per severity, determinism, shared kernels."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from ipmix.corruptions.imagenet_c import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    FROST_FILES,
    CorruptionError,
    FrostTexturesNotFoundError,
    corrupt,
    find_frost_dir,
    glass_shuffle,
    plasma_fractal,
)
from ipmix.corruptions.kernels import common, noise

# Corruptions whose strength (PSNR to the clean image) falls at every severity step with the
# reference parameters. The others are not monotone by construction of those parameters:
# glass blur (more blur smooths the shuffle), frost and spatter (blend weights / mud from
# severity 4), elastic (severity 1 has the largest affine jitter), saturate (0.3, 0.1, 1.5, ...);
# motion blur and snow rise at most steps but their random angles can swap two neighbours.
MONOTONE = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "defocus_blur",
    "gaussian_blur",
    "zoom_blur",
    "fog",
    "brightness",
    "contrast",
    "pixelate",
    "jpeg_compression",
)
RANDOM = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "glass_blur",
    "motion_blur",
    "snow",
    "frost",
    "fog",
    "elastic_transform",
    "spatter",
)


def smooth_images(count: int = 6, seed: int = 0) -> np.ndarray:
    """Natural-looking 32 x 32 test images: random 6 x 6 colour fields, bicubically enlarged."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        small = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((32, 32), Image.Resampling.BICUBIC)))
    return np.stack(out)


def write_frost_textures(folder) -> None:
    """Stand-in frost textures: random pictures with the official names and formats."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for name in FROST_FILES:
        picture = rng.integers(0, 256, size=(240, 260, 3), dtype=np.uint8)
        Image.fromarray(picture).save(folder / name)


@pytest.fixture(scope="module")
def frost_dir(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("textures") / "frost"
    write_frost_textures(folder)
    return folder


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def test_names() -> None:
    assert len(BENCHMARK_CORRUPTIONS) == 15 and len(EXTRA_CORRUPTIONS) == 4
    assert len(set(ALL_CORRUPTIONS)) == 19


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_shape_dtype_and_change(name: str, frost_dir) -> None:
    images = smooth_images(3)
    before = images.copy()
    for severity in range(1, 6):
        out = corrupt(images, name, severity, np.random.default_rng(severity), frost_dir=frost_dir)
        assert out.shape == images.shape and out.dtype == np.uint8
        assert not np.array_equal(out, images), f"{name} s{severity} left the images unchanged"
    np.testing.assert_array_equal(images, before)  # inputs untouched


@pytest.mark.parametrize("name", MONOTONE)
def test_strength_rises_with_severity(name: str) -> None:
    images = smooth_images(8)
    scores = [psnr(corrupt(images, name, s, np.random.default_rng(100 + s)), images) for s in range(1, 6)]
    assert (np.diff(scores) < 0).all(), scores


@pytest.mark.parametrize("name", ["motion_blur", "snow"])
def test_strength_rises_overall(name: str) -> None:
    images = smooth_images(8)
    first = psnr(corrupt(images, name, 1, np.random.default_rng(1)), images)
    last = psnr(corrupt(images, name, 5, np.random.default_rng(5)), images)
    assert last < first - 3.0


@pytest.mark.parametrize("name", RANDOM)
def test_determinism_per_seed(name: str, frost_dir) -> None:
    images = smooth_images(2)
    a = corrupt(images, name, 3, np.random.default_rng(11), frost_dir=frost_dir)
    b = corrupt(images, name, 3, np.random.default_rng(11), frost_dir=frost_dir)
    c = corrupt(images, name, 3, np.random.default_rng(12), frost_dir=frost_dir)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("severity", [0, 6, 2.5, True, "3"], ids=["zero", "six", "float", "bool", "str"])
def test_bad_severity(severity) -> None:
    with pytest.raises(CorruptionError, match="severity"):
        corrupt(smooth_images(1), "contrast", severity, np.random.default_rng(0))


def test_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(CorruptionError, match="unknown corruption 'rain'"):
        corrupt(smooth_images(1), "rain", 1, rng)
    with pytest.raises(CorruptionError, match="uint8"):
        corrupt(smooth_images(1).astype(np.float32), "contrast", 1, rng)
    with pytest.raises(CorruptionError, match=r"\[N, H, W, 3\]"):
        corrupt(smooth_images(1)[0], "contrast", 1, rng)
    with pytest.raises(CorruptionError, match="square"):
        corrupt(np.zeros((1, 32, 16, 3), np.uint8), "contrast", 1, rng)


def test_frost_textures_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    with pytest.raises(FrostTexturesNotFoundError, match="frost1.png"):
        corrupt(smooth_images(1), "frost", 1, np.random.default_rng(0))
    with pytest.raises(FrostTexturesNotFoundError, match=str(tmp_path)):
        find_frost_dir(tmp_path)
    (tmp_path / "frost").mkdir()
    monkeypatch.setenv("IPMIX_DATA", str(tmp_path))
    with pytest.raises(FrostTexturesNotFoundError, match="frost"):
        find_frost_dir()


def test_frost_found_through_ipmix_data(tmp_path, monkeypatch) -> None:
    write_frost_textures(tmp_path / "frost")
    monkeypatch.setenv("IPMIX_DATA", str(tmp_path))
    assert find_frost_dir() == tmp_path / "frost"
    assert find_frost_dir(tmp_path / "frost") == tmp_path / "frost"


def test_frost_blend(frost_dir) -> None:
    """Severity 1 is ``image + 0.2 * texture crop``: never darker than the clean image."""
    images = smooth_images(2)
    out = corrupt(images, "frost", 1, np.random.default_rng(0), frost_dir=frost_dir)
    assert (out.astype(int) >= images.astype(int)).all()


def reference_glass_pass(image: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The reference's sequential loop, run literally on one numpy image."""
    x = image.copy()
    h, w = x.shape[:2]
    for r in range(h - 1, 1, -1):
        for c in range(w - 1, 1, -1):
            rr, cc = r + dy[r - 2, c - 2], c + dx[r - 2, c - 2]
            x[r, c], x[rr, cc] = x[rr, cc], x[r, c]
    return x


def test_glass_shuffle_equals_sequential_loop() -> None:
    images = smooth_images(3)
    rng = np.random.default_rng(3)
    dx = rng.integers(-1, 1, size=(3, 30, 30))
    dy = rng.integers(-1, 1, size=(3, 30, 30))
    fast = glass_shuffle(images, dx, dy)
    for i in range(3):
        np.testing.assert_array_equal(fast[i], reference_glass_pass(images[i], dx[i], dy[i]))


def test_glass_shuffle_rejects_positive_offsets() -> None:
    images = smooth_images(1)
    ones = np.ones((1, 30, 30), dtype=np.int64)
    with pytest.raises(CorruptionError, match="-1, 0"):
        glass_shuffle(images, ones, ones)


def test_plasma_fractal_range() -> None:
    maps = plasma_fractal(3, 32, 2.0, np.random.default_rng(0))
    assert maps.shape == (3, 32, 32)
    np.testing.assert_allclose(maps.min(axis=(1, 2)), 0.0)
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0)
    with pytest.raises(CorruptionError, match="power of two"):
        plasma_fractal(1, 30, 2.0, np.random.default_rng(0))


# ------------------------------------------------------------------ shared kernels


def scipy_clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    """The reference's clipped_zoom, written with scipy.ndimage.zoom, for one image."""
    h = image.shape[0]
    crop = int(np.ceil(h / factor))
    top = (h - crop) // 2
    zoomed = ndimage.zoom(image[top : top + crop, top : top + crop], (factor, factor, 1), order=1)
    trim = (zoomed.shape[0] - h) // 2
    return zoomed[trim : trim + h, trim : trim + h]


@pytest.mark.parametrize("factor", [1.0, 1.03, 1.11, 1.25, 1.75, 2.25])
def test_clipped_zoom_matches_scipy(factor: float) -> None:
    images = np.random.default_rng(0).random((2, 32, 32, 3))
    ours = common.clipped_zoom(images, factor)
    for i in range(2):
        np.testing.assert_allclose(ours[i], scipy_clipped_zoom(images[i], factor), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_hsv_matches_colorsys(rgb: list[float]) -> None:
    pixel = np.array(rgb, dtype=np.float64)[None, None, None]
    hsv = common.rgb_to_hsv(pixel)[0, 0, 0]
    expected = colorsys.rgb_to_hsv(*rgb)
    hue_gap = abs(hsv[0] - expected[0])
    assert min(hue_gap, 1 - hue_gap) < 1e-12  # hue is circular: 1.0 and 0.0 are the same hue
    np.testing.assert_allclose(hsv[1:], expected[1:], atol=1e-12)
    np.testing.assert_allclose(common.hsv_to_rgb(hsv[None, None, None])[0, 0, 0], rgb, atol=1e-12)


def test_motion_blur_kernel_is_one_sided_gaussian() -> None:
    """An impulse blurred at angle 0 spreads to the left with ImageMagick's weights."""
    image = np.zeros((1, 9, 32), dtype=np.float64)
    image[0, 4, 20] = 1.0
    out = common.magick_motion_blur(image, 3, 1.5, np.array([0.0]))
    weights = np.exp(-(np.arange(7) ** 2) / (2 * 1.5**2))
    weights /= weights.sum()
    np.testing.assert_allclose(out[0, 4, 14:21], weights[::-1], atol=1e-12)
    assert out[0, 4].sum() == pytest.approx(1.0) and out[0, [3, 5]].sum() == 0.0
    # angle 90: the same profile along the rows, above the impulse
    out = common.magick_motion_blur(image.transpose(0, 2, 1), 3, 1.5, np.array([90.0]))
    np.testing.assert_allclose(out[0, 14:21, 4], weights[::-1], atol=1e-12)


def test_motion_blur_keeps_constant_images() -> None:
    """Edge pixels are repeated outside the image, so a flat image stays flat."""
    image = np.full((2, 16, 16, 3), 77.0)
    out = common.magick_motion_blur(image, 9, 2.5, np.array([-30.0, 44.0]))
    np.testing.assert_allclose(out, 77.0)


def test_noise_kernels_statistics() -> None:
    """Additive noise with the stated sigma; Poisson noise with mean x and variance x / lam."""
    rng = np.random.default_rng(0)
    x = np.full((20000,), 0.5)
    noisy = noise.add_gaussian_noise(x, 0.08, rng)
    assert abs(noisy.mean() - 0.5) < 0.003 and abs(noisy.std() - 0.08) < 0.003
    shot = noise.add_shot_noise(x, 100, rng)
    assert abs(shot.mean() - 0.5) < 0.003 and abs(shot.var() - 0.5 / 100) < 0.0004


def test_motion_blur_uint8_keeps_flat_images_exactly() -> None:
    """The Q16 rounding then 8-bit truncation must not lose a level to float error."""
    levels = np.arange(256, dtype=np.uint8)
    image = np.broadcast_to(levels[:, None, None, None], (256, 12, 12, 3)).copy()
    out = common.magick_motion_blur_uint8(image, 9, 2.5, np.full(256, 33.0))
    np.testing.assert_array_equal(out, image)


def test_water_without_liquid_is_black_as_in_the_reference() -> None:
    """The reference divides 0 by 0 for an empty mask and stores the NaN image as zeros."""
    image = np.full((32, 32, 3), 0.5, dtype=np.float32)
    assert common.water_mask(np.zeros((32, 32)), 0.6) is None
    np.testing.assert_array_equal(common.add_water(image, np.zeros((32, 32)), 0.6), 0.0)
    liquid = np.zeros((32, 32))
    liquid[10:16, 10:16] = 0.9
    wet = common.add_water(image, liquid, 0.6)
    assert wet.dtype == np.float32 and (wet >= image).all() and (wet > image).any()
