"""Estimated cost of a grid, from the committed speed tables in ``benchmarks/results/``.

- ``training_epoch.md``: seconds of one 50,000-image epoch of the `small` model (vanilla,
  per-image IPMix, ``--batched``) on the 2-core dev box;
- ``training_epoch_methods.md``: the epoch time of the methods beyond the paper (AugMax,
  PRIME, LayerMix) as a multiple of vanilla's, by cost key (a row's first word: method,
  ``-batched``, ``-jsd``);
- ``models.md``: training and inference images per second of every model (2 threads), which
  scale the `small` numbers to the other models;
- ``throughput.md``: per-image augmentation speed (AugMix, IPMix) against vanilla preprocessing;
- ``suite.md``: seconds per suite part for the `small` model at the largest measured N.

The estimate is CPU seconds on that box; methods without a measured speed are costed as
vanilla and listed as such. JSD triples the images of a training step (a measured multiple
includes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ipmix.reproduce.cells import Cell

TRAIN_IMAGES = {"cifar10": 50_000, "cifar100": 50_000, "imagenet": 1_281_167}
TEST_IMAGES = 10_000


def default_speed_dir() -> Path:
    """``benchmarks/results`` of the source checkout this ipmix runs from."""
    return Path(__file__).resolve().parents[3] / "benchmarks" / "results"


def _rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and "---" not in line]


def _number(text: str) -> float | None:
    match = re.search(r"[-+]?[\d,]*\.?\d+", text)
    return float(match.group(0).replace(",", "")) if match else None


@dataclass
class SpeedTables:
    """The numbers the estimate uses (seconds, images per second)."""

    epoch_seconds: dict[str, float] = field(default_factory=dict)  # small, 50k images
    times_vanilla: dict[str, float] = field(default_factory=dict)  # cost key -> x vanilla
    train_img_s: dict[str, float] = field(default_factory=dict)
    infer_img_s: dict[str, float] = field(default_factory=dict)
    per_image_img_s: dict[str, float] = field(default_factory=dict)
    suite_seconds: dict[str, tuple[float, int]] = field(default_factory=dict)  # part -> (s, n)
    sources: list[str] = field(default_factory=list)


def load_speed_tables(folder: str | Path | None = None) -> SpeedTables | None:
    """Parse the speed tables; None if the folder is not there (an installed wheel)."""
    folder = Path(folder) if folder is not None else default_speed_dir()
    if not folder.is_dir():
        return None
    tables = SpeedTables()
    path = folder / "training_epoch.md"
    if path.is_file():
        tables.sources.append(path.name)
        for row in _rows(path.read_text())[1:]:
            key = {"vanilla": "none", "per-image": "ipmix", "ipmixbatch": "ipmix-batched"}
            name = next((v for k, v in key.items() if k in row[0].lower()), None)
            if name and _number(row[1]) is not None:
                tables.epoch_seconds[name] = float(_number(row[1]))  # type: ignore[arg-type]
    path = folder / "training_epoch_methods.md"
    if path.is_file():
        tables.sources.append(path.name)
        for row in _rows(path.read_text())[1:]:
            if len(row) >= 4 and _number(row[3]) is not None:
                tables.times_vanilla[row[0].split()[0]] = float(_number(row[3]))  # type: ignore[arg-type]
    path = folder / "models.md"
    if path.is_file():
        tables.sources.append(path.name)
        for row in _rows(path.read_text())[1:]:
            if len(row) < 8 or row[1] != "nchw" or row[2] != "2":
                continue
            model = row[0].strip("`")
            step = _number(row[7])
            train = _number(row[4]) if row[4] != "-" else (128 / step if step else None)
            infer = _number(row[5]) if row[5] != "-" else _number(row[6])
            if train:
                tables.train_img_s[model] = train
            if infer:
                tables.infer_img_s[model] = infer
    path = folder / "throughput.md"
    if path.is_file():
        tables.sources.append(path.name)
        for row in _rows(path.read_text())[1:]:
            if len(row) >= 4 and row[1] == "32 px" and row[2] == "1":
                name = {"vanilla (crop + flip + ToTensor)": "none", "torchvision v2 AugMix": "augmix",
                        "ipmix.IPMix": "ipmix"}.get(row[0])
                if name and _number(row[4]) is not None:
                    tables.per_image_img_s[name] = float(_number(row[4]))  # type: ignore[arg-type]
    path = folder / "suite.md"
    if path.is_file():
        tables.sources.append(path.name)
        n = 0
        for line in path.read_text().splitlines():
            found = re.search(r"(\d+) CIFAR-10 test images", line)
            if found:
                n = int(found.group(1))
            part = re.match(r"\| suite part `(\w+)` \| ([\d.]+) \|", line)
            if part and n >= tables.suite_seconds.get(part.group(1), (0.0, 0))[1]:
                tables.suite_seconds[part.group(1)] = (float(part.group(2)), n)
    return tables


@dataclass
class Estimate:
    seconds: float
    assumed: list[str]  # what had no measured speed


def estimate_cell(cell: Cell, tables: SpeedTables) -> Estimate:
    """CPU seconds to train and evaluate `cell` on the benchmark box."""
    options = cell.options
    assumed: list[str] = []
    model, aug = options["model"], options["aug"]
    images = min(options["subset"] or TRAIN_IMAGES.get(options["dataset"], 50_000),
                 TRAIN_IMAGES.get(options["dataset"], 50_000))
    small_epoch = tables.epoch_seconds.get("none", 60.0)
    scale = 1.0
    if model != "small":
        if model in tables.train_img_s and "small" in tables.train_img_s:
            scale = tables.train_img_s["small"] / tables.train_img_s[model]
        else:
            assumed.append(f"{model} speed")
    side = options.get("image_size") or (224 if options["dataset"] == "imagenet" else 32)
    scale *= (side / 32) ** 2  # the measured speeds are of 32 px images
    step = small_epoch * scale * images / 50_000
    extra = 0.0
    cost_key = aug + ("-batched" if options["batched"] else "") + ("-jsd" if options["jsd"] else "")
    if cost_key in tables.times_vanilla:  # a measured multiple of vanilla, JSD included
        step *= tables.times_vanilla[cost_key]
    elif options["batched"]:
        ratio = tables.epoch_seconds.get("ipmix-batched", small_epoch) / small_epoch
        step *= ratio * (3 if options["jsd"] else 1)
    elif aug.startswith("ipmix") or aug.startswith("augmix"):
        step *= 3 if options["jsd"] else 1
        key = "ipmix" if aug.startswith("ipmix") else "augmix"
        base = tables.per_image_img_s.get("none")
        if key in tables.per_image_img_s and base:
            views = 2 if options["jsd"] else 1
            extra = views * images * (1 / tables.per_image_img_s[key] - 1 / base)
        else:
            assumed.append(f"{aug} augmentation cost")
    else:
        step *= 3 if options["jsd"] else 1
        if aug != "none":
            assumed.append(f"{aug} costed as vanilla")
    train = options["epochs"] * (step + extra)
    evaluate = 0.0
    infer_scale = 1.0
    if model != "small" and model in tables.infer_img_s and "small" in tables.infer_img_s:
        infer_scale = tables.infer_img_s["small"] / tables.infer_img_s[model]
    for evaluation in cell.evaluations:
        n = evaluation.n or TEST_IMAGES
        for part in evaluation.parts:
            if part == "calibration":
                continue
            seconds, measured_n = tables.suite_seconds.get(part, (0.0, 1))
            if part not in tables.suite_seconds:
                assumed.append(f"suite part {part}")
            evaluate += seconds * n / measured_n * infer_scale
    return Estimate(train + evaluate, assumed)


def describe_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
