"""`ipmix train` from the command line, single process and as a 2-process gloo DDP job."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from ipmix.cli import main


def _run(args: list[str], env_extra: dict[str, str] | None = None, timeout: int = 120):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--data", "--subset", "--aug", "--jsd", "--no-jsd", "--mixing-set",
                   "--model", "--epochs", "--weight-decay", "--out", "--resume", "--seed",
                   "--device", "--workers", "--amp", "--tensorboard", "augmix+epoch(mixup,cutmix)"):
        assert option in text


def test_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    assert main(["train", "--out", str(tmp_path / "r"), "--model", "small"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no data folder given" in err
    assert main(["train", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "none")]) == 2
    assert "data folder not found" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "r"), "--aug", "mixup", "--jsd"]) == 2
    assert "--jsd is not available with 'mixup'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "r"), "--subset", "0"])
    assert "expected a number >= 1" in capsys.readouterr().err


def test_cli_trains_and_resumes(tmp_path, tiny_data, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_data), "--model", "small", "--model-kwargs",
            '{"width": 4}', "--aug", "cutmix", "--epochs", "1", "--subset", "64",
            "--test-subset", "16", "--workers", "0", "--batch-size", "32", "--out", str(out),
            "--no-progress", "--channels-last"]
    assert main(args) == 0
    assert "finished" in capsys.readouterr().out
    assert main([*args, "--resume"]) == 0  # nothing left to do: final.pt rewritten
    assert (out / "final.pt").is_file()
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_ddp_two_processes_on_gloo(tmp_path, tiny_data):
    out = tmp_path / "ddp"
    result = _run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "ipmix.cli", "train", "--device", "cpu", "--data", str(tiny_data),
         "--model", "small", "--model-kwargs", '{"width": 4}', "--aug", "augmix", "--epochs", "1",
         "--subset", "64", "--test-subset", "16", "--batch-size", "16", "--workers", "0",
         "--out", str(out), "--no-progress"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    # Each rank trains half of the 64 images; the log sums over ranks.
    assert log[0]["train_images"] == 64 and 0 <= log[0]["test_acc"] <= 1
    state = torch.load(out / "final.pt", weights_only=True)
    assert state["config"]["aug"] == "augmix" and state["epoch"] == 1


def test_tensorboard_without_the_package_is_a_clear_error(tmp_path, tiny_data, capsys,
                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    args = ["train", "--data", str(tiny_data), "--model", "small", "--aug", "none",
            "--epochs", "1", "--subset", "32", "--workers", "0", "--out", str(tmp_path / "r"),
            "--tensorboard", "--no-progress"]
    assert main(args) == 2
    assert "--tensorboard needs the tensorboard package" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written: the same --out can be used again
