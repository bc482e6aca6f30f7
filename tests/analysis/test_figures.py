"""Figure 8: Grad-CAM against a case with a known answer, the seeded t-SNE, and
`ipmix figures` on tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ipmix.analysis.gradcam import feature_layer, grad_cam
from ipmix.analysis.tsne import tsne_embedding
from ipmix.cli import main
from ipmix.models import build_model
from ipmix.training import TrainConfig, train


class _RedDetector(nn.Module):
    """Class 0 = how red the image is on average: a 1x1 conv map, pooled, then linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[1.0, -1, -1], [-1, 1, 1]]).view(2, 3, 1, 1))
        self.head = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean((2, 3)))


def test_grad_cam_finds_what_the_class_depends_on():
    images = torch.full((1, 3, 16, 16), 0.3)
    images[0, 0, 2:6, 9:13] = 1.0  # a red square: class 0's evidence
    maps, classes, layer = grad_cam(_RedDetector(), images, classes=torch.tensor([0]))
    assert layer == "conv" and classes.tolist() == [0] and maps.shape == (1, 16, 16)
    assert float(maps.min()) == 0 and float(maps.max()) == pytest.approx(1)
    peak = divmod(int(maps[0].argmax()), 16)
    assert 2 <= peak[0] < 6 and 9 <= peak[1] < 13
    assert float(maps[0, 2:6, 9:13].mean()) > 0.9 and float(maps[0, 10:, :6].mean()) < 0.1


def test_the_target_layer_is_the_last_spatial_map():
    assert feature_layer(build_model("small", 10, width=4), torch.rand(1, 3, 32, 32)) == "body.8"
    assert feature_layer(build_model("resnet18", 10), torch.rand(1, 3, 32, 32)) == "stage4"
    with pytest.raises(ValueError, match="no module with a spatial feature map"):
        feature_layer(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), torch.rand(1, 3, 2, 2))
    model = build_model("small", 10, width=4, norm="dubin")  # inplace ReLUs after the layer
    maps, _, _ = grad_cam(model, torch.rand(2, 3, 32, 32), layer="body.5")
    assert maps.shape == (2, 32, 32) and torch.isfinite(maps).all()


def test_tsne_is_seeded():
    features = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    first, again = tsne_embedding(features, seed=3), tsne_embedding(features, seed=3)
    assert first.shape == (40, 2) and np.array_equal(first, again)
    with pytest.raises(ValueError, match="at least 3 points"):
        tsne_embedding(features[:2])


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    rng = np.random.default_rng(0)
    labels = np.arange(160) % 10
    colours = rng.integers(30, 226, (10, 3))[labels]
    images = np.clip(colours[:, None, None] + rng.normal(0, 20, (160, 32, 32, 3)), 0, 255).astype(np.uint8)
    np.savez(root / "cifar10.npz", x_train=images[:120], y_train=labels[:120],
             x_test=images[120:], y_test=labels[120:])
    runs = []
    for aug in ("none", "prime"):
        runs.append(train(TrainConfig(
            out=str(root / aug), data=str(root), model="small", model_kwargs={"width": 4}, aug=aug,
            epochs=1, batch_size=40, workers=0, progress=False, lr=0.05)))
    pictures = root / "chosen"
    pictures.mkdir()
    for index in range(2):
        Image.fromarray(images[index]).resize((48, 40)).save(pictures / f"p{index}.png")
    return root, runs, pictures


def test_figures_command_on_tiny_runs(tiny_runs, capsys):
    root, runs, pictures = tiny_runs
    out = root / "figures"
    argv = ["figures", *map(str, runs), "--out", str(out), "--data", str(root), "--n", "30",
            "--labels", "vanilla,PRIME", "--gradcam-images", str(pictures)]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    record = json.loads((out / "figures.json").read_text())
    assert set(record["runs"]) == {"vanilla", "PRIME"} and record["tsne"]["n"] == 30
    assert record["gradcam"]["layer"] == {"vanilla": "body.8", "PRIME": "body.8"}
    assert record["gradcam"]["images"] == ["p0.png", "p1.png"]
    with np.load(out / "tsne.npz") as arrays:
        assert arrays["embedding_0"].shape == arrays["embedding_1"].shape == (30, 2)
        assert arrays["labels"].shape == (30,)
    assert Image.open(out / "tsne.png").size[0] > 600 and (out / "gradcam.png").is_file()
    # the same seed gives the same embedding
    assert main([*argv[:-2], "--only", "tsne", "--out", str(root / "again")]) == 0
    with np.load(out / "tsne.npz") as first, np.load(root / "again" / "tsne.npz") as second:
        assert np.array_equal(first["embedding_1"], second["embedding_1"])


def test_figures_errors_name_the_problem(tiny_runs, capsys):
    root, runs, _ = tiny_runs
    assert main(["figures", str(runs[0]), "--out", str(root / "x"), "--labels", "a,b"]) == 2
    assert "2 labels for 1 runs" in capsys.readouterr().err
    assert main(["figures", str(runs[0]), "--out", str(root / "y"), "--data", str(root),
                 "--gradcam-images", str(root / "missing")]) == 2
    assert "no image file or folder" in capsys.readouterr().err
