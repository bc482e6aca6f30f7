"""Preprocessing, JSD views and per-sample augmentation streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader, SequentialSampler
from torchvision.transforms import v2

from ipmix.data import (
    AugmentedCifar,
    CifarArrays,
    EpochSampler,
    JSDViews,
    RandomCropFlip,
    TorchRandom,
    derive_seed,
    reseed,
    to_tensor,
)


def _arrays(count: int, same_image: bool = False) -> CifarArrays:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1 if same_image else count, 32, 32, 3), dtype=np.uint8)
    if same_image:
        images = np.repeat(images, count, axis=0)
    return CifarArrays(images, np.arange(count, dtype=np.int64) % 10, tuple("abcdefghij"))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(4, 12))
def test_crop_flip_is_a_window_of_the_padded_image(seed, size):
    image = np.random.default_rng(seed).integers(1, 256, size=(size, size, 3), dtype=np.uint8)
    out = np.asarray(RandomCropFlip(seed=seed)(image))
    padded = np.zeros((size + 8, size + 8, 3), np.uint8)
    padded[4:-4, 4:-4] = image
    windows = [
        padded[t : t + size, s : s + size][:, ::flip]
        for t in range(9)
        for s in range(9)
        for flip in (1, -1)
    ]
    assert out.shape == image.shape
    assert any(np.array_equal(out, w) for w in windows)


def test_crop_flip_covers_offsets_and_flips():
    image = np.zeros((16, 16, 3), np.uint8)
    image[5, 6] = 255  # stays inside the crop for every shift of at most 4 pixels
    crop = RandomCropFlip(seed=3)
    positions = [tuple(np.argwhere(np.asarray(crop(image))[..., 0])[0]) for _ in range(600)]
    # 9 row shifts x 12 columns (shifts 2..10 unmirrored, 5..13 mirrored): 108 positions.
    assert len(set(positions)) > 95
    assert {p[0] for p in positions} == set(range(1, 10))


def test_torch_random_is_seeded_and_leaves_global_state_alone():
    augment = TorchRandom(v2.AugMix(all_ops=False), seed=5)
    image = Image.fromarray(_arrays(1).images[0])
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = np.asarray(augment(image))
    assert torch.equal(before, torch.get_rng_state())
    augment.reseed(5)
    np.testing.assert_array_equal(first, np.asarray(augment(image)))
    outs = {np.asarray(augment(image)).tobytes() for _ in range(5)}
    assert len(outs) > 1


def test_reseed_gives_children_distinct_streams():
    a, b = TorchRandom(v2.RandAugment()), TorchRandom(v2.RandAugment())
    reseed(v2.Compose([a, b]), 7)
    assert not torch.equal(a.generator.get_state(), b.generator.get_state())
    assert derive_seed(7, 1) != derive_seed(7, 2) and derive_seed(7, 1) == derive_seed(7, 1)
    with pytest.raises(ValueError, match="non-negative"):
        derive_seed(-1)


def test_to_tensor_range_and_layout():
    image = _arrays(1).images[0]
    tensor = to_tensor(Image.fromarray(image))
    assert tensor.shape == (3, 32, 32) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.permute(1, 2, 0).numpy() * 255, image, atol=1e-4)


def test_jsd_views_clean_first_and_uses_views_method():
    class Shared:
        calls = 0

        def __call__(self, image):
            raise AssertionError("views() must be preferred")

        def views(self, image, count):
            Shared.calls += 1
            return [image.rotate(90)] * count

    image = Image.fromarray(_arrays(1).images[0])
    clean, first, second = JSDViews(Shared())(image)
    assert clean is image and Shared.calls == 1
    assert np.array_equal(np.asarray(first), np.asarray(second))


def _collect(dataset: AugmentedCifar, workers: int) -> torch.Tensor:
    loader = DataLoader(dataset, batch_size=4, num_workers=workers, shuffle=False)
    return torch.cat([images for images, _ in loader])


def test_streams_independent_of_workers_and_distinct_per_sample():
    dataset = AugmentedCifar(
        _arrays(16, same_image=True),
        [RandomCropFlip(), TorchRandom(v2.RandAugment())],
        seed=11,
    )
    single = _collect(dataset, 0)
    multi = _collect(dataset, 2)
    torch.testing.assert_close(single, multi, rtol=0, atol=0)
    # Identical inputs: every sample (hence every worker) got its own stream.
    assert len({img.numpy().tobytes() for img in single}) == 16
    dataset.set_epoch(1)
    assert not torch.equal(_collect(dataset, 0), single)


def test_jsd_dataset_items():
    dataset = AugmentedCifar(_arrays(4), [RandomCropFlip(), JSDViews(TorchRandom(v2.AugMix()))])
    views, label = dataset[2]
    assert len(views) == 3 and all(v.shape == (3, 32, 32) for v in views)
    assert label == 2
    assert not torch.equal(views[1], views[2])
    with pytest.raises(ValueError, match="seed"):
        AugmentedCifar(_arrays(2), [], seed=-1)


def test_epoch_sampler_with_persistent_workers_matches_set_epoch():
    dataset = AugmentedCifar(_arrays(8), [RandomCropFlip(), TorchRandom(v2.TrivialAugmentWide())])
    sampler = EpochSampler(SequentialSampler(range(8)))
    loader = DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=2,
                        persistent_workers=True)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        with_keys = torch.cat([images for images, _ in loader])
        dataset.set_epoch(epoch)
        torch.testing.assert_close(with_keys, _collect(dataset, 0), rtol=0, atol=0)
    assert len(sampler) == 8 and next(iter(sampler)) == (1, 0)


def test_ipmix_streams_independent_of_workers():
    from ipmix import IPMix

    pictures = np.random.default_rng(3).integers(0, 256, size=(5, 36, 36, 3), dtype=np.uint8)
    transform = IPMix(pictures, seed=0)
    dataset = AugmentedCifar(_arrays(8, same_image=True), [RandomCropFlip(), JSDViews(transform)])

    def collect(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(dataset, batch_size=4, num_workers=workers)
        return [torch.cat(views) for views, _ in loader]

    single, multi = collect(0), collect(2)
    for a, b in zip(single, multi, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    augmented = torch.cat([batch[4:] for batch in single])  # the view batches
    assert len({view.numpy().tobytes() for view in augmented}) == len(augmented)
