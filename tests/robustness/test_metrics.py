"""Metrics against hand-worked examples and independent references (sklearn, brute force)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ipmix.robustness import metrics
from ipmix.robustness.metrics import MetricInputError

# ----------------------------------------------------------------------------- error and mCE


def test_error_rate_and_label_count_mismatch():
    assert metrics.error_rate(np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0])) == 0.5
    with pytest.raises(MetricInputError, match="label count mismatch"):
        metrics.error_rate(np.array([0, 1, 2]), np.array([0, 1]))


def test_mean_corruption_error_is_plain_mean_over_names_and_severities():
    errors = {"a": [10, 20, 30, 40, 50], "b": [0, 0, 0, 0, 10], "extra": [90] * 5}
    assert metrics.mean_corruption_error(errors, ["a", "b"]) == pytest.approx(16.0)
    with pytest.raises(MetricInputError, match="missing"):
        metrics.mean_corruption_error(errors, ["a", "c"])
    with pytest.raises(MetricInputError, match="5 severity"):
        metrics.mean_corruption_error({"a": [1, 2, 3]}, ["a"])


def test_normalized_mce_hand_worked():
    ours = {"a": [10, 10, 10, 10, 10], "b": [20, 20, 20, 20, 20]}
    base = {"a": [20, 20, 20, 20, 20], "b": [20, 20, 20, 20, 20]}
    # a: 50 / 100 = 0.5, b: 100 / 100 = 1.0 -> mean 0.75
    assert metrics.normalized_mce(ours, base, ["a", "b"]) == pytest.approx(0.75)
    with pytest.raises(MetricInputError, match="undefined"):
        metrics.normalized_mce(ours, {"a": [0] * 5, "b": [1] * 5}, ["a", "b"])


# ----------------------------------------------------------------------------- calibration

# Hand-worked: sorted by confidence 0.60(x) 0.70(v) 0.80(v) 0.90(v) 0.95(x); bin size 2 gives
# 5 // 2 = 2 bins, the remainder joining the last: [0.60, 0.70] and [0.80, 0.90, 0.95].
# bin 1: conf 0.65, acc 1/2, gap 0.15, weight 2/5; bin 2: conf 2.65/3, acc 2/3, weight 3/5.
HAND_CONF = np.array([0.9, 0.6, 0.8, 0.7, 0.95])
HAND_CORRECT = np.array([1, 0, 1, 1, 0])
HAND_ALL_BINS = math.sqrt(0.4 * 0.15**2 + 0.6 * (2.65 / 3 - 2 / 3) ** 2)
HAND_REFERENCE = math.sqrt(0.4 * 0.15**2)  # Hendrycks' loop leaves out the last bin


def test_rms_calibration_error_hand_worked_correct_and_reference():
    assert metrics.rms_calibration_error(HAND_CONF, HAND_CORRECT, bin_size=2) == pytest.approx(
        HAND_ALL_BINS, abs=1e-12
    )
    assert metrics.rms_calibration_error(
        HAND_CONF, HAND_CORRECT, bin_size=2, skip_last_bin=True
    ) == pytest.approx(HAND_REFERENCE, abs=1e-12)
    assert abs(HAND_ALL_BINS - 0.19279) < 1e-5  # sqrt(0.009 + 0.6 * (13 / 60) ** 2)


def test_calibration_bins_hand_worked():
    bins = metrics.calibration_bins(HAND_CONF, HAND_CORRECT, bin_size=2)
    np.testing.assert_allclose(bins.confidence, [0.65, 2.65 / 3])
    np.testing.assert_allclose(bins.accuracy, [0.5, 2 / 3])
    np.testing.assert_array_equal(bins.counts, [2, 3])


def _reference_loop(confidence, correct, beta):
    """Hendrycks' calib_err (p='2') re-derived as an explicit loop over bins."""
    order = np.argsort(confidence, kind="stable")
    confidence, correct = confidence[order], correct[order]
    bounds = [[i * beta, (i + 1) * beta] for i in range(len(confidence) // beta)]
    bounds[-1][1] = len(confidence)
    total = 0.0
    for lo, hi in bounds[:-1]:
        total += (hi - lo) / len(confidence) * (confidence[lo:hi].mean() - correct[lo:hi].mean()) ** 2
    return math.sqrt(total)


@settings(max_examples=40, deadline=None)
@given(st.integers(100, 450), st.integers(0, 10_000))
def test_reference_flag_matches_the_reference_loop_default_bins(count, seed):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.1, 1.0, count)
    correct = (rng.uniform(size=count) < conf).astype(int)
    ours = metrics.rms_calibration_error(conf, correct, skip_last_bin=True)
    assert ours == pytest.approx(_reference_loop(conf, correct, 100), abs=1e-12)
    full = metrics.rms_calibration_error(conf, correct)
    assert 0.0 <= full <= 1.0 and full >= ours - 1e-12


def test_perfect_calibration_is_zero_and_reference_needs_one_bin():
    conf = np.ones(300)
    assert metrics.rms_calibration_error(conf, np.ones(300)) == 0.0
    assert metrics.rms_calibration_error(conf, np.zeros(300)) == pytest.approx(1.0)
    # fewer samples than a bin: one bin for the correct version, an error for the reference
    assert metrics.rms_calibration_error(np.full(10, 0.9), np.zeros(10)) == pytest.approx(0.9)
    with pytest.raises(MetricInputError, match="at least 100"):
        metrics.rms_calibration_error(np.full(10, 0.9), np.zeros(10), skip_last_bin=True)


# ----------------------------------------------------------------------------- flip probability


def _brute_force_flips(predictions, noise):
    per_sequence = []
    for sequence in predictions:
        flips = 0
        previous = sequence[0]
        for frame in sequence[1:]:
            flips += int(frame != previous)
            if not noise:
                previous = frame
        per_sequence.append(flips / (len(sequence) - 1))
    return sum(per_sequence) / len(per_sequence)


def test_flip_probability_hand_worked():
    predictions = np.array([[0, 1, 1, 0], [2, 2, 2, 2]])
    # previous-frame: 0->1 flip, 1->1, 1->0 flip = 2/3; noise (vs frame 0): 1, 1, 0 = 2/3
    assert metrics.flip_probability(predictions, noise=False) == pytest.approx(1 / 3)
    predictions = np.array([[0, 1, 0, 1]])
    assert metrics.flip_probability(predictions, noise=False) == pytest.approx(1.0)
    assert metrics.flip_probability(predictions, noise=True) == pytest.approx(2 / 3)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6), st.integers(2, 9), st.integers(1, 4), st.booleans(), st.integers(0, 999)
)
def test_flip_probability_matches_brute_force(sequences, frames, classes, noise, seed):
    predictions = np.random.default_rng(seed).integers(0, classes, size=(sequences, frames))
    assert metrics.flip_probability(predictions, noise) == pytest.approx(
        _brute_force_flips(predictions.tolist(), noise), abs=1e-12
    )


def test_noise_perturbations_and_mfr():
    assert metrics.is_noise_perturbation("gaussian_noise")
    assert metrics.is_noise_perturbation("shot_noise")
    assert not metrics.is_noise_perturbation("motion_blur")
    assert metrics.mean_flip_rate({"a": 0.1, "b": 0.3, "c": 9.0}, ["a", "b"]) == pytest.approx(0.2)
    with pytest.raises(MetricInputError):
        metrics.flip_probability(np.zeros((3, 1)), noise=True)


# ----------------------------------------------------------------------------- anomaly detection


def _fpr_at_recall_reference(positives, negatives, level=0.95):
    """FPR at the ROC point (sklearn's curve) whose TPR is closest to `level`.

    Points after the first that reaches TPR 1 are dropped; among equally close points the one
    with the largest FPR wins (outlier-exposure's selection rule).
    """
    labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    fpr, tpr, _ = roc_curve(labels, np.r_[positives, negatives], drop_intermediate=False)
    fpr, tpr = fpr[1:], tpr[1:]  # sklearn prepends the (0, 0) point at threshold +inf
    first_full = int(np.argmax(tpr >= 1.0))
    fpr, tpr = fpr[: first_full + 1], tpr[: first_full + 1]
    distance = np.abs(tpr - level)
    return fpr[distance == distance.min()].max()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(2, 12), st.integers(0, 9999))
def test_anomaly_measures_match_sklearn_with_ties(n_pos, n_neg, levels, seed):
    rng = np.random.default_rng(seed)
    positives = rng.integers(0, levels, n_pos).astype(float) + 0.5
    negatives = rng.integers(0, levels, n_neg).astype(float)
    measures = metrics.anomaly_measures(positives, negatives)
    labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    scores = np.r_[positives, negatives]
    assert measures.auroc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert measures.aupr == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert measures.fpr_at_95_tpr == pytest.approx(
        _fpr_at_recall_reference(positives, negatives), abs=1e-12
    )


def test_anomaly_measures_continuous_scores_and_extremes():
    rng = np.random.default_rng(3)
    positives, negatives = rng.normal(1, 1, 500), rng.normal(0, 1, 700)
    measures = metrics.anomaly_measures(positives, negatives)
    labels = np.r_[np.ones(500), np.zeros(700)]
    assert measures.auroc == pytest.approx(roc_auc_score(labels, np.r_[positives, negatives]))
    perfect = metrics.anomaly_measures(np.array([5.0, 6.0]), np.array([1.0, 2.0, 3.0]))
    assert (perfect.auroc, perfect.aupr, perfect.fpr_at_95_tpr) == (1.0, 1.0, 0.0)
    with pytest.raises(MetricInputError, match="empty"):
        metrics.anomaly_measures(np.array([]), np.array([1.0]))
