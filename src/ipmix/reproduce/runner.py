"""Run a grid of cells: train, evaluate, record; skip what is done, report what fails.

Layout of an output folder::

    OUT/runs/<cell name>/            the `ipmix train` run (config.json, log.jsonl, final.pt)
    OUT/runs/<cell name>/eval-.../   one `ipmix evaluate` (results.json, results.md,
                                     predictions.npz: per-image predictions for intervals)
    OUT/runs/<cell name>/cell.json   status (done / failed + error), machine, numerics, times
    OUT/runs/<cell name>/.cell.lock  held while a runner trains and evaluates the cell
    OUT/benchmarks/                  CIFAR-C / -C-bar / -P generated once for all cells (and
                                     the smoke budget's synthetic ImageNet, `toy_imagenet`)
    OUT/mixing-sets/                 generated mixing sets (Table 8)

A cell is done when its run has ``final.pt`` and every evaluation has its files
(``results.json``, and ``predictions.npz`` for the CIFAR suite). An interrupted training
resumes from ``checkpoint.pt``; a failed cell is recorded and the next one starts. A runner
claims a cell for its training and all its evaluations with `ipmix.training.rundir.RunLock` on
``.cell.lock`` (the trainer's own lock, ``.lock``, lasts for the training only); a lock left by
a process that died never blocks (flock), nor does a ``.lock`` left by an older runner.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipmix.reproduce.budgets import CBAR_PART, Budget, Evaluation
from ipmix.reproduce.cells import Cell, cbar_path, mixing_set_path
from ipmix.reproduce.imagenet import ImageNetData
from ipmix.reproduce.machine import machine_info, numerics_info
from ipmix.reproduce.records import RECORD_FILE, PredictionRecorder
from ipmix.training.rundir import RunDirectoryBusy, RunLock
from ipmix.utils.io import atomic_write_json

CELL_FILE = "cell.json"
CELL_LOCK = ".cell.lock"


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
    cifar_c_bar: str | None = None  # official CIFAR-C-bar folder; None: generated
    imagenet: ImageNetData | None = None  # where ImageNet is (Tables 5, 13)
    progress: bool = True
    eval_every: int = 1  # test-set evaluation during training every N epochs (and after the last)
    done_elsewhere: frozenset[str] = frozenset()  # cell names in the ledger: not run here


def run_dir(out: Path, cell: Cell) -> Path:
    return Path(out) / "runs" / cell.name


def cell_status(out: Path, cell: Cell) -> str:
    """``done``, ``failed``, ``running``, ``partial`` (some files), ``todo`` or ``needs``."""
    if not cell.runnable:
        return "needs"
    folder = run_dir(out, cell)
    if _finished(folder, cell):
        return "done"
    if _held(folder):
        return "running"
    info = read_cell_info(folder)
    if info.get("status") == "failed":
        return "failed"
    started = (folder / "checkpoint.pt").is_file() or (folder / "final.pt").is_file()
    return "partial" if started else "todo"


def _held(folder: Path) -> bool:
    """Whether a live process (this one included) holds the cell's lock: probed by taking it."""
    if not folder.is_dir():
        return False
    lock = RunLock(folder, CELL_LOCK)
    try:
        lock.acquire()
    except RunDirectoryBusy:
        return True
    except OSError:  # a folder this process cannot write: nobody runs it from here
        return False
    lock.release()
    return False


def read_cell_info(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CELL_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _finished(folder: Path, cell: Cell) -> bool:
    """Whether the cell's run has its final weights and every evaluation its files."""
    return (folder / "final.pt").is_file() and _evaluations_done(folder, cell.evaluations)


def _evaluations_done(folder: Path, evaluations: Sequence[Evaluation]) -> bool:
    return all(
        (folder / e.name / "results.json").is_file()
        and (not e.records or (folder / e.name / RECORD_FILE).is_file())
        for e in evaluations
    )


def train_config(cell: Cell, options: RunOptions) -> Any:
    """The cell's `TrainConfig` on this machine."""
    from ipmix.training import TrainConfig

    train = cell.options
    kind = train.pop("mixing_set")
    folder = run_dir(options.out, cell)
    data = options.data
    if train["dataset"] == "imagenet":
        data = str(options.imagenet.root) if options.imagenet and options.imagenet.root else None
    return TrainConfig(
        out=str(folder), data=data, device=options.device,
        workers=options.budget.workers if options.workers is None else options.workers,
        mixing_set=str(mixing_set_path(options.out, kind, options.budget)) if kind else None,
        resume=(folder / "checkpoint.pt").is_file() and not (folder / "final.pt").is_file(),
        progress=options.progress, eval_every=options.eval_every, **train,
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
    if evaluation.imagenet:
        _evaluate_imagenet(cell, evaluation, options)
        return
    from ipmix.data.cifar import load_cifar
    from ipmix.robustness.suite import evaluate_checkpoint

    folder = run_dir(options.out, cell)
    recorder = PredictionRecorder()
    dataset = cell.options["dataset"]
    labels = load_cifar(dataset, options.data, "test").subset(evaluation.n).labels
    if evaluation.parts == (CBAR_PART,):
        where = {"suite": "none", "cifar_c_bar_dir": _ensure_cbar(options, dataset, evaluation.n)}
    else:
        where = {"suite": ",".join(evaluation.parts), "generate": True,
                 **benchmark_dirs(options, dataset, evaluation)}
    _, out_dir = evaluate_checkpoint(
        folder, n=evaluation.n, device=_device(options), data=options.data,
        out=folder / evaluation.name, seed=0, progress=options.progress, on_predictions=recorder,
        **where,
    )
    recorder.save(out_dir / RECORD_FILE, labels)


def _device(options: RunOptions) -> str:
    return "cpu" if options.device == "auto" else options.device


def _ensure_cbar(options: RunOptions, dataset: str, n: int | None) -> str:
    """CIFAR-C-bar: the official folder given, else generated once (`ipmix make-cifar-c`)."""
    if options.cifar_c_bar:
        return options.cifar_c_bar
    from ipmix.corruptions.cbar.levels import CIFAR_CBAR
    from ipmix.corruptions.writers.cifar import make_cifar_c
    from ipmix.data.cifar import load_cifar

    path = cbar_path(options.out, dataset, n)
    test = load_cifar(dataset, options.data, "test").subset(n)
    make_cifar_c(test.images, test.labels, path, corruptions=list(CIFAR_CBAR), seed=0,
                 progress=options.progress)  # finished files are kept
    return str(path)


def _evaluate_imagenet(cell: Cell, evaluation: Evaluation, options: RunOptions) -> None:
    """One ImageNet benchmark with `evaluate_imagenet` (through `evaluate_checkpoint`)."""
    from ipmix.robustness.suite import evaluate_checkpoint
    from ipmix.training.config import FOLDER_IMAGE_SIZE

    if options.imagenet is None:
        raise ValueError(f"{cell.name}: no ImageNet folders given")
    folder = run_dir(options.out, cell)
    folders = options.imagenet.evaluate_keywords(evaluation.parts[0])
    size = cell.options["image_size"] or FOLDER_IMAGE_SIZE
    workers = options.budget.workers if options.workers is None else options.workers
    evaluate_checkpoint(
        folder, suite="none", device=_device(options), out=folder / evaluation.name,
        imagenet={**folders, "image_size": size}, workers=workers, seed=0,
        progress=options.progress,
    )


def _ensure_data(cell: Cell, options: RunOptions) -> None:
    """What a cell reads that the runner makes: its mixing set, the synthetic ImageNet."""
    kind = cell.options["mixing_set"]
    if kind:
        _ensure_mixing_set(options, kind)
    if cell.options["dataset"] == "imagenet" and options.imagenet and options.imagenet.synthetic:
        from ipmix.reproduce.toy_imagenet import build_toy_imagenet

        build_toy_imagenet(options.out, options.data, options.progress)


def run_cell(cell: Cell, options: RunOptions, log: Callable[[str], object] = print) -> str:
    """Train and evaluate one cell (what is missing of it) under its lock; its new status."""
    folder = run_dir(options.out, cell)
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder, CELL_LOCK)
    try:
        lock.acquire()
    except RunDirectoryBusy:
        log(f"[{cell.name}] another process is running it: skipped")
        return "running"
    try:
        # another runner finished and recorded it since this one listed the grid (`cell_status`
        # cannot tell: it would see this process's own lock as "running")
        if _finished(folder, cell) and read_cell_info(folder).get("status") == "done":
            log(f"[{cell.name}] done by another runner: skipped")
            return "done"
        return _run_locked(cell, options, folder, log)
    finally:
        lock.release()


def _run_locked(cell: Cell, options: RunOptions, folder: Path, log: Callable[[str], object]) -> str:
    from ipmix.training import TrainingInterrupted, train

    started = time.time()
    info: dict[str, Any] = {"name": cell.name, "train": cell.options,
                            "evaluations": [e.name for e in cell.evaluations]}
    try:
        config = train_config(cell, options)
        if (folder / "final.pt").is_file():
            _check_existing(config, folder)
        else:
            _ensure_data(cell, options)
            log(f"[{cell.name}] training" + (" (resuming)" if config.resume else ""))
            train(config)
        for evaluation in cell.evaluations:
            if not _evaluations_done(folder, [evaluation]):
                log(f"[{cell.name}] evaluating {evaluation.name}")
                _evaluate(cell, evaluation, options)
        info.update(status="done")
    except RunDirectoryBusy as busy:  # the trainer's own lock: an older runner trains it
        log(f"[{cell.name}] {busy}: skipped")
        return "running"
    except (TrainingInterrupted, KeyboardInterrupt):
        info.update(status="interrupted")
        raise
    except Exception as error:  # one failed cell must not stop the others
        info.update(status="failed", error=f"{type(error).__name__}: {error}")
        (folder / "error.log").write_text(traceback.format_exc())
        log(f"[{cell.name}] FAILED: {info['error']} (traceback in {folder / 'error.log'})")
    finally:
        if "status" in info:
            info.update(machine=machine_info(), numerics=numerics_info(),
                        seconds=round(time.time() - started, 1))
            previous = read_cell_info(folder)
            if previous.get("status") == "done" and "first_machine" not in previous:
                info["first_machine"] = previous.get("machine")
            atomic_write_json(folder / CELL_FILE, info)
    return str(info["status"])


def run_grid(cells: Sequence[Cell], options: RunOptions,
             log: Callable[[str], object] = print) -> dict[str, list[str]]:
    """Run every runnable cell that is not done (here or elsewhere: `options.done_elsewhere`),
    in order; returns cell names by status."""
    import torch

    threads = torch.get_num_threads()
    if options.budget.threads is not None:
        torch.set_num_threads(options.budget.threads)  # same intra-op split, same numbers
    outcome: dict[str, list[str]] = {}
    todo = [cell for cell in cells if cell.name not in options.done_elsewhere
            and cell_status(options.out, cell) not in ("done", "needs")]
    elsewhere = sum(cell.name in options.done_elsewhere for cell in cells)
    log(f"{len(cells)} cells: {len(cells) - len(todo)} done or not runnable"
        + (f" ({elsewhere} in the ledger)" if elsewhere else "") + f", {len(todo)} to run")
    try:
        for position, cell in enumerate(todo, 1):
            log(f"cell {position}/{len(todo)}: {cell.name}")
            outcome.setdefault(run_cell(cell, options, log), []).append(cell.name)
    finally:
        torch.set_num_threads(threads)
    return outcome
