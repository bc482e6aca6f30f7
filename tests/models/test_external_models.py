"""torchvision and timm models as ipmix models: normalisation inside, heads, weights, checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ipmix.models import (
    PretrainedWeightsError,
    UnknownModelError,
    WrappedClassifier,
    build_model,
    load_classifier,
    make_checkpoint,
)
from ipmix.models.external import IMAGENET_MEAN, IMAGENET_STD

torch.set_num_threads(1)


def _x(size: int = 64) -> torch.Tensor:
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_resnet50_is_torchvision_s_with_imagenet_normalisation_inside():
    import torchvision

    model = build_model("resnet50", 7, seed=0).eval()
    assert isinstance(model, WrappedClassifier) and model.num_features == 2048
    assert model.head.out_features == 7
    assert model.normalize.mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)
    reference = torchvision.models.resnet50(num_classes=7).eval()
    body = {k.removeprefix("body."): v for k, v in model.state_dict().items() if k.startswith("body.")}
    reference.load_state_dict({**body, "fc.weight": model.head.weight, "fc.bias": model.head.bias})
    x = _x(32)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    normalised = (x - mean) / std
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(normalised))
        assert model.forward_features(x).shape == (2, 2048)


def test_checkpoints_of_library_models_load_back(tmp_path):
    model = build_model("torchvision:mobilenet_v3_small", 5, seed=1).eval()
    checkpoint = make_checkpoint(model, "torchvision:mobilenet_v3_small", 5, "imagefolder")
    torch.save(checkpoint, tmp_path / "m.pt")
    loaded, info = load_classifier(tmp_path / "m.pt")
    assert info["model_name"] == "torchvision:mobilenet_v3_small" and info["num_classes"] == 5
    with torch.no_grad():
        torch.testing.assert_close(loaded(_x()), model(_x()), rtol=0, atol=0)
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(build_model("torchvision:mobilenet_v3_small", 3))
    torch.save(make_checkpoint(sync, "torchvision:mobilenet_v3_small", 3, "imagenet"), tmp_path / "sync.pt")
    assert load_classifier(tmp_path / "sync.pt")[1]["num_classes"] == 3  # --sync-bn runs too


def test_pretrained_weights_from_a_local_file(tmp_path):
    import torchvision

    source = torchvision.models.mobilenet_v3_small(num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    same = build_model("torchvision:mobilenet_v3_small", 1000, pretrained=str(tmp_path / "weights.pth"))
    new_head = build_model("torchvision:mobilenet_v3_small", 4, pretrained=str(tmp_path / "weights.pth"))
    first = "features.0.0.weight"
    assert torch.equal(same.body.state_dict()[first], source.state_dict()[first])
    assert torch.equal(new_head.body.state_dict()[first], source.state_dict()[first])
    assert torch.equal(same.head.weight, source.classifier[3].weight)
    assert new_head.head.out_features == 4
    # An ipmix checkpoint is a starting point too (fine-tuning a finished run).
    checkpoint = make_checkpoint(new_head, "torchvision:mobilenet_v3_small", 4, "imagefolder")
    torch.save(checkpoint, tmp_path / "run.pt")
    again = build_model("torchvision:mobilenet_v3_small", 9, pretrained=str(tmp_path / "run.pt"))
    assert torch.equal(again.body.state_dict()[first], source.state_dict()[first])
    assert again.head.out_features == 9
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(PretrainedWeightsError, match="junk.pth: not a readable weights file"):
        build_model("torchvision:mobilenet_v3_small", 4, pretrained=str(tmp_path / "junk.pth"))


def test_library_weights_absent_from_the_cache_are_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(PretrainedWeightsError) as caught:
        build_model("resnet50", 1000, pretrained="IMAGENET1K_V1")
    message = str(caught.value)
    assert "\n" not in message and "not in torch hub's cache" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-0676ba61.pth") in message
    assert "does not download" in message
    with pytest.raises(PretrainedWeightsError, match="no weights 'IMAGENET9K'"):
        build_model("resnet50", 1000, pretrained="IMAGENET9K")


def test_unknown_library_models_are_named():
    with pytest.raises(UnknownModelError, match="torchvision has no classification model 'resnet51'"):
        build_model("torchvision:resnet51", 10)
    with pytest.raises(UnknownModelError, match=r"pretrained weights exist for torchvision/timm models, "
                       r"not for 'small' \(which starts only from an ipmix checkpoint"):
        build_model("small", 10, pretrained="default")


def test_timm_models_when_timm_is_installed(tmp_path):
    timm = pytest.importorskip("timm")
    model = build_model("timm:test_resnet", 6, seed=0).eval()
    assert model.head.out_features == 6 and model.forward_features(_x(32)).shape[1] == model.num_features
    mean = timm.create_model("test_resnet").pretrained_cfg["mean"]
    assert model.normalize.mean.flatten().tolist() == pytest.approx(mean)
    torch.save(make_checkpoint(model, "timm:test_resnet", 6, "imagefolder"), tmp_path / "t.pt")
    loaded, _ = load_classifier(tmp_path / "t.pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(_x(32)), model(_x(32)), rtol=0, atol=0)
    source = timm.create_model("test_resnet", num_classes=6)
    torch.save(source.state_dict(), tmp_path / "timm.pth")
    warm = build_model("timm:test_resnet", 6, pretrained=str(tmp_path / "timm.pth"))
    assert torch.equal(warm.head.weight, source.get_classifier().weight)
    with pytest.raises(UnknownModelError, match="timm has no model 'no_such_net'"):
        build_model("timm:no_such_net", 3)
