"""The suite on a tiny model whose predictions are known, with official-layout benchmark files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS, BENCHMARK_CORRUPTIONS
from ipmix.data.cifar import CifarArrays
from ipmix.robustness import suite as suite_module
from ipmix.robustness.suite import SuiteError, evaluate, parse_suite

N = 10
CENTERS = 25.6 * np.arange(10) + 12.8  # class k <-> mean pixel value near CENTERS[k]


class BucketModel(nn.Module):
    """Predicts class k when the mean pixel value (0..255) is nearest to CENTERS[k]."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.tensor(CENTERS[:classes], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3)) * 255
        return -(((mean[:, None] - self.centers[None]) / 10) ** 2)


def _constant_images(values: np.ndarray) -> np.ndarray:
    return np.broadcast_to(
        np.asarray(values, dtype=np.uint8)[:, None, None, None], (len(values), 32, 32, 3)
    ).copy()


def _clean() -> CifarArrays:
    labels = np.arange(N, dtype=np.int64)
    return CifarArrays(_constant_images(CENTERS[labels].round()), labels, tuple("abcdefghij"))


def _write_cifar_c(folder, labels, wrong_first=lambda s: 2 * s):
    """Official layout: 5 x N images stacked by severity; severity s misleads the first 2s."""
    folder.mkdir(parents=True, exist_ok=True)
    stack = []
    for severity in range(1, 6):
        values = CENTERS[labels].round()
        count = wrong_first(severity)
        values[:count] = CENTERS[(labels[:count] + 1) % 10].round()
        stack.append(_constant_images(values))
    for name in ALL_CORRUPTIONS:
        np.save(folder / f"{name}.npy", np.concatenate(stack))
    np.save(folder / "labels.npy", np.tile(labels, 5))


def test_parse_suite():
    assert parse_suite("all") == suite_module.SUITE_PARTS
    assert parse_suite("pgd, clean") == ("clean", "pgd")
    assert parse_suite(["ood", "c"]) == ("c", "ood")
    with pytest.raises(SuiteError, match="unknown suite part"):
        parse_suite("clean,cifar")
    with pytest.raises(SuiteError):
        parse_suite("")


def test_clean_calibration_pgd_ood_on_a_known_model():
    results = evaluate(
        BucketModel(), suite="clean,calibration,pgd,ood", data=_clean(), progress=False
    )
    assert results["clean"]["error"] == 0.0
    assert 0 <= results["calibration"]["rms_clean"] <= 100
    assert sum(results["calibration"]["bins_clean"]["counts"]) == N
    assert 0 <= results["pgd"]["error"] <= 100
    assert set(results["ood"]["sources"]) == {"gaussian", "rademacher", "blobs"}
    assert all(source["count"] == 2 for source in results["ood"]["sources"].values())
    for key in ("auroc", "aupr", "fpr95"):
        assert 0 <= results["ood"][key] <= 100
    assert set(results["meta"]["seconds"]) == {"clean", "pgd", "ood"}
    again = evaluate(BucketModel(), suite="clean,calibration,pgd,ood", data=_clean(), progress=False)
    for part in ("clean", "calibration", "pgd", "ood"):
        assert again[part] == results[part]


def test_pgd_flips_images_near_a_class_boundary():
    labels = np.arange(N, dtype=np.int64)
    # Mean value 1 grey level inside the own class: a 2/255 step crosses the boundary.
    values = (CENTERS[labels] + 11.8).round()
    arrays = CifarArrays(_constant_images(values), labels, tuple("abcdefghij"))
    results = evaluate(BucketModel(), suite="clean,pgd", data=arrays, progress=False)
    assert results["clean"]["error"] == 0.0
    assert results["pgd"]["error"] >= 90.0  # all but possibly the last class (no upper neighbour)


def test_official_cifar_c_files_give_known_errors(tmp_path):
    clean = _clean()
    _write_cifar_c(tmp_path / "c", clean.labels)
    results = evaluate(
        BucketModel(), suite="c,calibration", data=clean, cifar_c_dir=tmp_path / "c",
        progress=False,
    )
    corruption = results["corruption"]
    assert corruption["generated"] is False and corruption["missing"] == []
    for name in ALL_CORRUPTIONS:
        assert corruption["errors"][name] == pytest.approx([20, 40, 60, 80, 100])
    assert corruption["mce"] == pytest.approx(60.0)
    assert corruption["extra_mean"] == pytest.approx(60.0)
    assert results["calibration"]["rms_c"] is not None
    # a subset of the official files: the first n of each severity
    subset = evaluate(
        BucketModel(), suite="c", data=clean, n=4, cifar_c_dir=tmp_path / "c", progress=False
    )
    assert subset["corruption"]["errors"]["fog"] == pytest.approx([50, 100, 100, 100, 100])


def test_normalized_mce_against_a_baseline(tmp_path):
    clean = _clean()
    _write_cifar_c(tmp_path / "c", clean.labels)
    _write_cifar_c(tmp_path / "base", clean.labels, wrong_first=lambda s: 4)
    ours = evaluate(BucketModel(), suite="c", data=clean, cifar_c_dir=tmp_path / "c",
                    progress=False)
    baseline = evaluate(BucketModel(), suite="c", data=clean, cifar_c_dir=tmp_path / "base",
                        progress=False, baseline=ours)
    # sum of errors: baseline 5 x 40 = 200, ours 20 + ... + 100 = 300 -> 200 / 300
    assert baseline["corruption"]["normalized_mce"] == pytest.approx(100 * 200 / 300)


def test_cifar_c_label_mismatch_and_too_few_images(tmp_path):
    clean = _clean()
    _write_cifar_c(tmp_path / "c", clean.labels[::-1].copy())
    with pytest.raises(SuiteError, match="labels.npy does not match"):
        evaluate(BucketModel(), suite="c", data=clean, cifar_c_dir=tmp_path / "c", progress=False)
    _write_cifar_c(tmp_path / "small", clean.labels[:4])
    with pytest.raises(SuiteError, match="holds 4 images"):
        evaluate(BucketModel(), suite="c", data=clean, cifar_c_dir=tmp_path / "small",
                 progress=False)


def test_official_cifar_p_files_give_known_flip_rates(tmp_path):
    from ipmix.corruptions.perturbations import PERTURBATIONS

    clean = _clean()
    folder = tmp_path / "p"
    folder.mkdir()
    # frames: own class, next class, own, own -> vs previous: 2 flips of 3; vs frame 0: 1 of 3
    own = CENTERS[clean.labels].round()
    other = CENTERS[(clean.labels + 1) % 10].round()
    frames = np.stack([_constant_images(v) for v in (own, other, own, own)], axis=1)
    for name in PERTURBATIONS:
        np.save(folder / f"{name}.npy", frames)
    results = evaluate(BucketModel(), suite="p", data=clean, cifar_p_dir=folder, progress=False)
    flips = results["perturbation"]["flip_probability"]
    for name in PERTURBATIONS:
        expected = 100 / 3 if "noise" in name else 200 / 3
        assert flips[name] == pytest.approx(expected)
    noise_count = sum("noise" in name for name in PERTURBATIONS)
    expected_mfr = (noise_count * 100 / 3 + (len(PERTURBATIONS) - noise_count) * 200 / 3) / len(
        PERTURBATIONS
    )
    assert results["perturbation"]["mfr"] == pytest.approx(expected_mfr)


def test_generated_cifar_c_is_cached_and_frost_skipped_without_textures(tmp_path, monkeypatch):
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    rng = np.random.default_rng(0)
    arrays = CifarArrays(
        rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), np.array([0, 1, 2]),
        tuple("abcdefghij"),
    )
    with pytest.warns(UserWarning, match="frost"):
        first = evaluate(BucketModel(), suite="c", data=arrays, progress=False)
    corruption = first["corruption"]
    assert corruption["generated"] is True
    assert corruption["missing"] == ["frost"] and corruption["mce"] is None
    present = [name for name in BENCHMARK_CORRUPTIONS if name != "frost"]
    assert corruption["mce_partial"] == pytest.approx(
        np.mean([corruption["errors"][name] for name in present])
    )
    assert str(tmp_path / "cache") in corruption["source"]
    with pytest.warns(UserWarning, match="frost"):
        second = evaluate(BucketModel(), suite="c", data=arrays, progress=False)
    assert second["corruption"]["errors"] == corruption["errors"]
    assert second["corruption"]["source"] == corruption["source"]


def test_model_for_another_class_count_and_label_mismatch_are_refused():
    with pytest.raises(SuiteError, match="another dataset"):
        evaluate(BucketModel(classes=5), suite="clean", data=_clean(), progress=False)
    clean = _clean()
    broken = CifarArrays(clean.images, clean.labels[:-1], clean.class_names)
    with pytest.raises(SuiteError, match="label count mismatch"):
        evaluate(BucketModel(), suite="clean", data=broken, progress=False)


def test_empty_ood_folder_is_a_clear_error(tmp_path):
    from ipmix.robustness.ood import OutlierSourceError

    (tmp_path / "empty").mkdir()
    with pytest.raises(OutlierSourceError, match="holds no images"):
        evaluate(BucketModel(), suite="ood", data=_clean(), ood_sources=[tmp_path / "empty"],
                 progress=False)


def test_generated_cifar_p_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    arrays = CifarArrays(
        rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), np.array([3, 4]), tuple("abcdefghij")
    )
    first = evaluate(BucketModel(), suite="p", data=arrays, progress=False)["perturbation"]
    assert first["generated"] is True
    assert all(0 <= value <= 100 for value in first["flip_probability"].values())
    second = evaluate(BucketModel(), suite="p", data=arrays, progress=False)["perturbation"]
    assert second["generated"] is False and second["flip_probability"] == first["flip_probability"]
    other = CifarArrays(arrays.images, np.array([4, 3]), arrays.class_names)
    with pytest.raises(SuiteError, match="labels.npy does not match"):
        evaluate(BucketModel(), suite="p", data=other, cifar_p_dir=first["source"], progress=False)


def test_malformed_cifar_c_file_is_a_clear_error(tmp_path):
    clean = _clean()
    _write_cifar_c(tmp_path / "c", clean.labels)
    np.save(tmp_path / "c" / "fog.npy", np.zeros((5 * N, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"fog\.npy must hold uint8"):
        evaluate(BucketModel(), suite="c", data=clean, cifar_c_dir=tmp_path / "c", progress=False)


def test_reference_rms_is_reported_beside_the_corrected_one():
    from ipmix.robustness import metrics

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 250)
    values = CENTERS[labels] + rng.normal(0, 12, 250)  # some images cross into a neighbour
    arrays = CifarArrays(_constant_images(np.clip(values, 0, 255).round()), labels,
                         tuple("abcdefghij"))
    results = evaluate(BucketModel(), suite="calibration", data=arrays, progress=False)
    probs = suite_module.predict_probabilities(BucketModel(), arrays.images, progress=False)
    conf, correct = probs.max(1), probs.argmax(1) == labels
    calibration = results["calibration"]
    assert calibration["rms_clean"] == pytest.approx(
        100 * metrics.rms_calibration_error(conf, correct))
    assert calibration["rms_clean_reference"] == pytest.approx(
        100 * metrics.rms_calibration_error(conf, correct, skip_last_bin=True))
    assert calibration["rms_clean_reference"] != calibration["rms_clean"]
    small = evaluate(BucketModel(), suite="calibration", data=_clean(), progress=False)
    assert small["calibration"]["rms_clean_reference"] is None  # fewer than one bin of 100
