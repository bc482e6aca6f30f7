"""ImageNet-C / -C-bar on tiny fake official layouts: AlexNet normalisation, relative mCE, checks.

Images are 8 x 8 (the model's size here; the release's are 224). Each (corruption, severity)
set holds 4 images of 2 classes, half of them misclassified, so every error is 50 %.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_benchmarks import WNIDS, LogitTable, write_image

from ipmix.corruptions.imagenet_c import BENCHMARK_CORRUPTIONS
from ipmix.robustness.benchmarks.imagenet_c import ALEXNET_ERRORS, IMAGENET_C_BAR, alexnet_clean_error
from ipmix.robustness.imagenet_suite import evaluate_imagenet
from ipmix.robustness.predict import SuiteError

#: google-research/augmix imagenet.py ALEXNET_ERR (the per-corruption means), transcribed
#: separately from the per-severity table the code ships.
AUGMIX_ALEXNET_ERR = (
    0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360, 0.866816, 0.826572,
    0.819324, 0.564592, 0.853204, 0.646056, 0.717840, 0.606500,
)
CLASSES = (WNIDS[0], WNIDS[1])


def _half_wrong(table: LogitTable, folder, suffix=".png", size=8) -> None:
    """2 images per class; the second of each is predicted as the other class."""
    for label, wnid in enumerate(CLASSES):
        write_image(folder / wnid / "a", table.predicting(label), size, suffix)
        write_image(folder / wnid / "b", table.predicting(1 - label), size, suffix)


def _imagenet_c(root, table, names, severity_names=("1", "2", "3", "4", "5")) -> None:
    for name in names:
        for severity in severity_names:
            _half_wrong(table, root / name / severity)


def test_alexnet_table_matches_the_published_means():
    assert list(ALEXNET_ERRORS) == list(BENCHMARK_CORRUPTIONS)
    means = [np.mean(ALEXNET_ERRORS[name]) for name in BENCHMARK_CORRUPTIONS]
    np.testing.assert_allclose(means, AUGMIX_ALEXNET_ERR, atol=5e-7)
    assert alexnet_clean_error() == pytest.approx(0.43478)


def test_mce_is_normalised_by_alexnet_with_relative_and_unnormalised_beside(tmp_path):
    table = LogitTable()
    _imagenet_c(tmp_path / "c", table, [*BENCHMARK_CORRUPTIONS, "speckle_noise"])
    # clean: 4 images, one wrong -> 25 %
    for label, wnid in enumerate(CLASSES):
        write_image(tmp_path / "val" / wnid / "a", table.predicting(label))
        write_image(tmp_path / "val" / wnid / "b", table.predicting(label if label else 1))
    results = evaluate_imagenet(table.model(), imagenet_c=tmp_path / "c", imagenet_val=tmp_path / "val",
                                image_size=8, progress=False)
    assert results["imagenet_val"]["error"] == pytest.approx(25.0)
    part = results["imagenet_c"]
    assert part["errors"]["fog"] == pytest.approx([50.0] * 5)
    assert part["unnormalized_mce"] == pytest.approx(50.0)
    # CE_c = sum_s 0.5 / sum_s E^AlexNet_{s,c} = 0.5 / mean_c
    assert part["mce"] == pytest.approx(100 * np.mean([0.5 / e for e in AUGMIX_ALEXNET_ERR]), rel=1e-6)
    # relative: sum_s (0.5 - 0.25) / sum_s (E^AlexNet_{s,c} - 0.43478)
    expected = np.mean([0.25 / (e - 0.43478) for e in AUGMIX_ALEXNET_ERR])
    assert part["relative_mce"] == pytest.approx(100 * expected, rel=1e-5)
    assert part["extra_mean"] == pytest.approx(50.0) and "speckle_noise" in part["errors"]
    assert "gaussian_blur" in part["notes"][0]
    assert part["counts"]["fog"] == 4
    assert part["rms"] is not None and part["rms_reference"] is None  # 4 images: no bin of 100


def test_imagenet_c_without_val_has_no_relative_mce(tmp_path):
    table = LogitTable()
    _imagenet_c(tmp_path / "c", table, BENCHMARK_CORRUPTIONS)
    results = evaluate_imagenet(table.model(), imagenet_c=tmp_path / "c", image_size=8, progress=False)
    assert results["imagenet_c"]["relative_mce"] is None
    assert results["meta"]["imagenet"]["not_run"]["imagenet-val"] == "not given"


def test_imagenet_c_files_are_checked(tmp_path):
    table = LogitTable()
    _imagenet_c(tmp_path / "c", table, BENCHMARK_CORRUPTIONS)
    model = table.model()
    (tmp_path / "c" / "gaussian_noise").rename(tmp_path / "gaussian_noise")
    with pytest.raises(SuiteError, match="lacks corruption folder.*gaussian_noise"):
        evaluate_imagenet(model, imagenet_c=tmp_path / "c", image_size=8, progress=False)
    (tmp_path / "gaussian_noise").rename(tmp_path / "c" / "gaussian_noise")
    (tmp_path / "c" / "fog" / "3" / CLASSES[1] / "b.png").unlink()
    with pytest.raises(SuiteError, match=r"fog/3 lacks .*b\.png"):
        evaluate_imagenet(model, imagenet_c=tmp_path / "c", image_size=8, progress=False)
    write_image(tmp_path / "c" / "fog" / "3" / CLASSES[1] / "b", 1, size=16)  # wrong size
    with pytest.raises(SuiteError, match=r"fog/3/n01443537/b\.png is 16x16 but the model evaluates 8x8"):
        evaluate_imagenet(model, imagenet_c=tmp_path / "c", image_size=8, progress=False)
    with pytest.raises(SuiteError, match="ImageNet-C folder .*nowhere does not exist"):
        evaluate_imagenet(model, imagenet_c=tmp_path / "nowhere", image_size=8, progress=False)


def test_imagenet_c_bar_reads_numbered_and_parameter_named_severities(tmp_path):
    table = LogitTable()
    names = list(IMAGENET_C_BAR)
    _imagenet_c(tmp_path / "bar", table, names[1:])
    first = names[0]  # as make_imagenet_c_bar.py writes it: "{:.2f}" of the parameters
    _imagenet_c(tmp_path / "bar", table, [first], [f"{v:.2f}" for v in IMAGENET_C_BAR[first]])
    results = evaluate_imagenet(table.model(), imagenet_c_bar=tmp_path / "bar", image_size=8,
                                progress=False)
    part = results["imagenet_c_bar"]
    assert set(part["errors"]) == set(names)
    assert part["mean_error"] == pytest.approx(50.0)
    (tmp_path / "bar" / first / "2.35").rename(tmp_path / "bar" / first / "2.3")
    with pytest.raises(SuiteError, match=r"caustic_refraction lacks severity folder\(s\) 1, 2"):
        evaluate_imagenet(table.model(), imagenet_c_bar=tmp_path / "bar", image_size=8, progress=False)


def test_jpeg_benchmark_files_read(tmp_path):
    """The releases' .JPEG files: lossy, so grey levels far from the decision boundaries."""
    from fake_benchmarks import GreyLevelModel
    from PIL import Image

    # GreyLevelModel: class k is nearest to grey 32 k + 5; wnid 1 <-> ~37, wnid 6 <-> ~197
    for wnid, levels in ((WNIDS[1], (42, 42)), (WNIDS[6], (202, 42))):
        for i, level in enumerate(levels):
            (tmp_path / "val" / wnid).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (level,) * 3).save(tmp_path / "val" / wnid / f"{i}.JPEG")
    results = evaluate_imagenet(GreyLevelModel(), imagenet_val=tmp_path / "val", image_size=32,
                                progress=False)
    assert results["imagenet_val"]["count"] == 4
    assert results["imagenet_val"]["error"] == pytest.approx(25.0)
