"""SIGTERM to `ipmix reproduce`: it exits non-zero without starting another cell or evaluation.

Table 3 at the smoke budget starts with the vanilla cell (no mixing set to generate); each test
stops in that first cell, so a run costs one tiny training at most.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipmix.cli import main
from ipmix.reproduce import plan
from ipmix.reproduce.runner import RunOptions, cell_status, train_config
from ipmix.training import trainer as trainer_module

SRC = str(Path(__file__).resolve().parents[2] / "src")
FIRST = "cifar10-small-e1-train512/none/seed0"


def _argv(out: Path, data: Path) -> list[str]:
    return ["reproduce", "3", "--budget", "smoke", "--out", str(out), "--data", str(data),
            "--no-progress"]


def test_a_signal_in_the_last_step_stops_the_whole_grid(tiny_cifar, tmp_path, monkeypatch, capsys):
    """The smoke budget's one epoch is the last: a SIGTERM in its last step used to be lost."""
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    original_images, steps = trainer_module._Run._images, []

    def images(run, batch):
        steps.append(1)
        if len(steps) == run.steps_per_epoch * run.config.epochs:
            os.kill(os.getpid(), signal.SIGTERM)
        return original_images(run, batch)

    monkeypatch.setattr(trainer_module._Run, "_images", images)
    out = tmp_path / "out"
    assert main(_argv(out, tiny_cifar)) == 143
    captured = capsys.readouterr()
    assert "SIGTERM received: stopped" in captured.err and "holds epoch 1" in captured.err
    assert "cell 2/" not in captured.out and "evaluating" not in captured.out
    assert [path.parent.parent.name for path in (out / "runs").glob("*/*/seed0")] == [
        "cifar10-small-e1-train512"]
    folder = out / "runs" / FIRST
    assert json.loads((folder / "cell.json").read_text())["status"] == "interrupted"
    assert not (folder / "final.pt").exists()
    # the rerun resumes it (from its finished last epoch)
    _, budget, cells = plan(["3"], "smoke", None, out)
    cell = next(cell for cell in cells if cell.name == FIRST)
    assert cell_status(out, cell) == "partial"
    assert train_config(cell, RunOptions(out=out, budget=budget, data=str(tiny_cifar))).resume


@pytest.mark.slow
def test_a_signal_during_an_evaluation_ends_the_runner(tiny_cifar, tmp_path):
    """Outside training SIGTERM keeps its default action: the runner ends at once."""
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC,
           "IPMIX_CACHE": str(tmp_path / "cache")}
    env.pop("IPMIX_DATA", None)
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "ipmix", *_argv(out, tiny_cifar)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )
    assert process.stdout is not None
    printed = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        printed.append(line)
        if "evaluating" in line or time.monotonic() > deadline:
            process.send_signal(signal.SIGTERM)
            break
    rest, err = process.communicate(timeout=60)
    printed.append(rest)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    assert "evaluating" in printed[-2] and "cell 2/" not in "".join(printed)
