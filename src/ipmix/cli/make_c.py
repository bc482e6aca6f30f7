"""`ipmix make-c`: ImageNet-C-style (and C-bar) corrupted copies of any image folder."""

from __future__ import annotations

import argparse
import time

from ipmix.cli.make_cifar_c import _name_list, warnings_as_notes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-c",
        help="write corrupted copies of an image folder in the ImageNet-C layout",
        description="Write OUT/<corruption>/<severity>/<class>/<file> (JPEG, quality 85) for an "
        "ImageFolder, with the constants of hendrycks/robustness make_imagenet_c.py (preset "
        "imagenet: Resize(256), CenterCrop(224)) or of the CIFAR / Tiny ImageNet scripts. C-bar "
        "corruptions go to OUT/<corruption>/<level:.2f>/<class>/<file>, as make_imagenet_c_bar.py. "
        "Resumable, parallel, seeded per image.",
    )
    parser.add_argument("--images", required=True, metavar="DIR", help="ImageFolder: DIR/<class>/<image>")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder to write")
    parser.add_argument("--preset", default="imagenet", choices=("imagenet", "cifar", "tinyimagenet"))
    parser.add_argument(
        "--corruptions",
        default="benchmark",
        help="comma-separated names, or 'benchmark' (the 15), 'extra' (the 4), 'all' (the 19), "
        "'cbar' (the preset's 10 C-bar corruptions) (default: benchmark)",
    )
    parser.add_argument("--severities", default="1,2,3,4,5", help="comma-separated, 1..5 (default: all)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random corruptions")
    parser.add_argument(
        "--frost", default=None, metavar="DIR", help="frost textures (default: $IPMIX_DATA/frost)"
    )
    parser.add_argument("--require-frost", action="store_true", help="fail instead of skipping frost")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def severity_list(value: str) -> list[int]:
    """'1,3,5' -> [1, 3, 5]; ValueError naming --severities otherwise."""
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        levels = []
    if not levels or any(not 1 <= s <= 5 for s in levels):
        raise ValueError(f"--severities must be comma-separated integers in 1..5, got {value!r}")
    return levels


def run(args: argparse.Namespace) -> int:
    from ipmix.corruptions.cbar import cbar_names
    from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS, BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS
    from ipmix.corruptions.writers.folder_c import make_c_folder

    cbar = cbar_names(args.preset)
    groups = {
        "benchmark": BENCHMARK_CORRUPTIONS,
        "extra": EXTRA_CORRUPTIONS,
        "all": ALL_CORRUPTIONS,
        "cbar": cbar,
    }
    names = _name_list(args.corruptions, groups, ALL_CORRUPTIONS + cbar)
    start = time.perf_counter()
    with warnings_as_notes("make-c"):
        summary = make_c_folder(
            args.images, args.out, preset=args.preset, corruptions=names,
            severities=severity_list(args.severities), workers=args.workers, seed=args.seed,
            frost_dir=args.frost, require_frost=args.require_frost, progress=not args.no_progress,
        )  # fmt: skip
    print(summary.describe("image", args.out, time.perf_counter() - start))
    return 0
