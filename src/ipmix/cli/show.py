"""`ipmix show`: write a gallery PNG of IPMix on CIFAR-10 images."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "show",
        help="write a gallery PNG of IPMix outputs on CIFAR-10 images",
        description="Write a gallery PNG: CIFAR-10 images with IPMix samples, then one row per "
        "level (image, patch, pixel), box shape and mixing op, then the mixing pictures.",
    )
    parser.add_argument("--data", default=None, help="folder holding cifar10.npz (default: $IPMIX_DATA)")
    parser.add_argument("--out", default="runs/show/gallery.png", help="PNG file to write")
    parser.add_argument("--images", type=int, default=4, help="CIFAR-10 test images to show")
    parser.add_argument("--samples", type=int, default=6, help="IPMix samples per row")
    parser.add_argument(
        "--mixing-set", default=None,
        help="folder of pictures or .npy/.npz array (default: the built-in generated set)",
    )
    parser.add_argument("--mode", choices=("paper", "official"), default="paper", help="IPMix mode")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image choice and of IPMix")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.augment.gallery import ipmix_gallery
    from ipmix.data.cifar import load_cifar10
    from ipmix.mixing_sets import default_mixing_set
    from ipmix.mixing_sets.store import MixingSet
    from ipmix.utils.grid import save_image

    if args.images < 1 or args.samples < 1:
        raise ValueError("--images and --samples must be >= 1")
    test = load_cifar10(args.data, split="test")
    chosen = np.random.default_rng(args.seed).choice(len(test), size=args.images, replace=False)
    mixing_set = MixingSet.from_source(args.mixing_set) if args.mixing_set else default_mixing_set(32)
    gallery = ipmix_gallery(test.images[chosen], mixing_set, args.samples, args.seed, mode=args.mode)
    path = save_image(gallery, Path(args.out))
    print(f"wrote {path} ({gallery.width}x{gallery.height}; mixing set: {mixing_set!r})")
    return 0
