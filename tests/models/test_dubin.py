"""DuBIN (AugMax's dual batch-and-instance normalisation) as the models' ``norm`` option."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ipmix.models import UnknownModelError, build_model, load_classifier, make_checkpoint, model_options
from ipmix.models.dubin import DualBatchNorm2d, DuBIN, norm_route, to_dubin


def _count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(module, kind) for module in model.modules())


@pytest.mark.parametrize(("name", "options", "dubins"), [
    ("resnet18", {}, 6),  # AugMax's ResNet18_DuBIN: ibn 'a' in layers 1-3, two blocks each
    ("wrn40_4", {}, 12),  # WRN40_DuBIN: blocks 1 and 2, six blocks each
    ("resnext29_32x4d", {}, 6),  # ResNeXt29_DuBIN: stages 1 and 2, three blocks each
    ("small", {"width": 4}, 1),
])
def test_the_layout_is_the_authors(name, options, dubins):
    plain = build_model(name, 10, seed=0, **options)
    model = build_model(name, 10, seed=0, norm="dubin", **options)
    assert _count(model, DuBIN) == dubins
    norms = _count(plain, nn.BatchNorm2d)
    assert _count(model, DualBatchNorm2d) == norms  # every norm is dual (inside DuBIN too)
    assert all(n.endswith((".main", ".aux")) for n, m in model.named_modules()
               if isinstance(m, nn.BatchNorm2d))
    assert "norm" in model_options(name)


def test_torchvision_resnet50_gets_the_imagenet_layout():
    model = build_model("resnet50", 10, norm="dubin")
    assert _count(model, DuBIN) == 3 + 4 + 6  # INResNet50_DuBIN: layers 1-3, every block's bn1
    assert all(isinstance(model.body.get_submodule(f"layer{i}.0.bn1"), DuBIN) for i in (1, 2, 3))
    assert isinstance(model.body.layer4[0].bn1, DualBatchNorm2d)


def test_dubin_splits_instance_and_batch_norm():
    layer = DuBIN(8)
    x = torch.randn(4, 8, 5, 5)
    out = layer(x)
    torch.testing.assert_close(out[:, :4], nn.functional.instance_norm(x[:, :4], eps=1e-5))
    torch.testing.assert_close(out[:, 4:], nn.functional.batch_norm(x[:, 4:], None, None, training=True))


def test_routes_keep_separate_statistics():
    model = build_model("small", 10, seed=0, width=4, norm="dubin").train()
    dual = next(m for m in model.modules() if isinstance(m, DualBatchNorm2d))
    before_main, before_aux = dual.main.running_mean.clone(), dual.aux.running_mean.clone()
    with norm_route(model, "aux"):
        assert dual.route == "aux"
        model(torch.rand(4, 3, 32, 32))
    assert dual.route == "main"
    torch.testing.assert_close(dual.main.running_mean, before_main)
    assert not torch.equal(dual.aux.running_mean, before_aux)
    with pytest.raises(ValueError, match="route must be one of"), norm_route(model, "side"):
        pass


def test_conversion_keeps_what_the_norms_learnt():
    model = build_model("small", 10, seed=0, width=4).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2)
            nn.init.uniform_(module.weight, 0.5, 1.5)
    x = torch.rand(2, 3, 32, 32)
    expected = model(x)
    dubin = to_dubin(model).eval()
    first = dubin.body[3].body[0][1]
    assert isinstance(first, DuBIN)
    # The instance norm changes what the first residual sees; its batch half and every dual
    # norm elsewhere carry the original statistics and weights.
    torch.testing.assert_close(first.batch.aux.running_mean, first.batch.main.running_mean)
    assert not torch.allclose(dubin(x), expected)
    for name in ("body.0.1", "body.1.1"):
        dual = dubin.get_submodule(name)
        torch.testing.assert_close(dual.main.weight, dual.aux.weight)


def test_checkpoints_rebuild_the_dubin_model(tmp_path):
    model = build_model("small", 10, seed=0, width=4, norm="dubin").eval()
    path = tmp_path / "model.pt"
    torch.save(make_checkpoint(model, "small", 10, "cifar10", {"width": 4, "norm": "dubin"}), path)
    loaded, info = load_classifier(path)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model(x))
    assert info["model_kwargs"] == {"width": 4, "norm": "dubin"}


def test_unknown_norms_and_models_without_a_layout_are_refused():
    with pytest.raises(UnknownModelError, match="norm must be one of bn, dubin"):
        build_model("small", 10, norm="group")
    with pytest.raises(UnknownModelError, match="no layout for VisionTransformer"):
        build_model("vit_small", 10, norm="dubin")
