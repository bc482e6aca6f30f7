"""Cells: one training run (an `ipmix train` configuration) and its `ipmix evaluate` runs.

`grid(tables, budget)` resolves every table entry at a budget, seed by seed, into a `Cell`.
Entries that resolve to the same training configuration share one cell, so a run is trained
once for all the tables that show it. A cell's name is its run folder, fixed by what it trains:

    cifar10-small-e15/ipmix-batched/seed0
    cifar100-wrn40_4-e100/ipmix-framework-linear-jsd/seed2

(dataset, model, epochs, training images when not all; method with its options, JSD, per-batch
IPMix, mixing set; seed). Names never change for a configuration: runs made earlier stay valid.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipmix.reproduce.budgets import CORE_AUGS, Budget, Evaluation
from ipmix.reproduce.tables import METRIC_NEEDS, Entry, Method, TableSpec

#: The training-run options a cell fixes (the rest are TrainConfig defaults or per machine).
TRAIN_KEYS = ("dataset", "model", "aug", "aug_options", "batched", "jsd", "epochs", "subset",
              "mixing_set", "seed")


@dataclass(frozen=True)
class Cell:
    """One training configuration with its evaluations, and the table entries that show it."""

    name: str
    train: tuple[tuple[str, Any], ...]  # TrainConfig options (TRAIN_KEYS), mixing set by kind
    evaluations: tuple[Evaluation, ...]
    method: Method
    seed: int
    needs: str = ""  # what is missing to run it (empty: runnable)
    entries: tuple[Entry, ...] = field(default=(), compare=False)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.train)

    @property
    def runnable(self) -> bool:
        return not self.needs

    def priority(self) -> tuple[int, ...]:
        """Run order: one seed of vanilla/AugMix/IPMix first, then the other methods, then the
        extra seeds, then JSD; within each, the order of the tables and their entries."""
        if not self.train:
            return (9, 0, 0)
        return (int(bool(self.method.jsd)), int(self.seed > 0), int(self.options["aug"] not in CORE_AUGS))


def _method_tag(method: Method, jsd: bool, batched: bool, mixing_set: str | None) -> str:
    assert method.aug is not None
    tag = re.sub(r"[(),]+", "-", method.aug).strip("-")
    for key, value in method.options:
        text = "+".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        tag += f"-{key.replace('_', '-')}-{text}"
    if mixing_set:
        tag += f"-set-{mixing_set}"
    if jsd:
        tag += "-jsd"
    if batched:
        tag += "-batched"
    return tag


def _resolve_jsd(method: Method, budget: Budget) -> bool:
    from ipmix.training.registry import JSD_DEFAULTS, resolve_jsd

    assert method.aug is not None
    if method.jsd is not None:
        return method.jsd
    if budget.jsd is None or method.aug not in JSD_DEFAULTS:
        return resolve_jsd(method.aug, None)
    return budget.jsd


def _epochs(entry: Entry, budget: Budget, model: str) -> int:
    from ipmix.training import DEFAULT_EPOCHS

    if budget.epochs is not None:
        return budget.epochs
    if entry.epochs is not None:
        return entry.epochs
    return DEFAULT_EPOCHS.get(model, 100)


def _needs_training(options: dict[str, Any]) -> str:
    """Empty if ipmix can train this configuration here; else what it needs."""
    from ipmix.training import ConfigError, TrainConfig

    train_options = dict(options, mixing_set=None)
    try:
        TrainConfig(out="-", **train_options).resolved()
    except ConfigError as error:
        if options["dataset"] == "imagenet" or options["model"] == "resnet50":
            return "needs ImageNet training (issue 10, branch folders)"
        return f"cannot train here: {error}"
    return ""


def resolve(entry: Entry, budget: Budget, seed: int) -> Cell:
    """The cell of one table entry at `budget` for `seed`."""
    method = entry.method
    dataset = budget.dataset_for(entry.dataset)
    model = budget.model or entry.model
    if method.aug is None:
        return Cell(name=f"not-in-ipmix/{method.label}", train=(), evaluations=(), method=method,
                    seed=seed, needs=method.unavailable, entries=(entry,))
    from ipmix.training.registry import AUGMENTATION_NAMES

    if method.aug not in AUGMENTATION_NAMES:
        raise ValueError(f"Table {entry.table}: unknown augmentation {method.aug!r}")
    jsd = _resolve_jsd(method, budget)
    batched = budget.batched and method.aug.startswith("ipmix")
    epochs = _epochs(entry, budget, model)
    mixing_set = method.mixing_set
    if mixing_set is None and (method.aug == "pixmix" or method.aug.startswith("ipmix")):
        mixing_set = budget.mixing_set
    options: dict[str, Any] = {
        "dataset": dataset, "model": model, "aug": method.aug,
        "aug_options": {key: value for key, value in method.options},
        "batched": batched, "jsd": jsd, "epochs": epochs, "subset": budget.subset,
        "mixing_set": mixing_set, "seed": seed,
    }
    setting = f"{dataset}-{model}-e{epochs}" + (f"-train{budget.subset}" if budget.subset else "")
    name = f"{setting}/{_method_tag(method, jsd, batched, mixing_set)}/seed{seed}"
    needs = _needs_training(options) or METRIC_NEEDS.get(entry.metric, "")
    return Cell(name=name, train=tuple((key, options[key]) for key in TRAIN_KEYS),
                evaluations=budget.evaluations(), method=method, seed=seed, needs=needs,
                entries=(entry,))


def grid(tables: Iterable[TableSpec], budget: Budget) -> list[Cell]:
    """Every cell the tables need at `budget`, shared where configurations are equal, in run
    order (`Cell.priority`, then first appearance)."""
    cells: dict[str, Cell] = {}
    order: dict[str, int] = {}
    for table in tables:
        for entry in table.entries(budget):
            jsd_hint = bool(entry.method.jsd)
            count = budget.seeds_for(entry.method.aug or "", jsd_hint, entry.seeds)
            for seed in range(count):
                cell = resolve(entry, budget, seed)
                known = cells.get(cell.name)
                if known is None:
                    cells[cell.name] = cell
                    order[cell.name] = len(order)
                    continue
                if known.train != cell.train:
                    raise ValueError(f"two configurations share the cell name {cell.name}")
                needs = known.needs if known.needs and cell.needs else ""
                cells[cell.name] = Cell(
                    name=known.name, train=known.train, evaluations=known.evaluations,
                    method=known.method, seed=known.seed, needs=needs,
                    entries=known.entries + cell.entries,
                )
    return sorted(cells.values(), key=lambda c: (c.priority(), order[c.name]))


def cells_of_entry(cells: Iterable[Cell], entry: Entry) -> list[Cell]:
    """The cells (one per seed) that hold `entry`'s value."""
    return sorted((cell for cell in cells if entry in cell.entries), key=lambda c: c.seed)


def mixing_set_path(out: str | Path, kind: str, budget: Budget) -> Path:
    """Where the runner generates a cell's mixing set (a uint8 array, 36 px as IPMix resizes)."""
    return Path(out) / "mixing-sets" / f"{kind}-{budget.mixing_set_count}.npy"


def train_command(cell: Cell, out: str, budget: Budget) -> str:
    """The `ipmix train` command line of a cell (mixing set as generated by the runner)."""
    options = cell.options
    args = ["ipmix", "train", "--dataset", options["dataset"], "--model", options["model"],
            "--aug", options["aug"], "--epochs", str(options["epochs"]), "--seed", str(options["seed"])]
    if options["aug_options"]:
        import json

        args += ["--aug-options", json.dumps(options["aug_options"], sort_keys=True)]
    if options["batched"]:
        args.append("--batched")
    if options["aug"] in ("augmix", "pixmix") or options["aug"].startswith("ipmix"):
        args.append("--jsd" if options["jsd"] else "--no-jsd")
    if options["subset"]:
        args += ["--subset", str(options["subset"])]
    if options["mixing_set"]:
        args += ["--mixing-set", str(mixing_set_path(out, options["mixing_set"], budget))]
    args += ["--out", f"{out}/runs/{cell.name}"]
    return shlex.join(args)


def evaluate_commands(cell: Cell, out: str) -> list[str]:
    """The `ipmix evaluate` command lines of a cell."""
    lines = []
    for evaluation in cell.evaluations:
        args = ["ipmix", "evaluate", f"{out}/runs/{cell.name}", "--suite", ",".join(evaluation.parts),
                "--out", f"{out}/runs/{cell.name}/{evaluation.name}"]
        if evaluation.n is not None:
            args += ["--n", str(evaluation.n)]
        lines.append(shlex.join(args))
    return lines
