"""Grid resolution: tables -> cells (training + evaluation configurations), shared and ordered."""

import shlex

import pytest

from ipmix.reproduce.budgets import BudgetError, get_budget
from ipmix.reproduce.cells import evaluate_commands, grid, train_command
from ipmix.reproduce.job import plan
from ipmix.reproduce.runner import RunOptions, train_config
from ipmix.reproduce.tables import TABLES, UnknownTableError, get_tables
from ipmix.training import TrainConfig, resolve_jsd


def _names(cells):
    return [cell.name for cell in cells]


def test_table3_at_the_paper_budget_is_the_full_grid():
    _, _, cells = plan(["3"], "paper")
    assert len(cells) == 2 * 4 * 7 * 3  # dataset x model x method x seed
    by_name = {cell.name: cell.options for cell in cells}
    assert by_name["cifar100-wrn40_4-e100/ipmix-jsd/seed2"]["jsd"] is True  # the authors' JSD
    assert by_name["cifar10-resnet18-e200/none/seed0"]["epochs"] == 200
    assert by_name["cifar10-resnext29_32x4d-e200/pixmix/seed1"]["jsd"] is False
    assert all(not o["batched"] for o in by_name.values())
    assert all(cell.evaluations[0].parts == ("clean", "c", "calibration", "p", "pgd", "ood")
               and cell.evaluations[0].n is None for cell in cells)


def test_table3_at_the_cpu_budget():
    _, budget, cells = plan(["3"], "cpu")
    names = _names(cells)
    assert len(cells) == 3 * 3 + 7 + 2  # three seeds of the core methods, extras, JSD rows
    # run order: one seed of vanilla / AugMix / IPMix first, then the other methods, then the
    # extra seeds, then JSD
    assert names[:3] == ["cifar10-small-e15/none/seed0", "cifar10-small-e15/augmix/seed0",
                         "cifar10-small-e15/ipmix-batched/seed0"]
    assert names[-2:] == ["cifar10-small-e15/augmix-jsd/seed0",
                          "cifar10-small-e15/ipmix-jsd-batched/seed0"]
    assert names.index("cifar10-small-e15/trivialaugment/seed0") < names.index(
        "cifar10-small-e15/none/seed1")
    assert all(c.options["dataset"] != "cifar100" for c in cells)
    assert [(e.parts, e.n) for e in cells[0].evaluations] == [
        (("clean", "c", "calibration"), 10_000), (("p", "pgd", "ood"), 2_000)]
    assert budget.with_seeds(2).seeds == 2
    with pytest.raises(BudgetError, match="--seeds must be >= 1"):
        budget.with_seeds(0)


def test_tables_share_cells():
    alone = set(_names(plan(["3"], "cpu")[2]))
    together = plan(["3", "4", "18", "17"], "cpu")[2]
    runnable = {cell.name for cell in together if cell.runnable}
    # Tables 4, 18 and 17 add no training at this budget but Table 17's AugMax row
    assert runnable - alone == {"cifar10-small-e15/augmax-norm-dubin-jsd/seed0"}
    ipmix = next(c for c in together if c.name == "cifar10-small-e15/ipmix-batched/seed0")
    assert {e.table for e in ipmix.entries} == {"3", "4", "18", "17"}
    # Table 2's Chain-Mixed is IPMix's default framework: the same run as Table 12's IPMix row
    shared = plan(["2", "12"], "paper")[2]
    cell = next(c for c in shared if c.name == "cifar100-resnext29_32x4d-e200/ipmix-jsd/seed0")
    assert {(e.table, e.row) for e in cell.entries} == {("2", "Chain-Mixed"), ("12", "IPMix")}
    assert "cifar100-resnext29_32x4d-e200/ipmix-framework-linear-jsd/seed0" in _names(shared)


def test_what_cannot_run_here_says_why():
    cells = plan(["5", "13", "8"], "paper")[2]
    needs = {cell.name: cell.needs for cell in cells if not cell.runnable}
    assert needs["imagenet-resnet50-e180/augmax-norm-dubin-jsd/seed0"] == (
        "needs ImageNet data: --imagenet DIR (DIR/train, DIR/val)")  # AugMax-DuBIN, its JSD
    assert needs["imagenet-resnet50-e180/ipmix-jsd/seed0"] == (
        "needs ImageNet data: --imagenet DIR (DIR/train, DIR/val)")
    assert any("PixMix's fractals" in text for text in needs.values())
    # Table 13's CIFAR cells run now, with a C-bar evaluation beside the budget's suite runs
    cifar = [c for c in cells
             if c.name.startswith("cifar10-wrn40_4") and "13" in {e.table for e in c.entries}]
    assert cifar and all(c.runnable and c.evaluations[-1].name == "eval-cbar-nall" for c in cifar)
    assert {c.options["mixing_set"] for c in cells if c.runnable and "set-" in c.name} == {
        "ifs", "radial-contours", "dead-leaves", "spectrum"}


def test_imagenet_values_name_the_folder_they_lack(tmp_path):
    from ipmix.reproduce.imagenet import ImageNetData

    for split in ("train", "val"):
        (tmp_path / split).mkdir()
    given = ImageNetData(root=tmp_path, folders={"imagenet-c": tmp_path / "missing-c"})
    cells = plan(["5"], "paper", imagenet=given)[2]
    vanilla = next(c for c in cells if c.name == "imagenet-resnet50-e180/none/seed0")
    assert vanilla.runnable  # trains; the benchmarks given (val: DIR/val) are evaluated
    assert [e.name for e in vanilla.evaluations] == ["eval-imagenet-val-nall"]
    lacking = {entry.column: why for entry, why in vanilla.entry_needs}
    assert lacking["ImageNet-P mFR"] == "needs ImageNet data: --imagenet-p DIR"
    assert lacking["ImageNet-C mCE"] == (
        f"needs ImageNet data: {tmp_path / 'missing-c'} (--imagenet-c) does not exist")
    assert "Clean Error" not in lacking


def test_every_table_resolves_at_every_budget():
    for budget in ("smoke", "cpu", "paper"):
        cells = plan(["all"], budget)[2]
        assert len(cells) == len(set(_names(cells)))
    with pytest.raises(UnknownTableError, match="unknown table '6'; choose from 2, 3"):
        get_tables(["6"])


def test_the_printed_commands_build_the_runners_config(tmp_path):
    from ipmix.cli import build_parser

    budget = get_budget("cpu")
    cells = grid([TABLES["11"], TABLES["8"], TABLES["field"]], budget)
    options = RunOptions(out=tmp_path, budget=budget)
    for cell in cells:
        if not cell.runnable:
            continue
        args = build_parser("train").parse_args(shlex.split(train_command(cell, str(tmp_path), budget))[1:])
        given = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
        printed = TrainConfig(**given).resolved()  # as `ipmix train` builds it
        config = train_config(cell, options).resolved()
        for key in ("dataset", "model", "model_kwargs", "aug", "aug_options", "batched",
                    "epochs", "subset", "mixing_set", "seed", "out", "jsd_weight"):
            assert getattr(printed, key) == getattr(config, key), (cell.name, key)
        assert resolve_jsd(printed.aug, printed.jsd) == resolve_jsd(config.aug, config.jsd)
        for line in evaluate_commands(cell, str(tmp_path)):
            evaluated = build_parser("evaluate").parse_args(shlex.split(line)[1:])
            assert evaluated.run == config.out and evaluated.n in (10_000, 2_000)


#: The tables issue 12 lists; at the smoke budget each must run end to end.
LISTED = ("2", "3", "4", "5", "7", "8", "11", "12", "13", "15", "17", "18")


def test_every_listed_table_runs_at_the_smoke_budget():
    cells = plan(list(LISTED), "smoke", out="/nowhere")[2]
    blocked = {cell.name: cell.needs for cell in cells if not cell.runnable}
    # only PixMix's download; every training and every metric runs
    assert set(blocked) == {"not-in-ipmix/Fractal + FVis"}
    assert not [why for cell in cells for _, why in cell.entry_needs]
    imagenet = [cell for cell in cells if cell.options.get("dataset") == "imagenet"]
    assert imagenet and all(c.name.startswith("imagenet-toy32-small-e1-train512/") for c in imagenet)
    assert {e.name for e in imagenet[0].evaluations} == {
        f"eval-imagenet-{b}-nall" for b in ("val", "c", "c-bar", "p", "r", "a", "o")}
    bar = next(c for c in cells if c.name == "cifar10-small-e1-train512/none/seed0")
    assert "eval-cbar-n100" in {e.name for e in bar.evaluations}
