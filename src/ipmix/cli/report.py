"""`ipmix report`: several runs side by side, with plots."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="compare evaluated runs in paper-style tables (CIFAR; ImageNet Table 5), with plots",
        description="Read results.json of each run (see `ipmix evaluate`) and write report.md "
        "(rows = runs, runs differing only by seed combined as mean ± std) and plots: error per "
        "corruption and severity, reliability diagram, flip rate per perturbation.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or results.json)")
    parser.add_argument("--out", default="runs/report", help="folder for report.md and the plots")
    parser.add_argument("--title", default="Robustness comparison", help="report title")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.cli.make_cifar_c import warnings_as_notes
    from ipmix.robustness.report import write_report

    with warnings_as_notes("report"):
        table_path, plots = write_report(args.runs, args.out, title=args.title)
    print(table_path.read_text(), end="")
    print(f"wrote {table_path}" + "".join(f"\nwrote {p}" for p in plots))
    return 0
