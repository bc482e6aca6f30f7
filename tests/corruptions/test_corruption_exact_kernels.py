"""The numba re-implementations of scipy.ndimage and Pillow: equal to the libraries bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from ipmix.corruptions.kernels import draws, fused, noise, pil
from ipmix.corruptions.kernels import ndimage as ported


@pytest.mark.parametrize("shape", [(2, 40, 30, 3), (3, 17, 9), (1, 5, 7, 2)])
@pytest.mark.parametrize(("mode", "truncate"), [("nearest", 4.0), ("reflect", 3.0), ("nearest", 6.0)])
def test_gaussian_filter_equals_scipy(shape, mode, truncate) -> None:
    rng = np.random.default_rng(len(shape) + int(truncate))
    x = rng.random(shape)
    x[0] = np.floor(x[0] * 255) / 255  # grey levels too: flat regions sit on exact values
    for sigma in (0.05, 0.4, 1.0, 2.44, 7.5, 40.0):  # 40: the kernel is longer than the lines
        sigmas = [0.0] * x.ndim
        sigmas[1] = sigmas[2] = sigma
        expected = ndimage.gaussian_filter(x, sigmas, mode=mode, truncate=truncate)
        ours = ported.gaussian_filter_hw(x, sigma, mode, truncate)
        np.testing.assert_array_equal(ours, expected)
    for pair in ((0.4, 0.3), (0.0, 2.44), (7.5, 0.0)):  # one sigma per axis (imagecorruptions' elastic)
        sigmas = [0.0] * x.ndim
        sigmas[1], sigmas[2] = pair
        expected = ndimage.gaussian_filter(x, sigmas, mode=mode, truncate=truncate)
        np.testing.assert_array_equal(ported.gaussian_filter_hw(x, pair, mode, truncate), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clipped_zoom_equals_scipy_zoom(dtype) -> None:
    rng = np.random.default_rng(1)
    for size in (32, 45):
        images = rng.random((2, size, size, 3)).astype(dtype)
        for factor in (1.0, 1.01, 1.06, 1.13, 1.75, 2.25, 4.5):
            crop = int(np.ceil(size / factor))
            top = (size - crop) // 2
            ours = ported.clipped_zoom(images, factor)
            for i in range(2):
                centre = images[i, top : top + crop, top : top + crop]
                zoomed = ndimage.zoom(centre, (factor, factor, 1), order=1)
                trim = (zoomed.shape[0] - size) // 2
                np.testing.assert_array_equal(ours[i], zoomed[trim : trim + size, trim : trim + size])


@pytest.mark.parametrize("trim", ["centre", "start", "none"])
def test_clipped_zoom_of_other_shapes_equals_scipy_zoom(trim) -> None:
    """Each axis cropped by its own length (imagecorruptions' clipped_zoom), cut as `trim` says."""
    rng = np.random.default_rng(2)
    images = rng.random((2, 37, 52, 1))
    for factor in (1.06, 1.31, 2.25, 4.5):
        ours = ported.clipped_zoom(images, factor, trim)
        for i in range(2):
            rows, cols = int(np.ceil(37 / factor)), int(np.ceil(52 / factor))
            top, left = (37 - rows) // 2, (52 - cols) // 2
            centre = images[i, top : top + rows, left : left + cols]
            zoomed = ndimage.zoom(centre, (factor, factor, 1), order=1)
            if trim == "centre":
                top, left = (zoomed.shape[0] - 37) // 2, (zoomed.shape[1] - 52) // 2
                zoomed = zoomed[top : top + 37, left : left + 52]
            elif trim == "start":
                zoomed = zoomed[:37, :52]
            np.testing.assert_array_equal(ours[i], zoomed)


def test_cubic_zoom_equals_scipy_zoom_without_prefilter() -> None:
    """The C-bar chromatic aberration's zoom: every scale of its published levels, 32 and 224 px."""
    rng = np.random.default_rng(5)
    shifts = [level * 0.5 / 10 for level in (1.0, 2.0, 5.0, 9.0, 10.0)]  # cbar.levels, float_parameter
    scales = [1.0] + [1.0 + shift / 2 for shift in shifts] + [1.0 + shift for shift in shifts]
    planes = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((32, 32), (224, 224), (17, 23))]
    planes.append(np.full((32, 32), 255, dtype=np.uint8))  # saturated: the rounding at the top
    for plane in planes:
        for scale in scales:
            expected = ndimage.zoom(plane, scale, order=3, prefilter=False)
            np.testing.assert_array_equal(ported.zoom_cubic_uint8(plane, scale), expected)


def test_displacement_equals_map_coordinates_reflect() -> None:
    rng = np.random.default_rng(2)
    for h, w, spread in ((24, 20, 0.7), (24, 20, 6.0), (9, 13, 300.0), (1, 6, 4.0)):
        image = rng.random((h, w, 3)).astype(np.float32)
        dy = rng.normal(0, spread, (h, w)).astype(np.float32)
        dx = rng.normal(0, spread, (h, w)).astype(np.float32)
        dx[:, ::3] = np.round(dx[:, ::3])  # whole-pixel coordinates (window at the edge)
        yy, xx, cc = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
        coords = np.stack([yy + dy[..., None], xx + dx[..., None], cc]).reshape(3, -1)
        expected = ndimage.map_coordinates(image, coords, order=1, mode="reflect").reshape(image.shape)
        np.testing.assert_array_equal(ported.displace_linear(image, dy, dx), expected)


def test_affine_equals_pillow_on_any_window() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (37, 45, 3), dtype=np.uint8)
    source = pil.AffineSource(image)
    bilinear = [(0.97, 0.26, -4.1, -0.26, 0.97, 7.3), (1.3, 0, -9.5, 0, 1.3, -6.25), (0.8, 0.3, 3, 0, 1, -2)]
    nearest = [(1, 0, -5, 0, 1, 0), (1, 0, 7, 0, 1, -3), (0.7, 0, 2.2, 0, 1.4, -1.3)]  # shifts, scaling
    bilinear_mode, nearest_mode = Image.Resampling.BILINEAR, Image.Resampling.NEAREST
    cases = [(m, bilinear_mode) for m in bilinear] + [(m, nearest_mode) for m in nearest]
    for matrix, resample in cases:
        picture = Image.fromarray(image).transform((45, 37), Image.Transform.AFFINE, matrix, resample)
        expected = np.asarray(picture)
        is_bilinear = resample == Image.Resampling.BILINEAR
        np.testing.assert_array_equal(source.transform(matrix, is_bilinear), expected)
        window = (4, 6, 25, 30)
        np.testing.assert_array_equal(source.transform(matrix, is_bilinear, window), expected[4:29, 6:36])
    assert source.transform((0.9, 0.1, 0.0, -0.1, 0.9, 0.0), bilinear=False) is None  # rotation: Pillow's own


@pytest.mark.parametrize("taps", [(0.2, 0.8), (0.05, 0.1, 0.15, 0.7)])
def test_column_convolution_equals_numpy(taps) -> None:
    rng = np.random.default_rng(4)
    values = rng.random((40, 7)) * rng.choice([1e-3, 1.0, 300.0], size=(40, 7))
    expected = np.apply_along_axis(lambda column: np.convolve(column, taps, mode="same"), 0, values)
    ours = fused.convolve_columns(values, np.array(taps))
    inner = slice(len(taps) // 2, 40 - (len(taps) - len(taps) // 2 - 1))
    np.testing.assert_array_equal(ours[inner], expected[inner])
    # the end rows go through BLAS ddot in numpy (fused multiply-adds on this platform's build)
    np.testing.assert_allclose(ours, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("top", [0.5, 9.9, 40.0, 2000.0])  # numpy's two samplers meet at 10
def test_poisson_draws_equal_numpy_and_leave_the_generator_as_numpy(top) -> None:
    rates = np.random.default_rng(5).uniform(0, top, 3000)
    rates[::9] = 0.0
    rates[::13] = 10.0
    ours_rng, numpy_rng = np.random.default_rng(6), np.random.default_rng(6)
    np.testing.assert_array_equal(draws.poisson(ours_rng, rates), numpy_rng.poisson(rates))
    assert ours_rng.random() == numpy_rng.random()
    levels = np.random.default_rng(7).integers(0, 256, (20, 30), dtype=np.uint8)
    table = np.arange(256) / 255.0 * top
    expected = numpy_rng.poisson(levels / 255.0 * top)
    np.testing.assert_array_equal(draws.poisson(ours_rng, table, levels), expected)


def test_poisson_leaves_other_bit_generators_to_numpy() -> None:
    rates = np.linspace(0, 30, 50)
    ours = draws.poisson(np.random.Generator(np.random.Philox(1)), rates)
    np.testing.assert_array_equal(ours, np.random.Generator(np.random.Philox(1)).poisson(rates))


def test_standard_normal_equals_numpy_and_leaves_the_generator_as_numpy() -> None:
    for seed, count in ((0, 1), (1, 9), (2, 50000)):  # 50,000 draws reach the rare tail paths
        ours_rng, numpy_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        expected = numpy_rng.standard_normal(count)
        np.testing.assert_array_equal(draws.standard_normal(ours_rng, count), expected)
        assert ours_rng.random() == numpy_rng.random()


def test_stream_reads_numpys_outputs_from_any_skip_and_closes_where_numpy_would() -> None:
    for skip, count in ((0, 3), (5, 1000), (1001, 513)):  # across refills of the 512-value buffer
        ours_rng, numpy_rng = np.random.default_rng(skip), np.random.default_rng(skip)
        stream = draws.Stream.open(ours_rng, skip=skip)
        out = np.empty(count)
        stream.close(draws.standard_normal_into(stream.state, stream.buffer, stream.pos, out))
        numpy_rng.random(skip)
        np.testing.assert_array_equal(out, numpy_rng.standard_normal(count))
        assert ours_rng.random() == numpy_rng.random()


def test_noise_kernels_equal_numpy_arithmetic_for_pcg64_and_other_generators() -> None:
    clean = np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    x = clean / 255.0
    for make in (np.random.PCG64, np.random.Philox):
        z = np.random.Generator(make(4)).standard_normal((3, *clean.shape))
        rng = np.random.Generator(make(4))
        gaussian = noise.add_gaussian_noise(clean, 0.3, rng)
        np.testing.assert_array_equal(gaussian, np.clip(x + 0.3 * z[0], 0, 1))
        speckle = noise.add_speckle_noise(clean, 0.4, rng, uint8_out=True)
        np.testing.assert_array_equal(speckle, np.uint8(np.clip(x + x * (0.4 * z[1]), 0, 1) * 255))
        # torch's float32 arithmetic: no float64 step may round differently
        frame = np.float32(clean) / np.float32(255) + (np.float32(0.03) * z[2]).astype(np.float32)
        expected = np.uint8(np.clip(frame, np.float32(0), np.float32(1)) * np.float32(255))
        frames = noise.noise_frames(clean, "gaussian", 0.03, 1, rng)
        np.testing.assert_array_equal(frames[0], expected)


def test_impulse_noise_reads_both_blocks_of_uniforms_as_numpy_draws_them() -> None:
    from ipmix.corruptions.imagenet_c import corrupt

    images = np.random.default_rng(8).integers(0, 256, (2, 30, 30, 3), dtype=np.uint8)  # > 1 buffer
    for make in (np.random.PCG64, np.random.Philox):
        numpy_rng = np.random.Generator(make(9))
        flipped, salted = numpy_rng.random(images.shape), numpy_rng.random(images.shape)
        expected = np.where(flipped < 0.07, np.where(salted < 0.5, 1.0, 0.0), images / 255.0) * 255
        ours_rng = np.random.Generator(make(9))
        np.testing.assert_array_equal(corrupt(images, "impulse_noise", 5, ours_rng), np.uint8(expected))
        assert ours_rng.random() == numpy_rng.random()
