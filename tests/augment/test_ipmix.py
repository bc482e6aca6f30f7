"""The per-image IPMix transform: types, invariants, determinism, workers, errors."""

import warnings

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from ipmix import IPMix, MixingSet
from ipmix.augment.kernels.reference import apply_plan
from ipmix.mixing_sets.store import MixingSetError

PICTURES = np.repeat(
    np.repeat(np.random.default_rng(3).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8), 5, 1), 5, 2
)


def random_image(seed: int, size: int = 32, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, channels), dtype=np.uint8)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    size=st.sampled_from([8, 16, 32, 40]),
    kind=st.sampled_from(["pil", "uint8", "tv", "float", "gray-pil", "gray-uint8"]),
    mode=st.sampled_from(["paper", "official"]),
    framework=st.sampled_from(["chain", "linear", "mixed-input"]),
)
def test_output_kind_shape_dtype_and_range(seed, size, kind, mode, framework):
    channels = 1 if kind.startswith("gray") else 3
    array = random_image(seed, size, channels)
    chw = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    make = {
        "pil": lambda: PIL.Image.fromarray(array),
        "gray-pil": lambda: PIL.Image.fromarray(array[:, :, 0]),
        "uint8": lambda: chw,
        "gray-uint8": lambda: chw,
        "tv": lambda: tv_tensors.Image(chw),
        "float": lambda: chw.float() / 255,
    }
    inpt = make[kind]()
    transform = IPMix(PICTURES, seed=seed, mode=mode, framework=framework, patch_sizes=(4, 8, "full"))
    out = transform(inpt)
    if kind.endswith("pil"):
        assert isinstance(out, PIL.Image.Image) and out.size == (size, size)
        assert out.mode == ("L" if channels == 1 else "RGB")
    else:
        assert type(out) is type(inpt) and out.shape == (channels, size, size)
        assert out.dtype == inpt.dtype
        if kind == "float":
            assert out.min() >= 0 and out.max() <= 1


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), framework=st.sampled_from(["chain", "linear", "mixed-input"]))
def test_skip_weight_zero_is_the_identity(seed, framework):
    image = random_image(seed)
    transform = IPMix(PICTURES, seed=seed, framework=framework)
    plan = transform.sample_plan(32, 32)
    plan.skip_weight[:] = 0
    if plan.next is not None:
        plan.next.skip_weight[:] = 0
    out = transform.apply_plan(PIL.Image.fromarray(image), plan)
    np.testing.assert_array_equal(np.asarray(out), image)


def test_skip_weight_one_gives_the_chain_mix_only():
    image = random_image(1)
    transform = IPMix(PICTURES, seed=0, patch_level=False, pixel_level=False, ops=("invert",))
    plan = transform.sample_plan(32, 32)
    plan.skip_weight[:] = 1
    plan.depth[:] = 1
    out = np.asarray(transform.apply_plan(PIL.Image.fromarray(image), plan))
    np.testing.assert_array_equal(out, 255 - image)


def test_same_seed_same_output_and_different_seed_different_output():
    image = PIL.Image.fromarray(random_image(2))
    first = [np.asarray(IPMix(PICTURES, seed=9)(image)) for _ in range(1)]
    a = IPMix(PICTURES, seed=9)
    b = IPMix(PICTURES, seed=9)
    c = IPMix(PICTURES, seed=10)
    outs_a = [np.asarray(a(image)) for _ in range(5)]
    outs_b = [np.asarray(b(image)) for _ in range(5)]
    outs_c = [np.asarray(c(image)) for _ in range(5)]
    np.testing.assert_array_equal(np.stack(outs_a), np.stack(outs_b))
    np.testing.assert_array_equal(first[0], outs_a[0])
    assert not np.array_equal(np.stack(outs_a), np.stack(outs_c))


def test_state_dict_resumes_the_stream_exactly():
    image = PIL.Image.fromarray(random_image(4))
    transform = IPMix(PICTURES, seed=1)
    for _ in range(10):
        transform(image)
    state = transform.state_dict()
    expected = [np.asarray(transform(image)) for _ in range(70)]  # crosses a plan block
    other = IPMix(PICTURES, seed=99)
    other.load_state_dict(state)
    np.testing.assert_array_equal(np.stack([np.asarray(other(image)) for _ in range(70)]), np.stack(expected))


def test_the_image_changes_and_the_label_passes_through_compose():
    image = PIL.Image.fromarray(random_image(5))
    pipeline = v2.Compose([IPMix(PICTURES, seed=0), v2.PILToTensor()])
    changed = 0
    for _ in range(20):
        out, label = pipeline(image, 7)
        assert label == 7 and out.shape == (3, 32, 32)
        changed += not np.array_equal(out.permute(1, 2, 0).numpy(), np.asarray(image))
    assert changed >= 18  # m ~ Beta(1, 1) is 0 with probability 0


def test_views_share_the_mixing_picture_and_differ():
    transform = IPMix(PICTURES, seed=0)
    plan = transform.sample_plan(32, 32, 2).share_picture()
    assert plan.picture[0] == plan.picture[1]
    views = transform.views(PIL.Image.fromarray(random_image(6)), 3)
    assert len(views) == 3 and not np.array_equal(np.asarray(views[0]), np.asarray(views[1]))


def test_pixel_level_add_with_unit_coefficients_keeps_the_image():
    image = random_image(8)
    transform = IPMix(PICTURES, seed=0, image_level=False, patch_level=False, mixing_ops=("add",))
    plan = transform.sample_plan(32, 32)
    plan.mix_a[:], plan.mix_b[:] = 1, 0
    out = apply_plan(image, np.zeros((32, 32, 3), np.float32), plan, 0)
    np.testing.assert_allclose(out * 255, image, atol=0.51)


def test_patch_steps_change_only_inside_their_boxes():
    image = random_image(9)
    transform = IPMix(PICTURES, seed=3, image_level=False, pixel_level=False)
    plan = transform.sample_plan(32, 32)
    plan.depth[:] = 0
    plan.depth[0, 0] = 1
    out = apply_plan(image, np.ones((32, 32, 3), np.float32), plan, 0)
    top, left, h, w = plan.box[0, 0, 0]
    outside = np.ones((32, 32), bool)
    outside[top : top + h, left : left + w] = False
    np.testing.assert_allclose(out[outside] * 255, image[outside], atol=0.51)


class _SameImage(Dataset):
    def __init__(self, transform):
        self.image = PIL.Image.fromarray(random_image(11))
        self.transform = transform

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return torch.from_numpy(np.asarray(self.transform(self.image)).copy())


@pytest.mark.parametrize("seed", [None, 0])
def test_dataloader_workers_do_not_repeat_each_other(seed):
    torch.manual_seed(0)
    loader = DataLoader(_SameImage(IPMix(PICTURES, seed=seed)), batch_size=1, num_workers=2)
    outputs = torch.cat(list(loader))  # worker 0 gives items 0, 2, ..., worker 1 items 1, 3, ...
    assert not torch.equal(outputs[0::2], outputs[1::2])
    assert len({bytes(o.numpy()) for o in outputs}) == 8


def test_seeded_workers_are_reproducible_after_torch_manual_seed():
    def run():
        torch.manual_seed(123)
        loader = DataLoader(_SameImage(IPMix(PICTURES, seed=5)), batch_size=1, num_workers=2)
        return torch.cat(list(loader))

    assert torch.equal(run(), run())


@pytest.mark.parametrize(
    ("inpt", "error", "message"),
    [
        (PIL.Image.new("RGBA", (32, 32)), ValueError, "mode 'RGBA'"),
        (torch.zeros(4, 32, 32, dtype=torch.uint8), ValueError, "C = 1 or 3"),
        (torch.zeros(3, 32, 32, dtype=torch.int32), ValueError, "uint8 or float"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), ValueError, r"\[C, H, W\]"),
        (torch.zeros(3, 3, 3, dtype=torch.uint8), ValueError, "smaller than the smallest patch"),
    ],
)
def test_bad_images_are_rejected_clearly(inpt, error, message):
    with pytest.raises(error, match=message):
        IPMix(PICTURES, seed=0)(inpt)


def test_bad_mixing_sets_are_rejected_clearly(tmp_path):
    with pytest.raises(MixingSetError, match="empty"):
        IPMix(np.zeros((0, 8, 8, 3), np.uint8))
    with pytest.raises(MixingSetError, match="uint8"):
        IPMix(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(MixingSetError, match="not found"):
        IPMix(tmp_path / "missing")
    with pytest.raises(MixingSetError, match="no image files"):
        IPMix(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(MixingSetError, match="unreadable"):
        IPMix(tmp_path)
    PIL.Image.fromarray(PICTURES[0]).save(tmp_path / "good.png")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        transform = IPMix(tmp_path, seed=0)
    assert len(transform.mixing_set) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transform(PIL.Image.fromarray(random_image(0)))


def test_mixing_set_sources_are_interchangeable(tmp_path):
    for i, picture in enumerate(PICTURES):
        PIL.Image.fromarray(picture).save(tmp_path / f"{i}.png")
    dataset = [(PIL.Image.fromarray(p), 0) for p in PICTURES]
    sets = [MixingSet.from_source(s) for s in (tmp_path, PICTURES, torch.from_numpy(PICTURES), dataset)]
    for mixing_set in sets:
        assert len(mixing_set) == len(PICTURES)
        np.testing.assert_array_equal(mixing_set.picture(2, 40), PICTURES[2])
        assert mixing_set.picture(2, 36).shape == (36, 36, 3)


class _ReseededPerItem(Dataset):
    """Reseeds the transform with the item index, as per-sample seeding schemes do."""

    def __init__(self):
        self.image = PIL.Image.fromarray(random_image(12))
        self.transform = IPMix(PICTURES, seed=77)

    def __len__(self):
        return 6

    def __getitem__(self, index):
        self.transform.reseed(1000 + index)
        return torch.from_numpy(np.asarray(self.transform(self.image)).copy())


def test_reseed_gives_the_same_stream_in_workers_and_in_the_main_process():
    main_process = torch.cat(list(DataLoader(_ReseededPerItem(), batch_size=1, num_workers=0)))
    workers = torch.cat(list(DataLoader(_ReseededPerItem(), batch_size=1, num_workers=2)))
    assert torch.equal(main_process, workers)
