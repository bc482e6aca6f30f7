"""The Triton backend of IPMixBatch against the numba backend, on the same plans.

On a machine without CUDA the kernel runs under Triton's interpreter (``TRITON_INTERPRET=1``
for the duration of this module) on CPU tensors, so batches are tiny; with CUDA the same tests
run the compiled kernel on the GPU (``pytest -m cuda``, as `benchmarks/gpu_check.py` does).
The numba backend is the reference: its ops give PIL's bytes (`test_fused.py`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from triton.runtime.errors import OutOfResources

from ipmix import IPMixBatch
from ipmix.augment import batched
from ipmix.augment.batched import TritonFallbackWarning
from ipmix.augment.encoding import PictureSource, encode_plan, pack_plan
from ipmix.augment.kernels.fused.apply import apply_plan_fused
from ipmix.augment.mixing import MIXING_OPS
from ipmix.augment.ops import ALL_OPS
from ipmix.augment.options import IPMixOptions
from ipmix.augment.plan import FROM_IMAGE_OP, IMAGE_LEVEL, P_LEVEL, sample_plan
from ipmix.mixing_sets.store import MixingSet

pytestmark = pytest.mark.cuda
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
#: Whether the powers of multiply mixing are the interpreter's (float64, like numba's powf to the
#: last bit in these tests) rather than CUDA's powf (within a few ulps).
EXACT_POWERS = DEVICE.type == "cpu"
RNG = np.random.default_rng(17)
SET = MixingSet.from_array(RNG.integers(0, 256, (6, 40, 40, 3), dtype=np.uint8))


@pytest.fixture(scope="module", autouse=True)
def triton_kernels():
    """The kernel module, built for the interpreter when there is no GPU."""
    previous = os.environ.get("TRITON_INTERPRET")
    if DEVICE.type == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    from ipmix.augment.kernels.triton import apply as fused_triton

    if DEVICE.type == "cpu" and not fused_triton.interpreting():
        pytest.skip("fused_triton was imported without TRITON_INTERPRET=1 and there is no GPU")
    yield fused_triton
    if previous is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = previous


@pytest.fixture(scope="module")
def photos(cifar_test_images: np.ndarray) -> np.ndarray:
    return cifar_test_images[:16]


def _bank(channels: int = 3) -> torch.Tensor:
    pictures = IPMixBatch(SET).device_pictures(40, "cpu")
    return pictures if channels == 3 else pictures[:, :1].contiguous()


def _both(images: np.ndarray, plan, bank: torch.Tensor, seed: int = 5, as_bytes: bool = True):
    """The plan applied by numba (CPU) and by Triton (DEVICE), uint8 NCHW, as numpy arrays."""
    from ipmix.augment.kernels.triton import apply as fused_triton

    stage = plan.next if plan.next is not None else plan
    pictures = PictureSource(bank, stage.picture, stage.picture_offset)
    plan.mask_seed = seed
    expected = apply_plan_fused(images, plan, pictures, as_bytes=as_bytes)
    packed = pack_plan(encode_plan(plan, *images.shape[2:]), pictures, np.arange(len(images)), seed)
    device_plan = fused_triton.upload_plan(packed, DEVICE)
    k, t = plan.step_level.shape[1:]
    got = fused_triton.apply_plan_triton(torch.from_numpy(images).to(DEVICE), device_plan, bank.to(DEVICE),
                                         k, t, as_bytes)
    return expected, got.cpu().numpy()


def _one_step_plan(images: np.ndarray, level: int, **options):
    """One step per sample (k = t = 1, skip weight 1): the output is the step's result."""
    count, _, height, width = images.shape
    opts = IPMixOptions(width=1, depth=1, all_ops=True, patch_sizes=(4, 8, "full"), **options)
    plan = sample_plan(opts, count, height, width, len(SET), np.random.default_rng(count))
    plan = replace(plan, skip_weight=np.ones_like(plan.skip_weight),
                   step_level=np.full_like(plan.step_level, level))
    return plan


@pytest.mark.parametrize("shape", [(3, 16, 12), (1, 12, 16)], ids=["rgb-16x12", "grey-12x16"])
def test_every_op_gives_the_numba_bytes(photos, shape):
    """All 15 ops on the whole image, then inside a box as a mixing source, at levels in [0.1, 10]."""
    channels, height, width = shape
    images = np.ascontiguousarray(photos[:15, :height, :width, :channels].transpose(0, 3, 1, 2))
    plan = _one_step_plan(images, IMAGE_LEVEL)
    levels = np.linspace(0.1, 10, 15).astype(np.float32)
    plan = replace(plan, op=np.arange(15).reshape(15, 1, 1), op_level=levels.reshape(15, 1, 1))
    expected, got = _both(images, plan, _bank())
    differ = [ALL_OPS[i] for i in range(15) if not np.array_equal(expected[i], got[i])]
    assert not differ, f"ops that differ from numba: {differ}"
    boxed = _one_step_plan(images, P_LEVEL, mixing_ops=("add",))
    from_op = np.full_like(boxed.source, FROM_IMAGE_OP)
    boxed = replace(boxed, op=plan.op, op_level=plan.op_level, source=from_op)
    expected, got = _both(images, boxed, _bank())
    differ = [ALL_OPS[i] for i in range(15) if not np.array_equal(expected[i], got[i])]
    assert not differ, f"ops inside a box that differ from numba: {differ}"


@pytest.mark.parametrize(("channels", "picture_channels"), [(3, 3), (1, 3), (3, 1)],
                         ids=["rgb", "grey-image-rgb-pictures", "rgb-image-grey-pictures"])
def test_every_mixing_op_gives_the_numba_result(photos, channels, picture_channels):
    """Add, multiply and both random masks, over patches and whole images, float outputs."""
    images = np.ascontiguousarray(photos[:8, :16, :16, :channels].transpose(0, 3, 1, 2))
    plan = _one_step_plan(images, P_LEVEL)
    plan = replace(plan, mixing_op=(np.arange(8) % len(MIXING_OPS)).reshape(8, 1, 1))
    expected, got = _both(images, plan, _bank(picture_channels), as_bytes=False)
    diff = np.abs(expected - got) * 255
    multiply = plan.mixing_op[:, 0, 0] == MIXING_OPS.index("multiply")
    assert diff[~multiply].max() == 0, diff[~multiply].max()
    # CUDA's powf is within a few ulps of the CPU's; the interpreter's float64 powers round alike.
    assert diff[multiply].max() <= (0 if EXACT_POWERS else 1e-3), diff[multiply].max()


PIPELINES = {
    "paper-32px-rgb-uint8": ({}, (4, 3, 32, 32), torch.uint8),
    "official-linear-grey-float": ({"mode": "official", "framework": "linear"}, (4, 1, 16, 12),
                                   torch.float32),
    "mixed-input-all-ops-views": ({"framework": "mixed-input", "all_ops": True, "views": 2}, (2, 3, 12, 16),
                                  torch.uint8),
    "no-image-level-8px-float": ({"image_level": False}, (3, 3, 8, 8), torch.float32),
}


@pytest.mark.parametrize("config", PIPELINES.values(), ids=PIPELINES.keys())
def test_the_whole_pipeline_matches_the_numba_backend(photos, config):
    options, (count, channels, height, width), dtype = config
    images = torch.from_numpy(np.ascontiguousarray(photos[:count, :height, :width, :channels]))
    images = images.permute(0, 3, 1, 2)
    images = images.contiguous() if dtype == torch.uint8 else images.float() / 255
    settings = {"seed": 3, "patch_sizes": (4, 8, "full"), **options}
    expected = IPMixBatch(SET, backend="numba", **settings)(images)
    got = IPMixBatch(SET, backend="triton", **settings)(images.to(DEVICE))
    expected, got = (expected, got) if isinstance(got, tuple) else ((expected,), (got,))
    for want, have in zip(expected, got, strict=True):
        assert have.dtype == dtype and have.device.type == DEVICE.type
        diff = (have.cpu().double() - want.double()).abs() * (255 if dtype.is_floating_point else 1)
        if EXACT_POWERS:
            assert diff.max() == 0, diff.max()
        else:  # a power an ulp off can round a byte the other way, which later ops may amplify
            assert diff.mean() <= 0.05 and (diff > 0.5).double().mean() <= 0.005, (diff.mean(), diff.max())


def test_random_masks_have_the_threshold_share_and_the_numba_noise(photos):
    """Whole-image masks at threshold 0.25: a quarter of the elements kept, pixels share a draw."""
    images = np.ascontiguousarray(photos[:4, :, :, :3].transpose(0, 3, 1, 2))
    plan = _one_step_plan(images, P_LEVEL, mixing_ops=("random_pixels", "random_elements"), patch_level=False)
    plan = replace(plan, mask_threshold=np.full_like(plan.mask_threshold, 0.25),
                   mixing_op=np.array([2, 3, 2, 3]).reshape(4, 1, 1))
    bank = torch.zeros((4, 3, 36, 36), dtype=torch.uint8)  # black pictures: a masked element is 0
    plan = replace(plan, picture=np.arange(4), picture_offset=np.zeros((4, 2), np.int64),
                   source=np.zeros_like(plan.source))  # mix with the picture, not an op
    expected, got = _both(images, plan, bank)
    assert np.array_equal(expected, got)
    valid = (images > 0).all(axis=1, keepdims=True).repeat(3, axis=1)  # pixels where "kept" is visible
    kept = got > 0
    for row in range(4):  # binomial over ~3,000 elements: sd about 0.008 of the share
        assert abs(kept[row][valid[row]].mean() - 0.25) <= 0.04, kept[row][valid[row]].mean()
    pixels = valid[0, 0]
    assert (kept[0][:, pixels] == kept[0][:1, pixels]).all()  # random pixels: one draw for all channels
    agree = (kept[1][:, valid[1, 0]] == kept[1][:1, valid[1, 0]]).all(axis=0).mean()  # independent channels
    assert abs(agree - (0.25**3 + 0.75**3)) <= 0.05, agree


def _profile(transform: IPMixBatch, images: torch.Tensor) -> tuple[int, int, int]:
    """(aten operator calls, Triton launches, CUDA kernels) of one call."""
    from ipmix.augment.kernels.triton.apply import LAUNCH_NAME

    transform(images)  # warm-up: the device set, compilation
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE.type == "cuda" else [])
    with profile(activities=activities) as prof:
        transform(images)
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
    events = prof.events()
    aten = sum(1 for event in events if event.name.startswith("aten::"))
    launches = sum(1 for event in events if event.name == LAUNCH_NAME)
    kernels = sum(1 for event in events if event.device_type == torch.autograd.DeviceType.CUDA)
    return aten, launches, kernels


def test_launches_do_not_grow_with_the_batch_or_the_plan(photos):
    """The torch backend's operator calls grow with the plan; the Triton backend's stay fixed."""
    big = torch.from_numpy(np.ascontiguousarray(photos[:4, :8, :8])).permute(0, 3, 1, 2).to(DEVICE)
    small = big[:1]
    grouped = [_profile(IPMixBatch(SET, seed=1, backend="torch", depth=depth), big)[0] for depth in (1, 3)]
    assert grouped[1] > grouped[0], grouped
    counts = {}
    for framework in ("chain", "mixed-input"):
        for name, images, seed in (("small", small, 1), ("big", big, 2)):
            transform = IPMixBatch(SET, seed=seed, backend="triton", framework=framework, width=2, depth=2,
                                   patch_sizes=(4, "full"))
            counts[framework, name] = _profile(transform, images)
    for framework, stages in (("chain", 1), ("mixed-input", 2)):
        small_counts, big_counts = counts[framework, "small"], counts[framework, "big"]
        assert small_counts == big_counts, (framework, small_counts, big_counts)
        assert small_counts[1] == stages
    assert counts["chain", "big"][0] < grouped[0] / 5, (counts, grouped)


def test_a_staged_plan_gives_the_forward_result(photos):
    """`stage_plan` + `apply_staged` (what a CUDA graph captures) equal `forward` on the same stream."""
    images = torch.from_numpy(np.ascontiguousarray(photos[:2, :8, :8])).permute(0, 3, 1, 2).to(DEVICE)
    options = {"seed": 8, "backend": "triton", "views": 2, "width": 2, "patch_sizes": (4, "full")}
    staged, eager = IPMixBatch(SET, **options), IPMixBatch(SET, **options)
    for _ in range(2):
        staged.stage_plan(images)
        assert all(map(torch.equal, staged.apply_staged(images), eager(images)))
    with pytest.raises(ValueError, match="no plan staged for a batch of shape"):
        staged.apply_staged(images[:1])


def test_the_triton_backend_names_the_devices_it_runs_on(triton_kernels, monkeypatch):
    monkeypatch.setattr(triton_kernels, "interpreting", lambda: False)
    with pytest.raises(ValueError, match="backend='triton' runs on CUDA tensors"):
        IPMixBatch(SET, seed=0, backend="triton")(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="stage_plan needs the triton backend"):
        IPMixBatch(SET, seed=0, backend="numba").stage_plan(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


class _FailingKernel:
    """Stands in for `_stage_kernel`: every launch fails as on a GPU without the resources."""

    def __init__(self) -> None:
        self.launches = 0

    def __getitem__(self, grid):
        def launch(*args, **options):
            self.launches += 1
            raise OutOfResources(300_000, 232_448, "shared memory")

        return launch


def test_auto_falls_back_to_the_torch_backend_once_when_the_kernel_fails(triton_kernels, photos, monkeypatch):
    """backend="auto" (Triton chosen) warns once and gives the torch backend's results from then on."""
    monkeypatch.setattr(batched, "_automatic_backend", lambda device: "triton")  # as on a CUDA batch
    kernel = _FailingKernel()
    monkeypatch.setattr(triton_kernels, "_stage_kernel", kernel)
    monkeypatch.setattr(triton_kernels, "interpreting", lambda: DEVICE.type == "cpu")  # as before the patch
    images = torch.from_numpy(np.ascontiguousarray(photos[:3, :12, :12])).permute(0, 3, 1, 2).to(DEVICE)
    auto, reference = IPMixBatch(SET, seed=4, views=2), IPMixBatch(SET, seed=4, views=2, backend="torch")
    with pytest.warns(TritonFallbackWarning, match="OutOfResources: out of resource: shared") as caught:
        first = auto(images)
    assert len(caught) == 1 and "uses the torch backend" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no second try
        second = auto(images)
    assert kernel.launches == 1
    for got, want in zip((*first, *second), (*reference(images), *reference(images)), strict=True):
        assert torch.equal(got, want)  # the call's plan drawn once: the streams stay in step
    assert auto.random_state() == reference.random_state()
    with pytest.raises(ValueError, match=r"its Triton kernel failed earlier \(OutOfResources"):
        auto.stage_plan(images)  # CUDA graphs need the kernel
    with pytest.raises(OutOfResources):
        IPMixBatch(SET, seed=4, backend="triton")(images)  # chosen explicitly: the error itself
    staged = IPMixBatch(SET, seed=4)
    staged.stage_plan(images)
    with pytest.raises(OutOfResources):
        staged.apply_staged(images)  # the CUDA-graph path never falls back
    assert kernel.launches == 3
