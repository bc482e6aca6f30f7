"""Every run of a grid with every metric: one row per configuration (seeds combined).

The paper spreads its metrics over Tables 3, 4, 18 and 19; at a budget where every method runs
on one model, one table holds them all: error, mCE, RMS (clean and CIFAR-C), mFR, PGD error,
AUROC, AUPR, seconds per epoch, and the clean-error cost of each method against vanilla.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ipmix.reproduce.budgets import Budget
from ipmix.reproduce.cells import Cell
from ipmix.reproduce.ledger import Ledger
from ipmix.reproduce.machine import describe_machine, machine_info, utc_now
from ipmix.reproduce.tables import METRICS, Entry
from ipmix.reproduce.values import Value, entry_value
from ipmix.utils.io import atomic_write_bytes, atomic_write_json

SUMMARY_METRICS = ("error", "mce", "rms", "rms_c", "mfr", "pgd", "auroc", "aupr", "epoch_seconds")


def _groups(cells: Sequence[Cell]) -> dict[str, list[Cell]]:
    groups: dict[str, list[Cell]] = {}
    for cell in cells:  # CIFAR runs only: the ImageNet metrics are Table 5's
        if cell.runnable and cell.options["dataset"] != "imagenet":
            groups.setdefault(cell.name.rsplit("/seed", 1)[0], []).append(cell)
    return groups


def _label(cells: list[Cell]) -> str:
    labels = dict.fromkeys(e.method.label for e in cells[0].entries)
    return " / ".join(labels)


def summary_rows(cells: Sequence[Cell], out: Path, ledger: Ledger) -> list[dict[str, Any]]:
    """Per configuration: its label, cells and a `Value` per metric."""
    rows = []
    for setting, group in _groups(cells).items():
        entry = group[0].entries[0]
        values = {}
        for metric in SUMMARY_METRICS:
            probe = Entry(**{**vars(entry), "metric": metric})
            values[metric] = entry_value(out, probe, sorted(group, key=lambda c: c.seed), ledger)
        rows.append({"setting": setting, "label": _label(group), "values": values})
    return rows


def _cost(row: dict[str, Any], vanilla: Value | None) -> str:
    value = row["values"]["error"]
    if vanilla is None or vanilla.mean is None or value.mean is None:
        return "–"
    return f"{value.mean - vanilla.mean:+.2f}"


def write_summary(cells: Sequence[Cell], out: Path, budget: Budget, folder: Path,
                  command: str, ledger: Ledger) -> list[Path]:
    """``summary.md`` and ``summary.json`` in `folder`."""
    rows = summary_rows(cells, out, ledger)
    vanilla = next((r["values"]["error"] for r in rows if r["setting"].endswith("/none")), None)
    info = machine_info()
    header = ["Method", "run", *(METRICS[m][0] for m in SUMMARY_METRICS), "Error - vanilla"]
    lines = [f"# Every run at budget `{budget.name}`, every metric", "",
             f"Made by `{command}` on {describe_machine(info)}; ipmix {info['commit']}; {utc_now()}.",
             "", f"Budget `{budget.name}`: {budget.description}.", "",
             "Values: mean ± std over the seeds done, or one seed [95% bootstrap interval over the "
             "test images]. Higher is better for AUROC and AUPR only. 'Error - vanilla' is the "
             "clean-error cost of the method (mean over seeds).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells_text = [row["label"], f"`{row['setting'].split('/', 1)[1]}`"]
        cells_text += [row["values"][m].text(1 if m == "epoch_seconds" else 2) for m in SUMMARY_METRICS]
        cells_text.append(_cost(row, vanilla))
        lines.append("| " + " | ".join(cells_text) + " |")
    folder = Path(folder)
    written = [atomic_write_bytes(folder / "summary.md", ("\n".join(lines) + "\n").encode())]
    written.append(atomic_write_json(folder / "summary.json", {
        "budget": budget.name, "command": command, "machine": info,
        "rows": [{"setting": r["setting"], "label": r["label"],
                  "values": {m: v.as_json() for m, v in r["values"].items()}} for r in rows],
    }))
    return written
