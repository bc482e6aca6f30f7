"""LayerMix: its draws against the authors' samplers, its ops and blends, and the transform."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import PIL.Image
import pytest
import torch
from scipy import stats

from ipmix.augment.methods import layermix as module
from ipmix.augment.methods.layermix import BLENDS, LAYERMIX_OPS, LayerMix, blend, layermix
from ipmix.augment.mixing import MIXING_OPS


def _reference_magnitude(max_val: float, magnitude: float, negative: bool) -> float:
    """``random_magnitude`` of the authors' ``transforms.py``, on Python's ``random``."""
    level = random.uniform(0.1, max_val * magnitude / 10.0)
    return -level if negative and random.random() < 0.5 else level


@pytest.mark.parametrize(("largest", "signed"), [(30, True), (4, False), (1, False), (1 - 3, False)])
def test_levels_follow_the_references_random_magnitude(largest, signed):
    random.seed(0)
    reference = [_reference_magnitude(largest, 3, signed) for _ in range(3000)]
    rng = np.random.default_rng(0)
    ours = [module._level(rng, largest, 3, signed) for _ in range(3000)]
    assert stats.ks_2samp(ours, reference).pvalue > 0.01


def test_ops_are_the_authors_twelve_and_keep_the_range():
    assert list(LAYERMIX_OPS) == [
        "equalize", "posterize", "posterize_increasing", "solarize", "solarize_increasing",
        "autocontrast", "grayscale", "rotate", "shear_x", "shear_y", "translate_x", "translate_y"]
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    for name, op in LAYERMIX_OPS.items():
        out = op(image, 3.0, rng)
        assert out.shape == image.shape and 0 <= float(out.min()) <= float(out.max()) <= 1, name
    # posterize at magnitude 3 keeps int(U(0.1, 1.2)) = 0 or 1 bit: black, or two levels
    assert set(torch.unique(LAYERMIX_OPS["posterize"](image, 3.0, rng)).tolist()) <= {0.0, 0.5}
    # solarize_increasing's threshold lies in [-0.2, 0.1]: (almost) a full inversion
    inverted = LAYERMIX_OPS["solarize_increasing"](image, 3.0, rng)
    assert float(((inverted - (1 - image)).abs() < 1e-6).float().mean()) > 0.85


def test_steps_ops_and_blends_are_drawn_as_the_authors(monkeypatch):
    """``laddermix``: steps U{0, 1, 2}, one op for all layers, blends uniform over the list
    (add and multiply twice each); chi-square tests at a fixed seed."""
    calls: list[str] = []
    ops = {name: (lambda n: lambda x, m, rng: calls.append(n) or x)(name) for name in LAYERMIX_OPS}
    blends: list[str] = []
    monkeypatch.setattr(module, "LAYERMIX_OPS", ops)
    monkeypatch.setattr(module, "blend", lambda x1, x2, name, ratio, rng: blends.append(name) or x1)
    image, picture = torch.rand(3, 8, 8), torch.rand(3, 8, 8)
    rng = np.random.default_rng(0)
    steps, chosen = [], []
    for _ in range(3000):
        before = len(calls)
        layermix(image, picture, 3.0, 3.0, rng)
        applied = calls[before:]
        assert len(set(applied)) == 1  # one op, up to three times
        steps.append({1: 0, 2: 1, 3: 2}[len(applied)])
        chosen.append(applied[0])
    assert stats.chisquare(np.bincount(steps, minlength=3)).pvalue > 0.01
    assert stats.chisquare(list(Counter(chosen).values())).pvalue > 0.01 and len(set(chosen)) == 12
    counts = Counter(blends)
    expected = np.array([2, 2, 1, 1]) / 6 * len(blends)
    observed = [counts[name] for name in MIXING_OPS]
    assert stats.chisquare(observed, expected).pvalue > 0.01
    assert sorted(set(BLENDS)) == sorted(MIXING_OPS)


def test_blends_are_ipmixs_mixing_operations():
    x1, x2 = torch.full((3, 4, 4), 0.25), torch.full((3, 4, 4), 0.75)
    rng = np.random.default_rng(0)
    for name in ("random_pixels", "random_elements"):
        out = blend(x1, x2, name, 3.0, rng)
        assert set(torch.unique(out).tolist()) <= {0.25, 0.75}
    pixels = blend(x1, x2, "random_pixels", 3.0, np.random.default_rng(1))
    assert torch.equal(pixels[0], pixels[1])  # one mask for every channel
    for name in ("add", "multiply"):
        out = blend(x1, x2, name, 3.0, rng)
        assert 0 <= float(out.min()) <= float(out.max()) <= 1


def test_transform_kinds_labels_views_seeds_and_workers(images, mixing_set, through_workers):
    image = PIL.Image.fromarray(images[0])
    out, label = LayerMix(mixing_set, seed=1)((image, 4))
    assert isinstance(out, PIL.Image.Image) and label == 4
    assert np.array_equal(np.asarray(out), np.asarray(LayerMix(mixing_set, seed=1)(image)))
    first, second = LayerMix(mixing_set, seed=2).views(image, 2)
    assert first.size == second.size == (32, 32)
    tensor = LayerMix(mixing_set, seed=1)(torch.from_numpy(images[0]).permute(2, 0, 1).float() / 255)
    assert tensor.dtype == torch.float32 and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1
    outputs = through_workers(LayerMix(mixing_set, seed=5), image)
    assert len({bytes(o.numpy()) for o in outputs}) >= 7  # an op like equalize can repeat
    assert torch.equal(outputs, through_workers(LayerMix(mixing_set, seed=5), image))


@pytest.mark.parametrize(("options", "message"), [
    ({"magnitude": 0}, "magnitude must be in"),
    ({"blending_ratio": 0}, "blending_ratio must be > 0"),
    ({"picture_scale": 0.5}, "picture_scale must be >= 1"),
])
def test_bad_options_are_refused(options, message, mixing_set):
    with pytest.raises(ValueError, match=message):
        LayerMix(mixing_set, **options)
