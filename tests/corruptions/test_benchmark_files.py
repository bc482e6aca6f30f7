"""Writing the official CIFAR-C / CIFAR-P file layouts: cached, resumable, error paths (the readers
are tested in tests/robustness/test_cifar_readers.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from ipmix.cli import main as cli_main
from ipmix.corruptions.imagenet_c import CorruptionError, FrostTexturesNotFoundError, corrupt
from ipmix.corruptions.perturbations import PerturbationError, perturb_sequence
from ipmix.corruptions.writers import cifar
from ipmix.corruptions.writers.cifar import BenchmarkFileError, make_cifar_c, make_cifar_p

NAMES = ["gaussian_noise", "contrast"]


def tiny_images(count: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
    return images, rng.integers(0, 10, size=count).astype(np.int64)


# ------------------------------------------------------------------------ CIFAR-C


def test_make_cifar_c_official_layout(tmp_path) -> None:
    images, labels = tiny_images()
    written = make_cifar_c(images, labels, tmp_path, corruptions=NAMES, seed=3, progress=False)
    assert set(written) == set(NAMES)
    raw = np.load(tmp_path / "gaussian_noise.npy")
    assert raw.shape == (15, 32, 32, 3) and raw.dtype == np.uint8
    raw_labels = np.load(tmp_path / "labels.npy")
    assert raw_labels.dtype == np.uint8
    np.testing.assert_array_equal(raw_labels, np.tile(labels, 5))
    stack = raw.reshape(5, 3, 32, 32, 3)
    # severity s is block s - 1, made with that part's own generator
    for severity in (1, 5):
        rng = cifar._stream(3, "gaussian_noise", severity, 0)
        np.testing.assert_array_equal(stack[severity - 1], corrupt(images, "gaussian_noise", severity, rng))
    assert not (tmp_path / cifar.PARTS_DIR).exists()


def test_make_cifar_c_is_cached(tmp_path, monkeypatch) -> None:
    images, labels = tiny_images()
    make_cifar_c(images, labels, tmp_path, corruptions=NAMES, progress=False)
    before = (tmp_path / "contrast.npy").stat().st_mtime_ns

    def refuse(*args, **kwargs):
        raise AssertionError("a finished corruption was computed again")

    monkeypatch.setattr(cifar, "corrupt", refuse)
    make_cifar_c(images, labels, tmp_path, corruptions=NAMES, progress=False)
    assert (tmp_path / "contrast.npy").stat().st_mtime_ns == before


def test_make_cifar_c_resumes_to_the_same_result(tmp_path, monkeypatch) -> None:
    images, labels = tiny_images()
    make_cifar_c(images, labels, tmp_path / "whole", corruptions=NAMES, progress=False)
    calls = {"count": 0}

    def crash_after_three(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] > 3:
            raise KeyboardInterrupt
        return corrupt(*args, **kwargs)

    monkeypatch.setattr(cifar, "corrupt", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        make_cifar_c(images, labels, tmp_path / "resumed", corruptions=NAMES, progress=False)
    parts = sorted(p.name for p in (tmp_path / "resumed" / cifar.PARTS_DIR).iterdir())
    assert parts == ["gaussian_noise-s1.npy", "gaussian_noise-s2.npy", "gaussian_noise-s3.npy"]
    assert not (tmp_path / "resumed" / "gaussian_noise.npy").exists()
    monkeypatch.setattr(cifar, "corrupt", corrupt)
    make_cifar_c(images, labels, tmp_path / "resumed", corruptions=NAMES, progress=False)
    for name in NAMES:
        np.testing.assert_array_equal(
            np.load(tmp_path / "whole" / f"{name}.npy"), np.load(tmp_path / "resumed" / f"{name}.npy")
        )


def test_make_cifar_c_refuses_a_folder_made_from_other_inputs(tmp_path) -> None:
    images, labels = tiny_images()
    make_cifar_c(images, labels, tmp_path, corruptions=["contrast"], seed=0, progress=False)
    with pytest.raises(BenchmarkFileError, match="other inputs"):
        make_cifar_c(images, labels, tmp_path, corruptions=["contrast"], seed=1, progress=False)
    with pytest.raises(BenchmarkFileError, match=r"other inputs or settings \(differing: count, inputs_sha"):
        make_cifar_c(images[:2], labels[:2], tmp_path, corruptions=["contrast"], progress=False)
    with pytest.raises(BenchmarkFileError, match="other inputs"):  # same labels, other pixels
        make_cifar_c(255 - images, labels, tmp_path, corruptions=["contrast"], progress=False)


def test_make_cifar_c_input_errors(tmp_path) -> None:
    images, labels = tiny_images()
    with pytest.raises(BenchmarkFileError, match="2 labels for 3 images"):
        make_cifar_c(images, labels[:2], tmp_path, corruptions=["contrast"], progress=False)
    with pytest.raises(CorruptionError, match="unknown corruption"):
        make_cifar_c(images, labels, tmp_path, corruptions=["rain"], progress=False)


def test_make_cifar_c_frost_without_textures(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    images, labels = tiny_images()
    with pytest.warns(UserWarning, match="skipping frost"):
        written = make_cifar_c(images, labels, tmp_path, corruptions=["frost", "contrast"], progress=False)
    assert set(written) == {"contrast"} and not (tmp_path / "frost.npy").exists()
    with pytest.raises(FrostTexturesNotFoundError):
        make_cifar_c(images, labels, tmp_path, corruptions=["frost"], progress=False, require_frost=True)


# ------------------------------------------------------------------------ CIFAR-P


def test_make_cifar_p(tmp_path) -> None:
    images, labels = tiny_images(2)
    names = ["translate", "gaussian_noise"]
    written = make_cifar_p(images, tmp_path, perturbations=names, seed=4, progress=False)
    assert set(written) == set(names)
    sequences = np.load(tmp_path / "translate.npy")
    assert sequences.shape == (2, 16, 32, 32, 3) and sequences.dtype == np.uint8
    np.testing.assert_array_equal(sequences[1], perturb_sequence(images[1], "translate", None))
    noise = np.load(tmp_path / "gaussian_noise.npy")
    assert noise.shape == (2, 31, 32, 32, 3)
    rng = cifar._stream(4, "gaussian_noise", 0, 0)
    expected = [perturb_sequence(image, "gaussian_noise", rng) for image in images]
    np.testing.assert_array_equal(noise, np.stack(expected))
    assert not (tmp_path / "labels.npy").exists()  # official layout: no labels


def test_make_cifar_p_labels_and_errors(tmp_path) -> None:
    images, labels = tiny_images(2)
    make_cifar_p(images, tmp_path, perturbations=["tilt"], progress=False, labels=labels)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), labels)
    with pytest.raises(PerturbationError, match="unknown perturbation"):
        make_cifar_p(images, tmp_path, perturbations=["shear"], progress=False)
    with pytest.raises(BenchmarkFileError, match="1 labels for 2 images"):
        make_cifar_p(images, tmp_path / "x", perturbations=["tilt"], progress=False, labels=labels[:1])


# ------------------------------------------------------------------------ command line


def write_cifar_npz(folder, count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    images, labels = tiny_images(count, seed=9)
    buffer = io.BytesIO()
    np.savez(
        buffer, x_train=images, y_train=labels, x_test=images, y_test=labels,
        class_names=np.array([str(i) for i in range(10)]),
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cifar10.npz").write_bytes(buffer.getvalue())
    return images, labels


def test_cli_make_cifar_c_and_p(tmp_path, capsys) -> None:
    images, labels = write_cifar_npz(tmp_path / "data")
    out = tmp_path / "c"
    code = cli_main(
        ["make-cifar-c", "--out", str(out), "--data", str(tmp_path / "data"), "--n", "3",
         "--corruptions", "contrast,pixelate", "--no-progress"]
    )  # fmt: skip
    assert code == 0 and "2 corruption file(s) of 3 images" in capsys.readouterr().out
    assert np.load(out / "pixelate.npy").shape == (15, 32, 32, 3)
    np.testing.assert_array_equal(np.load(out / "labels.npy"), np.tile(labels[:3], 5))
    code = cli_main(
        ["make-cifar-p", "--out", str(tmp_path / "p"), "--data", str(tmp_path / "data"),
         "--perturbations", "rotate", "--no-progress"]
    )  # fmt: skip
    assert code == 0 and np.load(tmp_path / "p" / "rotate.npy").shape == (4, 31, 32, 32, 3)


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    write_cifar_npz(tmp_path / "data")
    code = cli_main(
        ["make-cifar-c", "--out", str(tmp_path / "c"), "--data", str(tmp_path / "data"),
         "--corruptions", "rain", "--no-progress"]
    )  # fmt: skip
    assert code == 2 and "unknown name 'rain'" in capsys.readouterr().err
    code = cli_main(
        ["make-cifar-c", "--out", str(tmp_path / "c"), "--data", str(tmp_path / "data"),
         "--corruptions", "frost", "--require-frost", "--frost", str(tmp_path), "--no-progress"]
    )  # fmt: skip
    assert code == 2 and "frost textures" in capsys.readouterr().err


def test_make_cifar_c_never_overwrites_other_labels(tmp_path) -> None:
    """Generating a missing corruption into an official folder keeps its labels.npy; a folder
    whose labels belong to other images is refused before anything is written."""
    images, labels = tiny_images()
    np.save(tmp_path / "labels.npy", np.tile(labels, 5).astype(np.uint8))  # official form
    make_cifar_c(images, labels, tmp_path, corruptions=["contrast"], progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), np.tile(labels, 5))
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "labels.npy", np.zeros(50000, np.uint8))
    with pytest.raises(BenchmarkFileError, match="holds other labels"):
        make_cifar_c(images, labels, other, corruptions=["contrast"], progress=False)
    assert not (other / "contrast.npy").exists() and not (other / cifar.META_FILE).exists()


def test_a_refused_folder_gets_no_labels_file(tmp_path) -> None:
    """`evaluate --cifar-c DIR --generate` on a folder made from other inputs (here a make-c
    folder) is refused before labels.npy is written into it."""
    images, labels = tiny_images()
    (tmp_path / cifar.META_FILE).write_text('{"kind": "folder-c", "seed": 0}')
    with pytest.raises(BenchmarkFileError, match="generated from other inputs or settings "
                       r"\(differing: chunk, count, inputs_sha256, kind;"):
        make_cifar_c(images, labels, tmp_path, corruptions=["contrast"], progress=False)
    with pytest.raises(BenchmarkFileError, match="other inputs"):
        make_cifar_p(images, tmp_path, perturbations=["tilt"], labels=labels, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [cifar.META_FILE]
