"""The reproduced tables beside the paper's: markdown, JSON and a plot per table.

Each table's page says what it was run with (budget, machine, commit, date), where the budget
departs from the paper, the paper's notes and errata that apply, our values (mean ± std over
seeds, or one seed's value with a 95% bootstrap interval over test images), the paper's values
in the same layout, and how well the order of the methods agrees (Kendall's tau).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy.stats import kendalltau

from ipmix.reproduce.budgets import Budget
from ipmix.reproduce.cells import Cell, cells_of_entry
from ipmix.reproduce.ledger import Ledger
from ipmix.reproduce.machine import describe_machine, machine_info, utc_now
from ipmix.reproduce.paper import find_paper_value
from ipmix.reproduce.tables import METRICS, Entry, TableSpec
from ipmix.reproduce.values import Value, entry_value
from ipmix.utils.io import atomic_write_bytes, atomic_write_json

MODEL_LABELS = {"small": "small (0.41M parameters)", "wrn40_4": "WideResNet40-4",
                "wrn28_10": "WideResNet28-10", "resnext29_32x4d": "ResNeXt-29", "resnet18": "ResNet-18"}
LEGEND = ("Ours: mean ± std over seeds, or one seed's value [95% bootstrap interval over the "
          "test images, percentile interval shifted by the bootstrap's bias, which matters for RMS "
          "only]; `*`: mCE over the corruptions that could be generated; "
          "`needs *`: see the notes; †: see the notes; ‡: ImageNet-P mFR unnormalised. All "
          "numbers in percent except seconds.")


@dataclass
class Row:
    """One entry with both numbers."""

    entry: Entry
    ours: Value
    paper: Any  # PaperValue | None


def collect(spec: TableSpec, cells: Sequence[Cell], out: Path, budget: Budget,
            ledger: Ledger) -> list[Row]:
    """Every entry of the table with our value (as the `ledger` holds its cells; `out` gives
    the state of the others) and the paper's."""
    rows = []
    for entry in spec.entries(budget):
        paper = find_paper_value(spec.id, entry.section, entry.row, entry.column)
        rows.append(Row(entry, entry_value(out, entry, cells_of_entry(cells, entry), ledger), paper))
    return rows


def deviations(spec: TableSpec, budget: Budget) -> list[str]:
    """Where this budget departs from the paper's setting for `spec`."""
    entries = spec.entries(budget)
    found = []
    models = sorted({e.model for e in entries})
    if budget.model and any(m != budget.model for m in models):
        found.append(f"model: `{budget.model}` instead of {', '.join(f'`{m}`' for m in models)}")
    if budget.epochs is not None:
        paper = f"{spec.epochs}" if spec.epochs else "100 (Wide ResNets) / 200 (ResNet-18, ResNeXt-29)"
        found.append(f"epochs: {budget.epochs} instead of {paper}")
    datasets = sorted({e.dataset for e in entries})
    moved = [d for d in datasets if budget.dataset_for(d) != d]
    dropped = sorted({s.dataset for s in spec.sections if s.dataset and s.dataset not in datasets})
    if dropped:
        found.append(f"dataset: {', '.join(dropped)} is not on this machine; its section is left "
                     "out (it would repeat the same runs)")
    if moved:
        found.append(f"dataset: {', '.join(moved)} is not on this machine, so its rows run on "
                     f"{budget.dataset_for(moved[0])} (the paper's numbers stay CIFAR-100's)")
    if budget.subset:
        found.append(f"training images: the first {budget.subset:,} instead of all")
    if budget.jsd is False:
        from ipmix.training.registry import JSD_DEFAULTS, JSD_REQUIRED

        off = [e.method.label for e in entries if JSD_DEFAULTS.get(e.method.aug or "")
               and e.method.aug not in JSD_REQUIRED and not e.method.jsd]
        if off:
            found.append(f"JSD loss off for {', '.join(dict.fromkeys(off))} (their authors' code "
                         "uses it); the '+ JSD' rows show it where the table lists methods")
    if budget.batched:
        from ipmix.training.registry import BATCHED

        per_batch = dict.fromkeys("PRIME" if e.method.aug == "prime" else "IPMix" for e in entries
                                  if e.method.aug in BATCHED)
        if per_batch:
            found.append(f"{' and '.join(per_batch)} applied per batch (`--batched`: the same "
                         "distribution of augmentations as per image, drawn per sample)")
    cifar = any(e.dataset != "imagenet" for e in entries)
    if cifar and (budget.main_n is not None or budget.side_n is not None):
        found.append(f"test images: clean, CIFAR-C and calibration on {budget.main_n or 'all':,}, "
                     f"CIFAR-P, PGD and OOD on {budget.side_n or 'all':,} (paper: all 10,000)")
    if cifar:
        found.append("CIFAR-C and CIFAR-P generated here with the CIFAR parameters of Hendrycks' "
                     "scripts (the official files are not on this machine) unless "
                     "`--cifar-c/--cifar-p` name them")
    if any(e.metric == "cbar" and e.dataset != "imagenet" for e in entries):
        found.append("CIFAR-10-C-bar generated here (`ipmix make-cifar-c`, the levels of "
                     "cifar10_c_bar.csv) unless `--cifar-c-bar` names the official files; "
                     "CIFAR-100-C-bar uses the same corruptions, as the paper")
    if any(e.dataset == "imagenet" for e in entries):
        if budget.imagenet_toy:
            from ipmix.reproduce.toy_imagenet import DESCRIPTION

            found.insert(0, f"**{DESCRIPTION}** (ImageNet-C with the CIFAR constants at 32 px, "
                         "ImageNet-C-bar and -P with ImageNet's at 32 px)")
        found.append("ImageNet-P mFR: unnormalised mean flip probability (‡) where no AlexNet "
                     "run normalises it (the paper divides by AlexNet's)")
    found.append("always: weight decay 5e-4 (the authors' code; Appendix A says 1e-4); the "
                 "mixing set is generated here (the authors' 13,000 pictures are a download)")
    return found


def _paper_text(row: Row) -> str:
    if row.paper is None:
        return "–"
    return row.paper.text + ("†" if row.paper.note else "")


def _ordering(rows: list[Row]) -> str | None:
    pairs = [(r.ours.mean, r.paper.value) for r in rows if r.ours.mean is not None and r.paper]
    if len(pairs) < 3:
        return None
    tau = kendalltau([p[0] for p in pairs], [p[1] for p in pairs]).statistic
    if tau != tau:  # NaN: one side has a single value throughout
        return f"no order to compare (all {len(pairs)} values tie on one side)"
    return f"Kendall's tau {tau:+.2f} over {len(pairs)} methods"


def _method_table(spec: TableSpec, rows: list[Row], section: str) -> list[str]:
    columns = list(dict.fromkeys(r.entry.column for r in rows if r.entry.section == section))
    labels = list(dict.fromkeys(r.entry.row for r in rows if r.entry.section == section))
    header = ["Method"] + [f"{c} ({side})" for c in columns for side in ("ours", "paper")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    by_place = {(r.entry.row, r.entry.column): r for r in rows if r.entry.section == section}
    for label in labels:
        cells = [label + (" (extra)" if by_place[(label, columns[0])].entry.extra else "")]
        for column in columns:
            row = by_place[(label, column)]
            cells += [row.ours.text(), _paper_text(row)]
        lines.append("| " + " | ".join(cells) + " |")
    for column in columns:
        ordering = _ordering([r for r in by_place.values() if r.entry.column == column])
        if ordering:
            lines.append(f"\nOrder of the methods, {column}: {ordering}.")
    return lines


def _model_table(spec: TableSpec, rows: list[Row], section: str, budget: Budget) -> list[str]:
    mine = [r for r in rows if r.entry.section == section]
    columns = list(dict.fromkeys(r.entry.column for r in mine))
    paper_rows = list(dict.fromkeys(r.entry.row for r in mine))
    header = ["Model"] + columns
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    shown: set[str] = set()
    for row_label in paper_rows:  # ours: one row per distinct model actually trained
        first = next(r for r in mine if r.entry.row == row_label)
        model = budget.model or first.entry.model
        if model in shown:
            continue
        shown.add(model)
        cells = [f"**ours: {MODEL_LABELS.get(model, model)}**"]
        for column in columns:
            row = next(r for r in mine if r.entry.row == row_label and r.entry.column == column)
            cells.append(row.ours.text())
        lines.append("| " + " | ".join(cells) + " |")
    from ipmix.reproduce.paper import paper_table

    printed = list(dict.fromkeys(v.row for v in paper_table(spec.id) if v.section == section))
    for label in printed:
        cells = [f"paper: {label}"]
        for column in columns:
            value = find_paper_value(spec.id, section, label, column)
            cells.append("–" if value is None else value.text + ("†" if value.note else ""))
        lines.append("| " + " | ".join(cells) + " |")
    reference = "Mean" if "Mean" in printed else None
    if reference and any(r.entry.method.label != mine[0].entry.method.label for r in mine):
        compared = []
        for column in columns:
            row = next(r for r in mine if r.entry.column == column)
            compared.append(Row(row.entry, row.ours, find_paper_value(spec.id, section, reference, column)))
        ordering = _ordering(compared)
        if ordering:
            lines.append(f"\nOrder of the methods against the paper's Mean row: {ordering}.")
    return lines


def run_commits(rows: list[Row], cells: Sequence[Cell], ledger: Ledger) -> list[str]:
    """The commits the runs behind `rows` were trained with (cells the ledger holds as made
    with today's options: the only ones whose values the rows show)."""
    names = {name for row in rows for name in row.ours.cells}
    return sorted({str(ledger.cells[cell.name].get("commit")) for cell in cells
                   if cell.name in names and ledger.holds(cell)})


def table_markdown(spec: TableSpec, rows: list[Row], budget: Budget, command: str,
                   commits: Sequence[str]) -> str:
    info = machine_info()
    lines = [f"# {spec.label}: {spec.title} (budget `{budget.name}`)", "",
             f"Made by `{command}` on {describe_machine(info)}; ipmix {info['commit']}; "
             f"{utc_now()}. Runs trained with ipmix {', '.join(commits) or '–'}.",
             "", f"Budget `{budget.name}`: {budget.description}.", ""]
    lines += ["Where this departs from the paper:", ""]
    lines += [f"- {d}" for d in deviations(spec, budget)] + [""]
    for section in dict.fromkeys(r.entry.section for r in rows):
        ran = sorted({budget.dataset_for(r.entry.dataset) for r in rows if r.entry.section == section})
        paper = sorted({r.entry.dataset for r in rows if r.entry.section == section})
        moved = f" (run on {', '.join(ran)} here)" if ran != paper else ""
        lines += [f"## {section}{moved}", ""]
        if spec.row_kind == "model":
            lines += _model_table(spec, rows, section, budget)
        else:
            lines += _method_table(spec, rows, section)
        lines.append("")
    lines += [LEGEND, ""]
    notes = list(spec.notes)
    notes += sorted({f"† {r.paper.row}, {r.paper.column}: {r.paper.note}" for r in rows
                     if r.paper is not None and r.paper.note})
    sources: dict[str, list[str]] = {}
    for r in rows:
        if r.paper is not None and r.paper.source and r.paper.row not in sources.get(r.paper.source, []):
            sources.setdefault(r.paper.source, []).append(r.paper.row)
    notes += [f"Published values of {', '.join(labels)}: {source}" for source, labels in sources.items()]
    notes += sorted({f"{r.entry.row} / {r.entry.column}: {r.ours.note}" for r in rows
                     if r.ours.status in ("needs", "failed") and r.ours.note})
    if notes:
        lines += ["Notes:", ""] + [f"- {note}" for note in notes] + [""]
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.ours.status] = statuses.get(row.ours.status, 0) + 1
    lines.append("Values by status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) + ".")
    return "\n".join(lines) + "\n"


def table_json(spec: TableSpec, rows: list[Row], budget: Budget, command: str) -> dict[str, Any]:
    return {
        "table": spec.id, "title": spec.title, "budget": budget.name,
        "budget_description": budget.description, "command": command,
        "machine": machine_info(), "deviations": deviations(spec, budget), "notes": list(spec.notes),
        "entries": [{
            "section": r.entry.section, "row": r.entry.row, "column": r.entry.column,
            "metric": r.entry.metric, "metric_label": METRICS[r.entry.metric][0],
            "dataset": r.entry.dataset, "model": budget.model or r.entry.model,
            "method": r.entry.method.label, "aug": r.entry.method.aug, "extra": r.entry.extra,
            "ours": r.ours.as_json(),
            "paper": None if r.paper is None else {"value": r.paper.value, "std": r.paper.std,
                                                   "note": r.paper.note},
        } for r in rows],
    }


def panels(spec: TableSpec, rows: list[Row]) -> list[Any]:
    """The plot's panels: per section and measured column (per section for Tables 3/4, with
    the paper's Mean row); bars for distinct runs only."""
    found: dict[str, list[tuple[str, Value, float | None]]] = {}
    method_columns = spec.row_kind == "model" and spec.method is None
    for row in rows:
        entry = row.entry
        if method_columns:
            title, label = f"{entry.section}: {METRICS[entry.metric][0]}", entry.column
            paper = find_paper_value(spec.id, entry.section, "Mean", entry.column)
        else:
            title, label, paper = f"{entry.section}: {entry.column}", entry.row, row.paper
        items = found.setdefault(title, [])
        if any(label == known[0] or (row.ours.cells and row.ours.cells == known[1].cells)
               for known in items):
            continue
        items.append((label, row.ours, None if paper is None else paper.value))
    return list(found.items())


def write_table(spec: TableSpec, cells: Sequence[Cell], out: Path, budget: Budget,
                tables_out: Path, command: str, ledger: Ledger) -> list[Path]:
    """Write ``table<N>.md``, ``.json`` and ``.png`` (``<id>.*`` for tables beyond the paper);
    returns the files."""
    from ipmix.reproduce.plots import plot_panels

    rows = collect(spec, cells, out, budget, ledger)
    base = Path(tables_out) / spec.file_stem
    written = [
        atomic_write_bytes(base.with_suffix(".md"),
                           table_markdown(spec, rows, budget, command,
                                          run_commits(rows, cells, ledger)).encode()),
        atomic_write_json(base.with_suffix(".json"), table_json(spec, rows, budget, command)),
    ]
    plot = plot_panels(f"{spec.label}: {spec.title}", panels(spec, rows), base.with_suffix(".png"))
    return written + ([plot] if plot else [])
