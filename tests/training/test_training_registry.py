"""The augmentation registry: every name resolves, JSD defaults, label mixers on soft labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ipmix.data import RandomCropFlip, reseed
from ipmix.data.datasets import JSDViews
from ipmix.training import (
    AUGMENTATION_NAMES,
    JSD_DEFAULTS,
    UnknownAugmentationError,
    build_augmentation,
    resolve_jsd,
)
from ipmix.training.registry import LabelMixer, MixerByEpoch, MixerChain, MixerChoice

LABEL_MIXING = {"mixup", "cutmix"} | {n for n in AUGMENTATION_NAMES if n.startswith("augmix+")}


def _image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", AUGMENTATION_NAMES)
def test_every_name_builds_and_transforms(name, tiny_mixing_set):
    aug = build_augmentation(name, "cifar100", mixing_set=str(tiny_mixing_set), epochs=10)
    assert aug.name == name
    assert aug.soft_labels == (name in LABEL_MIXING)
    assert aug.jsd == JSD_DEFAULTS.get(name, False)
    pipeline = aug.dataset_transforms()
    assert isinstance(pipeline[0], RandomCropFlip)
    item = _image()
    for transform in pipeline:
        reseed(transform, 3)
        item = transform(item)
    views = item if isinstance(item, tuple) else (item,)
    stepped = aug.model_step is not None  # AugMax: the clean image and two groups of chains
    assert len(views) == (7 if stepped else 3 if aug.jsd else 1)
    assert all(np.asarray(v).shape == (32, 32, 3) for v in views)
    if aug.jsd and not stepped:
        assert isinstance(pipeline[-1], JSDViews)


def test_jsd_options():
    assert resolve_jsd("pixmix", None) is False and resolve_jsd("pixmix", True) is True
    assert resolve_jsd("ipmix-no-image", None) is True
    assert resolve_jsd("ipmix-no-image", False) is False
    assert build_augmentation("augmix", jsd=False).jsd is False
    with pytest.raises(UnknownAugmentationError, match="--jsd is not available with 'mixup'"):
        build_augmentation("mixup", jsd=True)
    with pytest.raises(UnknownAugmentationError, match="unknown augmentation 'foo'"):
        build_augmentation("foo")
    with pytest.raises(ValueError, match="unknown dataset"):
        build_augmentation("none", "svhn")


def _batch(size: int = 8, classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(size, 3, 8, 8, generator=g)
    labels = torch.arange(size) % classes
    return images, F.one_hot(labels, classes).float()


def test_mixup_labels_follow_the_images():
    images, soft = _batch()
    mixer = LabelMixer("mixup", alpha=1.0, seed=1)
    mixed, targets = mixer(images, soft)
    # torchvision pairs each sample with its neighbour in the batch: x' = l x + (1 - l) roll(x).
    lam = ((mixed - images.roll(1, 0)) / (images - images.roll(1, 0)))[0].flatten().median()
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images.roll(1, 0))
    torch.testing.assert_close(targets, lam * soft + (1 - lam) * soft.roll(1, 0))
    torch.testing.assert_close(targets.sum(1), torch.ones(8))


def test_cutmix_label_share_equals_pasted_area_and_p_half():
    images, soft = _batch()
    mixer = LabelMixer("cutmix", alpha=1.0, p=0.5)
    applied = 0
    for seed in range(200):
        mixer.reseed(seed)
        mixed, targets = mixer(images, soft)
        if torch.equal(mixed, images):
            torch.testing.assert_close(targets, soft)
            continue
        applied += 1
        # Sample 0 (class 0) keeps its pixels outside the box; its partner is sample 7 (class 3).
        from_self = (mixed[0] == images[0]).all(dim=0).float().mean()
        torch.testing.assert_close(targets[0, 0], from_self, atol=1e-6, rtol=0)
        torch.testing.assert_close(targets[0, 3], 1 - from_self, atol=1e-6, rtol=0)
    # Binomial(200, 0.5): 4.2 standard deviations either side of 100.
    assert 70 <= applied <= 130


def test_mixers_reseed_reproducibly_and_chain_on_soft_labels():
    images, soft = _batch()
    chain = MixerChain([LabelMixer("mixup", 1.0), LabelMixer("cutmix", 1.0, p=1.0)])
    reseed(chain, 4)
    first = chain(images, soft)
    reseed(chain, 4)
    second = chain(images, soft)
    torch.testing.assert_close(first, second)
    assert torch.allclose(first[1].sum(1), torch.ones(8))
    # A second mix spreads labels beyond the two classes one mix can reach.
    assert (first[1] > 0).sum(1).max() >= 2


def test_choice_and_epoch_switch():
    images, soft = _batch()
    mixup, cutmix = LabelMixer("mixup", 1.0), LabelMixer("cutmix", 1.0, p=1.0)
    switch = MixerByEpoch(mixup, cutmix, switch_epoch=5)
    mixed, _ = switch(images, soft, epoch=4)
    assert not (mixed == images).any()  # MixUp changes every pixel
    mixed, _ = switch(images, soft, epoch=5)
    assert (mixed == images).any()  # CutMix keeps pixels outside the box
    choice = MixerChoice([mixup, cutmix])
    kinds = set()
    for seed in range(20):
        choice.reseed(seed)
        mixed, _ = choice(images, soft)
        kinds.add(bool((mixed == images).any()))
    assert kinds == {True, False}
    assert build_augmentation("augmix+epoch(mixup,cutmix)", epochs=100).batch_mixer.switch_epoch == 50
