"""The runner's cell lock: `RunLock` on ``.cell.lock``, apart from the trainer's ``.lock``."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ipmix.reproduce import runner
from ipmix.reproduce.budgets import get_budget
from ipmix.reproduce.cells import grid
from ipmix.reproduce.records import RECORD_FILE
from ipmix.reproduce.tables import get_tables
from ipmix.training.rundir import RunDirectoryBusy, RunLock


@pytest.fixture
def cell_and_options(tmp_path):
    budget = get_budget("smoke")
    cell = next(c for c in grid(get_tables(["12"]), budget) if c.options["aug"] == "ipmix")
    options = runner.RunOptions(out=tmp_path, budget=budget, progress=False)
    return cell, options, runner.run_dir(tmp_path, cell)


def _fake_training(calls):
    def train(config):  # as the trainer: its own RunLock on .lock, released when it ends
        with RunLock(config.out):
            calls.append("train")
            (Path(config.out) / "final.pt").write_bytes(b"")
    return train


def _fake_evaluation(calls):
    def evaluate(cell, evaluation, options):
        folder = runner.run_dir(options.out, cell)
        with pytest.raises(RunDirectoryBusy, match="in use by pid"):
            RunLock(folder, runner.CELL_LOCK).acquire()  # still held after the trainer's release
        assert runner.cell_status(options.out, cell) == "running"
        calls.append(evaluation.name)
        (folder / evaluation.name).mkdir(parents=True)
        (folder / evaluation.name / "results.json").write_text("{}")
        np.savez(folder / evaluation.name / RECORD_FILE, labels=np.zeros(1))
    return evaluate


def _fake_cell_work(monkeypatch, calls):
    """Training and evaluation replaced by fakes that record their calls."""
    monkeypatch.setattr("ipmix.training.train", _fake_training(calls))
    monkeypatch.setattr(runner, "_evaluate", _fake_evaluation(calls))
    monkeypatch.setattr(runner, "_ensure_data", lambda cell, options: None)


def test_the_cell_stays_locked_while_it_is_evaluated(cell_and_options, monkeypatch):
    cell, options, folder = cell_and_options
    calls: list[str] = []
    _fake_cell_work(monkeypatch, calls)
    assert runner.run_cell(cell, options, log=lambda line: None) == "done"
    assert calls == ["train", *(e.name for e in cell.evaluations)]
    assert runner.cell_status(options.out, cell) == "done"
    assert not (folder / runner.CELL_LOCK).exists() and not (folder / ".lock").exists()


def test_a_second_runner_skips_a_held_cell(cell_and_options, monkeypatch):
    cell, options, folder = cell_and_options
    folder.mkdir(parents=True)
    holder = subprocess.Popen(  # another runner, in another process, holding the cell
        [sys.executable, "-c", "import sys, time\nfrom ipmix.training.rundir import RunLock\n"
         f"RunLock({str(folder)!r}, {runner.CELL_LOCK!r}).acquire()\nprint('held', flush=True)\n"
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ":".join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr("ipmix.training.train", lambda config: pytest.fail("trained a held cell"))
        lines: list[str] = []
        assert runner.cell_status(options.out, cell) == "running"
        assert runner.run_cell(cell, options, log=lines.append) == "running"
        assert lines == [f"[{cell.name}] another process is running it: skipped"]
        assert not (folder / runner.CELL_FILE).exists()
    finally:
        holder.kill()
        holder.wait()
    assert runner.cell_status(options.out, cell) == "todo"  # its lock died with it


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_cells_of_the_old_layout_stay_done_and_resumable(cell_and_options, monkeypatch):
    """Runners before `.cell.lock` wrote their pid into `.lock`: a stale one blocks nothing."""
    cell, options, folder = cell_and_options
    folder.mkdir(parents=True)
    (folder / ".lock").write_text(str(_dead_pid()))
    (folder / "checkpoint.pt").write_bytes(b"")
    assert runner.cell_status(options.out, cell) == "partial"
    calls: list[str] = []
    _fake_cell_work(monkeypatch, calls)
    assert runner.run_cell(cell, options, log=lambda line: None) == "done"
    assert calls[0] == "train"
    (folder / ".lock").write_text(str(_dead_pid()))  # a done cell with a leftover lock
    assert runner.cell_status(options.out, cell) == "done"


def test_a_cell_finished_by_another_runner_keeps_its_record(cell_and_options, monkeypatch):
    """A runner that listed the cell before another one finished it must not re-record it."""
    cell, options, folder = cell_and_options
    calls: list[str] = []
    _fake_cell_work(monkeypatch, calls)
    assert runner.run_cell(cell, options, log=lambda line: None) == "done"
    record = (folder / runner.CELL_FILE).read_text()
    lines: list[str] = []
    monkeypatch.setattr("ipmix.training.train", lambda config: pytest.fail("trained a done cell"))
    assert runner.run_cell(cell, options, log=lines.append) == "done"
    assert lines == [f"[{cell.name}] done by another runner: skipped"]
    assert (folder / runner.CELL_FILE).read_text() == record  # its time and machine kept
