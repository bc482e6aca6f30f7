"""Robustness evaluation of any classifier: the IPMix paper's safety metrics.

- `evaluate(model, suite=..., n=..., device=...)`: the suite (clean error, CIFAR-C mCE,
  calibration, CIFAR-P mFR, PGD error, OOD detection) for any ``nn.Module`` taking [0, 1] images;
- `evaluate_checkpoint(run_or_checkpoint, ...)`: the same for an ipmix checkpoint, writing
  results.json and results.md;
- `evaluate_imagenet(model, imagenet_c=..., imagenet_r=..., ...)`: the ImageNet benchmarks given
  (ImageNet-C/-C-bar/-P/-R/-A/-O, -V2, -Sketch, Stylized-ImageNet, any folder as a shift);
- `comparison_table(results_by_run)`: the paper-style markdown table of several runs; `table5`:
  the ImageNet table (the paper's Table 5);
- `pgd_attack`, and the metrics in `ipmix.robustness.metrics`.

It measures; the corrupted and perturbed sets it reads are made by `ipmix.corruptions`
(benchmarks/ reads them). Names are loaded on first use.
"""

from __future__ import annotations

from ipmix.utils.lazy import lazy_names

_LAZY = {
    "evaluate": "ipmix.robustness.suite",
    "evaluate_checkpoint": "ipmix.robustness.suite",
    "SUITE_PARTS": "ipmix.robustness.suite",
    "SuiteError": "ipmix.robustness.suite",
    "evaluate_imagenet": "ipmix.robustness.imagenet_suite",
    "table5": "ipmix.robustness.report.imagenet",
    "comparison_table": "ipmix.robustness.report",
    "write_report": "ipmix.robustness.report",
    "pgd_attack": "ipmix.robustness.attacks",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
