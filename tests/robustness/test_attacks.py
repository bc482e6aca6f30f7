"""PGD: stays in the eps-ball and [0, 1], is seed-deterministic, and hurts more as eps grows."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from ipmix.robustness.attacks import AttackConfigError, pgd_attack


def _linear_model(classes: int, seed: int = 0) -> nn.Module:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, classes))
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        model[1].weight.copy_(torch.randn(model[1].weight.shape, generator=generator))
        model[1].bias.zero_()
    return model.eval()


def _images(count: int, seed: int) -> torch.Tensor:
    return torch.rand((count, 3, 8, 8), generator=torch.Generator().manual_seed(seed))


@settings(max_examples=20, deadline=None)
@given(st.floats(0.0, 16 / 255), st.integers(0, 20), st.integers(0, 1000))
def test_pgd_never_leaves_the_eps_ball_or_the_unit_cube(eps, steps, seed):
    model = _linear_model(4)
    images = _images(6, seed)
    images[0] = 0.0  # pixels at the borders of [0, 1]
    images[1] = 1.0
    labels = torch.arange(6) % 4
    adversarial = pgd_attack(
        model, images, labels, eps=eps, steps=steps, step_size=eps / 3,
        generator=torch.Generator().manual_seed(seed),
    )
    assert adversarial.shape == images.shape
    assert (adversarial - images).abs().max() <= eps + 1e-6
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0


def test_pgd_is_deterministic_per_generator_seed_and_leaves_weights_alone():
    model = _linear_model(4)
    images, labels = _images(5, 1), torch.tensor([0, 1, 2, 3, 0])
    # Two steps: too few to reach the ball's corner, so the random start still shows.
    def attack(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return pgd_attack(model, images, labels, steps=2, generator=generator)

    first, again, other = attack(7), attack(7), attack(8)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert all(p.grad is None for p in model.parameters())


def test_pgd_error_rises_with_eps():
    # Two classes and a linear model: the loss gradient's sign is the same everywhere, so PGD
    # reaches the worst case in the ball and the error can only grow with eps.
    model = _linear_model(2, seed=3)
    images = _images(200, 2)
    with torch.no_grad():
        labels = model(images).argmax(1)  # clean error 0 by construction
    errors = []
    for eps in (0.0, 0.5 / 255, 2 / 255, 8 / 255, 32 / 255):
        adversarial = pgd_attack(
            model, images, labels, eps=eps, steps=20, step_size=eps / 4,
            generator=torch.Generator().manual_seed(0),
        )
        with torch.no_grad():
            errors.append(float((model(adversarial).argmax(1) != labels).float().mean()))
    assert errors[0] == 0.0
    assert errors == sorted(errors)
    assert errors[-1] > errors[1] and errors[-1] > 0.5


def test_pgd_default_budget_beats_random_noise_of_the_same_size():
    model = _linear_model(4, seed=5)
    images = _images(300, 4)
    with torch.no_grad():
        labels = model(images).argmax(1)
    adversarial = pgd_attack(model, images, labels, generator=torch.Generator().manual_seed(1))
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
    noisy = (images + noise * 2 / 255).clamp(0, 1)
    with torch.no_grad():
        pgd_error = (model(adversarial).argmax(1) != labels).float().mean()
        noise_error = (model(noisy).argmax(1) != labels).float().mean()
    assert pgd_error > noise_error


def test_pgd_refuses_bad_arguments():
    model = _linear_model(2)
    images, labels = _images(2, 0), torch.tensor([0, 1])
    with pytest.raises(AttackConfigError, match="Generator"):
        pgd_attack(model, images, labels)
    with pytest.raises(AttackConfigError, match=">= 0"):
        pgd_attack(model, images, labels, eps=-1.0, generator=torch.Generator())
    with pytest.raises(AttackConfigError, match="B, C, H, W"):
        pgd_attack(model, images[0], labels, generator=torch.Generator())
