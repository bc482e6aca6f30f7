"""PRIME: the primitives against the authors' formulas, the parameter distributions against
their samplers, and the transforms (range, kinds, seeds, workers, views, devices)."""

from __future__ import annotations

import math

import numpy as np
import PIL.Image
import pytest
import torch
from scipy import stats

from ipmix.augment.methods.prime.primitives import diffeo, random_filter, smooth_color
from ipmix.augment.methods.prime.transform import (
    PRIME,
    PRIMITIVES,
    PRIMEBatch,
    PRIMEOptions,
    apply_prime,
    sample_prime_plan,
    temperature_range,
)

# ---- the primitives, against transcriptions of the reference's formulas ----------------------


def _reference_field(side: int, cut: int, generator: torch.Generator) -> torch.Tensor:
    """``scalar_field(n, m)`` of ``utils/diffeomorphism.py``, its noise from `generator`."""
    x = torch.linspace(0, 1, side)
    k = torch.arange(1, cut + 1, dtype=torch.float32)
    i, j = torch.meshgrid(k, k, indexing="ij")
    r = (i.pow(2) + j.pow(2)).sqrt()
    e = (r < cut + 0.5) / r
    s = torch.sin(math.pi * x[:, None] * k[None, :])
    c = torch.randn(cut, cut, generator=generator) * e
    return torch.einsum("ij,xi,yj->yx", c, s, s)


def _reference_deform(image: torch.Tensor, temperature: float, cut: int,
                      generator: torch.Generator) -> torch.Tensor:
    """``deform`` + ``remap(interp='linear')``: floor/ceil bilinear reads at ``x - tau(x)``."""
    n = image.shape[-1]
    dx = temperature**0.5 * _reference_field(n, cut, generator) * n
    dy = temperature**0.5 * _reference_field(n, cut, generator) * n
    y, x = torch.meshgrid(torch.arange(n, dtype=dx.dtype), torch.arange(n, dtype=dx.dtype), indexing="ij")
    xn, yn = (x - dx).clamp(0, n - 1), (y - dy).clamp(0, n - 1)
    xf, yf, xc, yc = xn.floor().long(), yn.floor().long(), xn.ceil().long(), yn.ceil().long()
    xv, yv = xn - xf, yn - yf
    return ((1 - yv) * (1 - xv) * image[..., yf, xf] + (1 - yv) * xv * image[..., yf, xc]
            + yv * (1 - xv) * image[..., yc, xf] + yv * xv * image[..., yc, xc])


def test_diffeo_is_the_references_deformation():
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    for cut, temperature in ((2, 0.004), (17, 0.0005), (60, 0.00003)):
        ours = diffeo(image[None], torch.tensor([cut]), torch.tensor([temperature]),
                      torch.Generator().manual_seed(cut))[0]
        reference = _reference_deform(image, temperature, cut, torch.Generator().manual_seed(cut))
        torch.testing.assert_close(ours, reference, atol=2e-5, rtol=0)


def test_diffeo_keeps_a_batch_of_mixed_cuts_per_image():
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    cuts, temperatures = torch.tensor([3, 40, 3, 9, 40]), torch.full((5,), 1e-3)
    together = diffeo(images, cuts, temperatures, torch.Generator().manual_seed(0))
    assert together.shape == images.shape and 0 <= float(together.min()) <= float(together.max()) <= 1
    assert not torch.allclose(together, images)
    with pytest.raises(ValueError, match="square images"):
        diffeo(torch.rand(1, 3, 8, 6), torch.tensor([3]), torch.tensor([1e-3]), torch.Generator())


def test_smooth_color_is_the_references():
    """``random_smooth_color`` without a bandwidth: ``v + sqrt(T) sum_k c_k sin(pi k v)``."""
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    cut, temperature = 12, 0.01
    ours = smooth_color(images, torch.ones(2, dtype=torch.long), torch.full((2,), cut),
                        torch.full((2,), temperature), torch.Generator().manual_seed(5))
    coeff = torch.randn(2, 3, cut, generator=torch.Generator().manual_seed(5)) * temperature**0.5
    k = torch.arange(1, cut + 1)
    colors = images.flatten(2)
    reference = (torch.einsum("bcf,bcnf->bcn", coeff, torch.sin(colors[..., None] * k * math.pi))
                 + colors).clamp(0, 1).view_as(images)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


def test_random_filter_is_the_references_off_centre_kernel():
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    ours = random_filter(images, torch.full((2,), 0.0), 3, torch.Generator().manual_seed(0))
    # sigma 0: the kernel is the delta at index ceil(3 / 2) = 2, a shift by one pixel up-left.
    expected = torch.zeros_like(images)
    expected[:, :, :-1, :-1] = images[:, :, 1:, 1:]
    torch.testing.assert_close(ours, expected)
    weights = 0.5 * torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(9))
    weights[:, 2, 2] += 1
    ours = random_filter(images, torch.full((2,), 0.5), 3, torch.Generator().manual_seed(9))
    reference = torch.stack([
        torch.nn.functional.conv2d(images[b][:, None], weights[b][None, None], padding="same")[:, 0]
        for b in range(2)]).clamp(0, 1)
    torch.testing.assert_close(ours, reference)


# ---- parameter distributions, against the reference's samplers -----------------------------


def _reference_diffeo_parameters(count: int, side: int, cut_max: int) -> tuple[np.ndarray, np.ndarray]:
    """``Diffeo(sT=1, rT=1, scut=1, rcut=1, cutmin=2, cutmax, alpha=1, stochastic=True)``."""
    torch.manual_seed(0)
    beta = torch.distributions.Beta(1 - 1 / 2, 1 / 2)
    cuts, temperatures = [], []
    for _ in range(count):
        largest = torch.randint(low=3, high=cut_max + 1, size=(1,)).item()
        cut = (beta.sample() * (largest + 1 - 2) + 2).int().item()
        low, high = temperature_range(side, np.array(float(cut)))
        high = max(low, high)
        cuts.append(cut)
        temperatures.append(float(beta.sample() * (high - low) + low))
    return np.array(cuts), np.array(temperatures)


def _reference_color_band(count: int, cut_max: int, bandwidth: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The frequencies ``k`` of ``RandomSmoothColor(cut_max, T, bandwidth, stochastic=True)``."""
    torch.manual_seed(1)
    first, last = [], []
    for _ in range(count):
        cut = torch.randint(low=1, high=cut_max + 1, size=(1,)).item()
        if bandwidth is None:
            k = torch.arange(1, cut + 1)
        else:
            start = torch.randint(low=1, high=cut + 1, size=(1,)).item()
            k = torch.arange(start, min(start + bandwidth, cut + 1))
        first.append(int(k[0]))
        last.append(int(k[-1]))
    return np.array(first), np.array(last)


@pytest.mark.parametrize(("preset", "side"), [("cifar", 32), ("imagenet", 224)])
def test_plan_parameters_follow_the_references_samplers(preset, side):
    options = PRIMEOptions.preset(preset)
    plan = sample_prime_plan(options, 3000, side, np.random.default_rng(0))
    cuts, temperatures = plan.diffeo_cut[:, 0, 0], plan.diffeo_temperature[:, 0, 0]
    reference_cuts, reference_temperatures = _reference_diffeo_parameters(3000, side, options.diffeo_cut)
    assert stats.ks_2samp(cuts, reference_cuts).pvalue > 0.01
    assert stats.ks_2samp(temperatures, reference_temperatures).pvalue > 0.01
    assert cuts.min() >= 2 and cuts.max() <= options.diffeo_cut
    # RandomSmoothColor(stochastic=True): cut ~ U{1..cut_max}; with a bandwidth the band starts
    # at U{1..cut} and ends bandwidth - 1 later, or at the cut.
    first, last = _reference_color_band(3000, options.color_cut, options.color_bandwidth)
    assert stats.ks_2samp(plan.color_first[:, 0, 0], first).pvalue > 0.01
    assert stats.ks_2samp(plan.color_last[:, 0, 0], last).pvalue > 0.01
    assert stats.kstest(plan.color_temperature.ravel() / options.color_temperature, "uniform").pvalue > 0.01
    assert stats.kstest(plan.filter_sigma.ravel() / options.filter_sigma, "uniform").pvalue > 0.01
    # GeneralizedPRIMEModule: depth uniform in 1..3, primitive uniform, w ~ Dir(1), m ~ Beta(1, 1).
    assert stats.chisquare(np.bincount(plan.steps.ravel(), minlength=4)[1:]).pvalue > 0.01
    assert stats.chisquare(np.bincount(plan.primitive.ravel(), minlength=3)).pvalue > 0.01
    assert stats.kstest(plan.weights[:, 0], stats.beta(1, 2).cdf).pvalue > 0.01
    assert stats.kstest(plan.skip, "uniform").pvalue > 0.01


# ---- the transforms ---------------------------------------------------------------------------


def test_batched_views_range_and_dtypes():
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    first, second = PRIMEBatch(seed=1, views=2)(images)
    assert first.shape == images.shape and not torch.equal(first, second)
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    as_bytes = PRIMEBatch(seed=1)((images * 255).round().to(torch.uint8))
    assert as_bytes.dtype == torch.uint8
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        PRIMEBatch(seed=1)(images * 2)


def test_batched_is_seeded_and_draws_per_sample():
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)).repeat(4, 1, 1, 1)
    out = PRIMEBatch(seed=3)(images)
    assert torch.equal(out, PRIMEBatch(seed=3)(images))
    assert len({bytes(o.numpy()) for o in out}) == 4  # one image four times: four augmentations


def test_plan_and_apply_agree_with_the_transform():
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    transform = PRIMEBatch(seed=8)
    plan = sample_prime_plan(transform.options, 3, 32, np.random.default_rng(8))
    direct = apply_prime(images, plan, transform.options, torch.Generator().manual_seed(plan.noise_seed))
    torch.testing.assert_close(transform(images), direct)
    assert PRIMITIVES == ("diffeo", "color", "filter")


def test_per_image_kinds_labels_seeds_and_workers(images, through_workers):
    image = PIL.Image.fromarray(images[0])
    out, label = PRIME(seed=2)((image, 5))
    assert isinstance(out, PIL.Image.Image) and out.size == (32, 32) and label == 5
    assert np.array_equal(np.asarray(out), np.asarray(PRIME(seed=2)(image)))
    tensor = PRIME(seed=2)(torch.from_numpy(images[0]).permute(2, 0, 1).float() / 255)
    assert tensor.dtype == torch.float32 and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1
    outputs = through_workers(PRIME(seed=2), image)
    assert len({bytes(o.numpy()) for o in outputs}) == 8
    assert torch.equal(outputs, through_workers(PRIME(seed=2), image))


@pytest.mark.parametrize(("options", "message"), [
    ({"width": 0}, "width must be an integer >= 1"),
    ({"depth": 0}, "depth must be >= 1"),
    ({"diffeo_cut": 2}, "diffeo_cut must be an integer >= 3"),
    ({"color_bandwidth": 0}, "color_bandwidth must be >= 1"),
    ({"filter_sigma": -1.0}, "filter_sigma must be >= 0"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        PRIMEOptions(**options)
