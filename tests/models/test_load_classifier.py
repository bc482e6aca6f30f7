"""Checkpoint round trips through `make_checkpoint` / `load_classifier`, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ipmix.models import (
    CHECKPOINT_FORMAT,
    CheckpointFormatError,
    CheckpointNotFoundError,
    UnknownModelError,
    build_model,
    load_classifier,
    make_checkpoint,
)

torch.set_num_threads(1)


def _trained_small(seed: int = 0) -> torch.nn.Module:
    """A `small` model whose BN statistics moved away from their initial values."""
    model = build_model("small", 10, seed=seed, width=4)
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(seed)))
    return model.eval()


def _save(path: Path, checkpoint: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def test_round_trip_reproduces_logits_and_info(tmp_path: Path) -> None:
    model = _trained_small()
    checkpoint = make_checkpoint(model, "small", 10, "cifar10", {"width": 4}, {"aug": "ipmix"})
    checkpoint["epoch"] = 7
    _save(tmp_path / "run" / "final.pt", checkpoint)

    loaded, info = load_classifier(tmp_path / "run")
    assert not loaded.training
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert info["model_name"] == "small" and info["num_classes"] == 10
    assert info["dataset"] == "cifar10" and info["config"] == {"aug": "ipmix"}
    assert info["model_kwargs"] == {"width": 4} and info["epoch"] == 7
    assert info["path"].endswith("final.pt")


def test_run_dir_prefers_final_then_checkpoint(tmp_path: Path) -> None:
    first, second = _trained_small(1), _trained_small(2)
    _save(tmp_path / "checkpoint.pt", make_checkpoint(first, "small", 10, "cifar10", {"width": 4}))
    model, info = load_classifier(tmp_path)
    assert info["path"].endswith("checkpoint.pt")
    torch.testing.assert_close(model.head.weight, first.head.weight)
    _save(tmp_path / "final.pt", make_checkpoint(second, "small", 10, "cifar10", {"width": 4}))
    model, info = load_classifier(tmp_path)
    assert info["path"].endswith("final.pt")
    torch.testing.assert_close(model.head.weight, second.head.weight)


def test_wrapped_model_state_is_stored_unwrapped(tmp_path: Path) -> None:
    model = _trained_small()
    wrapper = torch.nn.Module()
    wrapper.module = model  # the key layout of DistributedDataParallel
    checkpoint = make_checkpoint(wrapper, "small", 10, "cifar100", {"width": 4})
    assert all(not key.startswith("module.") for key in checkpoint["model_state"])
    # A file written by someone else with the prefix still loads.
    checkpoint["model_state"] = {f"module.{k}": v for k, v in checkpoint["model_state"].items()}
    loaded, info = load_classifier(_save(tmp_path / "x.pt", checkpoint))
    torch.testing.assert_close(loaded.head.weight, model.head.weight)
    assert info["dataset"] == "cifar100"


def test_missing_files_are_not_found_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="checkpoint not found"):
        load_classifier(tmp_path / "nope.pt")
    with pytest.raises(CheckpointNotFoundError, match="neither final.pt nor checkpoint.pt"):
        load_classifier(tmp_path)
    assert issubclass(CheckpointNotFoundError, FileNotFoundError)


def test_foreign_files_are_format_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointFormatError, match="not a readable torch checkpoint"):
        load_classifier(junk)
    plain = _save(tmp_path / "plain.pt", {"state_dict": build_model("small", 10).state_dict()})
    with pytest.raises(CheckpointFormatError, match="not an ipmix checkpoint"):
        load_classifier(plain)
    lacking = _save(tmp_path / "lacking.pt", {"format": CHECKPOINT_FORMAT, "model_name": "small"})
    with pytest.raises(CheckpointFormatError, match="lacks.*num_classes.*model_state"):
        load_classifier(lacking)


def test_unknown_model_and_mismatched_weights(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(_trained_small(), "small", 10, "cifar10", {"width": 4})
    checkpoint["model_name"] = "densenet"
    with pytest.raises(UnknownModelError, match="unknown model 'densenet'"):
        load_classifier(_save(tmp_path / "a.pt", checkpoint))
    checkpoint["model_name"] = "small"
    checkpoint["num_classes"] = 100
    with pytest.raises(CheckpointFormatError, match="do not fit model 'small'"):
        load_classifier(_save(tmp_path / "b.pt", checkpoint))
    with pytest.raises(UnknownModelError):
        make_checkpoint(_trained_small(), "densenet", 10, "cifar10")
    with pytest.raises(UnknownModelError, match="no option.*depth"):
        make_checkpoint(_trained_small(), "small", 10, "cifar10", {"depth": 3})


def test_arbitrary_objects_need_trust(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(_trained_small(), "small", 10, "cifar10", {"width": 4})
    checkpoint["rng_legacy"] = np.random.RandomState(0).get_state()  # holds a numpy array
    path = _save(tmp_path / "c.pt", checkpoint)
    with pytest.raises(CheckpointFormatError, match="trusted=True"):
        load_classifier(path)
    model, _ = load_classifier(path, trusted=True)
    assert not model.training
