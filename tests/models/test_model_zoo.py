"""Every registered model: shapes, published parameter counts, normalisation, options."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ipmix.models import (
    MODEL_NAMES,
    Normalize,
    PretrainedWeightsError,
    UnknownModelError,
    build_model,
    count_parameters,
    make_checkpoint,
    model_options,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def models_10() -> dict[str, torch.nn.Module]:
    return {name: build_model(name, 10, seed=0).eval() for name in MODEL_NAMES}


def test_names_are_the_agreed_ones() -> None:
    assert set(MODEL_NAMES) == {
        "wrn40_4", "wrn28_10", "resnext29_32x4d", "resnet18", "vit_small", "small"
    }


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logits_and_features_shapes(name: str, models_10: dict[str, torch.nn.Module]) -> None:
    model = models_10[name]
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
    assert logits.shape == (2, 10)
    assert features.shape == (2, model.num_features)
    assert torch.isfinite(logits).all()
    # The head really is the last step: logits are the head applied to the features.
    torch.testing.assert_close(model.head(features), logits)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_hundred_classes(name: str) -> None:
    model = build_model(name, 100, seed=0).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 100)


@pytest.mark.parametrize("name", ["small", "resnet18", "vit_small", "wrn40_4"])
def test_training_step_gives_gradients_everywhere(name: str) -> None:
    model = build_model(name, 10, seed=0).train()
    loss = torch.nn.functional.cross_entropy(model(torch.rand(2, 3, 32, 32)), torch.tensor([1, 2]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


# Published sizes (10 classes): WRN paper (40-4: 8.9M, 28-10: 36.5M), the usual CIFAR
# ResNet-18 (11.2M), AugMix's ResNeXt-29 as the reference code builds it (6.8M).
@pytest.mark.parametrize(
    ("name", "millions"),
    [("wrn40_4", 8.9), ("wrn28_10", 36.5), ("resnet18", 11.2), ("resnext29_32x4d", 6.8)],
)
def test_parameter_counts_match_published_sizes(
    name: str, millions: float, models_10: dict[str, torch.nn.Module]
) -> None:
    assert count_parameters(models_10[name]) / 1e6 == pytest.approx(millions, abs=0.06)


def test_small_is_about_0_4m_parameters(models_10: dict[str, torch.nn.Module]) -> None:
    assert 0.35e6 <= count_parameters(models_10["small"]) <= 0.45e6


def test_wrn_dropout_defaults_to_0_3() -> None:
    for name in ("wrn40_4", "wrn28_10"):
        blocks = [m for m in build_model(name, 10).modules() if hasattr(m, "dropout")]
        assert blocks and all(b.dropout == 0.3 for b in blocks)
    blocks = [m for m in build_model("wrn40_4", 10, dropout=0.0).modules() if hasattr(m, "dropout")]
    assert all(b.dropout == 0.0 for b in blocks)


def test_models_normalise_inside_with_half_mean_and_std() -> None:
    model = build_model("small", 10, seed=0).eval()
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(model.normalize(x), 2 * x - 1)
    custom = build_model("small", 10, seed=0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)).eval()
    with torch.no_grad():
        # Same weights, identity normalisation fed with 2x - 1: same logits.
        torch.testing.assert_close(custom(2 * x - 1), model(x))


@pytest.mark.parametrize("name", ["small", "wrn40_4", "resnext29_32x4d", "vit_small"])
def test_channels_last_gives_the_same_logits(name: str, models_10: dict) -> None:
    model = models_10[name]
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        model_cl = build_model(name, 10, seed=0).eval().to(memory_format=torch.channels_last)
        got = model_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_seed_fixes_weights_and_spares_global_rng() -> None:
    state = torch.get_rng_state()
    a, b = build_model("small", 10, seed=3), build_model("small", 10, seed=3)
    c = build_model("small", 10, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.head.weight, c.head.weight)


def test_bad_names_options_and_class_counts_are_clear_errors() -> None:
    with pytest.raises(UnknownModelError, match="unknown model 'wrn40_2'.*wrn40_4"):
        build_model("wrn40_2", 10)
    with pytest.raises(UnknownModelError, match="no option.*depth"):
        build_model("wrn40_4", 10, depth=16)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("small", 0)
    with pytest.raises(ValueError, match="divisible"):
        build_model("vit_small", 10, dim=100, num_heads=12)
    with pytest.raises(ValueError, match="expected images"):
        build_model("small", 10)(torch.rand(2, 1, 32, 32))
    assert "dropout" in model_options("wrn28_10")
    with pytest.raises(ValueError, match="feature_scale"):
        build_model("small", 10, feature_scale=0.0)


def test_normalize_rejects_bad_statistics() -> None:
    with pytest.raises(ValueError, match="positive"):
        Normalize((0.5, 0.5, 0.5), (0.5, 0.0, 0.5))
    with pytest.raises(ValueError, match="equal-length"):
        Normalize((0.5, 0.5), (0.5, 0.5, 0.5))


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 4), classes=st.integers(1, 200), width=st.integers(2, 8))
def test_small_shapes_property(batch: int, classes: int, width: int) -> None:
    model = build_model("small", classes, seed=0, width=width).eval()
    with torch.no_grad():
        out = model(torch.rand(batch, 3, 32, 32))
    assert out.shape == (batch, classes)


def test_a_built_in_model_starts_from_an_ipmix_checkpoint(tmp_path):
    """--pretrained RUN/final.pt: the weights of a finished run, a new head for a new class count."""
    source = build_model("small", 10, seed=1, width=4)
    torch.save(make_checkpoint(source, "small", 10, "cifar10", {"width": 4}), tmp_path / "final.pt")
    same = build_model("small", 10, pretrained=str(tmp_path / "final.pt"), width=4)
    pairs = zip(same.state_dict().values(), source.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    fewer = build_model("small", 4, seed=0, pretrained=str(tmp_path / "final.pt"), width=4)
    assert fewer.head.out_features == 4
    assert torch.equal(fewer.normalize.mean, source.normalize.mean)
    body = {k: v for k, v in source.state_dict().items() if not k.startswith("head.")}
    assert all(torch.equal(fewer.state_dict()[k], v) for k, v in body.items())
    with pytest.raises(UnknownModelError, match="is a checkpoint of model 'small', not of 'resnet18'"):
        build_model("resnet18", 4, pretrained=str(tmp_path / "final.pt"))
    with pytest.raises(PretrainedWeightsError, match="weights do not fit small"):
        build_model("small", 4, pretrained=str(tmp_path / "final.pt"), width=8)
