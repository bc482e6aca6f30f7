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

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipmix.reproduce.budgets import CBAR_PART, CORE_AUGS, Budget, Evaluation
from ipmix.reproduce.imagenet import ImageNetData, benchmark_evaluation, benchmark_of
from ipmix.reproduce.tables import Entry, Method, TableSpec

#: The training-run options a cell fixes (the rest are TrainConfig defaults or per machine);
#: ``model_kwargs`` too where a method sets some (AugMax's DuBIN), so that other cells keep the
#: identity they had before it existed.
TRAIN_KEYS = ("dataset", "model", "aug", "aug_options", "batched", "jsd", "epochs", "subset",
              "mixing_set", "seed", "recipe", "image_size")
#: Methods that mix with a mixing set (the budget's generated one).
MIXING_SET_AUGS = ("pixmix", "layermix")


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
    # entries whose evaluation cannot run here (a benchmark folder not given), and why
    entry_needs: tuple[tuple[Entry, str], ...] = field(default=(), compare=False)

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
    for key, value in method.options + method.model_kwargs:
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
    from ipmix.training.registry import JSD_DEFAULTS, JSD_REQUIRED, resolve_jsd

    assert method.aug is not None
    if method.jsd is not None:
        return method.jsd
    if method.aug in JSD_REQUIRED:
        return True
    if budget.jsd is None or method.aug not in JSD_DEFAULTS:
        return resolve_jsd(method.aug, None)
    return budget.jsd


def _epochs(entry: Entry, budget: Budget, model: str) -> int:
    from ipmix.training import DEFAULT_EPOCHS

    if budget.epochs is not None:
        return budget.epochs
    if entry.epochs is not None:
        return entry.epochs
    if entry.dataset == "imagenet":  # the imagenet recipe's (Appendix A.2: 180)
        from ipmix.training.config import RECIPES

        return int(RECIPES["imagenet"]["epochs"])
    return DEFAULT_EPOCHS.get(model, 100)


def _needs_training(options: dict[str, Any]) -> str:
    """Empty if ipmix can train this configuration here; else what it needs."""
    from ipmix.training import ConfigError, TrainConfig

    train_options = dict(options, mixing_set=None)
    try:
        TrainConfig(out="-", **train_options).resolved()
    except ConfigError as error:
        return f"cannot train here: {error}"
    return ""


def entry_evaluations(entry: Entry, budget: Budget, dataset: str) -> tuple[Evaluation, ...]:
    """The evaluations an entry's value needs: the budget's suite runs (CIFAR), plus CIFAR-C-bar
    for C-bar values; one ImageNet benchmark for an ImageNet value."""
    benchmark = benchmark_of(entry.metric, dataset)
    if benchmark is not None:
        return (benchmark_evaluation(benchmark),)
    if dataset == "imagenet":
        raise ValueError(f"Table {entry.table}: {entry.metric} is not an ImageNet metric")
    extra = (Evaluation((CBAR_PART,), budget.main_n),) if entry.metric == "cbar" else ()
    return budget.evaluations() + extra


def resolve(entry: Entry, budget: Budget, seed: int, imagenet: ImageNetData | None = None) -> Cell:
    """The cell of one table entry at `budget` for `seed` (`imagenet`: where ImageNet is)."""
    method = entry.method
    dataset = budget.dataset_for(entry.dataset)
    model = budget.model or entry.model
    if method.aug is None:
        return Cell(name=f"not-in-ipmix/{method.label}", train=(), evaluations=(), method=method,
                    seed=seed, needs=method.unavailable, entries=(entry,))
    from ipmix.training.registry import AUGMENTATION_NAMES, BATCHED

    if method.aug not in AUGMENTATION_NAMES:
        raise ValueError(f"Table {entry.table}: unknown augmentation {method.aug!r}")
    jsd = _resolve_jsd(method, budget)
    batched = budget.batched and method.aug in BATCHED
    epochs = _epochs(entry, budget, model)
    mixing_set = method.mixing_set
    if mixing_set is None and (method.aug in MIXING_SET_AUGS or method.aug.startswith("ipmix")):
        mixing_set = budget.mixing_set
    on_imagenet = dataset == "imagenet"
    imagenet = imagenet or ImageNetData()
    options: dict[str, Any] = {
        "dataset": dataset, "model": model, "aug": method.aug,
        "aug_options": {key: value for key, value in method.options},
        "batched": batched, "jsd": jsd, "epochs": epochs, "subset": budget.subset,
        "mixing_set": mixing_set, "seed": seed,
        "recipe": "imagenet" if on_imagenet else None, "image_size": None,
    }
    data_tag = dataset
    if on_imagenet and imagenet.synthetic:
        from ipmix.reproduce.toy_imagenet import TOY_FOLDER, TOY_SIZE

        options["image_size"], data_tag = TOY_SIZE, TOY_FOLDER
    setting = f"{data_tag}-{model}-e{epochs}" + (f"-train{budget.subset}" if budget.subset else "")
    name = f"{setting}/{_method_tag(method, jsd, batched, mixing_set)}/seed{seed}"
    keys = TRAIN_KEYS
    if method.model_kwargs:
        options["model_kwargs"], keys = dict(method.model_kwargs), (*TRAIN_KEYS, "model_kwargs")
    needs = _needs_training(options) or (imagenet.training_needs() if on_imagenet else "")
    evaluations, entry_needs = [], []
    for evaluation in entry_evaluations(entry, budget, dataset):
        lacking = imagenet.benchmark_needs(evaluation.parts[0]) if evaluation.imagenet else ""
        if lacking:
            entry_needs.append((entry, lacking))
        else:
            evaluations.append(evaluation)
    return Cell(name=name, train=tuple((key, options[key]) for key in keys),
                evaluations=tuple(evaluations), method=method, seed=seed, needs=needs,
                entries=(entry,), entry_needs=tuple(entry_needs))


def grid(tables: Iterable[TableSpec], budget: Budget, imagenet: ImageNetData | None = None
         ) -> list[Cell]:
    """Every cell the tables need at `budget`, shared where configurations are equal (their
    evaluations joined), in run order (`Cell.priority`, then first appearance)."""
    cells: dict[str, Cell] = {}
    order: dict[str, int] = {}
    for table in tables:
        for entry in table.entries(budget):
            jsd_hint = bool(entry.method.jsd)
            count = budget.seeds_for(entry.method.aug or "", jsd_hint, entry.seeds)
            for seed in range(count):
                cell = resolve(entry, budget, seed, imagenet)
                known = cells.get(cell.name)
                if known is None:
                    cells[cell.name] = cell
                    order[cell.name] = len(order)
                    continue
                if known.train != cell.train:
                    raise ValueError(f"two configurations share the cell name {cell.name}")
                needs = known.needs if known.needs and cell.needs else ""
                evaluations = known.evaluations + tuple(
                    e for e in cell.evaluations if e not in known.evaluations)
                cells[cell.name] = Cell(
                    name=known.name, train=known.train, evaluations=evaluations,
                    method=known.method, seed=known.seed, needs=needs,
                    entries=known.entries + cell.entries,
                    entry_needs=known.entry_needs + cell.entry_needs,
                )
    return sorted(cells.values(), key=lambda c: (c.priority(), order[c.name]))


def cells_of_entry(cells: Iterable[Cell], entry: Entry) -> list[Cell]:
    """The cells (one per seed) that hold `entry`'s value."""
    return sorted((cell for cell in cells if entry in cell.entries), key=lambda c: c.seed)


def mixing_set_path(out: str | Path, kind: str, budget: Budget) -> Path:
    """Where the runner generates a cell's mixing set (a uint8 array, 36 px as IPMix resizes)."""
    return Path(out) / "mixing-sets" / f"{kind}-{budget.mixing_set_count}.npy"


def cbar_path(out: str | Path, dataset: str, n: int | None) -> Path:
    """Where the runner generates CIFAR-10/100-C-bar for the first `n` test images."""
    return Path(out) / "benchmarks" / f"{dataset}-c-bar-n{n if n is not None else 'all'}"


def train_command(cell: Cell, out: str, budget: Budget, imagenet: ImageNetData | None = None) -> str:
    """The `ipmix train` command line of a cell (mixing set as generated by the runner)."""
    options = cell.options
    args = ["ipmix", "train", "--dataset", options["dataset"], "--model", options["model"],
            "--aug", options["aug"], "--epochs", str(options["epochs"]), "--seed", str(options["seed"])]
    if options["recipe"]:
        args += ["--recipe", options["recipe"]]
    if options["image_size"]:
        args += ["--image-size", str(options["image_size"])]
    if options["dataset"] == "imagenet":
        root = imagenet.root if imagenet is not None else None
        args += ["--data", str(root) if root is not None else "IMAGENET_DIR"]
    from ipmix.training.registry import JSD_DEFAULTS

    for key in ("aug_options", "model_kwargs"):
        if options.get(key):
            args += [f"--{key.replace('_', '-')}", json.dumps(options[key], sort_keys=True)]
    if options["batched"]:
        args.append("--batched")
    if options["aug"] in JSD_DEFAULTS:
        args.append("--jsd" if options["jsd"] else "--no-jsd")
    if options["subset"]:
        args += ["--subset", str(options["subset"])]
    if options["mixing_set"]:
        args += ["--mixing-set", str(mixing_set_path(out, options["mixing_set"], budget))]
    args += ["--out", f"{out}/runs/{cell.name}"]
    return shlex.join(args)


def evaluate_commands(cell: Cell, out: str, imagenet: ImageNetData | None = None) -> list[str]:
    """The `ipmix evaluate` command lines of a cell."""
    from ipmix.reproduce.imagenet import BENCHMARK_OPTIONS, keyword

    lines = []
    for evaluation in cell.evaluations:
        own_parts = evaluation.imagenet or evaluation.parts == (CBAR_PART,)
        parts = "none" if own_parts else ",".join(evaluation.parts)
        args = ["ipmix", "evaluate", f"{out}/runs/{cell.name}", "--suite", parts,
                "--out", f"{out}/runs/{cell.name}/{evaluation.name}"]
        if evaluation.n is not None:
            args += ["--n", str(evaluation.n)]
        if evaluation.parts == (CBAR_PART,):
            args += ["--cifar-c-bar", str(cbar_path(out, cell.options["dataset"], evaluation.n))]
        if evaluation.imagenet and imagenet is not None:
            options = {keyword(name): option for name, option in BENCHMARK_OPTIONS.items()}
            for key, folder in imagenet.evaluate_keywords(evaluation.parts[0]).items():
                args += [options[key], folder]
            args += ["--image-size", str(cell.options["image_size"] or 224)]
        lines.append(shlex.join(args))
    return lines
