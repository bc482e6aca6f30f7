"""Mixing kernels: identities, range, and the same result on numpy and torch."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ipmix.augment.mixing import add, masked, multiply

unit = arrays(np.float32, (6, 5, 3), elements=st.floats(0, 1, width=32))
coefficient_a = st.floats(0.015625, 2, width=32)
coefficient_b = st.floats(-1, 1, width=32)


@settings(max_examples=60, deadline=None)
@given(x1=unit, x2=unit, a=coefficient_a, b=coefficient_b)
def test_results_stay_in_unit_range_and_agree_across_backends(x1, x2, a, b):
    for kernel in (add, multiply):
        out = kernel(x1, x2, np.float32(a), np.float32(b))
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
        torch_out = kernel(torch.from_numpy(x1), torch.from_numpy(x2), a, b)
        np.testing.assert_allclose(torch_out.numpy(), out, atol=1e-5)


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
