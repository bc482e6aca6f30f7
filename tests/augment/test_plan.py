"""The plan sampler on its own: shapes, ranges and the sampling laws of Algorithm 1."""

import numpy as np
import pytest
from scipy import stats

from ipmix.augment.mixing import MIXING_OPS
from ipmix.augment.ops import ALL_OPS, IMAGE_OPS
from ipmix.augment.options import IPMixOptions
from ipmix.augment.plan import FROM_IMAGE_OP, P_LEVEL, mixing_coefficients, sample_plan

N = 4000  # samples per statistical test; tolerances below are >= 4 standard errors


def draw(batch=N, height=32, width=32, seed=0, **options):
    return sample_plan(IPMixOptions(**options), batch, height, width, 100, np.random.default_rng(seed))


def test_shapes_and_ranges():
    plan = draw(batch=64, width=48, height=40)
    b, k, t = 64, 3, 3
    assert plan.chain_weights.shape == (b, k) and plan.skip_weight.shape == (b,)
    assert plan.box.shape == (b, k, t, 4) and plan.picture_offset.shape == (b, 2)
    np.testing.assert_allclose(plan.chain_weights.sum(1), 1, rtol=1e-5)
    assert ((plan.skip_weight >= 0) & (plan.skip_weight <= 1)).all()
    top, left, h, w = np.moveaxis(plan.box, -1, 0)
    assert (top >= 0).all() and (left >= 0).all() and (h >= 2).all() and (w >= 2).all()
    assert (top + h <= 40).all() and (left + w <= 48).all()
    assert ((plan.op_level >= 0.1) & (plan.op_level <= 3)).all()
    assert set(np.unique(plan.op_sign)) <= {-1, 1}
    assert ((plan.mask_threshold >= 0) & (plan.mask_threshold < 1)).all()
    assert ((plan.picture >= 0) & (plan.picture < 100)).all()
    assert plan.picture_side == 54  # 9/8 of the longer side, as Resize(36) for 32 px
    assert (plan.picture_offset[:, 0] <= 54 - 40).all() and (plan.picture_offset[:, 1] <= 54 - 48).all()


def test_seeded_sampler_is_deterministic():
    a, b = draw(batch=16, seed=5), draw(batch=16, seed=5)
    for name in ("chain_weights", "box", "op", "mix_a", "picture"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(draw(batch=16, seed=6).box, a.box)


def test_chain_level_share_is_one_half_and_constant_within_chains():
    plan = draw()
    share = (plan.step_level[:, :, 0] == P_LEVEL).mean()
    assert abs(share - 0.5) < 0.02
    assert (plan.step_level == plan.step_level[:, :, :1]).all()


def test_linear_framework_draws_the_level_per_step():
    plan = draw(framework="linear")
    assert abs((plan.step_level == P_LEVEL).mean() - 0.5) < 0.02
    assert (plan.step_level != plan.step_level[:, :, :1]).any()


@pytest.mark.parametrize(("mode", "low"), [("paper", 1), ("official", 0)])
def test_depth_is_uniform_over_the_mode_range(mode, low):
    depth = draw(mode=mode).depth.ravel()
    observed = np.bincount(depth, minlength=4)[low:]
    assert observed.sum() == depth.size  # nothing outside low..t
    assert stats.chisquare(observed).pvalue > 1e-3


def test_image_op_branch_only_in_paper_mode():
    paper, official = draw(), draw(mode="official")
    assert abs((paper.source == FROM_IMAGE_OP).mean() - 0.5) < 0.02
    assert (official.source == 0).all()
    assert (draw(image_level=False).source == 0).all()


def test_ops_are_uniform_over_the_op_list():
    plan = draw()
    assert set(np.unique(plan.op)) == {ALL_OPS.index(n) for n in IMAGE_OPS}
    assert stats.chisquare(np.bincount(plan.op.ravel())[: len(IMAGE_OPS)]).pvalue > 1e-3
    assert len(np.unique(draw(all_ops=True).op)) == len(ALL_OPS)


def test_mixing_ops_are_uniform_and_restrictable():
    counts = np.bincount(draw().mixing_op.ravel(), minlength=4)
    assert stats.chisquare(counts).pvalue > 1e-3
    only = draw(mixing_ops=("random_pixels",)).mixing_op
    assert (only == MIXING_OPS.index("random_pixels")).all()


def test_square_and_scar_boxes_are_equally_likely():
    plan = draw(patch_sizes=(16,))
    h, w = plan.box[..., 2], plan.box[..., 3]
    square_share = ((h == 16) & (w == 16)).mean()
    expected = 0.5 + 0.5 / 15**2  # a scar is 16x16 with probability 1/15^2
    assert abs(square_share - expected) < 0.02
    scar_sides = np.concatenate([h[(h != 16) | (w != 16)], w[(h != 16) | (w != 16)]])
    assert scar_sides.min() == 2 and scar_sides.max() == 16
    squares = draw(patch_sizes=(16,), box_shapes=("square",)).box
    assert ((squares[..., 2] == 16) & (squares[..., 3] == 16)).all()
    scars = draw(patch_sizes=(16,), box_shapes=("scar",)).box
    assert abs(((scars[..., 2] == 16) & (scars[..., 3] == 16)).mean() - 1 / 15**2) < 0.005


def test_paper_mode_positions_cover_the_whole_image_edges_included():
    plan = draw(patch_sizes=(4,), box_shapes=("square",))
    top, left = plan.box[..., 0].ravel(), plan.box[..., 1].ravel()
    assert set(top) == set(range(29)) and set(left) == set(range(29))
    assert stats.chisquare(np.bincount(top)).pvalue > 1e-3
    scars = draw(patch_sizes=(8,), box_shapes=("scar",)).box
    assert (scars[..., 0] + scars[..., 2] == 32).any() and (scars[..., 1] + scars[..., 3] == 32).any()


def test_official_mode_places_by_nominal_size():
    scars = draw(mode="official", patch_sizes=(8,), box_shapes=("scar",)).box
    assert scars[..., 0].max() == 24 and scars[..., 1].max() == 24
    full = draw(mode="official", patch_sizes=(32,)).box
    assert (full[..., 0] == 0).all() and (full[..., 1] == 0).all()


def test_whole_image_box_in_paper_mode_is_the_pixel_level():
    plan = draw(patch_level=False)
    assert (plan.patch_size == 32).all()
    assert (plan.box == np.array([0, 0, 32, 32])).all()


def test_level_switches():
    assert (draw(pixel_level=False).patch_size < 32).all()
    assert (draw(image_level=False).step_level == P_LEVEL).all()
    assert (draw(patch_level=False, pixel_level=False).step_level != P_LEVEL).all()
    assert set(np.unique(draw(height=64, width=64).patch_size)) == {4, 8, 16, 32, 64}
    assert 224 in set(np.unique(draw(height=224, width=224, batch=500).patch_size))


def test_mixing_coefficients_follow_get_ab():
    rng = np.random.default_rng(0)
    a, b = np.array([mixing_coefficients(rng, 3.0) for _ in range(20000)]).T
    interpolate = a < 1
    assert abs(interpolate.mean() - 0.5) < 0.02
    assert abs(a[interpolate].mean() - 3 / 4) < 0.01  # Beta(3, 1) mean
    assert abs(b[interpolate].mean() - 1 / 4) < 0.01  # Beta(1, 3) mean
    assert abs(a[~interpolate].mean() - 5 / 4) < 0.01 and (b[~interpolate] <= 0).all()


def test_mixed_input_has_an_image_stage_then_a_p_stage():
    plan = draw(framework="mixed-input", batch=200)
    assert (plan.step_level != P_LEVEL).all() and plan.next is not None
    assert (plan.next.step_level == P_LEVEL).all() and plan.next.next is None


def test_share_picture_and_select():
    plan = draw(batch=5).share_picture()
    assert (plan.picture == plan.picture[0]).all()
    one = plan.select(3)
    assert one.batch_size == 1 and one.box.shape == (1, 3, 3, 4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"width": 0}, "width"),
        ({"depth": 0}, "depth"),
        ({"alpha": 0}, "alpha"),
        ({"mixing_severity": -1}, "mixing_severity"),
        ({"ops": ("equalize", "blur")}, "unknown image op"),
        ({"mixing_ops": ("add", "screen")}, "mixing ops"),
        ({"box_shapes": ("circle",)}, "box_shapes"),
        ({"mode": "fast"}, "mode"),
        ({"framework": "tree"}, "framework"),
        ({"patch_sizes": (1,)}, "patch_sizes"),
        ({"image_level": False, "patch_level": False, "pixel_level": False}, "at least one"),
    ],
)
def test_invalid_options_name_the_problem(options, message):
    with pytest.raises(ValueError, match=message):
        IPMixOptions(**options)


def test_images_smaller_than_the_smallest_patch_are_rejected():
    with pytest.raises(ValueError, match=r"patch_sizes \[8, 16\] exceed the 6x6 image"):
        IPMixOptions(patch_sizes=(8, 16)).patch_size_choices(6, 6)
    with pytest.raises(ValueError, match=r"image \(40x6\) is smaller than the smallest patch \(8 px\)"):
        IPMixOptions(patch_sizes=(8, 16)).patch_size_choices(40, 6)
