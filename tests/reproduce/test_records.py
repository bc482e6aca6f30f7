"""Per-image records and bootstrap intervals: exact points, honest coverage, paired resamples."""

import numpy as np
import pytest

from ipmix.reproduce.records import (
    PredictionRecorder,
    Record,
    bootstrap,
    interval,
    load_record,
    resample_indices,
)
from ipmix.reproduce.values import Value
from ipmix.robustness.metrics import flip_probability, rms_calibration_error


def _probabilities(rng, n, classes=10, sharp=3.0):
    logits = rng.normal(0, sharp, size=(n, classes))
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def test_recorder_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    recorder = PredictionRecorder()
    clean = _probabilities(rng, 50)
    recorder("clean", clean)
    recorder("translate", _probabilities(rng, 50 * 31))
    labels = rng.integers(0, 10, 50)
    record = load_record(recorder.save(tmp_path / "predictions.npz", labels))
    assert record.n == 50 and np.array_equal(record.labels, labels)
    assert np.array_equal(record.predictions["clean"], clean.argmax(1))
    assert np.allclose(record.confidences["clean"], clean.max(1))
    assert record.predictions["translate"].shape == (50 * 31,)


def test_point_values_match_the_suite_metrics():
    rng = np.random.default_rng(1)
    n = 300
    labels = rng.integers(0, 10, n)
    clean = _probabilities(rng, n)
    frames = rng.integers(0, 10, size=(n, 31))
    record = Record(labels, {"clean": clean.argmax(1), "rotate": frames.ravel()},
                    {"clean": clean.max(1).astype(np.float32), "rotate": np.ones(n * 31, np.float32)})
    from ipmix.reproduce.records import STATISTICS

    every = np.arange(n)[None]
    assert STATISTICS["error"](record)(every)[0] == pytest.approx(100 * np.mean(clean.argmax(1) != labels))
    expected = 100 * rms_calibration_error(clean.max(1).astype(np.float32).astype(np.float64),
                                           clean.argmax(1) == labels)
    assert STATISTICS["rms"](record)(every)[0] == pytest.approx(expected)
    assert STATISTICS["mfr"](record) is None  # needs all ten perturbations
    assert flip_probability(frames, noise=False) == pytest.approx(
        (frames[:, 1:] != frames[:, :-1]).mean(1).mean())


def test_bootstrap_interval_covers_the_true_error_at_the_nominal_rate():
    """Binomial errors of known rate 0.3: the 95% interval holds it in about 95% of datasets."""
    rng = np.random.default_rng(2)
    hits = 0
    trials = 120
    for _ in range(trials):
        labels = np.zeros(400, np.int64)
        predictions = (rng.random(400) < 0.3).astype(np.uint8)  # wrong where 1
        record = Record(labels, {"clean": predictions}, {"clean": np.ones(400, np.float32)})
        low, high = interval(bootstrap([record], "error", resamples=400)[0])
        hits += low <= 30.0 <= high
    assert 0.88 <= hits / trials <= 0.99


def test_paired_resamples_make_differences_tighter():
    """Two runs wrong on nearly the same images: the paired difference's interval is narrow."""
    rng = np.random.default_rng(3)
    labels = np.zeros(1000, np.int64)
    wrong_a = rng.random(1000) < 0.3
    wrong_b = wrong_a.copy()
    wrong_b[rng.choice(1000, 20, replace=False)] ^= True
    records = [Record(labels, {"clean": w.astype(np.uint8)}, {"clean": np.ones(1000, np.float32)})
               for w in (wrong_a, wrong_b)]
    samples = bootstrap(records, "error")
    single = interval(samples[0])
    difference = interval(samples[1] - samples[0])
    assert difference[1] - difference[0] < (single[1] - single[0]) / 3
    assert np.array_equal(resample_indices(1000, 5), resample_indices(1000, 5))  # same resamples
    with pytest.raises(ValueError, match="same test images"):
        bootstrap([records[0], Record(labels[:10], {}, {})], "error")


def test_value_text():
    assert Value("done", mean=12.345, per_seed=[12.345], interval=(11.0, 13.5),
                 seeds_planned=1).text() == "12.35 [11.00, 13.50]"
    assert Value("done", mean=10.0, std=0.5, per_seed=[9.5, 10.5], seeds_planned=3).text() == (
        "10.00 ± 0.50 (2/3 seeds)")
    assert Value("needs", note="needs X").text() == "needs *"
    assert Value("todo").text() == "not run"


def test_rms_interval_is_bias_corrected_around_the_value():
    """Resampling inflates RMS calibration error; the interval is shifted back onto the value."""
    rng = np.random.default_rng(4)
    n = 2000
    confidence = rng.uniform(0.5, 1.0, n).astype(np.float32)
    wrong = (rng.random(n) >= confidence).astype(np.uint8)  # calibrated: right with prob conf
    record = Record(np.zeros(n, np.int64), {"clean": wrong}, {"clean": confidence})
    samples = bootstrap([record], "rms")[0]
    point = 100 * rms_calibration_error(confidence.astype(np.float64), wrong == 0)
    assert np.mean(samples) > point  # the raw percentile interval would sit above the value
    low, high = interval(samples, point)
    assert low < point < high
