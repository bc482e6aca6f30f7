"""`ipmix evaluate` with ImageNet benchmark folders, and the report's Table 5 layout."""

from __future__ import annotations

import json

import pytest
import torch
from fake_benchmarks import write_image

from ipmix.cli import main
from ipmix.models import build_model, make_checkpoint
from ipmix.robustness.benchmarks.imagenet_subsets import subset_wnids
from ipmix.robustness.report.imagenet import table5


def _checkpoint(tmp_path, classes: int, dataset: str, names: list[str] | None = None):
    model = build_model("small", classes, seed=0)
    path = tmp_path / "run" / "final.pt"
    path.parent.mkdir(exist_ok=True)
    checkpoint = make_checkpoint(model, "small", classes, dataset)
    if names is not None:  # the class names ipmix's trainer records
        checkpoint["classes"] = names
    torch.save(checkpoint, path)
    return path.parent


def test_evaluate_an_imagenet_checkpoint_on_imagenet_r(tmp_path, capsys):
    run = _checkpoint(tmp_path, 1000, "imagenet")
    for i, wnid in enumerate(subset_wnids("imagenet-r")):
        write_image(tmp_path / "r" / wnid / "0", i + 1, size=12)
    code = main(["evaluate", str(run), "--imagenet-r", str(tmp_path / "r"), "--image-size", "16",
                 "--workers", "0", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = json.loads((run / "results.json").read_text())
    assert results["imagenet_r"]["count"] == 200 and 0 <= results["imagenet_r"]["accuracy"] <= 100
    assert "corruption" not in results and results["meta"]["model_name"] == "small"
    assert results["meta"]["imagenet"]["not_run"]["imagenet-c"] == "not given"
    assert "| Run | Clean error | IN-C mCE | IN-R error | IN-P mFR | RMS C | RMS R | RMS A |" in captured.out
    markdown = (run / "results.md").read_text()
    assert "ImageNet-R (200 classes, masked logits)" in markdown
    assert "Not run: imagenet-val (not given), imagenet-c (not given)" in markdown


def test_one_line_errors(tmp_path, capsys):
    names = [f"c{i}" for i in range(10)]
    run = _checkpoint(tmp_path, 10, "cifar10", names)
    code = main(["evaluate", str(run), "--imagenet-a", str(tmp_path / "missing"), "--suite", "none",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "ImageNet-A folder" in err and "does not exist" in err
    for i, wnid in enumerate(subset_wnids("imagenet-a")):
        write_image(tmp_path / "a" / wnid / "0", i + 1)
    args = ["evaluate", str(run), "--imagenet-a", str(tmp_path / "a"), "--suite", "none",
            "--image-size", "8", "--workers", "0", "--no-progress"]
    assert main(args) == 2  # the model's real class count is named, not ImageNet's 1000
    err = capsys.readouterr().err
    assert "ImageNet-A needs a model of ImageNet classes; the model's 10 classes lack 200" in err
    _checkpoint(tmp_path, 10, "cifar10")  # a checkpoint that records no class names
    assert main(args) == 2
    assert f"{run / 'final.pt'} has 10 classes but records no class names" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage error
        main(["evaluate", str(run), "--shift", "nodir", "--no-progress"])
    assert exit_info.value.code == 2 and "expected NAME=DIR" in capsys.readouterr().err


def test_table5_labels_unnormalised_mfr():
    results = {"meta": {}, "imagenet_p": {"mfr": None, "mfr_unnormalized": 12.5},
               "imagenet_c": {"mce": 70.0, "rms": 9.0}}
    table = table5({"run": results})
    assert "| run | – | 70.00 | – | 12.50† | 9.00 | – | – | – | – |" in table
    assert "† ImageNet-P mFR unnormalised" in table


def test_streaming_with_workers_and_a_file_that_does_not_decode(tmp_path):
    from fake_benchmarks import WNIDS, LogitTable

    from ipmix.data.images import CorruptImageError
    from ipmix.robustness.imagenet_suite import evaluate_imagenet

    table = LogitTable()
    for i in range(6):
        write_image(tmp_path / "val" / WNIDS[i % 2] / f"{i}", table.predicting(i % 2))
    run = dict(imagenet_val=tmp_path / "val", image_size=8, workers=2, batch_size=2, progress=False)
    assert evaluate_imagenet(table.model(), **run)["imagenet_val"]["error"] == 0.0
    (tmp_path / "val" / WNIDS[0] / "0.png").write_bytes(b"not an image")
    with pytest.raises(CorruptImageError) as error:  # from a worker, re-raised as one line
        evaluate_imagenet(table.model(), **run)
    assert str(error.value).startswith(str(tmp_path / "val" / WNIDS[0] / "0.png"))
    assert "\n" not in str(error.value)
