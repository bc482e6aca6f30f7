"""ImageNet-P: sequences against a transcription of make_imagenet_p.py; make-p videos."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import av
import cv2
import hendrycks_p_reference as ref
import numpy as np
import pytest
import skimage.data
from PIL import Image
from torchvision.transforms import functional as tvf

from ipmix.cli import main as cli_main
from ipmix.corruptions.perturbations import (
    IMAGENET_HARDER_NOISE,
    IMAGENET_PERTURBATIONS,
    IMAGENET_VALIDATION_PERTURBATIONS,
    PerturbationError,
    frame_count,
    perturb_sequence,
)
from ipmix.corruptions.perturbations.presets import IMAGENET_P, PerturbationPreset
from ipmix.corruptions.writers.cifar import BenchmarkFileError
from ipmix.corruptions.writers.folder_c import image_stream, prepare_image
from ipmix.corruptions.writers.folder_p import make_p_folder
from ipmix.corruptions.writers.video import VideoError, encode_video


@pytest.fixture(scope="module")
def resized() -> Image.Image:
    """A real photo after ImageNet-P's Resize(256): 384 x 256, not square."""
    return tvf.resize(Image.fromarray(skimage.data.coffee()), 256)


def test_names_and_frame_counts() -> None:
    assert len(IMAGENET_PERTURBATIONS) == 10 and len(IMAGENET_VALIDATION_PERTURBATIONS) == 4
    assert set(IMAGENET_P.table) == set(IMAGENET_PERTURBATIONS + IMAGENET_VALIDATION_PERTURBATIONS
                                        + IMAGENET_HARDER_NOISE)  # fmt: skip
    assert IMAGENET_HARDER_NOISE == (
        "gaussian_noise_2", "gaussian_noise_3", "shot_noise_2", "shot_noise_3",
        "speckle_noise_2", "speckle_noise_3",
    )  # fmt: skip
    assert frame_count("translate", "imagenet") == 41 and frame_count("motion_blur", "imagenet") == 31
    assert frame_count("motion_blur") == 21  # CIFAR-P


@pytest.mark.parametrize("name", list(IMAGENET_P.table))
def test_imagenet_p_matches_the_reference(name: str, resized) -> None:
    expected = np.stack(ref.frames(resized, name, np.random.default_rng(4)))
    ours = perturb_sequence(np.asarray(resized), name, np.random.default_rng(4), preset="imagenet")
    assert ours.shape == (frame_count(name, "imagenet"), 224, 224, 3)
    np.testing.assert_array_equal(ours, expected)


def test_imagenet_p_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(PerturbationError, match="crop 224 x 224 frames; the image is 200 x 300"):
        perturb_sequence(np.zeros((300, 200, 3), np.uint8), "rotate", rng, preset="imagenet")
    with pytest.raises(PerturbationError, match="unknown perturbation 'snow'"):
        perturb_sequence(np.zeros((32, 32, 3), np.uint8), "snow", rng)  # not a CIFAR-P one
    with pytest.raises(PerturbationError, match="unknown perturbation preset 'svhn'"):
        perturb_sequence(np.zeros((32, 32, 3), np.uint8), "rotate", rng, preset="svhn")


def decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_lossless_video_round_trip_with_pyav_and_opencv(tmp_path) -> None:
    frames = perturb_sequence(ref.c_ref.photos(1, size=32)[0], "rotate", None)
    data = encode_video(frames)
    np.testing.assert_array_equal(decode(data), frames)
    (tmp_path / "v.mp4").write_bytes(data)
    capture = cv2.VideoCapture(str(tmp_path / "v.mp4"))  # the reference's video_loader.py
    read = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        read.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    np.testing.assert_array_equal(np.stack(read), frames)
    lossy = decode(encode_video(frames, crf=20))
    assert lossy.shape == frames.shape and np.abs(lossy.astype(int) - frames).mean() < 3
    with pytest.raises(VideoError, match=r"uint8 \[F, H, W, 3\]"):
        encode_video(frames[0])
    with pytest.raises(VideoError, match="crf must lie in 0..51"):
        encode_video(frames, crf=80)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("p_images")
    (root / "n01").mkdir()
    (root / "n02").mkdir()
    photos = ref.c_ref.photos(2, size=300)
    Image.fromarray(photos[0][:, :270]).save(root / "n01" / "x_1.JPEG", quality=95)
    Image.fromarray(photos[1]).save(root / "n02" / "y.png")
    return root


def test_make_p_layout_frames_and_resume(folder, tmp_path) -> None:
    summary = make_p_folder(folder, tmp_path, perturbations=["translate", "gaussian_noise_2"], seed=3,
                            progress=False)  # fmt: skip
    assert (summary.written, summary.skipped) == (4, 0)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.mp4"))
    assert files == ["gaussian_noise_2/n01/x_1.mp4", "gaussian_noise_2/n02/y.mp4",
                     "translate/n01/x_1.mp4", "translate/n02/y.mp4"]  # fmt: skip
    image = prepare_image(folder / "n01" / "x_1.JPEG", 224, 256, crop=False)
    assert (
        min(image.shape[:2]) == 256 and max(image.shape[:2]) > 256
    )  # Resize(256) only: perturbed, then cropped
    rng = image_stream(3, "gaussian_noise_2", 0, "n01/x_1.JPEG")
    expected = perturb_sequence(image, "gaussian_noise_2", rng, preset="imagenet")
    np.testing.assert_array_equal(decode((tmp_path / "gaussian_noise_2/n01/x_1.mp4").read_bytes()), expected)
    assert decode((tmp_path / "translate/n02/y.mp4").read_bytes()).shape == (41, 224, 224, 3)
    assert json.loads((tmp_path / "ipmix-meta.json").read_text())["codec"] == "libx264rgb"
    again = make_p_folder(folder, tmp_path, perturbations=["translate"], seed=3, progress=False)
    assert (again.written, again.skipped) == (0, 2)
    with pytest.raises(BenchmarkFileError, match="other inputs"):
        make_p_folder(folder, tmp_path, perturbations=["translate"], seed=3, crf=20, progress=False)
    with pytest.raises(PerturbationError, match="unknown perturbation.*snow for preset 'cifar'"):
        make_p_folder(folder, tmp_path / "c", preset="cifar", perturbations=["snow"], progress=False)


def test_an_unregistered_preset_runs_in_workers_and_is_recorded_by_its_parameters(folder, tmp_path) -> None:
    small = PerturbationPreset(name="imagenet-p-32", source="test", size=32, resize=37,
                               table=IMAGENET_P.table)  # fmt: skip
    kwargs = {"preset": small, "perturbations": ["rotate", "shot_noise_2"], "seed": 5, "progress": False}
    make_p_folder(folder, tmp_path / "one", workers=1, **kwargs)
    make_p_folder(folder, tmp_path / "two", workers=2, **kwargs)
    one = tmp_path / "one"
    files = {p.relative_to(one).as_posix(): p.read_bytes() for p in one.rglob("*.mp4")}
    assert len(files) == 4
    assert all((tmp_path / "two" / relative).read_bytes() == data for relative, data in files.items())
    image = prepare_image(folder / "n02" / "y.png", 32, 37, crop=False)
    expected = perturb_sequence(image, "rotate", image_stream(5, "rotate", 0, "n02/y.png"), preset=small)
    np.testing.assert_array_equal(decode(files["rotate/n02/y.mp4"]), expected)
    meta = json.loads((tmp_path / "two" / "ipmix-meta.json").read_text())
    assert (meta["preset"], meta["preset_sha256"]) == ("imagenet-p-32", small.parameters_sha256())
    other = replace(small, table={**small.table, "rotate": {"step": 2.0}})
    refused = f"other inputs.*'preset_sha256': '{other.parameters_sha256()}'"
    with pytest.raises(BenchmarkFileError, match=refused):
        make_p_folder(folder, tmp_path / "two", **{**kwargs, "preset": other})


def test_cli_make_p_cifar(folder, tmp_path, capsys) -> None:
    code = cli_main(["make-p", "--images", str(folder), "--out", str(tmp_path), "--preset", "cifar",
                     "--perturbations", "tilt,spatter", "--no-progress"])  # fmt: skip
    assert code == 0 and "4 video(s) written" in capsys.readouterr().out
    assert decode((tmp_path / "spatter/n02/y.mp4").read_bytes()).shape == (31, 32, 32, 3)
    code = cli_main(["make-p", "--images", str(folder), "--out", str(tmp_path / "x"),
                     "--perturbations", "shear", "--preset", "cifar"])  # fmt: skip
    assert code == 2 and "unknown name 'shear'" in capsys.readouterr().err
