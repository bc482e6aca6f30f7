"""Mixing kernels: identities, range, the same result on numpy and torch, and the shared powers."""

import numba
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ipmix.augment.kernels.cpu_math import power, power_array
from ipmix.augment.kernels.grouped.apply import add_mix, multiply_mix
from ipmix.augment.mixing import add, masked, multiply

unit = arrays(np.float32, (6, 5, 3), elements=st.floats(0, 1, width=32))
coefficient_a = st.floats(0.015625, 2, width=32)
coefficient_b = st.floats(-1, 1, width=32)


@settings(max_examples=60, deadline=None)
@given(x1=unit, x2=unit, a=coefficient_a, b=coefficient_b)
def test_results_stay_in_unit_range_and_agree_across_backends(x1, x2, a, b):
    for kernel, torch_kernel in ((add, add_mix), (multiply, multiply_mix)):
        out = kernel(x1, x2, float(np.float32(a)), float(np.float32(b)))
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
        torch_out = torch_kernel(torch.from_numpy(x1), torch.from_numpy(x2), torch.tensor(a), torch.tensor(b))
        np.testing.assert_allclose(torch_out.numpy(), out, atol=1e-5)


@numba.njit(error_model="numpy")
def _compiled_powers(x, y, out):
    for i in range(len(x)):
        out[i] = power(x[i], y)


def test_power_is_the_same_in_numpy_and_numba_and_within_an_ulp_of_the_exact_power():
    """The reference path (numpy) and the fused kernels (numba) share `power` bit for bit."""
    rng = np.random.default_rng(0)
    x = np.concatenate([
        rng.random(200_000).astype(np.float32) * 2,
        np.arange(256, dtype=np.float32) * np.float32(1 / 255) * np.float32(2),  # mixing-picture values
        np.array([0, 1e-45, 1e-39, 1e-37, 0.5, 1, 2], np.float32),  # zero, subnormals, the clip, powers of 2
    ])
    for y in (0.015625, 0.3, 1.0, 1.9, -0.01, -0.7, -1.0, 0.0):
        expected = np.power(x.astype(np.float64), y, where=x > 0, out=np.zeros(len(x)))
        numpy_powers = power_array(x, y)
        numba_powers = np.empty_like(x)
        _compiled_powers(x, y, numba_powers)
        assert np.array_equal(numpy_powers.view(np.int32), numba_powers.view(np.int32)), y
        fits = expected <= np.finfo(np.float32).max  # 1e-45 ** -1 does not
        assert np.all(np.isinf(numpy_powers[~fits]))
        ulp = np.spacing(expected[fits].astype(np.float32)).astype(np.float64)
        assert np.all(np.abs(numpy_powers[fits] - expected[fits]) <= ulp), y


@settings(max_examples=30, deadline=None)
@given(x1=unit, x2=unit)
def test_unit_coefficients_keep_the_first_image(x1, x2):
    np.testing.assert_allclose(add(x1, x2, 1.0, 0.0), x1, atol=1e-6)
    np.testing.assert_allclose(multiply(x1, x2, 1.0, 0.0), x1, atol=1e-6)


def test_masks_select_per_pixel_or_per_element():
    x1, x2 = np.ones((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.float32)
    pixel_mask = np.zeros((4, 4, 1), bool)
    pixel_mask[1, 2] = True
    out = masked(x1, x2, pixel_mask)
    assert out[1, 2].tolist() == [1, 1, 1] and out.sum() == 3
    element_mask = np.zeros((4, 4, 3), bool)
    element_mask[0, 0, 1] = True
    assert masked(x1, x2, element_mask).sum() == 1
    chw_mask = torch.from_numpy(pixel_mask).permute(2, 0, 1)
    torch_out = masked(torch.ones(3, 4, 4), torch.zeros(3, 4, 4), chw_mask)
    assert torch_out.sum() == 3
