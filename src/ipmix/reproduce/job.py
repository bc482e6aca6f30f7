"""`ipmix reproduce` as a library call: resolve the grid, show it, run it, write the tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ipmix.reproduce.budgets import Budget, get_budget
from ipmix.reproduce.cells import Cell, evaluate_commands, grid, train_command
from ipmix.reproduce.cost import describe_seconds, estimate_cell, load_speed_tables
from ipmix.reproduce.imagenet import BENCHMARK_OPTIONS, ImageNetData
from ipmix.reproduce.ledger import Ledger, load_ledger
from ipmix.reproduce.output import write_table
from ipmix.reproduce.runner import RunOptions, cell_status, read_cell_info, run_dir, run_grid
from ipmix.reproduce.summary import write_summary
from ipmix.reproduce.tables import TableSpec, get_tables
from ipmix.reproduce.toy_imagenet import DESCRIPTION, toy_data, toy_root
from ipmix.reproduce.values import cell_readings


def plan(tables: Sequence[str], budget: str, seeds: int | None = None, out: str | Path = ".",
         imagenet: ImageNetData | None = None) -> tuple[list[TableSpec], Budget, list[Cell]]:
    """The table specs, the budget (with `seeds` applied) and the grid of cells, in run order.

    `imagenet`: the ImageNet folders given (default: none); a budget with a synthetic ImageNet
    uses its toy under `out` instead.
    """
    specs = get_tables(list(tables))
    chosen = get_budget(budget).with_seeds(seeds)
    data = _imagenet(chosen, out, imagenet)
    return specs, chosen, grid(specs, chosen, data)


def imagenet_data(budget: Budget, out: str | Path, root: str | Path | None = None,
                  folders: Mapping[str, str | Path] | None = None) -> ImageNetData:
    """The ImageNet of a reproduction: the budget's toy, else the folders given."""
    if budget.imagenet_toy:
        return toy_data(out)
    unknown = sorted(set(folders or {}) - set(BENCHMARK_OPTIONS))
    if unknown:
        raise ValueError(f"unknown ImageNet benchmark(s) {', '.join(unknown)}; "
                         f"known: {', '.join(BENCHMARK_OPTIONS)}")
    given = {name: Path(path).expanduser() for name, path in (folders or {}).items() if path}
    return ImageNetData(root=Path(root).expanduser() if root else None, folders=given)


def _imagenet(budget: Budget, out: str | Path, given: ImageNetData | None) -> ImageNetData:
    if budget.imagenet_toy or given is None:
        return imagenet_data(budget, out)
    return given


def dry_run_text(specs: Sequence[TableSpec], budget: Budget, cells: Sequence[Cell], out: Path,
                 commands: bool = False, speed_dir: str | Path | None = None,
                 imagenet: ImageNetData | None = None, ledger: Ledger | None = None) -> str:
    """The grid (cell, status, estimated cost, tables using it) and the total cost left;
    status ``ledger``: done elsewhere, in the `ledger`."""
    speed = load_speed_tables(speed_dir)
    imagenet = _imagenet(budget, out, imagenet)
    lines = [f"budget {budget.name}: {budget.description}",
             f"tables: {', '.join(s.id for s in specs)}; {len(cells)} cells under {out}/runs", ""]
    if imagenet.synthetic and any(c.options.get("dataset") == "imagenet" for c in cells):
        lines[-1:-1] = [f"ImageNet cells: {DESCRIPTION} ({toy_root(out)})"]
    total, assumed = 0.0, set()
    counts: dict[str, int] = {}
    for cell in cells:
        status = cell_status(out, cell)
        if status != "done" and ledger is not None and ledger.holds(cell):
            status = "ledger"
        counts[status] = counts.get(status, 0) + 1
        used = ",".join(dict.fromkeys(e.table for e in cell.entries))
        if not cell.runnable:
            lines.append(f"  {'needs':8} {cell.name}  [{used}]  {cell.needs}")
            continue
        cost = ""
        if speed is not None:
            estimate = estimate_cell(cell, speed)
            cost = f"~{describe_seconds(estimate.seconds)}"
            if status not in ("done", "ledger"):
                total += estimate.seconds
                assumed.update(estimate.assumed)
        lines.append(f"  {status:8} {cell.name}  [{used}]  {cost}")
        for why in dict.fromkeys(why for _, why in cell.entry_needs):
            columns = ", ".join(dict.fromkeys(f"{e.table}: {e.column}" for e, w in cell.entry_needs
                                              if w == why))
            lines.append(f"      not evaluated, {why} [{columns}]")
        if commands:
            lines += [f"      {line}" for line in [train_command(cell, str(out), budget, imagenet),
                                                   *evaluate_commands(cell, str(out), imagenet)]]
    lines += ["", "cells: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    if speed is None:
        lines.append("cost: unknown (no benchmarks/results/ here; a source checkout has them)")
    else:
        lines.append(f"estimated cost of what is left: {describe_seconds(total)} on the 2-core "
                     f"benchmark box (from benchmarks/results/{', '.join(speed.sources)})")
        if assumed:
            lines.append("  not measured, costed as vanilla or skipped: " + ", ".join(sorted(assumed)))
    return "\n".join(lines)


def reproduce(tables: Sequence[str], budget: str, out: str | Path, seeds: int | None = None,
              run: bool = True, tables_out: str | Path | None = None, data: str | None = None,
              device: str = "auto", workers: int | None = None, cifar_c: str | None = None,
              cifar_p: str | None = None, cifar_c_bar: str | None = None,
              imagenet: ImageNetData | None = None, progress: bool = True,
              command: str = "ipmix reproduce", ledger: str | Path | None = None,
              log: Callable[[str], object] = print) -> tuple[dict[str, list[str]], list[Path]]:
    """Run the cells that are not done (unless ``run=False``), then write every table.

    `ledger`: a ledger file (`ipmix.reproduce.ledger`); its cells count as done, and the cells
    done under `out` are added to it before the tables are written.
    Returns the names of the cells run, by their new status, and the files written.
    """
    out = Path(out)
    specs, chosen, cells = plan(tables, budget, seeds, out, imagenet)
    book = load_ledger(ledger, chosen.name)
    outcome: dict[str, list[str]] = {}
    if run:
        options = RunOptions(out=out, budget=chosen, data=data, device=device, workers=workers,
                             cifar_c=cifar_c, cifar_p=cifar_p, cifar_c_bar=cifar_c_bar,
                             imagenet=_imagenet(chosen, out, imagenet), progress=progress,
                             done_elsewhere=book.done(cells))
        outcome = run_grid(cells, options, log)
    folder = Path(tables_out) if tables_out is not None else out / "tables"
    written: list[Path] = []
    record_done(book, cells, out)  # the tables read every done cell from the ledger
    written += [path for path in [book.save()] if path is not None]
    for spec in specs:
        written += write_table(spec, cells, out, chosen, folder, command, book)
    written += write_summary(cells, out, chosen, folder, command, book)
    return outcome, written


def record_done(ledger: Ledger, cells: Sequence[Cell], out: Path) -> None:
    """Put every cell done under `out` into `ledger`, with the commit and machine it ran on
    (a cell already recorded from the same run, same machine record and date, is kept as is:
    its bootstrap intervals are not computed again)."""
    for cell in cells:
        if cell_status(out, cell) == "done":
            info = read_cell_info(run_dir(out, cell))
            machine = info.get("machine") or {}
            if ledger.holds(cell) and ledger.cells[cell.name].get("machine") == machine:
                continue
            ledger.put(cell, cell_readings(out, cell),
                       {"commit": machine.get("commit"), "machine": machine,
                        "seconds": info.get("seconds"), "source": "run folder"})
