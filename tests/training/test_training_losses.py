"""Soft-label cross-entropy and AugMix's JSD loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from ipmix.training import cross_entropy, jsd_consistency, jsd_loss


def _logits(seed: int, batch: int = 6, classes: int = 5, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(batch, classes, generator=torch.Generator().manual_seed(seed)) * scale


def test_soft_labels_match_hard_labels_when_one_hot():
    logits, labels = _logits(0), torch.tensor([0, 1, 2, 3, 4, 0])
    soft = F.one_hot(labels, 5).float()
    torch.testing.assert_close(cross_entropy(logits, soft), F.cross_entropy(logits, labels))


def test_soft_labels_are_linear_in_the_target():
    logits, a, b = _logits(1), torch.tensor([0, 1, 2, 3, 4, 0]), torch.tensor([4, 3, 2, 1, 0, 1])
    mixed = 0.3 * F.one_hot(a, 5).float() + 0.7 * F.one_hot(b, 5).float()
    expected = 0.3 * F.cross_entropy(logits, a) + 0.7 * F.cross_entropy(logits, b)
    torch.testing.assert_close(cross_entropy(logits, mixed), expected)
    with pytest.raises(ValueError, match="soft labels"):
        cross_entropy(logits, mixed[:, :3])


def test_jsd_matches_augmix_formula():
    clean, aug1, aug2 = _logits(2), _logits(3), _logits(4)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    p = [F.softmax(x, dim=1) for x in (clean, aug1, aug2)]
    log_m = torch.clamp((p[0] + p[1] + p[2]) / 3.0, 1e-7, 1).log()
    expected = F.cross_entropy(clean, labels) + 12 * (
        F.kl_div(log_m, p[0], reduction="batchmean")
        + F.kl_div(log_m, p[1], reduction="batchmean")
        + F.kl_div(log_m, p[2], reduction="batchmean")
    ) / 3.0
    torch.testing.assert_close(jsd_loss((clean, aug1, aug2), labels), expected)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 20.0))
def test_jsd_term_is_non_negative_and_zero_for_equal_views(seed, scale):
    views = (_logits(seed, scale=scale), _logits(seed + 1, scale=scale), _logits(seed + 2, scale=scale))
    assert jsd_consistency(views).item() >= -1e-6
    same = _logits(seed, scale=scale)
    assert abs(jsd_consistency((same, same, same)).item()) < 1e-5
    with pytest.raises(ValueError, match="two views"):
        jsd_consistency((same,))


def test_jsd_only_the_clean_view_sees_the_labels():
    clean = _logits(5).requires_grad_()
    aug = _logits(6).requires_grad_()
    labels = torch.zeros(6, dtype=torch.long)
    loss = jsd_loss((clean, aug, aug), labels, weight=0.0)
    loss.backward()
    assert aug.grad is None or torch.count_nonzero(aug.grad) == 0
    assert torch.count_nonzero(clean.grad) > 0
