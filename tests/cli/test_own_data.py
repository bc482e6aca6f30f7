"""One's own image folder end to end, from the command line only: train -> make-c -> make-p ->
evaluate (twice: results merged) -> report."""

from __future__ import annotations

import json

import pytest
import torch

from ipmix.cli import main

CLASSES = ["astronaut", "chelsea", "coffee", "rocket"]  # class names no ImageNet model has


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("IPMIX_DATA", raising=False)


def test_train_make_c_make_p_evaluate_report_on_ones_own_folder(tmp_path, capsys):
    from image_folders import build_image_folder

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ds, run = tmp_path / "ds", tmp_path / "runs" / "t02"
    build_image_folder(ds / "train", per_class=4, seed=0, class_names=CLASSES)
    build_image_folder(ds / "val", per_class=2, seed=1, class_names=CLASSES)
    commands = [
        ["train", "--dataset", "imagefolder", "--data", str(ds), "--model", "small", "--image-size",
         "32", "--epochs", "1", "--pretrained", "none", "--workers", "0", "--out", str(run)],
        ["make-c", "--images", str(ds / "val"), "--out", str(tmp_path / "valc"), "--preset", "cifar",
         "--corruptions", "gaussian_noise,contrast", "--severities", "1,3"],
        ["make-p", "--images", str(ds / "val"), "--out", str(tmp_path / "valp"), "--preset", "cifar",
         "--perturbations", "gaussian_noise,tilt"],
        # no --image-size: the run's own 32 px
        ["evaluate", str(run), "--imagenet-val", str(ds / "val"), "--corrupted", str(tmp_path / "valc"),
         "--workers", "0"],
        ["evaluate", str(run), "--perturbed", str(tmp_path / "valp"), "--shift", f"mine={ds / 'val'}",
         "--workers", "0"],
        ["report", str(run), "--out", str(tmp_path / "report")],
    ]
    try:
        for command in commands:
            assert main([*command, "--no-progress"] if command[0] != "report" else command) == 0, (
                command[0], capsys.readouterr().err)
    finally:
        torch.set_num_threads(threads)
    results = json.loads((run / "results.json").read_text())
    assert set(results["meta"]["measured"]) == {"imagenet_val", "corrupted", "perturbed", "shifts/mine"}
    assert results["meta"]["imagenet"]["image_size"] == 32 and results["meta"]["imagenet"]["num_classes"] == 4
    assert results["imagenet_val"]["count"] == 8 and results["shifts"]["mine"]["classes"] == 4
    assert set(results["corrupted"]["errors"]) == {"gaussian_noise", "contrast"}
    assert list(results["corrupted"]["errors"]["contrast"]) == ["1", "3"]
    assert set(results["perturbed"]["flip_probability"]) == {"gaussian_noise", "tilt"}
    assert results["perturbed"]["top_k"] == 4  # a 4-class model is ranked over its 4 classes
    lines = (tmp_path / "report" / "report.md").read_text().splitlines()
    header = "| Run | Clean error | Corrupted error | RMS corrupted | Flip probability | Top-5 distance |"
    row = lines[lines.index(header) + 2]
    assert row.startswith("| t02 | ") and "–" not in row
