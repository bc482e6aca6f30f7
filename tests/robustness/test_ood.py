"""OOD sets: synthetic sets as in outlier-exposure, user folders and arrays, MSP measures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ipmix.robustness import ood
from ipmix.robustness.ood import OutlierSourceError


@pytest.mark.parametrize("name", ood.SYNTHETIC_OUTLIERS)
def test_synthetic_sets_shape_range_and_determinism(name):
    first = ood.synthetic_outliers(name, 20, np.random.default_rng(1))
    again = ood.synthetic_outliers(name, 20, np.random.default_rng(1))
    other = ood.synthetic_outliers(name, 20, np.random.default_rng(2))
    assert first.images.shape == (20, 32, 32, 3) and first.images.dtype == np.float32
    assert first.images.min() >= 0.0 and first.images.max() <= 1.0
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)


def test_synthetic_set_statistics():
    rng = np.random.default_rng(0)
    gaussian = ood.synthetic_outliers("gaussian", 50, rng).images
    assert abs(gaussian.mean() - 0.5) < 0.01
    assert abs(gaussian.std() - 0.25) < 0.01  # clipping at 2 sigma trims little
    rademacher = ood.synthetic_outliers("rademacher", 50, rng).images
    assert set(np.unique(rademacher)) == {0.0, 1.0}
    assert abs(rademacher.mean() - 0.5) < 0.01
    blobs = ood.synthetic_outliers("blobs", 50, rng).images
    nonzero = blobs[blobs > 0]
    assert nonzero.min() >= 0.75  # thresholded after the blur
    assert 0.05 < (blobs > 0).mean() < 0.95  # both blobs and background


def test_outlier_count_is_a_fifth():
    assert ood.outlier_count(10_000) == 2000
    assert ood.outlier_count(3) == 1


def test_image_folder_is_read_resized_and_sorted(tmp_path):
    Image.new("RGB", (64, 48), (255, 0, 0)).save(tmp_path / "b.png")
    (tmp_path / "sub").mkdir()
    Image.new("L", (10, 20), 0).save(tmp_path / "sub" / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    outliers = ood.load_outlier_source(tmp_path, 5, np.random.default_rng(0))
    assert outliers.images.shape == (2, 32, 32, 3) and outliers.images.dtype == np.uint8
    assert outliers.name == tmp_path.name
    np.testing.assert_array_equal(outliers.images[0, 16, 16], [255, 0, 0])  # b.png < sub/a.jpg
    np.testing.assert_array_equal(outliers.images[1], 0)


def test_empty_or_missing_sources_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(OutlierSourceError, match="holds no images"):
        ood.load_outlier_source(tmp_path / "empty", 5, np.random.default_rng(0))
    with pytest.raises(OutlierSourceError, match="neither"):
        ood.load_outlier_source(tmp_path / "nowhere", 5, np.random.default_rng(0))
    with pytest.raises(OutlierSourceError, match="unknown synthetic"):
        ood.synthetic_outliers("uniform", 5, np.random.default_rng(0))


def test_array_sources(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "pics.npy", array)
    from_file = ood.load_outlier_source(tmp_path / "pics.npy", 5, np.random.default_rng(0))
    assert from_file.name == "pics" and from_file.images.shape == (4, 32, 32, 3)
    in_memory = ood.load_outlier_source(np.full((3, 32, 32, 3), 0.25), 5, None)
    assert in_memory.images.dtype == np.float32 and in_memory.images.shape == (3, 32, 32, 3)
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        ood.prepare_outlier_array(np.zeros((0, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ood.prepare_outlier_array(np.full((1, 32, 32, 3), 2.0))


def test_msp_measures_treat_low_confidence_as_anomalous():
    normal = np.array([0.99, 0.95, 0.9, 0.97])
    outliers = np.array([0.3, 0.5, 0.4])
    measures = ood.msp_measures(normal, outliers)
    assert (measures.auroc, measures.aupr, measures.fpr_at_95_tpr) == (1.0, 1.0, 0.0)
    reversed_measures = ood.msp_measures(outliers, normal)
    assert reversed_measures.auroc == 0.0
    mean = ood.summarize([measures, reversed_measures])
    assert mean.auroc == pytest.approx(0.5)


@pytest.mark.parametrize("size", [(64, 48), (10, 20), (33, 100), (47, 31), (32, 32)])
def test_folder_images_are_resized_as_torchvision_resize_then_center_crop(size):
    import torchvision.transforms as T

    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    expected = np.asarray(T.Compose([T.Resize(32), T.CenterCrop(32)])(image))
    np.testing.assert_array_equal(ood._resize_center_crop(image, 32), expected)
