"""`ipmix evaluate` on a run of one's own classes: every benchmark option, the run's image size,
results merged across evaluations, and one-line errors that name the problem."""

from __future__ import annotations

import json

import numpy as np
import torch
from fake_benchmarks import WNIDS, write_image, write_video

from ipmix.cli import main
from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS
from ipmix.models import build_model, make_checkpoint
from ipmix.robustness.benchmarks.imagenet_p import IMAGENET_P_PERTURBATIONS

FOUR = list(WNIDS[:4])  # a wnid-named 4-class run
torch.set_num_threads(1)


def _run(folder, classes: list[str], dataset: str = "imagefolder", seed: int = 0,
         name: str = "final.pt", epoch: int = 1):
    """A run folder whose checkpoint records its classes and image size (as the trainer's)."""
    model = build_model("small", len(classes), seed=seed, width=2)
    checkpoint = make_checkpoint(model, "small", len(classes), dataset, {"width": 2},
                                 {"seed": seed, "epochs": 1, "image_size": 16})
    checkpoint.update(classes=classes, image_size=16, epoch=epoch)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, folder / name)
    return folder


def test_every_benchmark_option_takes_a_run_of_its_own_classes(tmp_path, capsys):
    """The classes the checkpoint records are what folders are matched to, at the size the run
    was trained at (16 px here: no --image-size); ImageNet-C / -P layouts of the run's own
    classes work as published ones do."""
    run = _run(tmp_path / "run", FOUR)
    for k, wnid in enumerate(FOUR):
        write_image(tmp_path / "val" / wnid / "a", k + 1, size=24)
        for name in BENCHMARK_CORRUPTIONS:
            for severity in range(1, 6):
                write_image(tmp_path / "c" / name / str(severity) / wnid / "a", k + 1, size=16)
        for name in IMAGENET_P_PERTURBATIONS:
            write_video(tmp_path / "p" / name / wnid / "a.mp4", [40 * k, 40 * k + 3])
    args = ["evaluate", str(run), "--imagenet-val", str(tmp_path / "val"), "--imagenet-c",
            str(tmp_path / "c"), "--imagenet-p", str(tmp_path / "p"), "--shift",
            f"mine={tmp_path / 'val'}", "--workers", "0", "--no-progress"]
    assert main(args) == 0, capsys.readouterr().err
    results = json.loads((run / "results.json").read_text())
    assert results["imagenet_val"]["count"] == 4 and results["shifts"]["mine"]["classes"] == 4
    assert results["imagenet_c"]["mce"] is not None and results["imagenet_p"]["counts"]["snow"] == 4
    assert results["meta"]["imagenet"]["image_size"] == 16
    assert results["meta"]["imagenet"]["num_classes"] == 4
    assert f"evaluated {run / 'final.pt'}, epoch 1" in capsys.readouterr().out


def test_a_second_evaluation_keeps_the_first_ones_parts(tmp_path, capsys):
    """`--suite clean,calibration,pgd` then `--suite ood`: results.json holds all four parts, and
    its meta says when each was measured; results of another checkpoint or test subset are
    refused, never dropped."""
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "cifar10.npz", x_train=rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
             y_train=np.arange(4), x_test=rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8),
             y_test=np.arange(12) % 10)
    names = [str(i) for i in range(10)]
    run = _run(tmp_path / "run", names, "cifar10")
    common = ["--n", "10", "--data", str(data), "--batch-size", "4", "--no-progress"]
    assert main(["evaluate", str(run), "--suite", "clean,calibration,pgd", *common]) == 0
    first = json.loads((run / "results.json").read_text())
    assert main(["evaluate", str(run), "--suite", "ood", *common]) == 0
    results = json.loads((run / "results.json").read_text())
    assert {"clean", "calibration", "pgd", "ood"} <= set(results)
    assert results["pgd"] == first["pgd"]
    assert set(results["meta"]["measured"]) == {"clean", "calibration", "pgd", "ood"}
    assert results["meta"]["suite"] == ["clean", "calibration", "pgd", "ood"]
    markdown = (run / "results.md").read_text().splitlines()
    row = next(line for line in markdown if line.startswith("| Robustness"))
    error, pgd, auroc = (row.split("|")[2:-1][i].strip() for i in (0, 5, 6))
    assert "–" not in (error, pgd, auroc)  # the table shows the parts of both evaluations
    capsys.readouterr()
    assert main(["evaluate", str(run), "--suite", "clean", *common[:1], "8", *common[2:]]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'results.json'} holds results of another model or test set (n 10 -> 8)" in err
    _run(run, names, "cifar10", seed=1)  # retrained in place: other weights
    assert main(["evaluate", str(run), "--suite", "clean", *common]) == 2
    assert "holds results of another model or test set (checkpoint_sha256" in capsys.readouterr().err
    assert json.loads((run / "results.json").read_text()) == results


def test_evaluations_with_nothing_to_say_are_named(tmp_path, capsys):
    run = _run(tmp_path / "run", FOUR)
    assert main(["evaluate", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"nothing to evaluate {run} on: it was trained on imagefolder; name a benchmark" in err
    assert not (run / "results.json").exists()
    early = _run(tmp_path / "early", FOUR, name="checkpoint.pt", epoch=0)  # no final.pt yet
    write_image(tmp_path / "val" / FOUR[0] / "a", 1, size=16)
    assert main(["evaluate", str(early), "--shift", f"v={tmp_path / 'val'}", "--workers", "0",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert f"evaluated {early / 'checkpoint.pt'}, epoch 0;" in captured.out
    assert f"note: {early / 'checkpoint.pt'} holds epoch 0 of 1: the run has not finished" in captured.err


def test_make_c_and_make_p_folders_given_as_published_benchmarks_say_what_they_are(tmp_path, capsys):
    run = _run(tmp_path / "run", FOUR)
    for kind, option, needs in (("folder-c", "--imagenet-c", "--corrupted"),
                                ("folder-p", "--imagenet-p", "--perturbed")):
        made = tmp_path / kind
        (made / "tilt").mkdir(parents=True)
        (made / "ipmix-meta.json").write_text(json.dumps({"kind": kind, "preset": "cifar"}))
        assert main(["evaluate", str(run), option, str(made), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "lacks" in err
        assert f"{made} is an ipmix make-{kind[-1]} folder (preset cifar): evaluate it as it is " \
            f"with {needs} DIR" in err
    (tmp_path / "empty").mkdir()
    for option, what in (("--corrupted", "corruption folders"), ("--perturbed", "perturbation folders")):
        assert main(["evaluate", str(run), option, str(tmp_path / "empty"), "--no-progress"]) == 2
        assert f"{tmp_path / 'empty'} holds no {what} (<" in capsys.readouterr().err
        assert main(["evaluate", str(run), option, str(tmp_path / "nowhere"), "--no-progress"]) == 2
        assert f"folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
