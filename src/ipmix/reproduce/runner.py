"""Run a grid of cells: train, evaluate, record; skip what is done, report what fails.

Layout of an output folder::

    OUT/runs/<cell name>/            the `ipmix train` run (config.json, log.jsonl, final.pt)
    OUT/runs/<cell name>/eval-.../   one `ipmix evaluate` (results.json, results.md,
                                     predictions.npz: per-image predictions for intervals)
    OUT/runs/<cell name>/cell.json   status (done / failed + error), machine, numerics, times
    OUT/benchmarks/                  CIFAR-C / CIFAR-P generated once for all cells
    OUT/mixing-sets/                 generated mixing sets (Table 8)

A cell is done when its run has ``final.pt`` and every evaluation has both files. An
interrupted training resumes from ``checkpoint.pt``; a failed cell is recorded and the next
one starts. A lock file keeps two runners from training the same cell at once.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipmix.reproduce.budgets import Budget, Evaluation
from ipmix.reproduce.cells import Cell, mixing_set_path
from ipmix.reproduce.machine import machine_info, numerics_info
from ipmix.reproduce.records import RECORD_FILE, PredictionRecorder
from ipmix.utils.io import atomic_write_json

CELL_FILE = "cell.json"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class RunOptions:
    """Per-machine options of a run (they do not change what a cell is)."""

    out: Path
    budget: Budget
    data: str | None = None
    device: str = "auto"
    workers: int | None = None  # None: the budget's
    cifar_c: str | None = None  # official CIFAR-C folder; None: generated under OUT/benchmarks
    cifar_p: str | None = None
    progress: bool = True


def run_dir(out: Path, cell: Cell) -> Path:
    return Path(out) / "runs" / cell.name


def cell_status(out: Path, cell: Cell) -> str:
    """``done``, ``failed``, ``running``, ``partial`` (some files), ``todo`` or ``needs``."""
    if not cell.runnable:
        return "needs"
    folder = run_dir(out, cell)
    if _evaluations_done(folder, cell.evaluations) and (folder / "final.pt").is_file():
        return "done"
    if _lock_holder(folder) is not None:
        return "running"
    info = read_cell_info(folder)
    if info.get("status") == "failed":
        return "failed"
    return "partial" if (folder / "checkpoint.pt").is_file() else "todo"


def read_cell_info(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CELL_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _evaluations_done(folder: Path, evaluations: Sequence[Evaluation]) -> bool:
    return all(
        (folder / e.name / "results.json").is_file() and (folder / e.name / RECORD_FILE).is_file()
        for e in evaluations
    )


def _lock_holder(folder: Path) -> int | None:
    """The pid of a live process holding the cell's lock (a stale lock is removed)."""
    path = folder / LOCK_FILE
    try:
        pid = int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        pass
    return pid


def _take_lock(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if _lock_holder(folder) is not None:
        return False
    try:
        fd = os.open(folder / LOCK_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(str(os.getpid()))
    return True


def train_config(cell: Cell, options: RunOptions) -> Any:
    """The cell's `TrainConfig` on this machine."""
    from ipmix.training import TrainConfig

    train = cell.options
    kind = train.pop("mixing_set")
    folder = run_dir(options.out, cell)
    return TrainConfig(
        out=str(folder), data=options.data, device=options.device,
        workers=options.budget.workers if options.workers is None else options.workers,
        mixing_set=str(mixing_set_path(options.out, kind, options.budget)) if kind else None,
        resume=(folder / "checkpoint.pt").is_file() and not (folder / "final.pt").is_file(),
        progress=options.progress, **train,
    )


def _ensure_mixing_set(options: RunOptions, kind: str) -> None:
    from ipmix.mixing_sets.generate import DEFAULT_SUPERSAMPLE, generate
    from ipmix.mixing_sets.store import resized_picture_size

    path = mixing_set_path(options.out, kind, options.budget)
    if not path.is_file():
        generate(path, kind=kind, count=options.budget.mixing_set_count,
                 size=resized_picture_size(32), supersample=DEFAULT_SUPERSAMPLE, workers=1,
                 progress=options.progress)


def _check_existing(config: Any, folder: Path) -> None:
    """A finished run in the cell's folder must have been trained with the cell's options."""
    from ipmix.training.config import RESUME_FREE_KEYS

    saved = json.loads((folder / "config.json").read_text())
    # None: "the default", filled in by the trainer (and saved resolved)
    mine = {key: value for key, value in vars(config).items()
            if key not in RESUME_FREE_KEYS and value is not None}
    changed = sorted(key for key in mine if key in saved and saved[key] != mine[key]
                     and key not in ("data", "out"))
    if changed:
        raise ValueError(f"{folder} holds a run with other options ({', '.join(changed)}): "
                         "move it away or use another --out")


def benchmark_dirs(options: RunOptions, dataset: str, evaluation: Evaluation) -> dict[str, str]:
    """Where the suite reads (or generates once) CIFAR-C and CIFAR-P for an evaluation."""
    size = evaluation.n if evaluation.n is not None else "all"
    root = options.out / "benchmarks"
    return {
        "cifar_c_dir": options.cifar_c or str(root / f"{dataset}-c-n{size}"),
        "cifar_p_dir": options.cifar_p or str(root / f"{dataset}-p-n{size}"),
    }


def _evaluate(cell: Cell, evaluation: Evaluation, options: RunOptions) -> None:
    from ipmix.data.cifar import load_cifar
    from ipmix.robustness.suite import evaluate_checkpoint

    folder = run_dir(options.out, cell)
    recorder = PredictionRecorder()
    device = "cpu" if options.device == "auto" else options.device
    dataset = cell.options["dataset"]
    _, out_dir = evaluate_checkpoint(
        folder, suite=",".join(evaluation.parts), n=evaluation.n, device=device,
        data=options.data, out=folder / evaluation.name, seed=0, progress=options.progress,
        on_predictions=recorder, generate=True, **benchmark_dirs(options, dataset, evaluation),
    )
    labels = load_cifar(dataset, options.data, "test").subset(evaluation.n).labels
    recorder.save(out_dir / RECORD_FILE, labels)


def run_cell(cell: Cell, options: RunOptions, log: Callable[[str], object] = print) -> str:
    """Train and evaluate one cell (what is missing of it); returns its new status."""
    from ipmix.training import TrainingInterrupted, train

    folder = run_dir(options.out, cell)
    if not _take_lock(folder):
        log(f"[{cell.name}] another process is running it: skipped")
        return "running"
    started = time.time()
    info: dict[str, Any] = {"name": cell.name, "train": cell.options,
                            "evaluations": [e.name for e in cell.evaluations]}
    try:
        config = train_config(cell, options)
        if (folder / "final.pt").is_file():
            _check_existing(config, folder)
        else:
            kind = cell.options["mixing_set"]
            if kind:
                _ensure_mixing_set(options, kind)
            log(f"[{cell.name}] training" + (" (resuming)" if config.resume else ""))
            train(config)
        for evaluation in cell.evaluations:
            if not _evaluations_done(folder, [evaluation]):
                log(f"[{cell.name}] evaluating {evaluation.name}")
                _evaluate(cell, evaluation, options)
        info.update(status="done")
    except (TrainingInterrupted, KeyboardInterrupt):
        info.update(status="interrupted")
        raise
    except Exception as error:  # one failed cell must not stop the others
        info.update(status="failed", error=f"{type(error).__name__}: {error}")
        (folder / "error.log").write_text(traceback.format_exc())
        log(f"[{cell.name}] FAILED: {info['error']} (traceback in {folder / 'error.log'})")
    finally:
        info.update(machine=machine_info(), numerics=numerics_info(),
                    seconds=round(time.time() - started, 1))
        previous = read_cell_info(folder)
        if previous.get("status") == "done" and "first_machine" not in previous:
            info["first_machine"] = previous.get("machine")
        atomic_write_json(folder / CELL_FILE, info)
        (folder / LOCK_FILE).unlink(missing_ok=True)
    return str(info["status"])


def run_grid(cells: Sequence[Cell], options: RunOptions,
             log: Callable[[str], object] = print) -> dict[str, list[str]]:
    """Run every runnable cell that is not done, in order; returns cell names by status."""
    import torch

    threads = torch.get_num_threads()
    if options.budget.threads is not None:
        torch.set_num_threads(options.budget.threads)  # same intra-op split, same numbers
    outcome: dict[str, list[str]] = {}
    todo = [cell for cell in cells if cell_status(options.out, cell) not in ("done", "needs")]
    log(f"{len(cells)} cells: {len(cells) - len(todo)} done or not runnable, {len(todo)} to run")
    try:
        for position, cell in enumerate(todo, 1):
            log(f"cell {position}/{len(todo)}: {cell.name}")
            outcome.setdefault(run_cell(cell, options, log), []).append(cell.name)
    finally:
        torch.set_num_threads(threads)
    return outcome
