"""The main job: IPMix against no augmentation on a CPU budget, with its uncertainty.

Trains the `small` model on all 50,000 CIFAR-10 training images twice, with no augmentation
and with IPMix applied per batch (``--batched``, which costs about what the vanilla input
pipeline costs), evaluates both with the robustness suite, and prints one table: each metric
for both arms with a 95% bootstrap interval over the test images, and the paired difference
IPMix - vanilla with its interval; a difference whose interval holds 0 is marked as inside
the noise. The epoch time of each arm is shown too.

The two arms are cells of `ipmix reproduce` (same runner, same run folders, same records), so
every stage is skipped when done and an interrupted training resumes. The torch thread count
is fixed (2 by default) so that a rerun on the same kind of machine gives the same numbers;
other CPUs give other, equally valid numbers (see docs/results.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ipmix.reproduce.budgets import Budget, Evaluation
from ipmix.reproduce.cells import Cell, resolve
from ipmix.reproduce.machine import describe_machine, machine_info, numerics_info
from ipmix.reproduce.records import bootstrap, interval
from ipmix.reproduce.runner import RunOptions, run_dir, run_grid
from ipmix.reproduce.tables import IPMIX, IPMIX_JSD, METRICS, VANILLA, Entry
from ipmix.reproduce.values import cell_metric, cell_record, cell_results, epoch_seconds
from ipmix.utils.io import atomic_write_bytes, atomic_write_json


class DemoError(ValueError):
    """A run of the demo failed (its error.log says why)."""


#: Metrics of the table, in order.
DEMO_METRICS = ("error", "mce", "rms", "mfr", "pgd", "auroc", "aupr")


@dataclass
class DemoConfig:
    """Options of the main job; the defaults take about 9 minutes on a 2-core CPU."""

    out: str = "runs/demo"
    data: str | None = None  # None: $IPMIX_DATA
    subset: int | None = None  # training images; None: all 50,000
    epochs: int = 3
    n_clean: int = 10_000  # test images for clean error and calibration
    n: int = 500  # test images for CIFAR-C, PGD and OOD
    n_p: int = 500  # test images (sequences) for CIFAR-P
    jsd: bool = False  # train the IPMix arm with the JSD loss (three passes per image)
    mixing_set_size: int | None = None  # None: the built-in 13,000 pictures; N: a generated set
    workers: int = 2
    threads: int = 2
    device: str = "auto"
    seed: int = 0
    progress: bool = True


def demo_budget(config: DemoConfig) -> Budget:
    """The demo's setting as a reproduce budget."""
    plan = (Evaluation(("clean", "calibration"), config.n_clean),
            Evaluation(("c", "pgd", "ood"), config.n), Evaluation(("p",), config.n_p))
    return Budget(
        name="demo", description=f"small model, {config.subset or 'all 50,000'} CIFAR-10 "
        f"training images, {config.epochs} epochs, IPMix per batch"
        + (" with JSD" if config.jsd else ", no JSD"),
        model="small", epochs=config.epochs, subset=config.subset, batched=True, jsd=False,
        jsd_rows=False, extra_rows=False, seeds=1, core_seeds=1, main_n=config.n_clean,
        side_n=config.n, datasets=("cifar10",), workers=config.workers, threads=config.threads,
        evaluation_plan=plan, mixing_set="mix" if config.mixing_set_size else None,
        mixing_set_count=config.mixing_set_size or 13_000,
    )


def demo_cells(config: DemoConfig) -> dict[str, Cell]:
    """The two arms: ``vanilla`` and ``ipmix``."""
    budget = demo_budget(config)
    arms = {"vanilla": VANILLA, "ipmix": IPMIX_JSD if config.jsd else IPMIX}
    cells = {}
    for arm, method in arms.items():
        entry = Entry(table="demo", section="CIFAR-10", row=method.label, column="all",
                      dataset="cifar10", model="small", method=method, metric="error",
                      epochs=config.epochs, seeds=1)
        cells[arm] = resolve(entry, budget, config.seed)
    return cells


def _fmt(low_high: tuple[float, float]) -> str:
    return f"[{low_high[0]:.2f}, {low_high[1]:.2f}]"


def compare(out: Path, cells: dict[str, Cell]) -> list[dict[str, Any]]:
    """Per metric: both arms' values and intervals, the paired difference and its interval."""
    rows = []
    vanilla, ipmix = cells["vanilla"], cells["ipmix"]
    for metric in DEMO_METRICS:
        (a, _, index_a), (b, _, index_b) = (cell_metric(out, c, metric) for c in (vanilla, ipmix))
        if a is None or b is None:
            continue
        row: dict[str, Any] = {"metric": metric, "label": METRICS[metric][0],
                               "higher_is_better": METRICS[metric][1], "vanilla": a, "ipmix": b,
                               "difference": b - a}
        records = [cell_record(out, c, i) if i is not None else None
                   for c, i in ((vanilla, index_a), (ipmix, index_b))]
        samples = bootstrap(records, metric) if None not in records else None  # type: ignore[arg-type]
        if samples is not None:
            row["n"] = records[0].n  # type: ignore[union-attr]
            row["vanilla_interval"] = interval(samples[0], a)
            row["ipmix_interval"] = interval(samples[1], b)
            row["difference_interval"] = interval(samples[1] - samples[0], b - a)
            low, high = row["difference_interval"]
            better = (b > a) == row["higher_is_better"]
            row["verdict"] = ("inside the noise" if low <= 0 <= high
                              else "IPMix better" if better else "IPMix worse")
        rows.append(row)
    return rows


def demo_markdown(rows: list[dict[str, Any]], times: dict[str, float | None], config: DemoConfig,
                  wall_seconds: float | None) -> str:
    """The table the main job prints and writes (docs/results.md is this file)."""
    info = machine_info()
    lines = [
        "| Metric | n | vanilla | IPMix | IPMix - vanilla | |", "|---|---|---|---|---|---|"]
    for row in rows:
        cells = [row["label"] + (" (higher is better)" if row["higher_is_better"] else ""),
                 str(row.get("n", "–")), f"{row['vanilla']:.2f}", f"{row['ipmix']:.2f}",
                 f"{row['difference']:+.2f}"]
        if "difference_interval" in row:
            cells[2] += " " + _fmt(row["vanilla_interval"])
            cells[3] += " " + _fmt(row["ipmix_interval"])
            cells[4] += " " + _fmt(row["difference_interval"])
        cells.append(row.get("verdict", ""))
        lines.append("| " + " | ".join(cells) + " |")
    vanilla_s, ipmix_s = times.get("vanilla"), times.get("ipmix")
    if vanilla_s and ipmix_s:
        lines += ["", f"Training time per epoch: vanilla {vanilla_s:.1f} s, IPMix {ipmix_s:.1f} s "
                  f"({ipmix_s / vanilla_s:.2f}x)."]
    lines += [
        "", f"Setting: {demo_budget(config).description}; seed {config.seed}; clean error and "
        f"calibration on {config.n_clean:,} test images, CIFAR-C, PGD and OOD on {config.n:,}, "
        f"CIFAR-P on {config.n_p:,}. Intervals: 95% bootstrap over the test images, "
        "bias-corrected (paired: the same resamples for both arms); a difference whose interval holds 0 is "
        "inside the noise of the test set. Seed-to-seed and machine-to-machine variation come "
        "on top (see docs/results.md).",
        "", f"Machine: {describe_machine(info)}; {config.threads} torch thread(s), "
        f"{numerics_info()['cpu_capability']} kernels; ipmix {info['commit']}; {info['date']}"
        + (f"; demo wall time {wall_seconds / 60:.1f} min." if wall_seconds else "."),
        "", f"One seed of a {config.epochs}-epoch run: this shows what IPMix is for, not the "
        "paper's numbers. "
        "The comparison of every method at 15 epochs, with seeds, is in docs/results/cpu/ "
        "(`ipmix reproduce`).",
    ]
    return "\n".join(lines) + "\n"


def _merged_results(out: Path, cell: Cell) -> dict[str, Any]:
    """One results.json for `ipmix report`: each part from the evaluation that measured it."""
    merged: dict[str, Any] = {}
    for results in cell_results(out, cell):
        for key, value in results.items():
            merged.setdefault(key, value)
    return merged


def run_demo(config: DemoConfig, log: Callable[[str], object] = print) -> tuple[Path, list[Path]]:
    """Train, evaluate and compare; returns the demo's markdown and the plots."""
    from ipmix.robustness.report import write_report

    started = time.perf_counter()
    out = Path(config.out)
    cells = demo_cells(config)
    budget = demo_budget(config)
    options = RunOptions(out=out, budget=budget, data=config.data, device=config.device,
                         workers=config.workers, progress=config.progress,
                         eval_every=config.epochs)  # the suite evaluates; no per-epoch test pass
    outcome = run_grid(list(cells.values()), options, log)
    if outcome.get("failed"):
        raise DemoError(f"the demo's runs failed: {', '.join(outcome['failed'])} "
                           f"(see error.log in {out / 'runs'})")
    report = out / "report"
    arms = []
    for arm, cell in cells.items():
        atomic_write_json(report / "arms" / arm / "results.json", _merged_results(out, cell))
        arms.append(report / "arms" / arm)
    _, plots = write_report(arms, report, title="ipmix demo: IPMix versus no augmentation")
    rows = compare(out, cells)
    times = {arm: epoch_seconds(run_dir(out, cell)) for arm, cell in cells.items()}
    wall: float | None = time.perf_counter() - started
    previous = report / "demo.json"
    if not outcome and previous.is_file():  # nothing ran: keep the wall time of the real run
        wall = json.loads(previous.read_text()).get("wall_seconds")
    atomic_write_json(report / "demo.json", {"rows": rows, "epoch_seconds": times,
                                              "config": vars(replace(config)), "machine": machine_info(),
                                              "numerics": dict(numerics_info(), torch_threads=config.threads),
                                              "wall_seconds": wall})
    text = demo_markdown(rows, times, config, wall)
    path = atomic_write_bytes(report / "demo.md", text.encode())
    return path, plots


def summary(report: Path, plots: list[Path]) -> str:
    """The demo's table and where the plots are, for the terminal."""
    lines = [report.read_text().rstrip(), "", f"report: {report}"] + [f"plot: {p}" for p in plots]
    return "\n".join(lines)
