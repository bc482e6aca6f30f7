"""`ipmix reproduce`: the paper's tables at a budget, beside the paper's numbers."""

from __future__ import annotations

import argparse
import shlex
import sys

EPILOG = """\
examples:
  ipmix reproduce 3 4 18 --budget cpu --out runs/reproduce-cpu --dry-run
  ipmix reproduce 3 4 18 --budget cpu --out runs/reproduce-cpu      (hours; rerun to resume)
  ipmix reproduce 7 --budget smoke --out runs/smoke --seeds 2
  ipmix reproduce 5 13 --budget smoke --out runs/smoke      (ImageNet cells on a synthetic toy)
  ipmix reproduce 5 --budget paper --out runs/paper --imagenet DIR --imagenet-c DIR-C ...
  ipmix reproduce all --budget cpu --out runs/reproduce-cpu --report-only --tables-out docs/results/cpu

Cells are shared between tables (one training run per configuration, under OUT/runs/) and
skipped when done; a failed cell is reported and the others go on. See docs/reproduce.md.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from ipmix.reproduce.budgets import BUDGETS
    from ipmix.reproduce.tables import TABLE_IDS

    parser = subparsers.add_parser(
        "reproduce",
        help="train and evaluate the grid behind the paper's tables, write them beside the paper's",
        description="Resolve each table (" + ", ".join(TABLE_IDS) + ") into a grid of "
        "training + evaluation cells at a budget, run the cells that are not done, and write "
        "each table (markdown, JSON, plot) beside the paper's numbers.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("tables", nargs="+", metavar="TABLE", help="table numbers, or 'all'")
    parser.add_argument("--budget", choices=tuple(BUDGETS), required=True,
                        help="smoke (tests' size), cpu (hours on 2 cores) or paper (Appendix A)")
    parser.add_argument("--out", required=True, help="folder of the runs (shared by tables)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per cell for every method (default: the budget's)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="print the grid, each cell's status and the estimated cost; run nothing")
    mode.add_argument("--report-only", action="store_true",
                      help="write the tables from the cells that are done; train nothing")
    parser.add_argument("--commands", action="store_true",
                        help="with --dry-run: print each cell's ipmix train / evaluate commands")
    parser.add_argument("--tables-out", default=None, help="folder for the tables (default OUT/tables)")
    parser.add_argument("--ledger", default=None, metavar="FILE",
                        help="results of cells done elsewhere (e.g. docs/results/cpu/cells.json): "
                        "they count as done; the cells done under OUT are added to it")
    parser.add_argument("--data", default=None, help="data folder (default: $IPMIX_DATA)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: budget's)")
    parser.add_argument("--cifar-c", default=None, metavar="DIR",
                        help="official CIFAR-C folder (default: generated once under OUT/benchmarks)")
    parser.add_argument("--cifar-p", default=None, metavar="DIR", help="official CIFAR-P folder")
    parser.add_argument("--cifar-c-bar", default=None, metavar="DIR",
                        help="official CIFAR-10/100-C-bar folder (default: generated once)")
    parser.add_argument("--imagenet", default=None, metavar="DIR",
                        help="ImageNet for Tables 5 and 13 (DIR/train, DIR/val; cpu and paper "
                        "budgets; smoke builds a synthetic toy)")
    from ipmix.cli.evaluate import IMAGENET_OPTIONS
    from ipmix.reproduce.imagenet import BENCHMARK_OPTIONS

    for option in BENCHMARK_OPTIONS.values():  # evaluate's options, for the same folders
        default = " (default: DIR/val of --imagenet)" if option == "--imagenet-val" else ""
        parser.add_argument(option, default=None, metavar="DIR", help=IMAGENET_OPTIONS[option] + default)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ipmix.reproduce import dry_run_text, plan, reproduce
    from ipmix.reproduce.budgets import get_budget
    from ipmix.reproduce.imagenet import BENCHMARK_OPTIONS
    from ipmix.reproduce.job import imagenet_data
    from ipmix.training import TrainingInterrupted

    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be >= 0, got {args.workers}")
    if args.commands and not args.dry_run:
        raise ValueError("--commands goes with --dry-run")
    folders = {name: getattr(args, option[2:].replace("-", "_"))
               for name, option in BENCHMARK_OPTIONS.items()}
    imagenet = imagenet_data(get_budget(args.budget), args.out, args.imagenet, folders)
    if args.dry_run:
        from ipmix.reproduce.ledger import load_ledger

        specs, budget, cells = plan(args.tables, args.budget, args.seeds, args.out, imagenet)
        print(dry_run_text(specs, budget, cells, Path(args.out), commands=args.commands,
                           imagenet=imagenet, ledger=load_ledger(args.ledger, budget.name)))
        return 0
    command = shlex.join(["ipmix", *sys.argv[1:]]) if sys.argv[1:2] == ["reproduce"] else (
        f"ipmix reproduce {' '.join(args.tables)} --budget {args.budget} --out {args.out}")
    try:
        outcome, written = reproduce(
            args.tables, args.budget, args.out, seeds=args.seeds, run=not args.report_only,
            tables_out=args.tables_out, data=args.data, device=args.device, workers=args.workers,
            cifar_c=args.cifar_c, cifar_p=args.cifar_p, cifar_c_bar=args.cifar_c_bar,
            imagenet=imagenet, progress=not args.no_progress, command=command, ledger=args.ledger,
        )
    except TrainingInterrupted as stopped:
        print(f"ipmix reproduce: {stopped}; rerun the same command to go on", file=sys.stderr)
        return 130 if stopped.signal_name == "SIGINT" else 143
    for path in written:
        print(f"wrote {path}")
    failed = outcome.get("failed", [])
    if failed:
        print(f"ipmix reproduce: {len(failed)} cell(s) failed: {', '.join(failed)} "
              "(see each cell's error.log; rerun to retry)", file=sys.stderr)
        return 1
    return 0
