"""make-c: ImageNet-C / C-bar folder layouts for any ImageFolder; make-cifar-c with C-bar names."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import hendrycks_reference as ref
import numpy as np
import pytest
from PIL import Image

from ipmix.cli import main as cli_main
from ipmix.corruptions.cbar import corrupt_bar
from ipmix.corruptions.cbar.levels import CIFAR_CBAR
from ipmix.corruptions.imagenet_c import corrupt
from ipmix.corruptions.imagenet_c.presets import CIFAR, IMAGENET, CorruptionError
from ipmix.corruptions.writers import cifar
from ipmix.corruptions.writers.cifar import BenchmarkFileError, make_cifar_c
from ipmix.corruptions.writers.folder_c import (
    JPEG_QUALITY,
    image_stream,
    input_fingerprint,
    jpeg_bytes,
    list_inputs,
    make_c_folder,
    output_name,
    prepare_image,
)
from ipmix.corruptions.writers.folder_p import make_p_folder
from ipmix.data.cifar import DataNotFoundError
from ipmix.data.folders import FolderDataError


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory):
    """A tiny ImageFolder: two classes, a PNG, JPEGs and one image in a sub-folder."""
    root = tmp_path_factory.mktemp("images")
    photos = ref.photos(3, size=300)
    (root / "n01" / "more").mkdir(parents=True)
    (root / "n02").mkdir()
    Image.fromarray(photos[0][:, :260]).save(root / "n01" / "a.png")
    Image.fromarray(photos[1]).save(root / "n01" / "more" / "b.JPEG", quality=95)
    Image.fromarray(photos[2][:280]).save(root / "n02" / "c.jpg", quality=95)
    return root


NAMES = ["contrast", "gaussian_noise", "sparkles"]


def test_layout_contents_and_seeding(folder, tmp_path) -> None:
    summary = make_c_folder(folder, tmp_path, corruptions=NAMES, severities=[1, 3], seed=7, progress=False)
    assert (summary.written, summary.skipped, summary.images) == (18, 0, 3)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert "contrast/3/n01/a.jpg" in files and "gaussian_noise/1/n01/b.JPEG" in files
    assert "sparkles/3.00/n02/c.jpg" in files and "sparkles/1.00/n01/b.JPEG" in files  # C-bar levels
    assert len(files) == 19 and "ipmix-meta.json" in files
    meta = json.loads((tmp_path / "ipmix-meta.json").read_text())
    assert meta == {"kind": "folder-c", "preset": "imagenet", "seed": 7, "jpeg_quality": JPEG_QUALITY,
                    "inputs_sha256": input_fingerprint(list_inputs(folder, False))}
    # each file: the corruption of the Resize(256) + CenterCrop(224) image, own stream, JPEG 85
    image = prepare_image(folder / "n01" / "more" / "b.JPEG", 224, 256)
    rng = image_stream(7, "gaussian_noise", 3, "n01/more/b.JPEG")
    expected = corrupt(image[None], "gaussian_noise", 3, rng, preset="imagenet")[0]
    assert (tmp_path / "gaussian_noise/3/n01/b.JPEG").read_bytes() == jpeg_bytes(expected)
    rng = image_stream(7, "sparkles", 3, "n02/c.jpg")
    expected = corrupt_bar(prepare_image(folder / "n02" / "c.jpg", 224, 256)[None], "sparkles", 3, rng,
                           preset="imagenet")[0]  # fmt: skip
    assert (tmp_path / "sparkles/3.00/n02/c.jpg").read_bytes() == jpeg_bytes(expected)
    with Image.open(tmp_path / "contrast/1/n01/a.jpg") as picture:
        assert picture.format == "JPEG" and picture.size == (224, 224)


def test_resumes_and_refuses_other_settings(folder, tmp_path) -> None:
    make_c_folder(folder, tmp_path, corruptions=["contrast"], severities=[2], progress=False)
    again = make_c_folder(folder, tmp_path, corruptions=["contrast"], severities=[2], progress=False)
    assert (again.written, again.skipped) == (0, 3)
    (tmp_path / "contrast/2/n02/c.jpg").unlink()
    assert (
        make_c_folder(folder, tmp_path, corruptions=["contrast"], severities=[2], progress=False).written == 1
    )
    with pytest.raises(BenchmarkFileError, match="other inputs"):
        make_c_folder(folder, tmp_path, corruptions=["contrast"], seed=1, progress=False)
    with pytest.raises(BenchmarkFileError, match="other inputs"):
        make_c_folder(folder, tmp_path, corruptions=["contrast"], preset="cifar", progress=False)


def contents(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by its path under it."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_results_do_not_depend_on_the_number_of_workers(folder, tmp_path) -> None:
    kwargs = {"corruptions": ["impulse_noise", "checkerboard_cutout"], "severities": [5], "progress": False}
    make_c_folder(folder, tmp_path / "one", workers=1, **kwargs)
    make_c_folder(folder, tmp_path / "two", workers=2, **kwargs)
    assert len(contents(tmp_path / "one")) == 7
    assert contents(tmp_path / "one") == contents(tmp_path / "two")


def test_an_unregistered_preset_runs_in_workers_and_is_recorded_by_its_parameters(folder, tmp_path) -> None:
    small = replace(IMAGENET, name="imagenet-64", source="test", size=64, resize=73)
    kwargs = {"preset": small, "corruptions": ["impulse_noise", "sparkles"], "severities": [2]}
    kwargs["progress"] = False
    make_c_folder(folder, tmp_path / "one", workers=1, **kwargs)
    make_c_folder(folder, tmp_path / "two", workers=2, **kwargs)
    files = contents(tmp_path / "one")
    assert len(files) == 7 and files == contents(tmp_path / "two")
    rng = image_stream(0, "impulse_noise", 2, "n01/more/b.JPEG")
    image = prepare_image(folder / "n01/more/b.JPEG", 64, 73)[None]
    expected = corrupt(image, "impulse_noise", 2, rng, preset=small)
    assert files["impulse_noise/2/n01/b.JPEG"] == jpeg_bytes(expected[0])
    meta = json.loads(files["ipmix-meta.json"])
    assert (meta["preset"], meta["preset_sha256"]) == ("imagenet-64", small.parameters_sha256())
    again = make_c_folder(folder, tmp_path / "two", workers=2, **{**kwargs, "preset": replace(small)})
    assert (again.written, again.skipped) == (0, 6)  # an equal preset built anew resumes the folder
    other = replace(small, elastic_unit=70)
    refused = rf"other inputs.*'preset_sha256': '{small.parameters_sha256()}'.*'{other.parameters_sha256()}'"
    with pytest.raises(BenchmarkFileError, match=refused):
        make_c_folder(folder, tmp_path / "two", **{**kwargs, "preset": other})


def test_a_registered_name_with_other_constants_is_refused(folder, tmp_path) -> None:
    make_c_folder(folder, tmp_path, preset="cifar", corruptions=["contrast"], severities=[1], progress=False)
    with pytest.raises(BenchmarkFileError, match="other inputs.*'preset': 'cifar', 'preset_sha256'"):
        make_c_folder(folder, tmp_path, preset=replace(CIFAR, frost_scale=0.25), corruptions=["contrast"],
                      severities=[1], progress=False)  # fmt: skip


def test_cifar_preset_on_a_folder(folder, tmp_path) -> None:
    make_c_folder(
        folder, tmp_path, preset="cifar", corruptions=["lines", "fog"], severities=[4], progress=False
    )
    with Image.open(tmp_path / "lines/2.00/n02/c.jpg") as picture:
        assert picture.size == (32, 32)
    assert (tmp_path / "fog/4/n01/a.jpg").is_file()


def test_input_errors(folder, tmp_path) -> None:
    with pytest.raises(DataNotFoundError, match="image folder not found"):
        make_c_folder(tmp_path / "missing", tmp_path / "o", corruptions=["contrast"], progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderDataError, match="no class folders"):
        make_c_folder(tmp_path / "empty", tmp_path / "o", corruptions=["contrast"], progress=False)
    clash = tmp_path / "clash"
    (clash / "c").mkdir(parents=True)
    for name in ("x.png", "x.jpg"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(clash / "c" / name)
    with pytest.raises(FolderDataError, match=r"x\.jpg and .*x\.png would both be written as c/x\.jpg"):
        make_c_folder(clash, tmp_path / "out", corruptions=["contrast"], progress=False)
    with pytest.raises(CorruptionError, match="unknown corruption.*lines for preset 'imagenet'"):
        make_c_folder(folder, tmp_path / "out3", corruptions=["lines"], progress=False)
    assert output_name(folder / "n01" / "a.png") == "a.jpg"


def test_unreadable_files_are_skipped_with_a_warning_naming_them(tmp_path) -> None:
    root = tmp_path / "images"
    (root / "c").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "c" / "good.png")
    (root / "c" / "bad.jpg").write_bytes(b"not a jpeg")
    (root / "c" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="2 file.*unusable"):
        summary = make_c_folder(
            root, tmp_path / "out", corruptions=["contrast"], severities=[1], progress=False
        )
    assert summary.images == 1 and (tmp_path / "out/contrast/1/c/good.jpg").is_file()


def test_frost_is_skipped_without_textures(folder, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    with pytest.warns(UserWarning, match="skipping frost"):
        summary = make_c_folder(
            folder, tmp_path, corruptions=["frost", "contrast"], severities=[1], progress=False
        )
    assert summary.written == 3 and not (tmp_path / "frost").exists()


def test_cli_make_c(folder, tmp_path, capsys) -> None:
    code = cli_main(["make-c", "--images", str(folder), "--out", str(tmp_path), "--corruptions", "contrast",
                     "--severities", "2", "--no-progress"])  # fmt: skip
    assert (
        code == 0 and "3 image(s) written, 0 already there, from 3 source image(s)" in capsys.readouterr().out
    )
    code = cli_main(["make-c", "--images", str(folder), "--out", str(tmp_path), "--severities", "0,9"])
    assert code == 2 and "--severities must be comma-separated integers in 1..5" in capsys.readouterr().err
    code = cli_main(["make-c", "--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert code == 2 and "image folder not found" in capsys.readouterr().err


def test_make_cifar_c_writes_cbar_in_the_reference_layout(tmp_path) -> None:
    images = ref.photos(3, size=32)
    labels = np.array([3, 1, 4])
    written = make_cifar_c(
        images, labels, tmp_path, corruptions=["ripple", "contrast"], seed=2, progress=False
    )
    assert set(written) == {"ripple", "contrast"}
    stack = np.load(tmp_path / "ripple.npy").reshape(5, 3, 32, 32, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), np.tile(labels, 5))
    for severity in (1, 5):
        rng = cifar._stream(2, "ripple", severity, 0)
        np.testing.assert_array_equal(stack[severity - 1], corrupt_bar(images, "ripple", severity, rng))
    assert len(CIFAR_CBAR) == 10


def test_cli_make_cifar_c_cbar_group(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1])
    np.savez(tmp_path / "cifar10.npz", x_train=images, y_train=labels, x_test=images, y_test=labels,
             class_names=np.array([str(i) for i in range(10)]))  # fmt: skip
    code = cli_main(["make-cifar-c", "--out", str(tmp_path / "bar"), "--data", str(tmp_path),
                     "--corruptions", "cbar", "--no-progress"])  # fmt: skip
    assert code == 0 and "10 corruption file(s) of 2 images" in capsys.readouterr().out
    assert sorted(p.stem for p in (tmp_path / "bar").glob("*.npy") if p.stem != "labels") == sorted(
        CIFAR_CBAR
    )


COMMANDS = {  # the cheapest run of each maker
    "make-c": ["--corruptions", "contrast", "--severities", "1"],
    "make-p": ["--perturbations", "tilt", "--preset", "cifar"],
}


def test_outputs_inside_the_input_or_at_a_file_are_one_line_errors(folder, tmp_path, capsys) -> None:
    images = Path(shutil.copytree(folder, tmp_path / "images"))
    before = contents(images)
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for command, options in COMMANDS.items():
        for out in (images, images / "n01", images / "corrupted"):
            code = cli_main([command, "--images", str(images), "--out", str(out), *options, "--no-progress"])
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1, err
            assert f"--out {out} is inside --images {images}: what is written there would become part" in err
        for out, why in ((afile, f"{afile} is a file"), (afile / "x", f"{afile} is a file, not a folder")):
            code = cli_main([command, "--images", str(images), "--out", str(out), *options, "--no-progress"])
            err = capsys.readouterr().err
            assert code == 2 and err == f"ipmix {command}: error: cannot create folder {out}: {why}\n"
    assert contents(images) == before and not (images / "corrupted").exists()


def test_make_c_adopts_no_file_it_did_not_make(folder, tmp_path) -> None:
    kwargs = {"corruptions": ["contrast"], "severities": [1], "progress": False}
    out = tmp_path / "foreign"
    (out / "contrast" / "1" / "n02").mkdir(parents=True)
    (out / "contrast" / "1" / "n02" / "c.jpg").write_bytes(b"someone else's file")
    with pytest.raises(BenchmarkFileError, match=rf"{out} holds files but no ipmix-meta.json, so ipmix "
                       "did not make it: a file there would be taken for a finished output"):
        make_c_folder(folder, out, **kwargs)
    images = Path(shutil.copytree(folder, tmp_path / "images"))
    make_c_folder(images, tmp_path / "made", **kwargs)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(images / "n02" / "c.jpg")  # same name, new picture
    with pytest.raises(BenchmarkFileError, match=r"other inputs or settings \(differing: inputs_sha256;"):
        make_c_folder(images, tmp_path / "made", **kwargs)
    root = tmp_path / "dataset"
    for split in ("train", "val"):
        shutil.copytree(folder, root / split)
    with pytest.raises(FolderDataError, match=rf"{root} looks like a dataset root: its folders train, val "
                       rf"are splits, not classes; give one split, e.g. --images {root / 'val'}"):
        make_c_folder(root, tmp_path / "split", **kwargs)
    with pytest.raises(FolderDataError, match="looks like a dataset root"):
        make_p_folder(root, tmp_path / "split", perturbations=["tilt"], preset="cifar", progress=False)
