"""The paper's Figure 8 for any runs: t-SNE of penultimate features and Grad-CAM maps.

`make_figures(runs, out)` writes into `out`:

- ``tsne.png``: one panel per run, the seeded t-SNE (`ipmix.analysis.tsne`) of the penultimate
  features of the same test images (the first `n` of the runs' test split), coloured by class,
  with each run's accuracy on them; ``tsne.npz`` keeps the embeddings, labels and predictions;
- ``gradcam.png``: one row per run, Grad-CAM maps (`ipmix.analysis.gradcam`) of the predicted
  class over chosen images: any image files or folder (ImageNet-A, say), or the first test
  images; each run sees them as it evaluates (its image size, ``Resize + CenterCrop``);
- ``figures.json``: the runs, their labels, the settings and the Grad-CAM layer of each run.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ipmix.analysis.gradcam import grad_cam
from ipmix.analysis.tsne import penultimate_features, tsne_embedding
from ipmix.data.datasets import EvalImages, to_uint8_tensor
from ipmix.data.splits import DataSpec, is_folder_dataset, open_split
from ipmix.data.transforms import eval_transform
from ipmix.models import load_classifier
from ipmix.utils.figures import new_figure, write_png
from ipmix.utils.io import atomic_write_bytes, atomic_write_json, make_dirs, open_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Run:
    """A trained run, loaded for the figures."""

    path: Path
    label: str
    model: nn.Module
    info: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        return self.info.get("config") or {}

    @property
    def image_size(self) -> int:
        return int(self.config.get("image_size") or 32)

    def prepare(self, image: Any) -> torch.Tensor:
        """One image (PIL, uint8 array or tensor) as this run evaluates it: uint8 ``[3, S, S]``."""
        tensor = to_uint8_tensor(image)
        if tuple(tensor.shape[-2:]) == (self.image_size, self.image_size):
            return tensor
        return eval_transform(self.image_size)(tensor)


def load_runs(paths: Sequence[str | Path], labels: Sequence[str] | None = None,
              device: str = "cpu") -> list[Run]:
    """The runs (run folders or checkpoint files), labelled by `labels` or by their folder."""
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} runs")
    runs = []
    for index, path in enumerate(paths):
        model, info = load_classifier(path, map_location=device)
        folder = Path(path).resolve()
        label = labels[index] if labels else "/".join(folder.parts[-2:])
        runs.append(Run(Path(path), label, model, info))
    return runs


def test_images(runs: Sequence[Run], n: int, data: str | None = None
                ) -> tuple[list[torch.Tensor], np.ndarray, tuple[str, ...]]:
    """The first `n` test images of the runs' dataset (each run's view of them) and labels."""
    datasets = {run.info.get("dataset") for run in runs}
    if len(datasets) != 1:
        raise ValueError(f"the runs were trained on different datasets ({', '.join(map(str, datasets))}): "
                         "a t-SNE compares runs on the same test images")
    config = runs[0].config
    dataset = str(datasets.pop())
    spec = DataSpec(dataset, data or config.get("data"), config.get("train_dir"),
                    config.get("val_dir"), progress=False)
    split = open_split(spec, "val", n)
    per_run = []
    for run in runs:
        transform = eval_transform(run.image_size) if is_folder_dataset(dataset) else None
        items = EvalImages(split, transform)
        per_run.append(torch.stack([items[i][0] for i in range(len(items))]))
    labels = np.array([split[i][1] for i in range(len(split))])
    return per_run, labels, tuple(split.classes)


def image_files(paths: Sequence[str | Path]) -> list[Path]:
    """Image files among `paths` (files, or folders searched recursively, sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no image file or folder at {path}")
    if not found:
        raise FileNotFoundError(f"no image files in {', '.join(map(str, paths))}")
    return found


def tsne_figure(runs: Sequence[Run], images: Sequence[torch.Tensor], labels: np.ndarray,
                classes: Sequence[str], out: Path, seed: int, perplexity: float,
                device: str) -> dict[str, Any]:
    """Write ``tsne.png`` and ``tsne.npz``; returns what ``figures.json`` records of them."""
    figure = new_figure(4.2 * len(runs), 4.4)
    axes = figure.subplots(1, len(runs), squeeze=False)[0]
    colours = "tab10" if len(classes) <= 10 else "turbo"
    arrays, accuracy = {}, {}
    for index, (run, ax) in enumerate(zip(runs, axes, strict=True)):
        features, predictions = penultimate_features(run.model, images[index], device=device)
        embedding = tsne_embedding(features, seed=seed, perplexity=perplexity)
        accuracy[run.label] = float((predictions == labels).mean())
        arrays[f"embedding_{index}"], arrays[f"predictions_{index}"] = embedding, predictions
        points = ax.scatter(embedding[:, 0], embedding[:, 1], c=labels, cmap=colours, s=4,
                            vmin=-0.5, vmax=len(classes) - 0.5)
        ax.set_title(f"{run.label}\naccuracy {100 * accuracy[run.label]:.1f}% on these images",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if len(classes) <= 10:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", linestyle="", color=points.cmap(points.norm(k)))
                   for k in range(len(classes))]
        figure.legend(handles, classes, loc="lower center", ncol=len(classes), fontsize=8)
    figure.suptitle(f"t-SNE of penultimate features, {len(labels)} test images, seed {seed}",
                    fontsize=10)
    figure.tight_layout(rect=(0, 0.07 if len(classes) <= 10 else 0, 1, 0.95))
    write_png(figure, out / "tsne.png")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, labels=labels, **arrays)
    atomic_write_bytes(out / "tsne.npz", buffer.getvalue())
    return {"n": len(labels), "seed": seed, "perplexity": perplexity, "accuracy": accuracy}


def gradcam_figure(runs: Sequence[Run], images: Sequence[Any], captions: Sequence[str],
                   out: Path, layer: str | None, classes: Sequence[str] | None,
                   device: str) -> dict[str, Any]:
    """Write ``gradcam.png`` (a row per run, a column per image); returns what it records."""
    figure = new_figure(1.6 * len(images) + 0.6, 1.75 * len(runs) + 0.4)
    axes = figure.subplots(len(runs), len(images), squeeze=False)
    layers = {}
    for row, run in enumerate(runs):
        batch = torch.stack([run.prepare(image) for image in images]).float().div(255).to(device)
        maps, predicted, layers[run.label] = grad_cam(run.model, batch, layer)
        names = run.info.get("classes") or classes
        for column, ax in enumerate(axes[row]):
            ax.imshow(batch[column].permute(1, 2, 0).cpu().numpy())
            ax.imshow(maps[column].cpu().numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
            guess = int(predicted[column])
            ax.set_title(f"{names[guess] if names else guess}"[:18], fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(run.label, fontsize=7)
            if row == len(runs) - 1:
                ax.set_xlabel(captions[column][:18], fontsize=6)
    figure.suptitle("Grad-CAM of the predicted class (title: prediction)", fontsize=9)
    figure.tight_layout()
    write_png(figure, out / "gradcam.png")
    return {"images": list(captions), "layer": layers}


def make_figures(paths: Sequence[str | Path], out: str | Path, labels: Sequence[str] | None = None,
                 n: int = 1000, seed: int = 0, perplexity: float = 30.0, data: str | None = None,
                 gradcam_images: Sequence[str | Path] = (), gradcam_count: int = 6,
                 layer: str | None = None, device: str = "cpu",
                 figures: Sequence[str] = ("tsne", "gradcam")) -> list[Path]:
    """Figure 8 for the runs at `paths` (module docstring); returns the files written."""
    if n < 3 or gradcam_count < 1:
        raise ValueError("need n >= 3 test images and gradcam_count >= 1")
    out = make_dirs(out)
    runs = load_runs(paths, labels, device)
    record: dict[str, Any] = {"runs": {run.label: str(run.path) for run in runs}}
    images, test_labels, classes = test_images(runs, n, data)
    if "tsne" in figures:
        record["tsne"] = tsne_figure(runs, images, test_labels, classes, out, seed, perplexity, device)
    if "gradcam" in figures:
        if gradcam_images:
            files = image_files(gradcam_images)
            chosen: list[Any] = [open_image(path).convert("RGB") for path in files]
            captions = [path.name for path in files]
        else:
            count = min(gradcam_count, len(test_labels))
            chosen = [images[0][i] for i in range(count)]
            captions = [f"test {i}: {classes[test_labels[i]]}" for i in range(count)]
        record["gradcam"] = gradcam_figure(runs, chosen, captions, out, layer, classes, device)
    atomic_write_json(out / "figures.json", record)
    names = [f"{name}.png" for name in figures] + (["tsne.npz"] if "tsne" in figures else [])
    return [out / name for name in names] + [out / "figures.json"]


__all__ = ["Run", "gradcam_figure", "image_files", "load_runs", "make_figures", "test_images",
           "tsne_figure"]
