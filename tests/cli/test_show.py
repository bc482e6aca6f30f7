"""`ipmix show` end to end on a tiny synthetic cifar10.npz."""

import numpy as np
import PIL.Image
import pytest

from ipmix.cli import main


@pytest.fixture()
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(10, dtype=np.int64)
    np.savez(tmp_path / "cifar10.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    return tmp_path


def test_show_writes_a_gallery(data_dir, tmp_path):
    pictures = np.random.default_rng(1).integers(0, 256, (5, 36, 36, 3), dtype=np.uint8)
    np.save(tmp_path / "pictures.npy", pictures)
    out = tmp_path / "gallery.png"
    code = main(["show", "--data", str(data_dir), "--out", str(out), "--images", "2", "--samples", "3",
                 "--mixing-set", str(tmp_path / "pictures.npy")])
    assert code == 0
    gallery = PIL.Image.open(out)
    rows = 2 + 9 + 1  # images, level/shape/mixing-op rows, mixing pictures
    assert gallery.height > rows * 64 and gallery.width > 4 * 64


def test_show_reports_missing_data_in_one_line(tmp_path, capsys):
    assert main(["show", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ipmix show: error:") and "not found" in err and "\n" not in err
