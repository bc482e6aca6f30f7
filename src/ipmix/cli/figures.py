"""`ipmix figures RUN...`: the paper's Figure 8 (t-SNE of features, Grad-CAM maps) for runs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "figures",
        help="Figure 8: t-SNE of penultimate features and Grad-CAM maps of trained runs",
        description="Write OUT/tsne.png (one panel per run: a seeded scikit-learn t-SNE of the "
        "penultimate features of the same test images, coloured by class), OUT/gradcam.png (one "
        "row per run: Grad-CAM of the predicted class over chosen images) and OUT/figures.json.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders or checkpoint files")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the figures")
    parser.add_argument("--labels", metavar="A,B,...",
                        help="one label per run (default: the last two parts of its folder)")
    parser.add_argument("--n", type=int, default=1000,
                        help="test images of the t-SNE: the first N of the runs' test split (1000)")
    parser.add_argument("--seed", type=int, default=0, help="t-SNE seed (0)")
    parser.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity (30)")
    parser.add_argument("--data", help="dataset folder (default: each run's, or $IPMIX_DATA for CIFAR)")
    parser.add_argument("--gradcam-images", nargs="+", default=(), metavar="PATH",
                        help="image files or folders (e.g. ImageNet-A) for Grad-CAM (default: the "
                        "first --gradcam-count test images)")
    parser.add_argument("--gradcam-count", type=int, default=6, help="test images for Grad-CAM (6)")
    parser.add_argument("--layer", help="Grad-CAM's layer, a module name (default: the last one "
                        "with a spatial feature map)")
    parser.add_argument("--only", choices=("tsne", "gradcam"), help="make one of the two figures")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipmix.analysis.figures import make_figures
    from ipmix.utils.devices import torch_device

    labels = args.labels.split(",") if args.labels else None
    written = make_figures(
        args.runs, args.out, labels=labels, n=args.n, seed=args.seed, perplexity=args.perplexity,
        data=args.data, gradcam_images=args.gradcam_images, gradcam_count=args.gradcam_count,
        layer=args.layer, device=str(torch_device(args.device)),
        figures=(args.only,) if args.only else ("tsne", "gradcam"),
    )
    for path in written:
        print(f"wrote {path}")
    return 0
