"""`ipmix mixing-set generate|inspect`: make synthetic mixing sets and check their quality."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

KIND_CHOICES = ("escape-time", "ifs", "dead-leaves", "spectrum", "radial-contours", "mix")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mixing-set",
        help="generate a synthetic mixing set, or inspect one",
        description="Generate synthetic mixing sets (fractals, dead leaves, spectrum noise, "
        "radial contours) or report the quality of any set.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    generate = actions.add_parser(
        "generate",
        help="write a folder of PNGs or one .npy/.npz uint8 array",
        description="Write COUNT pictures to OUT: a folder of PNGs (ImageFolder layout, one "
        "class per kind) or, if OUT ends in .npy/.npz, one uint8 [N, S, S, 3] array. "
        "Deterministic for a seed and count whatever --workers; rerun after an interruption "
        "to finish without redoing pictures.",
    )
    generate.add_argument("--kind", choices=KIND_CHOICES, default="mix", help="picture kind")
    generate.add_argument("--count", type=int, default=13_000, help="number of pictures")
    generate.add_argument("--size", type=int, default=32, help="picture side in pixels")
    generate.add_argument("--seed", type=int, default=0, help="seed of the set")
    generate.add_argument("--out", required=True, help="output folder, or a .npy/.npz file")
    generate.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 8), help="worker processes"
    )
    generate.add_argument(
        "--proportions", default=None,
        help="for --kind mix: KIND=WEIGHT,... (default escape-time=0.5,ifs=0.5)",
    )
    generate.add_argument(
        "--supersample", type=int, default=1,
        help="render at SIZE x this and average down (anti-aliasing; cost grows as its square); "
        "2 matches the default set and suits sizes up to 64",
    )
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(func=run_generate)

    inspect = actions.add_parser(
        "inspect",
        help="print quality statistics and write a contact sheet",
        description="Print count, sizes, low-variance share (pixel std < 10), Hasler-Suesstrunk "
        "colourfulness, mean pairwise difference and duplicates of a folder or .npy/.npz set, "
        "and write a contact-sheet PNG.",
    )
    inspect.add_argument("path", help="folder of pictures, or a .npy/.npz array file")
    inspect.add_argument(
        "--sheet", default=None, help="contact-sheet PNG (default: beside PATH, e.g. set-npz-sheet.png)"
    )
    inspect.add_argument(
        "--limit", type=int, default=None, help="compute statistics on this many random pictures"
    )
    inspect.add_argument("--seed", type=int, default=0, help="seed of the sampled pictures")
    inspect.set_defaults(func=run_inspect)


def run_generate(args: argparse.Namespace) -> int:
    from ipmix.mixing_sets.generate import generate, parse_proportions

    if args.proportions is not None and args.kind != "mix":
        raise ValueError("--proportions only applies to --kind mix")
    proportions = parse_proportions(args.proportions) if args.proportions else None
    out = generate(
        args.out, kind=args.kind, count=args.count, size=args.size, seed=args.seed,
        workers=args.workers, proportions=proportions, supersample=args.supersample,
        progress=not args.quiet,
    )
    print(f"wrote {args.count} pictures of {args.size} px to {out}")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from ipmix.mixing_sets.inspect import contact_sheet, inspect_set
    from ipmix.mixing_sets.store import MixingSet

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be >= 1")
    path = Path(args.path)
    mixing_set = MixingSet.from_source(path)
    report = inspect_set(mixing_set, limit=args.limit, seed=args.seed, progress=True)
    for line in report.lines():
        print(line)
    default_sheet = path.with_name(path.name.replace(".", "-") + "-sheet.png")
    sheet = Path(args.sheet) if args.sheet else default_sheet
    contact_sheet(mixing_set, sheet, seed=args.seed)
    print(f"contact sheet: {sheet}")
    return 0
