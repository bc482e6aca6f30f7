"""Where a reproduction finds ImageNet (Tables 5 and 13), and which benchmark each value reads.

A Table 5 / Table 13 ImageNet cell trains with ``--dataset imagenet`` on ``DIR/train`` (and its
``DIR/val``) and is evaluated by `ipmix.robustness.imagenet_suite.evaluate_imagenet` on the
benchmark folders of `ipmix evaluate`'s ``--imagenet-*`` options, one evaluation per benchmark
(so that a folder given later adds its evaluation without redoing the others). Where a folder
is not given the values that need it are reported as ``needs ImageNet data: <option>``.

At a budget with a synthetic ImageNet (``smoke``) every folder is the toy of
`ipmix.reproduce.toy_imagenet`, built once under ``OUT/benchmarks`` (`job.imagenet_data`
chooses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ipmix.reproduce.budgets import Evaluation

#: Benchmark -> the `ipmix evaluate` option naming its folder (and `evaluate_imagenet`'s keyword).
BENCHMARK_OPTIONS: dict[str, str] = {
    "imagenet-val": "--imagenet-val", "imagenet-c": "--imagenet-c",
    "imagenet-c-bar": "--imagenet-c-bar", "imagenet-p": "--imagenet-p",
    "imagenet-r": "--imagenet-r", "imagenet-a": "--imagenet-a", "imagenet-o": "--imagenet-o",
}
#: The ImageNet benchmark each ImageNet metric of Tables 5 and 13 is read from.
METRIC_BENCHMARKS: dict[str, str] = {
    "in_error": "imagenet-val", "in_c_mce": "imagenet-c", "in_rms_c": "imagenet-c",
    "in_r_error": "imagenet-r", "in_rms_r": "imagenet-r", "in_p_mfr": "imagenet-p",
    "in_rms_a": "imagenet-a", "in_a_accuracy": "imagenet-a", "in_o_aupr": "imagenet-o",
}


def keyword(benchmark: str) -> str:
    """`evaluate_imagenet`'s keyword of a benchmark: ``imagenet-c-bar`` -> ``imagenet_c_bar``."""
    return benchmark.replace("-", "_")


def benchmark_of(metric: str, dataset: str) -> str | None:
    """The ImageNet benchmark a value reads (None: not an ImageNet value)."""
    if dataset != "imagenet":
        return None
    return "imagenet-c-bar" if metric == "cbar" else METRIC_BENCHMARKS.get(metric)


def benchmark_evaluation(benchmark: str) -> Evaluation:
    """The evaluation of one ImageNet benchmark (all of its images)."""
    return Evaluation((benchmark,), None)


@dataclass(frozen=True)
class ImageNetData:
    """The ImageNet folders of a reproduction: training data and benchmark folders."""

    root: Path | None = None  # DIR/train and DIR/val (`--imagenet DIR`)
    folders: Mapping[str, Path] = field(default_factory=dict)  # benchmark -> folder
    synthetic: bool = False  # the smoke budget's toy (`toy_imagenet`)

    def training_needs(self) -> str:
        """Empty when the cells can train here; else what is missing."""
        if self.synthetic:
            return ""
        if self.root is None:
            return "needs ImageNet data: --imagenet DIR (DIR/train, DIR/val)"
        lacking = [str(self.root / split) for split in ("train", "val") if not (self.root / split).is_dir()]
        return f"needs ImageNet data: {', '.join(lacking)} (--imagenet)" if lacking else ""

    def folder(self, benchmark: str) -> Path | None:
        if benchmark in self.folders:
            return self.folders[benchmark]
        if benchmark == "imagenet-val" and self.root is not None:
            return self.root / "val"
        return None

    def benchmark_needs(self, benchmark: str) -> str:
        """Empty when `benchmark` can be evaluated; else which folder is missing."""
        if self.synthetic:
            return ""
        wanted = ("imagenet-o", "imagenet-val") if benchmark == "imagenet-o" else (benchmark,)
        for name in wanted:
            folder = self.folder(name)
            if folder is None:
                return f"needs ImageNet data: {BENCHMARK_OPTIONS[name]} DIR"
            if not folder.is_dir():
                return f"needs ImageNet data: {folder} ({BENCHMARK_OPTIONS[name]}) does not exist"
        return ""

    def evaluate_keywords(self, benchmark: str) -> dict[str, str]:
        """The folders `evaluate_imagenet` gets for `benchmark` (ImageNet-O needs val too)."""
        wanted = ("imagenet-o", "imagenet-val") if benchmark == "imagenet-o" else (benchmark,)
        return {keyword(name): str(self.folder(name)) for name in wanted}
