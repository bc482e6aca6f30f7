"""The paper's safety metrics, on plain numpy arrays (no model, no torch).

Definitions follow the code that produced the published numbers:

- corruption error: the CIFAR papers' "mCE" is the *unnormalised* mean error over the 15
  benchmark corruptions x 5 severities; the ImageNet protocol divides each corruption's summed
  error by a baseline model's (`normalized_mce`).
- RMS calibration error: Hendrycks' ``calib_err`` (outlier-exposure ``calibration_tools.py``,
  ``p='2'``, ``beta=100``): sort by confidence, consecutive bins of 100 samples with the
  remainder merged into the last bin. His loop skips that last (most confident) bin; this module
  counts every bin and offers the reference behaviour with ``skip_last_bin=True``.
- flip probability: hendrycks/robustness ``ImageNet-P/cifar-p-eval.py`` (``difficulty = 1``).
- anomaly detection: hendrycks/outlier-exposure ``get_measures``: anomalies are the positive
  class; AUROC, AUPR (average precision) and the FPR at the threshold whose TPR is closest to 95%.

All functions return fractions in [0, 1]; the suite reports percentages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

SEVERITIES = 5


class MetricInputError(ValueError):
    """Arrays given to a metric have the wrong shape, length or content."""


def _as_1d(name: str, values: np.ndarray | Sequence[float]) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise MetricInputError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size == 0:
        raise MetricInputError(f"{name} is empty")
    return array


def error_rate(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of predictions that differ from the labels."""
    predictions = _as_1d("predictions", predictions)
    labels = _as_1d("labels", labels)
    if predictions.shape != labels.shape:
        raise MetricInputError(
            f"label count mismatch: {len(predictions)} predictions but {len(labels)} labels"
        )
    return float(np.mean(predictions != labels))


# ---------------------------------------------------------------------------------------------
# Corruption error


def mean_corruption_error(errors: Mapping[str, Sequence[float]], names: Sequence[str]) -> float:
    """Unnormalised mean error over `names` x 5 severities (the CIFAR papers' "mCE").

    `errors[name]` holds the error at severities 1..5. Every name must be present, so that a
    partial run is never reported as the benchmark number.
    """
    missing = [name for name in names if name not in errors]
    if missing:
        raise MetricInputError(f"corruption errors missing for {missing}")
    table = np.array([_severity_row(name, errors[name]) for name in names], dtype=np.float64)
    return float(table.mean())


def normalized_mce(
    errors: Mapping[str, Sequence[float]],
    baseline_errors: Mapping[str, Sequence[float]],
    names: Sequence[str],
) -> float:
    """ImageNet-protocol mCE: mean over corruptions of sum_s E_{s,c} / sum_s E^baseline_{s,c}.

    Returns a ratio (1.0 = as robust as the baseline); the suite reports it times 100.
    """
    ratios = []
    for name in names:
        if name not in errors or name not in baseline_errors:
            raise MetricInputError(f"corruption {name!r} missing from the run or the baseline")
        ours = _severity_row(name, errors[name]).sum()
        base = _severity_row(name, baseline_errors[name]).sum()
        if base <= 0:
            raise MetricInputError(
                f"baseline error on {name!r} is 0: the normalised mCE is undefined"
            )
        ratios.append(ours / base)
    return float(np.mean(ratios))


def relative_mce(
    errors: Mapping[str, Sequence[float]],
    clean_error: float,
    baseline_errors: Mapping[str, Sequence[float]],
    baseline_clean_error: float,
    names: Sequence[str],
) -> float:
    """Relative mCE: mean over corruptions of sum_s (E_{s,c} - E_clean) / sum_s (E^b_{s,c} - E^b_clean).

    Hendrycks & Dietterich (ICLR 2019), Sec. 3: how much more a model degrades under
    corruption than the baseline (AlexNet) does. The clean error is subtracted at every
    severity, so the ratio compares degradations. Returns a ratio (x 100 to report).
    """
    ratios = []
    for name in names:
        if name not in errors or name not in baseline_errors:
            raise MetricInputError(f"corruption {name!r} missing from the run or the baseline")
        ours = (_severity_row(name, errors[name]) - clean_error).sum()
        base = (_severity_row(name, baseline_errors[name]) - baseline_clean_error).sum()
        if base <= 0:
            raise MetricInputError(
                f"the baseline does not degrade on {name!r}: the relative mCE is undefined"
            )
        ratios.append(ours / base)
    return float(np.mean(ratios))


def _severity_row(name: str, row: Sequence[float]) -> np.ndarray:
    values = np.asarray(row, dtype=np.float64)
    if values.shape != (SEVERITIES,):
        raise MetricInputError(
            f"corruption {name!r}: expected {SEVERITIES} severity errors, got shape {values.shape}"
        )
    return values


# ---------------------------------------------------------------------------------------------
# Calibration


@dataclass(frozen=True)
class CalibrationBins:
    """Adaptive bins of a calibration measurement (for reliability diagrams)."""

    confidence: np.ndarray  # mean confidence per bin
    accuracy: np.ndarray  # accuracy per bin
    counts: np.ndarray  # samples per bin


def calibration_bins(
    confidence: np.ndarray, correct: np.ndarray, bin_size: int = 100
) -> CalibrationBins:
    """Sort by confidence and cut consecutive bins of `bin_size` samples.

    The remainder (fewer than `bin_size` samples) joins the last bin, as in Hendrycks'
    ``calib_err``; with fewer than `bin_size` samples there is one bin. The sort is stable, so
    ties in confidence keep their input order and the result is deterministic.
    """
    confidence = _as_1d("confidence", confidence).astype(np.float64)
    correct = _as_1d("correct", correct).astype(np.float64)
    if confidence.shape != correct.shape:
        raise MetricInputError(
            f"label count mismatch: {len(confidence)} confidences but {len(correct)} outcomes"
        )
    if bin_size < 1:
        raise MetricInputError(f"bin_size must be >= 1, got {bin_size}")
    order = np.argsort(confidence, kind="stable")
    confidence, correct = confidence[order], correct[order]
    count = len(confidence)
    n_bins = max(1, count // bin_size)
    edges = [i * bin_size for i in range(n_bins)] + [count]
    conf_means, acc_means, sizes = [], [], []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        conf_means.append(confidence[start:stop].mean())
        acc_means.append(correct[start:stop].mean())
        sizes.append(stop - start)
    return CalibrationBins(np.array(conf_means), np.array(acc_means), np.array(sizes))


def rms_calibration_error(
    confidence: np.ndarray,
    correct: np.ndarray,
    bin_size: int = 100,
    skip_last_bin: bool = False,
) -> float:
    """RMS calibration error: sqrt(sum_b (n_b / N) (conf_b - acc_b)^2) over adaptive bins.

    ``skip_last_bin=True`` reproduces Hendrycks' loop, which leaves out the last, most
    confident bin (the weights still divide by the full N). With that flag and a single bin the
    reference sums nothing and returns 0; with fewer than `bin_size` samples the reference
    crashes, so it is refused here.
    """
    bins = calibration_bins(confidence, correct, bin_size)
    if skip_last_bin and len(confidence) < bin_size:
        raise MetricInputError(
            f"the reference calibration error needs at least {bin_size} samples, "
            f"got {len(confidence)}"
        )
    used = slice(0, len(bins.counts) - 1) if skip_last_bin else slice(None)
    weights = bins.counts[used] / bins.counts.sum()
    gaps = bins.confidence[used] - bins.accuracy[used]
    return float(np.sqrt(np.sum(weights * gaps**2)))


# ---------------------------------------------------------------------------------------------
# CIFAR-P stability


def is_noise_perturbation(name: str) -> bool:
    """Noise sequences are compared with their first frame (cifar-p-eval.py: ``'noise' in p``)."""
    return "noise" in name


def flip_probability(predictions: np.ndarray, noise: bool) -> float:
    """Flip probability of top-1 predictions over perturbation sequences.

    `predictions` is ``[N, F]`` (N sequences of F frames). Per sequence: the fraction of the
    F - 1 comparisons whose prediction differs, comparing every frame with frame 0 when `noise`
    and with the previous frame otherwise; then the mean over sequences.
    """
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or predictions.shape[0] == 0 or predictions.shape[1] < 2:
        raise MetricInputError(
            f"predictions must be [N >= 1, F >= 2] (sequences x frames), got {predictions.shape}"
        )
    reference = predictions[:, :1] if noise else predictions[:, :-1]
    flips = predictions[:, 1:] != reference
    return float(flips.mean(axis=1).mean())


def mean_flip_rate(flip_probabilities: Mapping[str, float], names: Sequence[str]) -> float:
    """mFR on CIFAR: the plain mean of the flip probabilities over `names` (no normalisation)."""
    missing = [name for name in names if name not in flip_probabilities]
    if missing:
        raise MetricInputError(f"flip probabilities missing for {missing}")
    return float(np.mean([flip_probabilities[name] for name in names]))


# ---------------------------------------------------------------------------------------------
# Anomaly detection


@dataclass(frozen=True)
class AnomalyMeasures:
    """Detection of anomalies (the positive class) from a score that is higher for anomalies."""

    auroc: float
    aupr: float
    fpr_at_95_tpr: float


def anomaly_measures(
    anomaly_scores: np.ndarray, normal_scores: np.ndarray, recall_level: float = 0.95
) -> AnomalyMeasures:
    """AUROC, AUPR (anomalies positive) and FPR at `recall_level` TPR.

    Scores must be higher for anomalies: with the maximum softmax probability, pass
    ``-msp`` for both sets. AUROC is the Mann-Whitney statistic (ties count one half);
    AUPR is average precision (a step function over distinct thresholds); the FPR is taken at
    the distinct threshold whose TPR is closest to `recall_level` (thresholds below the first one
    that reaches full recall are not considered; among equally close ones the largest FPR),
    which is what outlier-exposure's ``fpr_and_fdr_at_recall`` selects.
    """
    positives = _as_1d("anomaly_scores", anomaly_scores).astype(np.float64)
    negatives = _as_1d("normal_scores", normal_scores).astype(np.float64)
    if not (np.all(np.isfinite(positives)) and np.all(np.isfinite(negatives))):
        raise MetricInputError("anomaly scores must be finite")
    n_pos, n_neg = len(positives), len(negatives)

    ranks = rankdata(np.concatenate([positives, negatives]), method="average")
    auroc = (ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

    # Cumulative true and false positives at each distinct threshold, highest threshold first.
    scores = np.concatenate([positives, negatives])
    is_positive = np.concatenate([np.ones(n_pos, bool), np.zeros(n_neg, bool)])
    order = np.argsort(-scores, kind="stable")
    scores, is_positive = scores[order], is_positive[order]
    last_of_threshold = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    tps = np.cumsum(is_positive)[last_of_threshold].astype(np.float64)
    fps = (last_of_threshold + 1) - tps

    recall = tps / n_pos
    precision = tps / (tps + fps)
    aupr = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))

    # Like the reference, consider thresholds only down to the first one reaching full recall.
    full = int(np.searchsorted(tps, tps[-1]))
    distance = np.abs(recall[: full + 1] - recall_level)
    closest = distance == distance.min()
    fpr = float(fps[: full + 1][closest].max() / n_neg)
    return AnomalyMeasures(auroc=float(auroc), aupr=aupr, fpr_at_95_tpr=fpr)
