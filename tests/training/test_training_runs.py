"""Tiny training runs: every registry entry, exact resume, signals, learning, run files."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from ipmix.models import load_classifier
from ipmix.training import (
    AUGMENTATION_NAMES,
    ConfigError,
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
    train,
)
from ipmix.training import trainer as trainer_module
from ipmix.training.checkpoint import load_training_checkpoint
from ipmix.training.registry import uses_mixing_set


def _config(tmp_path, tiny_data, tiny_mixing_set, **overrides) -> TrainConfig:
    options = dict(
        out=str(tmp_path / "run"), data=str(tiny_data), model="small", model_kwargs={"width": 4},
        aug="none", epochs=1, batch_size=64, subset=128, test_subset=32, workers=0,
        progress=False, lr=0.05,
    )
    options.update(overrides)
    if uses_mixing_set(options["aug"]):
        options.setdefault("mixing_set", str(tiny_mixing_set))
    return TrainConfig(**options)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("aug", AUGMENTATION_NAMES)
def test_one_epoch_with_every_augmentation(aug, tmp_path, tiny_data, tiny_mixing_set):
    dataset = "cifar100" if aug in ("cutout", "augmix+random(mixup,cutmix)") else "cifar10"
    config = _config(tmp_path, tiny_data, tiny_mixing_set, aug=aug, dataset=dataset)
    run_dir = train(config)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["epoch"] == 1 and log[0]["train_images"] == 128
    assert torch.isfinite(torch.tensor(log[0]["train_loss"]))
    model, info = load_classifier(run_dir)
    assert info["dataset"] == dataset and info["num_classes"] == (100 if dataset == "cifar100" else 10)
    assert info["config"]["aug"] == aug and info["epoch"] == 1
    assert json.loads((run_dir / "config.json").read_text())["aug"] == aug


def _final_state(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "final.pt", weights_only=True)["model_state"]


class _StopAfter(Exception):
    pass


@pytest.mark.parametrize(
    ("aug", "workers", "extra"),
    [("ipmix", 2, {}), ("augmix+random(mixup,cutmix)", 0, {}),
     ("augmax", 2, {"model_kwargs": {"width": 4, "norm": "dubin"}}), ("prime", 0, {"batched": True})],
)
def test_resume_reaches_the_same_weights(aug, workers, extra, tmp_path, tiny_data, tiny_mixing_set,
                                         monkeypatch):
    common = dict(aug=aug, epochs=3, subset=96, batch_size=32, test_subset=16, **extra)
    reference = train(_config(tmp_path / "a", tiny_data, tiny_mixing_set, workers=0, **common))

    original_save = trainer_module._Run.save

    def save_then_crash(run, metrics=None):
        original_save(run, metrics)
        if run.epoch == 1:
            raise _StopAfter

    monkeypatch.setattr(trainer_module._Run, "save", save_then_crash)
    interrupted = _config(tmp_path / "b", tiny_data, tiny_mixing_set, workers=workers, **common)
    with pytest.raises(_StopAfter):
        train(interrupted)
    monkeypatch.setattr(trainer_module._Run, "save", original_save)
    assert load_training_checkpoint(tmp_path / "b" / "run" / "checkpoint.pt")["epoch"] == 1
    with pytest.raises(ConfigError, match="already holds a run"):
        train(interrupted)
    with pytest.raises(ConfigError, match="different options.*lr"):
        train(_config(tmp_path / "b", tiny_data, tiny_mixing_set, resume=True, lr=0.2, **common))
    resumed = train(_config(tmp_path / "b", tiny_data, tiny_mixing_set, resume=True,
                            workers=workers, **common))
    expected, got = _final_state(reference), _final_state(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0, msg=key)
    log = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log] == [1, 2, 3]


def test_signal_stops_at_the_last_finished_epoch(tmp_path, tiny_data, tiny_mixing_set,
                                                 monkeypatch):
    original_save = trainer_module._Run.save

    def save_then_signal(run, metrics=None):
        original_save(run, metrics)
        if run.epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(trainer_module._Run, "save", save_then_signal)
    handler = signal.getsignal(signal.SIGINT)
    config = _config(tmp_path, tiny_data, tiny_mixing_set, epochs=3)
    with pytest.raises(TrainingInterrupted, match="SIGINT.*holds epoch 1"):
        train(config)
    assert signal.getsignal(signal.SIGINT) is handler
    assert load_training_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 1
    assert not (tmp_path / "run" / "final.pt").exists()


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _signal_late_in_the_last_epoch(moment: str, patch: pytest.MonkeyPatch) -> None:
    """SIGTERM to this process during the last step, the evaluation or the save of epoch 2 (of
    2 epochs of 2 steps, evaluated at the end only)."""
    run_class = trainer_module._Run
    if moment == "last step":
        original_images, steps = run_class._images, []

        def images(run, batch):
            steps.append(run.epoch)
            if len(steps) == 4:
                _sigterm()
            return original_images(run, batch)

        patch.setattr(run_class, "_images", images)
    elif moment == "evaluation":
        original_evaluate = trainer_module.evaluate

        def evaluate(*args, **kwargs):
            _sigterm()
            return original_evaluate(*args, **kwargs)

        patch.setattr(trainer_module, "evaluate", evaluate)
    else:
        original_save = run_class.save

        def save(run, metrics=None):
            if run.epoch == 2:
                _sigterm()
            original_save(run, metrics)

        patch.setattr(run_class, "save", save)


@pytest.mark.parametrize("moment", ["last step", "evaluation", "save"])
def test_a_signal_late_in_the_last_epoch_still_stops(moment, tmp_path, tiny_data, tiny_mixing_set):
    """The per-step check does not see these moments: the run stops once the epoch is saved."""
    config = _config(tmp_path, tiny_data, tiny_mixing_set, epochs=2, eval_every=2)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch:
        _signal_late_in_the_last_epoch(moment, patch)
        with pytest.raises(TrainingInterrupted, match="SIGTERM.*holds epoch 2 .*--resume"):
            train(config)
    assert signal.getsignal(signal.SIGTERM) is handler
    run = tmp_path / "run"
    assert load_training_checkpoint(run / "checkpoint.pt")["epoch"] == 2
    assert not (run / "final.pt").exists()
    train(_config(tmp_path, tiny_data, tiny_mixing_set, epochs=2, eval_every=2, resume=True))
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log] == [1, 2] and "test_acc" in log[1]
    assert (run / "final.pt").is_file()


def test_loss_decreases_on_a_learnable_problem(tmp_path, tiny_data, tiny_mixing_set):
    config = _config(tmp_path, tiny_data, tiny_mixing_set, epochs=6, subset=256, batch_size=32,
                     model_kwargs={"width": 8}, test_subset=64)
    run_dir = train(config)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert log[-1]["train_loss"] < 0.5 * log[0]["train_loss"]
    # Colour alone decides the class here: well above the 10% of chance.
    assert log[-1]["test_acc"] >= 0.5


def test_bad_options_are_clear(tmp_path, tiny_data, tiny_mixing_set):
    with pytest.raises(ConfigError, match="unknown model"):
        train(_config(tmp_path, tiny_data, tiny_mixing_set, model="vgg"))
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        train(_config(tmp_path, tiny_data, tiny_mixing_set, epochs=0))
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        train(_config(tmp_path, tiny_data, tiny_mixing_set, device="cpu", amp=True))
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(_config(tmp_path, tiny_data, tiny_mixing_set, resume=True))
    with pytest.raises(FileNotFoundError, match="cifar100.npz or the folder"):
        train(_config(tmp_path, tmp_path, tiny_mixing_set, dataset="cifar100"))


def test_divergence_stops_with_a_clear_error(tmp_path, tiny_data, tiny_mixing_set):
    config = _config(tmp_path, tiny_data, tiny_mixing_set, lr=1e30, min_lr=0.0, epochs=2,
                     batch_size=16)
    with pytest.raises(TrainingDiverged, match="diverged.*lower --lr.*holds epoch 0"):
        train(config)


@pytest.mark.parametrize("workers", [0, 2])
def test_evaluating_less_often_trains_the_same_model(workers, tmp_path, tiny_data, tiny_mixing_set):
    """The test-set evaluation draws nothing from the training's random streams, so
    ``eval_every`` (not part of a reproduce cell) leaves the weights unchanged."""
    weights = []
    for every in (1, 2):
        out = tmp_path / f"every{every}"
        train(_config(tmp_path, tiny_data, tiny_mixing_set, out=str(out), epochs=2, aug="ipmix",
                      eval_every=every, workers=workers, seed=3))
        weights.append(_final_state(out))
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        torch.testing.assert_close(weights[0][name], weights[1][name], rtol=0, atol=0)


def test_a_new_run_starts_from_a_finished_one_as_the_advice_says(tmp_path, tiny_data, capsys):
    """"start a new run from its final.pt (--pretrained RUN/final.pt)", advised when --epochs
    changes on resume, works for the built-in models."""
    from ipmix.cli import main

    first = train(_config(tmp_path, tiny_data, None, subset=64))
    with pytest.raises(ConfigError, match=r"--pretrained RUN/final.pt"):
        train(_config(tmp_path, tiny_data, None, epochs=2, resume=True))
    args = ["train", "--data", str(tiny_data), "--aug", "none", "--epochs", "1", "--subset", "64",
            "--test-subset", "32", "--workers", "0", "--no-progress", "--pretrained", str(first / "final.pt")]
    small = ["--model", "small", "--model-kwargs", '{"width": 4}']
    assert main([*args, *small, "--out", str(tmp_path / "next")]) == 0, capsys.readouterr().err
    model, info = load_classifier(tmp_path / "next")
    assert info["config"]["pretrained"] == str(first / "final.pt")
    assert main([*args, "--model", "resnet18", "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert f"{first / 'final.pt'} is a checkpoint of model 'small', not of 'resnet18'" in err


def test_options_that_would_be_ignored_or_unknown_names_are_named(tmp_path, tiny_data, tiny_mixing_set):
    with pytest.raises(ConfigError, match="--mixing-set feeds the ipmix variants and pixmix; 'augmix' "
                       "mixes no pictures, so the set would be ignored"):
        train(_config(tmp_path, tiny_data, None, aug="augmix", mixing_set=str(tiny_mixing_set)))
    names = "wrn40_4, wrn28_10, resnext29_32x4d, resnet18, vit_small, small, resnet50"
    with pytest.raises(ConfigError, match=rf"unknown model 'nosuchmodel'; choose one of {names}, "
                       "torchvision:NAME or timm:NAME"):
        train(_config(tmp_path, tiny_data, tiny_mixing_set, model="nosuchmodel"))
    assert not (tmp_path / "run").exists()
