"""AugMax's training step: the ascent on the mixing weights, its early stop, the views, the
routes, and how the registry and the options resolve it."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ipmix.augment.methods.augmax import mix_chains
from ipmix.models import build_model
from ipmix.models.dubin import DualBatchNorm2d
from ipmix.training import TrainConfig, build_augmentation
from ipmix.training.augmax import AugMaxStep, adversarial_mixing
from ipmix.training.config import ConfigError
from ipmix.training.registry import UnknownAugmentationError, jsd_weight
from ipmix.training.steps import StepModel


def _step_model(module: nn.Module) -> StepModel:
    return StepModel(module, module, nullcontext)  # float32 on the CPU: no autocast


def _data(count: int = 16, width: int = 3):
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(count, 3, 8, 8, generator=generator)
    chains = torch.rand(width, count, 3, 8, 8, generator=generator)
    return clean, chains, torch.arange(count) % 4, generator


def _linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))


def test_the_ascent_raises_the_loss_and_keeps_m_in_range():
    model = _linear()
    clean, chains, labels, generator = _data()
    skip, q = torch.rand(16, generator=generator), torch.rand(16, 3, generator=generator)
    start = mix_chains(clean, chains, q.softmax(1), skip)
    mixed = adversarial_mixing(_step_model(model), clean, chains, labels, skip, q, steps=5,
                               step_size=0.1, tau=10**6)  # no early stop
    with torch.no_grad():
        before = F.cross_entropy(model(start), labels, reduction="none")
        after = F.cross_entropy(model(mixed), labels, reduction="none")
    assert float(after.mean()) > float(before.mean())
    assert float(mixed.min()) >= 0 and float(mixed.max()) <= 1
    assert model.training and not mixed.requires_grad


def test_the_ascent_stops_when_every_sample_is_misclassified():
    model = _linear()
    clean, chains, _, generator = _data()
    skip, q = torch.rand(16, generator=generator), torch.rand(16, 3, generator=generator)
    start = mix_chains(clean, chains, q.softmax(1), skip)
    with torch.no_grad():
        wrong = (model(start).argmax(1) + 1) % 4  # labels the model gets wrong from the start
    mixed = adversarial_mixing(_step_model(model), clean, chains, wrong, skip, q, steps=5,
                               step_size=0.1, tau=1)
    torch.testing.assert_close(mixed, start)  # tau = 1: the budget is gone before any step


def test_the_step_gives_three_views_in_order_and_is_seeded():
    model = build_model("small", 4, seed=0, width=4, norm="dubin").train()
    step = AugMaxStep(width=3, steps=2, seed=0)
    clean, chains, labels, _ = _data()
    images = torch.cat([clean, *chains, *chains.flip(0)])  # clean, AugMax group, AugMix group
    duals = [m for m in model.modules() if isinstance(m, DualBatchNorm2d)]
    aux_before = duals[0].aux.running_mean.clone()
    step.reseed(7)
    logits = step(images, labels, _step_model(model))
    assert logits.shape == (48, 4)
    assert not torch.equal(duals[0].aux.running_mean, aux_before)  # the AugMax view: aux route
    assert all(dual.route == "main" for dual in duals) and model.training
    with pytest.raises(ValueError, match="expected 7 images per sample"):
        step(images[:40], labels, _step_model(model))


def test_reseeding_repeats_the_step():
    clean, chains, labels, _ = _data()
    images = torch.cat([clean, *chains, *chains])
    results = []
    for _ in range(2):
        model = build_model("small", 4, seed=0, width=4).train()
        step = AugMaxStep(width=3, steps=2)
        step.reseed(11)
        results.append(step(images, labels, _step_model(model)))
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)


def test_registry_presets_and_options():
    aug = build_augmentation("augmax-n3", "cifar10")
    assert aug.jsd and aug.model_step.steps == 3 and aug.image_transform.views == 7
    assert build_augmentation("augmax", "cifar10", preset="imagenet").model_step.steps == 5
    assert aug.description.startswith("augmax-m3-w3")
    assert jsd_weight("augmax", "cifar10") == 10.0 and jsd_weight("augmax", "imagenet") == 12.0
    assert jsd_weight("ipmix", "cifar10") == 12.0
    config = TrainConfig(out="-", aug="augmax", model="small").resolved()
    assert config.jsd_weight == 10.0
    assert TrainConfig(out="-", aug="augmax", model="small", jsd_weight=1.0).resolved().jsd_weight == 1.0
    with pytest.raises(UnknownAugmentationError, match="--no-jsd is not available with 'augmax'"):
        build_augmentation("augmax", jsd=False)
    with pytest.raises(ConfigError, match="--batched applies to"):
        TrainConfig(out="-", aug="augmax", batched=True).resolved()
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        AugMaxStep(steps=-1)
