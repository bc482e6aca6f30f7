"""utils/images: float ranges are refused with a diagnosis, layouts are read only when unambiguous."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ipmix.utils.images import (
    MIN_INFERRED_SIDE,
    RANGE_SLACK,
    ImageLayoutError,
    ImageRangeError,
    as_nhwc,
    check_unit_range,
    from_nhwc,
    image_layout,
)

FLOAT_DTYPES = st.sampled_from([np.float16, np.float32, np.float64])


def _in_range(values: np.ndarray) -> bool:
    values = values.astype(np.float64)
    finite = bool(np.isfinite(values).all())
    return finite and values.min() >= -RANGE_SLACK and values.max() <= 1 + RANGE_SLACK


@settings(max_examples=60)
@given(
    values=FLOAT_DTYPES.flatmap(
        lambda dtype: arrays(dtype, st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
                             elements=st.floats(-300, 300, width=16) | st.floats(0, 1, width=16)
                             | st.sampled_from([np.nan, np.inf, -np.inf, 1 + RANGE_SLACK / 2])),
    ),
    as_tensor=st.booleans(),
)
def test_range_check_accepts_exactly_the_unit_interval(values, as_tensor):
    """Any float array (numpy or torch, any float width) passes iff finite and within [0, 1] +- slack."""
    images = torch.from_numpy(values) if as_tensor else values
    if _in_range(values):
        check_unit_range(images, "x")
        return
    with pytest.raises(ImageRangeError) as caught:
        check_unit_range(images, "x")
    message = str(caught.value)
    assert message.startswith("x: float images must lie in [0, 1]")
    nan, inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    assert (f"{nan} NaN" in message) == bool(nan)
    assert (f"{inf} inf" in message) == bool(inf)
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size:
        assert f"{finite.max():.4g}]" in message


def test_range_messages_name_the_likely_cause():
    with pytest.raises(ImageRangeError, match=r"values in \[0, 255\]; \[0, 255\] floats\? divide by 255"):
        check_unit_range(np.array([0.0, 255.0], np.float32))
    with pytest.raises(ImageRangeError, match="normalised images"):
        check_unit_range(torch.tensor([-1.0, 1.0]))
    check_unit_range(np.array([0, 255], np.uint8))  # integers are not range-checked
    check_unit_range(torch.zeros(0))  # nothing to check


SIDES = st.integers(MIN_INFERRED_SIDE, 12)


@settings(max_examples=40)
@given(n=st.integers(1, 3), h=SIDES, w=SIDES, c=st.sampled_from([1, 3, 4]), as_tensor=st.booleans())
def test_batches_read_the_same_in_both_layouts(n, h, w, c, as_tensor):
    """An NHWC batch and its NCHW transpose are read as the same NHWC pictures."""
    nhwc = np.arange(n * h * w * c, dtype=np.int64).reshape(n, h, w, c) % 251
    nchw = nhwc.transpose(0, 3, 1, 2)
    for array, layout in ((nhwc, "NHWC"), (nchw, "NCHW")):
        data = torch.from_numpy(np.ascontiguousarray(array)) if as_tensor else array
        view, read_as = as_nhwc(data, allowed=("NHWC", "NCHW"))
        assert read_as == layout
        assert np.array_equal(np.asarray(view), nhwc)
        assert np.array_equal(np.asarray(from_nhwc(view, layout)), array)


@settings(max_examples=40)
@given(h=SIDES, w=SIDES, c=st.sampled_from([3, 4]))
def test_a_single_picture_is_never_read_as_grey_pictures(h, w, c):
    """[H, W, C] is one picture (not H grey pictures C px wide); [C, H, W] is one picture or ambiguous."""
    assert image_layout((h, w, c)) == "HWC"
    with pytest.raises(ImageLayoutError, match=rf"\({c}, {h}, {w}\) is ambiguous: it reads as CHW or as NHW"):
        image_layout((c, h, w))
    assert image_layout((c, h, w), "CHW") == "CHW"
    assert image_layout((c, h, w), allowed=("HWC", "CHW", "HW")) == "CHW"  # single pictures only


def test_layout_argument_is_checked_against_the_shape():
    assert image_layout((1, 8, 8)) in ("CHW", "NHW")  # one grey picture either way
    assert image_layout((100, 8, 8)) == "NHW"
    with pytest.raises(ImageLayoutError, match=r"shape \(8, 8, 8, 8\) does not fit layout NHWC"):
        image_layout((8, 8, 8, 8), "nhwc")
    with pytest.raises(ImageLayoutError, match="layout must be one of NHWC, NCHW, got 'HWC'"):
        image_layout((8, 8, 3), "HWC", allowed=("NHWC", "NCHW"))
    with pytest.raises(ImageLayoutError, match=r"fits none of \[N, H, W, 3\], \[N, 3, H, W\]"):
        image_layout((2, 8, 8, 4), allowed=("NHWC", "NCHW"), channels=(3,))
    with pytest.raises(ImageLayoutError, match=r"fits none"):
        image_layout((2, 3, 8, 3))  # 3 px sides are channel axes, never image sides
    with pytest.raises(ImageLayoutError, match=r"\(4, 8, 8\) is ambiguous: it reads as CHW or as NHW"):
        image_layout((4, 8, 8))
    assert image_layout((2, 3, 2, 3), "NHWC") == "NHWC"  # an explicit layout allows tiny sides
