"""IPMixBatch: same plan semantics and distribution as the per-image path, dtypes, views, errors."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from ipmix import IPMix, IPMixBatch
from ipmix.augment import batched
from ipmix.augment.collate import IPMixCollate
from ipmix.augment.encoding import PictureSource
from ipmix.augment.kernels.fused.apply import apply_plan_fused
from ipmix.augment.kernels.grouped.apply import apply_plan_batch, crop_pictures, cropped_pictures
from ipmix.augment.kernels.reference import apply_plan, crop_picture
from ipmix.augment.options import IPMixOptions
from ipmix.augment.plan import IPMixPlan, sample_plan
from ipmix.mixing_sets.store import MixingSet

PICTURES = np.repeat(
    np.repeat(np.random.default_rng(5).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8), 5, 1), 5, 2
)
SET = MixingSet.from_array(PICTURES)
CHANGE_BINS = np.array([0, 0.5, 2, 4, 8, 16, 32, 64, 128, 256])  # |out - x| in grey levels
#: The two ways `IPMixBatch` applies plans on a CPU: fused numba kernels and grouped tensor kernels.
BACKENDS = ("numba", "torch")


@pytest.fixture(scope="module")
def cifar(cifar_test_images: np.ndarray) -> np.ndarray:
    return cifar_test_images[:64]


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def per_image(images: np.ndarray, plan: IPMixPlan) -> np.ndarray:
    """The reference kernel (`ipmix.augment.kernels.reference.apply_plan`) on every sample of `plan`."""
    stage = plan.next if plan.next is not None else plan
    height, width, channels = images.shape[1:]
    out = []
    for i, image in enumerate(images):
        picture = SET.picture(int(stage.picture[i]), stage.picture_side)
        crop = crop_picture(picture, stage.picture_offset[i], height, width, gray=channels == 1)
        out.append(apply_plan(image, crop, plan, i))
    return np.stack(out)


def batch(images: np.ndarray, plan: IPMixPlan, backend: str = "torch") -> np.ndarray:
    """A batched kernel (fused numba or grouped torch) on the same plan, as float NHWC."""
    tensor = nchw(images)
    stage = plan.next if plan.next is not None else plan
    bank = IPMixBatch(SET).device_pictures(stage.picture_side, "cpu")
    source = PictureSource(bank, stage.picture, stage.picture_offset)
    if backend == "numba":
        return apply_plan_fused(tensor.numpy(), plan, source).transpose(0, 2, 3, 1)
    pictures = cropped_pictures(source, slice(None), *tensor.shape[1:])
    generator = torch.Generator().manual_seed(plan.mask_seed)
    return apply_plan_batch(tensor, pictures, plan, generator).permute(0, 2, 3, 1).numpy()


def change_histogram(out: np.ndarray, images: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.abs(out.astype(np.float64) - images).ravel(), CHANGE_BINS)
    return counts / counts.sum()


@pytest.mark.parametrize(
    "config", [{}, {"mode": "official", "framework": "linear"}, {"framework": "mixed-input"}]
)
def test_plans_come_from_the_shared_sampler_with_the_per_image_options(config):
    """Chain types, depths, ops, boxes, mixing ops and pictures follow `sample_plan`'s laws."""
    batched_plan = IPMixBatch(SET, seed=3, **config).sample_plan(16, 32, 32)
    per_image = IPMix(SET, seed=3, **config)
    assert per_image.options == IPMixBatch(SET, **config).options
    reference = sample_plan(per_image.options, 16, 32, 32, len(SET), np.random.default_rng(3))
    for stage, expected in ((batched_plan, reference), (batched_plan.next, reference.next)):
        if expected is None:
            assert stage is None
            continue
        for name in ("depth", "step_level", "op", "box", "mixing_op", "picture", "picture_offset"):
            assert np.array_equal(getattr(stage, name), getattr(expected, name)), name


DETERMINISTIC_CONFIGS = {
    "paper": {},
    "official": {"mode": "official"},
    "linear": {"framework": "linear"},
    "mixed-input": {"framework": "mixed-input"},
    "all-ops": {"all_ops": True},
    "no-image-level": {"image_level": False},
    "no-patch-level": {"patch_level": False},
    "no-pixel-level": {"pixel_level": False},
    "image-level-only": {"patch_level": False, "pixel_level": False},
    "scar-only": {"box_shapes": ("scar",)},
    "wide-deep": {"width": 5, "depth": 4, "op_severity": 10.0},
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gray", [False, True], ids=["rgb", "gray"])
@pytest.mark.parametrize("config", DETERMINISTIC_CONFIGS.values(), ids=DETERMINISTIC_CONFIGS.keys())
def test_same_plan_gives_the_per_image_result(cifar, config, gray, backend):
    """Without random masks the kernels must agree with the per-image one, up to float rounding."""
    images = cifar[:32, :, :, :1] if gray else cifar[:32]
    options = IPMixOptions(mixing_ops=("add", "multiply"), **config)
    rng = np.random.default_rng(len(config))
    plan = sample_plan(options, len(images), 32, 32, len(SET), rng)
    diff = np.abs(per_image(images, plan) - batch(images, plan, backend=backend)) * 255
    if backend == "numba":
        # Same ops in the same float32 order; numpy's SIMD float32 `power` (multiply mixing)
        # differs from libm's by an ulp: measured max 6e-5 grey levels over these configs.
        assert diff.max() <= 1e-3, diff.max()
        return
    # A 1-grey-level rounding difference of a bilinear op (PIL: double, here: float32) can be
    # amplified by later steps; measured: mean < 0.001, max 4.7 grey levels over these configs.
    assert diff.mean() <= 0.05 and diff.max() <= 8, (diff.mean(), diff.max())
    assert (diff > 0.5).mean() <= 0.005


@pytest.mark.parametrize("config", [{}, {"framework": "mixed-input", "all_ops": True}])
def test_fused_kernels_reproduce_the_per_image_kernel_bit_for_bit(cifar, config):
    """Add mixing and every image op: the fused CPU kernels give exactly the per-image floats."""
    options = IPMixOptions(mixing_ops=("add",), **config)
    rng = np.random.default_rng(21)
    plan = sample_plan(options, len(cifar), 32, 32, len(SET), rng)
    assert np.array_equal(per_image(cifar, plan), batch(cifar, plan, backend="numba"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["paper", "official"])
def test_non_square_images_follow_the_per_image_path(cifar, mode, backend):
    images = np.ascontiguousarray(cifar[:16, 4:24])  # 20 x 32
    options = IPMixOptions(mixing_ops=("add", "multiply"), mode=mode, patch_sizes=(4, 8, 16, "full"))
    rng = np.random.default_rng(9)
    plan = sample_plan(options, len(images), 20, 32, len(SET), rng)
    diff = np.abs(per_image(images, plan) - batch(images, plan, backend=backend)) * 255
    assert diff.mean() <= 0.05 and diff.max() <= 8, (diff.mean(), diff.max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_batch_gives_an_empty_batch(backend):
    empty = torch.zeros(0, 3, 32, 32, dtype=torch.uint8)
    assert IPMixBatch(SET, seed=0, backend=backend)(empty).shape == empty.shape
    assert [v.shape for v in IPMixBatch(SET, seed=0, views=2, backend=backend)(empty)] == [empty.shape] * 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_random_masks_follow_the_per_image_law_on_the_same_plan(cifar, seed, backend):
    """Only the mask noise differs: the per-pixel change distributions must agree closely."""
    options = IPMixOptions(mixing_ops=("random_pixels", "random_elements"))
    rng = np.random.default_rng(seed)
    plan = sample_plan(options, len(cifar), 32, 32, len(SET), rng)
    reference = per_image(cifar, plan) * 255
    ours = batch(cifar, plan, backend) * 255
    # Measured over 5 seeds: total variation <= 0.002, mean change within 0.5%, per-sample
    # mean change within 1.7 grey levels.
    tv = 0.5 * np.abs(change_histogram(reference, cifar) - change_histogram(ours, cifar)).sum()
    assert tv <= 0.01
    mean_ref, mean_ours = np.abs(reference - cifar).mean(), np.abs(ours - cifar).mean()
    assert abs(mean_ours - mean_ref) <= 0.02 * mean_ref
    per_sample = np.abs(np.abs(reference - cifar).mean((1, 2, 3)) - np.abs(ours - cifar).mean((1, 2, 3)))
    assert per_sample.max() <= 4


@pytest.fixture(scope="module")
def per_image_stream(cifar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1,536 CIFAR images and their `IPMix` outputs (seed 11), NHWC uint8."""
    images = np.concatenate([cifar] * 24)
    transform = IPMix(SET, seed=11)
    outputs = [transform(torch.from_numpy(im).permute(2, 0, 1)).permute(1, 2, 0).numpy() for im in images]
    return images, np.stack(outputs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_independent_streams_match_the_per_image_transform_in_distribution(per_image_stream, backend):
    """IPMix and IPMixBatch with default options and different seeds: same change distribution."""
    images, reference = per_image_stream
    ours = IPMixBatch(SET, seed=12, backend=backend)(nchw(images)).permute(0, 2, 3, 1).numpy()
    change_ref = np.abs(reference.astype(np.float64) - images)
    change_ours = np.abs(ours.astype(np.float64) - images)
    # Between-sample variation (skip weights, depths) dominates. Measured over 8 seed pairs of
    # 1536 images: TV <= 0.025, mean change within 6.3%, changed share within 0.022; two
    # per-image IPMix streams differ as much (mean change within 9.6% over 4 pairs).
    tv = 0.5 * np.abs(change_histogram(reference, images) - change_histogram(ours, images)).sum()
    assert tv <= 0.05
    assert abs(change_ours.mean() - change_ref.mean()) <= 0.15 * change_ref.mean()
    assert abs((change_ours > 0).mean() - (change_ref > 0).mean()) <= 0.045


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mixing", ["add", "random_elements"])
def test_patch_steps_change_only_their_boxes_with_the_per_image_areas(cifar, mixing, backend):
    """One P-level step per sample: changed pixels lie in the box; areas match the per-image path."""
    options = IPMixOptions(width=1, depth=1, image_level=False, mixing_ops=(mixing,))
    rng = np.random.default_rng(3)
    plan = sample_plan(options, len(cifar), 32, 32, len(SET), rng)
    plan = replace(plan, skip_weight=np.ones_like(plan.skip_weight))
    ours = np.round(batch(cifar, plan, backend=backend) * 255)
    reference = np.round(per_image(cifar, plan) * 255)
    changed_ours = (ours != cifar).any(axis=3)
    changed_ref = (reference != cifar).any(axis=3)
    for i, (top, left, h, w) in enumerate(plan.box[:, 0, 0]):
        box = np.zeros((32, 32), dtype=bool)
        box[top : top + h, left : left + w] = True
        assert not (changed_ours[i] & ~box).any()
    areas_ours, areas_ref = changed_ours.sum((1, 2)), changed_ref.sum((1, 2))
    if mixing == "add":
        assert np.abs(areas_ours - areas_ref).max() <= 2
    else:  # the share of a box a random mask changes: same law, different noise
        box_areas = plan.box[:, 0, 0, 2] * plan.box[:, 0, 0, 3]
        assert abs(areas_ours.sum() - areas_ref.sum()) <= 0.05 * box_areas.sum()


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    size=st.sampled_from([8, 16, 32]),
    dtype=st.sampled_from([torch.uint8, torch.float32, torch.float64]),
    channels=st.sampled_from([1, 3]),
    mode=st.sampled_from(["paper", "official"]),
    framework=st.sampled_from(["chain", "linear", "mixed-input"]),
    backend=st.sampled_from(BACKENDS),
)
def test_output_shape_dtype_and_range(seed, size, dtype, channels, mode, framework, backend):
    rng = np.random.default_rng(seed)
    data = torch.from_numpy(rng.integers(0, 256, (3, channels, size, size), dtype=np.uint8))
    images = data if dtype == torch.uint8 else data.to(dtype) / 255
    transform = IPMixBatch(
        SET, seed=seed, mode=mode, framework=framework, patch_sizes=(4, 8, "full"), backend=backend
    )
    out = transform(images)
    assert out.shape == images.shape and out.dtype == dtype and out.device == images.device
    if dtype != torch.uint8:
        assert out.min() >= 0 and out.max() <= 1


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    framework=st.sampled_from(["chain", "linear", "mixed-input"]),
    backend=st.sampled_from(BACKENDS),
)
def test_skip_weight_zero_is_the_identity(seed, framework, backend):
    images = np.random.default_rng(seed).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    plan = sample_plan(IPMixOptions(framework=framework), 4, 16, 16, len(SET), np.random.default_rng(seed))
    plan = replace(plan, skip_weight=np.zeros_like(plan.skip_weight))
    if plan.next is not None:
        plan.next = replace(plan.next, skip_weight=np.zeros_like(plan.skip_weight))
    assert np.array_equal(np.round(batch(images, plan, backend=backend) * 255), images)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeds_reseed_and_random_state_reproduce_the_stream(cifar, backend):
    images = nchw(cifar[:16])
    first = IPMixBatch(SET, seed=4, backend=backend)
    a, b = first(images), first(images)
    assert not torch.equal(a, b)
    again = IPMixBatch(SET, seed=4, backend=backend)
    assert torch.equal(again(images), a)
    assert not torch.equal(IPMixBatch(SET, seed=5, backend=backend)(images), a)
    again.reseed(4)
    assert torch.equal(again(images), a)
    state = again.random_state()
    expected = again(images)
    again.load_random_state(state)
    assert torch.equal(again(images), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_views_are_independent_and_share_the_mixing_picture(cifar, backend):
    images = nchw(cifar[:8])
    transform = IPMixBatch(SET, seed=1, views=2, backend=backend)
    view1, view2 = transform(images)
    assert view1.shape == view2.shape == images.shape
    assert not torch.equal(view1, view2)
    plan = sample_plan(transform.options, 16, 32, 32, len(SET), np.random.default_rng(0))
    batched._share_pictures(plan, 8)
    assert np.array_equal(plan.picture[:8], plan.picture[8:])
    assert np.array_equal(plan.picture_offset[:8], plan.picture_offset[8:])


@pytest.mark.parametrize("views", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_given_mixing_pictures_replace_the_set(cifar, backend, views):
    """Pictures passed to forward, cropped or at the picture side, act like the set's own."""
    images = nchw(cifar[:8])
    reference = IPMixBatch(SET, seed=2, backend=backend, views=views)
    plan = reference.sample_plan(8 * views, 32, 32)  # every view uses its image's view-0 picture
    reference.reseed(2)
    expected = reference(images)
    side = (SET.picture(int(plan.picture[i]), plan.picture_side) for i in range(8))
    full = torch.from_numpy(np.stack(list(side))).permute(0, 3, 1, 2).contiguous()
    cropped = crop_pictures(full, torch.arange(8), torch.as_tensor(plan.picture_offset[:8]), 32, 32)
    given = IPMixBatch(SET, seed=2, backend=backend, views=views)
    for pictures in (full, cropped):
        given.reseed(2)
        out = given(images, mixing_pictures=pictures)
        assert all(map(torch.equal, out, expected)) if views > 1 else torch.equal(out, expected)
    with pytest.raises(ValueError, match="mixing_pictures must be 32x32"):
        given(images, mixing_pictures=torch.zeros(8, 3, 20, 20, dtype=torch.uint8))
    with pytest.raises(ValueError, match="has 3 pictures for 8 images"):
        given(images, mixing_pictures=torch.zeros(3, 3, 32, 32, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: t(np.zeros((2, 3, 8, 8), np.uint8)), TypeError, r"\[B, C, H, W\] tensor"),
        (lambda t: t(torch.zeros(3, 8, 8, dtype=torch.uint8)), ValueError, "C = 1 or 3"),
        (lambda t: t(torch.zeros(2, 4, 8, 8, dtype=torch.uint8)), ValueError, "C = 1 or 3"),
        (lambda t: t(torch.zeros(2, 3, 8, 8, dtype=torch.int32)), ValueError, "uint8 or float"),
        (lambda t: IPMixBatch(SET, views=0), ValueError, "views must be an integer >= 1"),
        (lambda t: IPMixBatch(SET, mode="fast"), ValueError, "mode must be"),
        (lambda t: IPMixBatch(SET, backend="cuda"), ValueError, "backend must be one of"),
        (lambda t: IPMixBatch(SET, threads=0), ValueError, "threads must be an integer >= 1"),
    ],
)
def test_bad_inputs_are_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call(IPMixBatch(SET, seed=0))


def test_a_set_too_large_for_the_device_is_refused(monkeypatch):
    monkeypatch.setattr(batched, "MAX_DEVICE_SET_BYTES", 1000)
    with pytest.raises(ValueError, match="too large to keep on the device"):
        IPMixBatch(SET, seed=0)(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))


def test_collate_augments_cpu_batches_for_plain_and_jsd_training(cifar):
    items = [(cifar[i], i % 10) for i in range(12)]
    loader = DataLoader(items, batch_size=6, collate_fn=IPMixCollate(IPMixBatch(SET, seed=0)))
    images, labels = next(iter(loader))
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1 and labels.tolist() == list(range(6))
    jsd = IPMixCollate(IPMixBatch(SET, seed=0, views=2), clean=True)
    (clean, view1, view2), labels = jsd(items[:4])
    assert torch.equal(clean, nchw(cifar[:4]).float() / 255)
    assert view1.shape == view2.shape == clean.shape and not torch.equal(view1, view2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickled_copies_drop_device_caches_and_repeat_the_stream(cifar, backend):
    images = nchw(cifar[:4])
    transform = IPMixBatch(SET, seed=9, backend=backend)
    transform(images)
    copy = pickle.loads(pickle.dumps(transform))
    assert copy._pictures == {} and copy._torch_generators == {}
    assert torch.equal(copy(images), IPMixBatch(SET, seed=9, backend=backend)(images))


@pytest.mark.parametrize("backend", BACKENDS)
def test_channels_last_and_sliced_batches_give_the_contiguous_result(cifar, backend):
    images = nchw(cifar[:12])
    expected = IPMixBatch(SET, seed=8, backend=backend)(images)
    channels_last = images.contiguous(memory_format=torch.channels_last)
    assert torch.equal(IPMixBatch(SET, seed=8, backend=backend)(channels_last), expected)
    padded = torch.zeros(12, 3, 40, 40, dtype=torch.uint8)
    padded[:, :, 4:36, 4:36] = images
    assert torch.equal(IPMixBatch(SET, seed=8, backend=backend)(padded[:, :, 4:36, 4:36]), expected)


def test_backends_share_the_plan_stream_and_check_their_device(cifar):
    """Same seed, same plans: P-level steps without masks agree up to float rounding.

    (Image ops are left out: a 1-level bilinear difference of the torch backend can flip a
    later solarize, which says nothing about the plans.)
    """
    images = nchw(cifar[:32])
    options = {"seed": 6, "image_level": False, "mixing_ops": ("add", "multiply")}
    outputs = [IPMixBatch(SET, backend=backend, **options)(images) for backend in BACKENDS]
    assert (outputs[0].int() - outputs[1].int()).abs().max() <= 1
    with pytest.raises(ValueError, match="backend='numba' runs on CPU tensors; the batch is on cuda"):
        IPMixBatch(SET, seed=0, backend="numba")._backend_for(torch.device("cuda"))


@pytest.mark.parametrize("framework", ["chain", "mixed-input"])
def test_numba_threads_give_the_single_thread_result_bit_for_bit(cifar, framework):
    images = nchw(cifar[:24])
    options = {"seed": 3, "framework": framework, "all_ops": True, "backend": "numba"}
    expected = IPMixBatch(SET, **options)(images)
    assert torch.equal(IPMixBatch(SET, threads=2, **options)(images), expected)
    floats = images.float() / 255
    assert torch.equal(IPMixBatch(SET, threads=2, **options)(floats), IPMixBatch(SET, **options)(floats))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_runs_on_a_cuda_batch_and_keeps_it_there(cifar, backend):
    images = nchw(cifar[:16]).cuda()
    transform = IPMixBatch(SET, seed=0, backend=backend)
    out = transform(images)
    assert out.device == images.device and out.dtype == torch.uint8
    floats = transform(images.float() / 255)
    assert floats.device == images.device and floats.min() >= 0 and floats.max() <= 1


def test_a_used_ipmixbatch_pickles_without_the_mixing_set_memo() -> None:
    """DataLoader workers receive the set, not the resized copies of its pictures (the memo
    once grew a 400-picture set's pickle from 1.2 MB to 2.8 MB)."""
    pictures = np.random.default_rng(0).integers(0, 256, (400, 24, 24, 3), dtype=np.uint8)
    transform = IPMixBatch(mixing_set=pictures, seed=0)
    fresh = len(pickle.dumps(transform))
    transform(torch.rand(2, 3, 32, 32))
    assert len(transform.mixing_set._cache) > 0  # used: the memo is filled
    assert len(pickle.dumps(transform)) < 1.05 * fresh
    copy = pickle.loads(pickle.dumps(transform))
    assert np.array_equal(copy.mixing_set.picture(3, 36), transform.mixing_set.picture(3, 36))
