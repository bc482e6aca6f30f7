"""`ipmix make-p`: ImageNet-P-style perturbation videos of any image folder."""

from __future__ import annotations

import argparse
import time

from ipmix.cli.make_cifar_c import _name_list, warnings_as_notes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-p",
        help="write perturbation videos of an image folder in the ImageNet-P layout",
        description="Write OUT/<perturbation>/<class>/<stem>.mp4 (lossless H.264, one frame per "
        "second) for an ImageFolder, with the frame counts and constants of hendrycks/robustness "
        "make_imagenet_p.py (preset imagenet: Resize(256), perturb, CenterCrop(224)) or "
        "make_cifar_p.py (preset cifar, 32 px). Resumable, parallel, seeded per image.",
    )
    parser.add_argument("--images", required=True, metavar="DIR", help="ImageFolder: DIR/<class>/<image>")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder to write")
    parser.add_argument("--preset", default="imagenet", choices=("imagenet", "cifar"))
    parser.add_argument(
        "--perturbations",
        default="test",
        help="comma-separated names, or 'test' (the ten of the benchmark), 'validation' (ImageNet-P's "
        "four), 'harder' (its noise levels 2 and 3), 'all' (default: test)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random perturbations")
    parser.add_argument(
        "--crf", type=int, default=None,
        help="lossy H.264 at this CRF, as the release (it used 20; grain tuning for noise), "
        "instead of lossless",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.corruptions.perturbations import (
        IMAGENET_HARDER_NOISE,
        IMAGENET_PERTURBATIONS,
        IMAGENET_VALIDATION_PERTURBATIONS,
        PERTURBATIONS,
        get_p_preset,
    )
    from ipmix.corruptions.writers.folder_p import make_p_folder

    known = tuple(get_p_preset(args.preset).table)
    if args.preset == "imagenet":
        groups = {
            "test": IMAGENET_PERTURBATIONS,
            "validation": IMAGENET_VALIDATION_PERTURBATIONS,
            "harder": IMAGENET_HARDER_NOISE,
            "all": known,
        }
    else:
        groups = {"test": PERTURBATIONS, "all": PERTURBATIONS}
    names = _name_list(args.perturbations, groups, known)
    start = time.perf_counter()
    with warnings_as_notes("make-p"):
        summary = make_p_folder(
            args.images, args.out, preset=args.preset, perturbations=names, workers=args.workers,
            seed=args.seed, crf=args.crf, progress=not args.no_progress,
        )  # fmt: skip
    print(summary.describe("video", args.out, time.perf_counter() - start))
    return 0
