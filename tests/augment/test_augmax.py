"""AugMax's image side: the AugMix chains per image and their mixing (the ascent: tests/training)."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from scipy import stats

from ipmix.augment.methods.augmax import AUGMAX_OPS, AugMaxChains, mix_chains, sample_augmix_mixing
from ipmix.augment.ops import AUGMIX_KERNELS


def test_chains_come_with_the_clean_image_in_the_input_kind(images):
    image = PIL.Image.fromarray(images[0])
    out = AugMaxChains(seed=0)((image, 7))  # a v2 sample: the label passes untouched
    views, label = out
    assert label == 7 and len(views) == 7
    assert all(isinstance(v, PIL.Image.Image) and v.size == (32, 32) for v in views)
    assert np.array_equal(np.asarray(views[0]), images[0])
    tensor = torch.from_numpy(images[1]).permute(2, 0, 1).float() / 255
    chains = AugMaxChains(width=2, groups=1, seed=0)(tensor)
    assert len(chains) == 3 and all(c.dtype == torch.float32 for c in chains)
    assert all(float(c.min()) >= 0 and float(c.max()) <= 1 for c in chains)


def test_chains_are_seeded_and_workers_draw_their_own(images, through_workers):
    image = PIL.Image.fromarray(images[2])
    first = AugMaxChains(seed=4)(image)
    again = AugMaxChains(seed=4)(image)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again, strict=True))
    outputs = through_workers(AugMaxChains(seed=4), image)
    assert len({bytes(o.numpy()) for o in outputs}) == 8  # no two workers or items repeat
    assert torch.equal(outputs, through_workers(AugMaxChains(seed=4), image))


def test_chain_lengths_and_ops_are_augmixs(images):
    """The authors' ``aug``: depth ``randint(1, 4)``, ops uniform over AugMix's nine, levels
    uniform in [0.1, severity] (chi-square and KS tests at fixed seeds)."""
    transform = AugMaxChains(severity=3, seed=11)
    calls: list[tuple[str, float]] = []

    def counting(name):
        def op(image, level, sign):
            calls.append((name, level))
            return AUGMIX_KERNELS[name](image, level, sign)
        return op

    transform._kernels = [counting(name) for name in AUGMAX_OPS]
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(600):
        before = len(calls)
        transform.chain(images[3], rng)
        lengths.append(len(calls) - before)
    counts = np.bincount(lengths, minlength=4)[1:]
    assert counts.sum() == 600 and stats.chisquare(counts).pvalue > 0.01
    ops = np.array([AUGMAX_OPS.index(name) for name, _ in calls])
    assert stats.chisquare(np.bincount(ops, minlength=9)).pvalue > 0.01
    levels = np.array([level for _, level in calls])
    assert stats.kstest(levels, stats.uniform(0.1, 2.9).cdf).pvalue > 0.01


def test_augmix_mixing_matches_the_references_distributions():
    """``AugMixModule``: w ~ Dirichlet(1, 1, 1) (marginals Beta(1, 2)), m ~ Beta(1, 1)."""
    weights, skip = sample_augmix_mixing(np.random.default_rng(3), 4000, 3)
    torch.manual_seed(3)
    reference = torch.distributions.Dirichlet(torch.ones(3)).sample((4000,)).numpy()
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-5)
    assert stats.ks_2samp(weights[:, 0], reference[:, 0]).pvalue > 0.01
    assert stats.kstest(skip, "uniform").pvalue > 0.01


def test_mixing_is_the_authors_and_differentiable():
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 4, 4, generator=generator)
    chains = torch.rand(3, 2, 3, 4, 4, generator=generator)
    q = torch.rand(2, 3, generator=generator, requires_grad=True)
    m = torch.tensor([0.0, 0.7], requires_grad=True)
    mixed = mix_chains(clean, chains, q.softmax(1), m)
    w = q.softmax(1)
    expected = 0.3 * clean[1] + 0.7 * sum(w[1, i] * chains[i, 1] for i in range(3))
    torch.testing.assert_close(mixed[0], clean[0])
    torch.testing.assert_close(mixed[1], expected)
    mixed.sum().backward()
    assert q.grad is not None and m.grad is not None


@pytest.mark.parametrize(("options", "message"), [
    ({"width": 0}, "width must be an integer >= 1"),
    ({"depth": 0}, "depth must be >= 1, or -1"),
    ({"severity": 11}, "severity must be a number"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        AugMaxChains(**options)
