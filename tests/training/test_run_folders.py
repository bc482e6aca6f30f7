"""Run folders: one run at a time (lock), resume by folder alone, bad outputs, stops with workers."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ipmix.cli import main
from ipmix.training import ConfigError, TrainConfig, resume_config, train
from ipmix.training.config import default_workers
from ipmix.training.rundir import RunDirectoryBusy, RunLock, prepare_run_dir

SRC = str(Path(__file__).resolve().parents[2] / "src")
HOLD = """
import sys, time
from pathlib import Path
from ipmix.training.rundir import RunLock
lock = RunLock(Path(sys.argv[1])); lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": SRC}


def _holder(run_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE,
                               text=True, env=_env())
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_run_folder_belongs_to_one_process(tmp_path, tiny_data, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = _holder(run_dir)
    try:
        with pytest.raises(RunDirectoryBusy, match=f"in use by pid {holder.pid} on .*another folder"):
            RunLock(run_dir).acquire()
        code = main(["train", "--data", str(tiny_data), "--model", "small", "--aug", "none",
                     "--epochs", "1", "--subset", "32", "--workers", "0", "--no-progress",
                     "--out", str(run_dir)])
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"pid {holder.pid}" in err
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing of the run written
    finally:
        holder.kill()
        holder.wait()
    # The holder died without cleaning up: its lock is stale and is taken over.
    assert (run_dir / ".lock").exists()
    with RunLock(run_dir):
        assert json.loads((run_dir / ".lock").read_text())["pid"] == os.getpid()
    assert not (run_dir / ".lock").exists()


def _small(tmp_path, tiny_data, **overrides) -> TrainConfig:
    options = dict(out=str(tmp_path / "run"), data=str(tiny_data), model="small",
                   model_kwargs={"width": 4}, aug="cutout", epochs=2, batch_size=32, subset=64,
                   test_subset=16, workers=0, progress=False, lr=0.05, seed=3)
    options.update(overrides)
    return TrainConfig(**options)


def test_resume_reads_the_saved_options_from_any_path(tmp_path, tiny_data, monkeypatch,
                                                       crash_after):
    reference = train(_small(tmp_path / "a", tiny_data))
    crash_after(1)
    with pytest.raises(crash_after.error):
        train(_small(tmp_path / "b", tiny_data))
    crash_after.disarm()
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tmp_path / "b" / "run", moved)  # copied, then resumed by another path
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = resume_config("copy/", workers=1)
    assert (config.seed, config.aug, config.lr) == (3, "cutout", 0.05)
    resumed = train(config)
    expected = torch.load(reference / "final.pt", weights_only=True)["model_state"]
    got = torch.load(resumed / "final.pt", weights_only=True)["model_state"]
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert json.loads((moved / "config.json").read_text())["out"] == "copy/"
    with pytest.raises(ConfigError, match="cannot resume .* --epochs 5: it was started for 2"):
        train(resume_config(moved, epochs=5))
    with pytest.raises(ConfigError, match="different options .seed: 3 -> 4"):
        train(resume_config(moved, seed=4))


def test_outputs_that_cannot_be_run_folders_are_named(tmp_path, tiny_data, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ConfigError, match=f"cannot create run folder .*: {afile} is a file"):
        prepare_run_dir(afile / "run")
    with pytest.raises(ConfigError, match="is a file, not a run folder"):
        prepare_run_dir(afile)
    args = ["train", "--data", str(tiny_data), "--model", "small", "--epochs", "1", "--workers",
            "0", "--no-progress", "--out", str(afile / "run")]
    assert main(args) == 2
    assert f"{afile} is a file" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "readonly"
        locked.mkdir(mode=0o500)
        with pytest.raises(ConfigError, match="is not writable"):
            prepare_run_dir(locked / "run")


def test_resuming_from_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, tiny_data, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(b"definitely not torch")
    config = _small(tmp_path, tiny_data).__dict__ | {"resume": False, "out": str(run_dir)}
    (run_dir / "config.json").write_text(json.dumps(config))
    assert main(["train", "--out", str(run_dir), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "checkpoint.pt: not a readable training checkpoint" in err
    assert main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_workers_default_to_the_available_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert default_workers(folder=False) == 1 and default_workers(folder=True) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert default_workers(folder=False) == 4 and default_workers(folder=True) == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert default_workers(folder=True) == 4


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_process_group_stops_cleanly_with_workers(signum, tmp_path, tiny_data):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "ipmix.cli", "train", "--data", str(tiny_data), "--model", "small",
         "--model-kwargs", '{"width": 4}', "--aug", "cutout", "--epochs", "50", "--subset", "64",
         "--test-subset", "16", "--batch-size", "16", "--workers", "2", "--no-progress",
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        start_new_session=True,  # its own process group, as a terminal or a scheduler makes
    )
    deadline = time.monotonic() + 120
    log = out / "log.jsonl"
    while not (log.is_file() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signum)  # the main process and its DataLoader workers
    _, err = process.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert process.returncode == (130 if signum == signal.SIGINT else 143), err[-2000:]
    assert f"{name} received: stopped" in err and "exited unexpectedly" not in err
    assert "Traceback" not in err
    assert not (out / ".lock").exists()


def _collect_in_a_forked_child() -> int:
    """Fork a process that collects garbage, as the next run's loader workers do."""
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(target=gc.collect)
    child.start()
    child.join(30)
    return child.exitcode


def test_loader_workers_are_shut_down_when_a_run_ends(tmp_path, tiny_data, capfd, monkeypatch):
    """A loader iterator left running is copied into every later forked child, whose garbage
    collector then prints "Exception ignored in ... _MultiProcessingDataLoaderIter.__del__ ...
    can only test a child process": runs that finish or stop leave none behind."""
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

    from ipmix.training import TrainingInterrupted
    from ipmix.training import trainer as trainer_module

    config = TrainConfig(out=str(tmp_path / "run"), data=str(tiny_data), model="small",
                         model_kwargs={"width": 4}, aug="none", epochs=2, batch_size=32,
                         subset=64, test_subset=16, workers=2, progress=False)
    original_save = trainer_module._Run.save

    def save_then_signal(run, metrics=None):
        original_save(run, metrics)
        if run.epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    def running() -> list:  # (type(), not isinstance(): a dead weakref proxy among the objects raises)
        return [it for it in gc.get_objects()
                if issubclass(type(it), _MultiProcessingDataLoaderIter) and not it._shutdown]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module._Run, "save", save_then_signal)
        with pytest.raises(TrainingInterrupted):
            train(config)
    assert running() == []  # else the resumed run's workers would inherit it
    train(dataclasses.replace(config, resume=True))
    assert running() == []
    assert _collect_in_a_forked_child() == 0
    err = capfd.readouterr().err
    assert "Exception ignored" not in err and "can only test a child process" not in err, err
