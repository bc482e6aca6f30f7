"""The per-image IPMix on its two backends: the compiled kernels give the reference's bytes."""

import pickle

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset

from ipmix import IPMix

PICTURES = np.random.default_rng(7).integers(0, 256, (12, 48, 48, 3), dtype=np.uint8)

CONFIGS = [
    {},
    {"mode": "official"},
    {"framework": "linear"},
    {"framework": "mixed-input"},
    {"all_ops": True, "op_severity": 10.0},
    {"image_level": False},
    {"patch_level": False},
    {"pixel_level": False},
    {"patch_level": False, "pixel_level": False},
    {"box_shapes": "scar", "mixing_ops": ("multiply", "random_pixels")},
    {"mixing_ops": "random_elements", "mode": "official", "framework": "linear"},
    {"width": 5, "depth": 4, "mixing_severity": 1.0, "alpha": 0.5},
]


def _as_kind(array: np.ndarray, kind: str):
    """A uint8 HWC array as the input kind `kind`."""
    grey = array[:, :, 0]
    chw = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return {
        "pil": lambda: PIL.Image.fromarray(array),
        "pil-grey": lambda: PIL.Image.fromarray(grey),
        "uint8-tensor": lambda: chw,
        "grey-tensor": lambda: chw[:1].contiguous(),
        "float-tensor": lambda: chw.double() / 255,
        "numpy": lambda: array,
        "numpy-grey": lambda: grey,
        "float-numpy": lambda: array.astype(np.float32) / 255,
    }[kind]()


def _values(output) -> np.ndarray:
    if isinstance(output, PIL.Image.Image):
        return np.asarray(output)
    return output.numpy() if isinstance(output, torch.Tensor) else output


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    config=st.sampled_from(CONFIGS),
    kind=st.sampled_from(["pil", "pil-grey", "uint8-tensor", "grey-tensor", "float-tensor", "numpy",
                          "numpy-grey", "float-numpy"]),
    size=st.sampled_from([(32, 32), (20, 32), (37, 23), (64, 48)]),
)
def test_the_compiled_kernels_give_the_reference_bytes(seed, config, kind, size):
    """Every mode, framework, ablation and mixing op (masks and powers included), grey and
    non-square images, every input kind: outputs equal bit for bit over a stream of images."""
    rng = np.random.default_rng(seed)
    images = [_as_kind(rng.integers(0, 256, (*size, 3), dtype=np.uint8), kind) for _ in range(3)]
    compiled = IPMix(PICTURES, seed=seed, backend="numba", **config)
    reference = IPMix(PICTURES, seed=seed, backend="pil", **config)
    for image in images:
        ours, expected = compiled(image), reference(image)
        assert type(ours) is type(expected)
        ours, expected = _values(ours), _values(expected)
        assert ours.dtype == expected.dtype and ours.shape == expected.shape
        assert np.array_equal(ours, expected), f"{np.count_nonzero(ours != expected)} values differ"


def test_views_and_given_plans_agree_across_backends():
    image = PIL.Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    compiled, reference = IPMix(PICTURES, seed=3), IPMix(PICTURES, seed=3, backend="pil")
    for ours, expected in zip(compiled.views(image, 3), reference.views(image, 3), strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(expected))
    plan = compiled.sample_plan(40, 40, 4)
    for index in range(4):
        ours, expected = compiled.apply_plan(image, plan, index), reference.apply_plan(image, plan, index)
        assert np.array_equal(np.asarray(ours), np.asarray(expected))


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        IPMix(PICTURES, backend="cuda")


class _Images(Dataset):
    def __init__(self, transform: IPMix) -> None:
        self.transform = transform
        self.image = PIL.Image.fromarray(PICTURES[1, :32, :32])

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.transform(self.image)).copy())


def test_the_transform_pickles_into_spawned_workers_with_their_own_streams():
    transform = IPMix(PICTURES, seed=5)
    transform(PIL.Image.fromarray(PICTURES[0, :32, :32]))  # a used transform: blocks are not sent
    assert pickle.loads(pickle.dumps(transform))._plan_block is None
    loader = DataLoader(_Images(transform), batch_size=4, num_workers=2, multiprocessing_context="spawn")
    first, second = (batch.numpy() for batch in loader)
    assert not np.array_equal(first, second)  # the workers' streams differ
