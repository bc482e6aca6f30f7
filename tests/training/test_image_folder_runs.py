"""Training on image folders: ResNet-50 at 64 px with batched IPMix, exact resume, DDP, checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ipmix.cli import main
from ipmix.models import load_classifier
from ipmix.training import TrainConfig, train
from ipmix.training import trainer as trainer_module

TESTS = str(Path(__file__).resolve().parents[1])
torch.set_num_threads(1)  # a shared 2-core box: one thread is faster and steadier


def _folder_args(tiny_folder, tiny_mixing_set, out, *extra) -> list[str]:
    return ["train", "--dataset", "imagefolder", "--data", str(tiny_folder), "--model", "resnet50",
            "--pretrained", "none", "--image-size", "64", "--aug", "ipmix", "--batched",
            "--mixing-set", str(tiny_mixing_set), "--batch-size", "6", "--lr", "0.002", "--workers", "0",
            "--no-progress", "--out", str(out), *extra]


def test_resnet50_on_a_folder_with_batched_ipmix_resumes_exactly(tmp_path, tiny_folder,
                                                                  tiny_mixing_set, crash_after,
                                                                  capsys):
    reference = tmp_path / "reference"
    with pytest.warns(UserWarning, match="3 file.*unusable and skipped"):
        assert main(_folder_args(tiny_folder, tiny_mixing_set, reference, "--epochs", "2")) == 0
    config = json.loads((reference / "config.json").read_text())
    assert config["preset"] == "imagenet" and config["recipe"] == "imagenet"
    assert config["train_crop"] == "random-resized" and config["image_size"] == 64
    model, info = load_classifier(reference)
    assert info["model_name"] == "resnet50" and info["num_classes"] == 4
    assert info["classes"] == ["class_0", "class_1", "class_2", "class_3"]
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 4)

    crash_after(1)
    interrupted = tmp_path / "interrupted"
    with pytest.raises(crash_after.error), pytest.warns(UserWarning):
        main(_folder_args(tiny_folder, tiny_mixing_set, interrupted, "--epochs", "2"))
    crash_after.disarm()
    assert not (interrupted / ".lock").exists()  # released although the run crashed
    capsys.readouterr()
    # Only the folder: every other option comes from the saved configuration.
    with pytest.warns(UserWarning):
        assert main(["train", "--out", str(interrupted) + "/", "--resume", "--no-progress"]) == 0
    expected = torch.load(reference / "final.pt", weights_only=True)["model_state"]
    got = torch.load(interrupted / "final.pt", weights_only=True)["model_state"]
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0, msg=key)


def test_two_process_gloo_ddp_on_a_folder(tmp_path, tiny_folder, tiny_mixing_set):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(Path(trainer_module.__file__).parents[2]), TESTS])}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "ipmix.cli", "train", "--device", "cpu", "--dataset", "imagefolder", "--data",
         str(tiny_folder), "--model", "small", "--model-kwargs", '{"width": 4}', "--image-size",
         "48", "--aug", "ipmix", "--mixing-set", str(tiny_mixing_set), "--epochs", "1",
         "--batch-size", "4", "--workers", "0", "--lr", "0.05", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    # 12 usable training images, half per rank; 8 validation images, summed over ranks.
    assert log[0]["train_images"] == 12 and 0 <= log[0]["test_acc"] <= 1
    assert json.loads((out / "config.json").read_text())["preset"] == "imagenet"


def test_imagenet_needs_its_thousand_wnid_folders(tmp_path, tiny_folder, capsys):
    args = ["train", "--dataset", "imagenet", "--data", str(tiny_folder), "--model", "small",
            "--pretrained", "none", "--image-size", "48", "--workers", "0", "--no-progress",
            "--out", str(tmp_path / "r")]
    with pytest.warns(UserWarning):
        assert main(args) == 2
    err = capsys.readouterr().err
    assert "has 4 class folders, ImageNet-1k has 1000 wnids" in err and "n01440764" in err
    assert not (tmp_path / "r").exists()  # nothing left behind


def test_strict_data_refuses_unusable_files(tmp_path, tiny_folder, capsys):
    args = ["train", "--dataset", "imagefolder", "--data", str(tiny_folder), "--model", "small",
            "--image-size", "48", "--strict-data", "--workers", "0", "--no-progress",
            "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "found (strict)" in err and "truncated.jpg" in err


def test_folder_defaults_follow_the_image_size(tmp_path, tiny_folder):
    base = dict(out=str(tmp_path / "r"), dataset="imagefolder", data=str(tiny_folder))
    big = TrainConfig(**base).resolved("cpu")
    assert (big.image_size, big.preset, big.recipe, big.model) == (224, "imagenet", "imagenet", "resnet50")
    assert (big.lr, big.batch_size, big.epochs, big.pretrained) == (0.01, 256, 180, "IMAGENET1K_V1")
    assert big.batched is False and big.train_crop == "random-resized"
    assert TrainConfig(**base).resolved("cuda").batched is True
    small = TrainConfig(**base, image_size=32, model="small").resolved("cpu")
    assert small.preset == "cifar10" and small.pretrained == "none"
    cifar = TrainConfig(out=str(tmp_path / "c")).resolved("cuda")
    assert (cifar.preset, cifar.batched, cifar.amp_dtype, cifar.train_crop) == (
        "cifar10", False, "float16", "pad")


def test_train_from_python_on_a_folder_with_per_image_augmix(tmp_path, tiny_folder):
    config = TrainConfig(out=str(tmp_path / "r"), dataset="imagefolder", data=str(tiny_folder),
                         model="small", model_kwargs={"width": 4}, image_size=40,
                         aug="augmix-m2", epochs=1, batch_size=8, workers=2, progress=False,
                         lr=0.05, train_crop="pad")
    with pytest.warns(UserWarning):
        run_dir = train(config)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert log[0]["train_images"] == 12 and torch.isfinite(torch.tensor(log[0]["train_loss"]))


def test_absent_pretrained_weights_stop_the_run_before_the_data(tmp_path, tiny_folder, capsys,
                                                                monkeypatch):
    import ipmix.data.splits

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(ipmix.data.splits, "scan_image_folder",
                        lambda *a, **k: pytest.fail("the folder was read"))
    args = ["train", "--dataset", "imagefolder", "--data", str(tiny_folder), "--workers", "0",
            "--no-progress", "--out", str(tmp_path / "r")]  # the imagenet recipe: IMAGENET1K_V1
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "IMAGENET1K_V1" in err and "not in torch hub's cache" in err
    assert not (tmp_path / "r").exists()


def _small_args(data, out, *extra) -> list[str]:
    return ["train", "--dataset", "imagefolder", "--data", str(data), "--model", "small",
            "--model-kwargs", '{"width": 4}', "--aug", "none", "--epochs", "1", "--workers", "0",
            "--no-progress", "--out", str(out), *extra]


def test_sizes_a_model_cannot_take_are_refused_before_the_run_folder_exists(tmp_path, tiny_folder,
                                                                             capsys):
    out = tmp_path / "r"
    assert main(_small_args(tiny_folder, out, "--image-size", "7")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model 'small' cannot take 7 px images (" in err
    assert "the smallest larger size it takes is 8 px: choose a larger --image-size" in err
    assert not out.exists()
    # 12 usable training images, batch 11: a last batch of one image, pooled to 1x1 at 8 px
    assert main(_small_args(tiny_folder, out, "--image-size", "8", "--batch-size", "11")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the last batch of every epoch holds 1 image (12 training images" in err
    assert "model 'small' cannot train on one 8 px image (batch norm needs more than one value" in err
    assert not out.exists()
    assert main(_small_args(tiny_folder, out, "--image-size", "8", "--batch-size", "12")) == 0  # corrected
    assert (out / "final.pt").is_file()


def test_a_one_class_folder_is_refused(tmp_path, capsys):
    from image_folders import build_image_folder

    for split in ("train", "val"):
        build_image_folder(tmp_path / "one" / split, classes=1, per_class=2)
    assert main(_small_args(tmp_path / "one", tmp_path / "r", "--image-size", "16")) == 2
    err = capsys.readouterr().err
    train = tmp_path / "one" / "train"
    assert f"{train} has one class folder (class_0): a classifier needs at least 2" in err
    assert not (tmp_path / "r").exists()
