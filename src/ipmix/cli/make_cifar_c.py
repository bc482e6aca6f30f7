"""`ipmix make-cifar-c` and `ipmix make-cifar-p`: CIFAR-C / CIFAR-P sets in the official layout."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def warnings_as_notes(command: str) -> Iterator[None]:
    """Run the block, then print its warnings as ``ipmix COMMAND: note: ...`` lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"ipmix {command}: note: {warning.message}", file=sys.stderr)


def _name_list(value: str, groups: dict[str, tuple[str, ...]], known: tuple[str, ...]) -> list:
    """Comma-separated names, or a group name such as 'all'."""
    names: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        if item in groups:
            names.extend(groups[item])
        elif item in known:
            names.append(item)
        else:
            choices = ", ".join([*groups, *known])
            raise ValueError(f"unknown name {item!r}; choose from {choices}")
    if not names:
        raise ValueError("no names given")
    return list(dict.fromkeys(names))


def register(subparsers: argparse._SubParsersAction) -> None:
    c_parser = subparsers.add_parser(
        "make-cifar-c",
        help="generate CIFAR-C-style corruptions of the CIFAR test set (official file layout)",
        description="Write <corruption>.npy (5 x N images, severities 1..5) and labels.npy, with "
        "the CIFAR parameters of Hendrycks & Dietterich's make_cifar_c.py, and the CIFAR-10-C-bar "
        "corruptions of Mintun et al. in the same form (as make_cifar10_c_bar.py writes them; put "
        "them in their own folder, e.g. CIFAR-10-C-Bar/, as the reference does). Finished files "
        "are kept; an interrupted run resumes.",
    )
    c_parser.add_argument("--out", required=True, help="folder to write")
    c_parser.add_argument(
        "--corruptions",
        default="benchmark",
        help="comma-separated names, or 'benchmark' (the 15), 'extra' (the 4), 'all' (the 19), 'cbar' "
        "(the 10 CIFAR-10-C-bar corruptions) (default: benchmark)",
    )
    c_parser.add_argument(
        "--frost", default=None, metavar="DIR", help="frost textures folder (default: $IPMIX_DATA/frost)"
    )
    c_parser.add_argument(
        "--require-frost",
        action="store_true",
        help="fail instead of skipping frost when its textures are missing",
    )
    _common(c_parser)
    c_parser.set_defaults(func=run_c)

    p_parser = subparsers.add_parser(
        "make-cifar-p",
        help="generate CIFAR-P-style perturbation sequences of the CIFAR test set",
        description="Write <perturbation>.npy ([N, frames, 32, 32, 3]) with the frame counts and "
        "parameters of make_cifar_p.py, plus labels.npy (an ipmix addition). Cached, resumable.",
    )
    p_parser.add_argument("--out", required=True, help="folder to write")
    p_parser.add_argument(
        "--perturbations",
        default="all",
        help="comma-separated names or 'all' (default: all ten)",
    )
    _common(p_parser)
    p_parser.set_defaults(func=run_p)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=None, help="use the first N test images")
    parser.add_argument("--data", default=None, help="data folder (default: $IPMIX_DATA)")
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the random corruptions")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _test_images(args: argparse.Namespace):
    from ipmix.data.cifar import load_cifar

    if args.n is not None and args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}")
    return load_cifar(args.dataset, args.data, split="test", subset=args.n)


def run_c(args: argparse.Namespace) -> int:
    from ipmix.corruptions.cbar.levels import CIFAR_CBAR
    from ipmix.corruptions.imagenet_c import (
        ALL_CORRUPTIONS,
        BENCHMARK_CORRUPTIONS,
        EXTRA_CORRUPTIONS,
    )
    from ipmix.corruptions.writers.cifar import make_cifar_c

    groups = {
        "benchmark": BENCHMARK_CORRUPTIONS,
        "extra": EXTRA_CORRUPTIONS,
        "all": ALL_CORRUPTIONS,
        "cbar": CIFAR_CBAR,
    }
    names = _name_list(args.corruptions, groups, ALL_CORRUPTIONS + CIFAR_CBAR)
    test = _test_images(args)
    frost = args.frost
    if frost is None and args.data is not None:
        frost = Path(args.data) / "frost"
    start = time.perf_counter()
    with warnings_as_notes("make-cifar-c"):
        written = make_cifar_c(
            test.images,
            test.labels,
            args.out,
            corruptions=names,
            frost_dir=frost,
            seed=args.seed,
            progress=not args.no_progress,
            require_frost=args.require_frost,
        )
    print(
        f"{len(written)} corruption file(s) of {len(test)} images x 5 severities in {args.out} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    return 0


def run_p(args: argparse.Namespace) -> int:
    from ipmix.corruptions.perturbations import PERTURBATIONS
    from ipmix.corruptions.writers.cifar import make_cifar_p

    names = _name_list(args.perturbations, {"all": PERTURBATIONS}, PERTURBATIONS)
    test = _test_images(args)
    start = time.perf_counter()
    written = make_cifar_p(
        test.images,
        args.out,
        perturbations=names,
        seed=args.seed,
        progress=not args.no_progress,
        labels=test.labels,
    )
    print(
        f"{len(written)} perturbation file(s) of {len(test)} sequences in {args.out} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    return 0
