"""One-line errors naming the file: unwritable outputs, damaged arrays and images, absent devices."""

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ipmix.data.cifar import load_cifar_npz
from ipmix.utils.devices import DeviceUnavailableError, torch_device
from ipmix.utils.io import (
    OutputPathError,
    UnreadableFileError,
    atomic_write_bytes,
    file_mode,
    make_dirs,
    open_image,
    reading,
)

SRC = str(Path(__file__).parents[2] / "src")


def test_outputs_under_a_file_name_the_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OutputPathError, match=rf"cannot create folder {blocker}/x: {blocker} is a file"):
        atomic_write_bytes(blocker / "x" / "out.json", b"{}")
    with pytest.raises(OutputPathError, match=rf"cannot create folder {blocker}: {blocker} is a file"):
        make_dirs(blocker)
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputPathError, match="it is a folder"):
        atomic_write_bytes(tmp_path / "folder", b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "folder"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputPathError, match=rf"cannot write {locked}/out.bin: Permission denied"):
            atomic_write_bytes(locked / "out.bin", b"x")
    finally:
        locked.chmod(0o700)


def test_written_files_get_the_umask_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o640 == file_mode()
    finally:
        os.umask(previous)


def _damaged_files(tmp_path: Path) -> dict[str, Path]:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_test=np.zeros((4, 32, 32, 3), np.uint8), y_test=np.zeros(4, np.int64))
    whole = buffer.getvalue()
    files = {"truncated": whole[: len(whole) // 2], "garbage": b"not an archive at all"}
    flipped = bytearray(whole)
    middle = len(flipped) // 3
    flipped[middle : middle + 16] = bytes(16)  # a damaged member: the CRC no longer matches
    files["bad-crc"] = bytes(flipped)
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.npz"
        paths[name].write_bytes(data)
    return paths


def test_damaged_cifar_npz_is_one_error_naming_the_file(tmp_path):
    for name, path in _damaged_files(tmp_path).items():
        with pytest.raises(UnreadableFileError, match=rf"cannot read CIFAR file {path}: "):
            load_cifar_npz(path, "test")
        assert name  # every kind of damage gives the same one-line error


def test_truncated_npy_inside_reading_names_the_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((10, 8, 8, 3), np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UnreadableFileError, match=rf"cannot read array {path}"), reading(path, "array"):
        np.load(path, allow_pickle=False)


def test_image_that_passes_verify_but_cannot_decode_is_named(tmp_path):
    from skimage.data import astronaut

    buffer = io.BytesIO()
    Image.fromarray(astronaut()[:64, :64]).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with Image.open(path) as image:
        image.verify()  # the header is fine: the damage only shows when decoding
    with pytest.raises(UnreadableFileError, match=rf"cannot read image {path}: image file is truncated"):
        open_image(path)


def test_the_meta_device_is_refused_by_name():
    """torch accepts tensors on "meta" (shapes only): training or evaluating there used to end
    in "Tensor.item() cannot be called on meta tensors"."""
    with pytest.raises(DeviceUnavailableError, match="--device 'meta' holds shapes, not values"):
        torch_device("meta", "--device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA")
def test_cuda_without_cuda_is_named_before_any_work(tmp_path):
    with pytest.raises(DeviceUnavailableError, match="'cuda' asked for, but torch finds no CUDA GPU"):
        torch_device("cuda")
    with pytest.raises(DeviceUnavailableError, match="unknown --device 'gpu0'"):
        torch_device("gpu0", "--device")
    assert torch_device("cpu") == torch.device("cpu")

    from ipmix.models import build_model, load_classifier, make_checkpoint

    checkpoint = tmp_path / "final.pt"
    torch.save(make_checkpoint(build_model("small", 10), "small", 10, "cifar10"), checkpoint)
    with pytest.raises(ValueError, match=rf"cannot put the model of {checkpoint} on device 'cuda'"):
        load_classifier(checkpoint, map_location="cuda")
    done = subprocess.run(
        [sys.executable, "-m", "ipmix", "evaluate", str(tmp_path), "--device", "cuda", "--n", "2"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ipmix evaluate: error: --device 'cuda' asked for, but torch finds no CUDA GPU here "
        f"(torch {torch.__version__}, torch.cuda.is_available() is False); use cpu"
    ]
