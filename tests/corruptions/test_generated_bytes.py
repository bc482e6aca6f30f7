"""What the generators write, byte for byte: small CIFAR-C, CIFAR-P, make-c and make-p sets with
fixed seeds, hashed and compared with digests recorded before the corruption code moved into
``ipmix.corruptions`` (issue 26). A refactoring must leave these digests alone.

The inputs are built from numpy arrays only (``synthetic.py``: PNG files, synthetic frost
textures in PNG form), so the digests depend on the generators and on the libraries they call
(numpy's PCG64 streams, OpenCV, Pillow's JPEG encoder, x264), not on downloaded data. After a
deliberate change of output, or an upgrade of one of those libraries, run this file with
``IPMIX_PRINT_DIGESTS=1`` and ``-s`` to print the new digests.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import frost_textures, smooth_images

from ipmix.corruptions.cbar.levels import CBAR_LEVELS, CIFAR_CBAR
from ipmix.corruptions.imagenet_c import ALL_CORRUPTIONS
from ipmix.corruptions.perturbations import PERTURBATIONS
from ipmix.corruptions.writers.cifar import make_cifar_c, make_cifar_p
from ipmix.corruptions.writers.folder_c import make_c_folder
from ipmix.corruptions.writers.folder_p import make_p_folder

pytestmark = pytest.mark.slow


def _digest(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _digests_by_top_folder(root: Path) -> dict[str, str]:
    groups: dict[str, list[Path]] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.name != "ipmix-meta.json":
            groups.setdefault(path.relative_to(root).parts[0], []).append(path)
    return {name: _digest(files, root) for name, files in sorted(groups.items())}


def _check(found: dict[str, str], recorded: dict[str, str]) -> None:
    if os.environ.get("IPMIX_PRINT_DIGESTS"):
        print(found)
    differing = sorted(k for k in {*found, *recorded} if found.get(k) != recorded.get(k))
    assert not differing, f"outputs changed: {differing}"


@pytest.fixture(scope="module")
def frost(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frost_textures(tmp_path_factory.mktemp("textures") / "frost", [(240, 260)] * 5)


CIFAR_C = {
    "blue_noise_sample.npy": "f9b5d73cf97746b8",
    "brightness.npy": "db1c7253186dacf8",
    "brownish_noise.npy": "e79288457bf88f4e",
    "checkerboard_cutout.npy": "6d7a98176af7baff",
    "circular_motion_blur.npy": "2b274a54f4b7f026",
    "contrast.npy": "51470bd804eb570c",
    "defocus_blur.npy": "26e5e53ff7763b5e",
    "elastic_transform.npy": "620562e59075e280",
    "fog.npy": "9a8df7b12f1f8620",
    "frost.npy": "5e7a01b533357963",
    "gaussian_blur.npy": "26738c3a9fe9b13d",
    "gaussian_noise.npy": "631836641c02eb1d",
    "glass_blur.npy": "bf612e9225e13a2f",
    "impulse_noise.npy": "00d88b81585e7fc8",
    "inverse_sparkles.npy": "06a56c7925cbb3b1",
    "jpeg_compression.npy": "42d51ee5b988a1ae",
    "labels.npy": "5eac5eccdcdde278",
    "lines.npy": "c20af7c5bade2752",
    "motion_blur.npy": "35fbf26774d7a66e",
    "pinch_and_twirl.npy": "13fe39290eb261a0",
    "pixelate.npy": "2d00e4b223064f6b",
    "ripple.npy": "be6d6e314cd5ea89",
    "saturate.npy": "157cc593e245d6d7",
    "shot_noise.npy": "c8f39dca1b5b609f",
    "snow.npy": "cf03de962e59d8a6",
    "sparkles.npy": "9f5b1d10cc7fe907",
    "spatter.npy": "5126edf13ebcaa92",
    "speckle_noise.npy": "f0d72e2ca9a0fb7b",
    "transverse_chromatic_abberation.npy": "ca8c70671374ec29",
    "zoom_blur.npy": "1c82559b657c389d",
}


def test_cifar_c_bytes(tmp_path, frost) -> None:
    images = smooth_images(3, 32, 32, seed=1)
    labels = np.array([3, 0, 7])
    make_cifar_c(images, labels, tmp_path, corruptions=ALL_CORRUPTIONS + CIFAR_CBAR, frost_dir=frost,
                 seed=11, progress=False, require_frost=True)
    _check(_digests_by_top_folder(tmp_path), CIFAR_C)


CIFAR_P = {
    "brightness.npy": "13d6bedca6d8a904",
    "gaussian_noise.npy": "49a46d7ba681b076",
    "labels.npy": "65a6f1ddfd5467b5",
    "motion_blur.npy": "19727f5db2d07b59",
    "rotate.npy": "64c5e68bf70eecc3",
    "scale.npy": "3face01831d90efe",
    "shot_noise.npy": "06e7b5d357730ba3",
    "spatter.npy": "ab11ca6ba1afc787",
    "tilt.npy": "79a6b10b6620f3e2",
    "translate.npy": "3243e04d02d436e8",
    "zoom_blur.npy": "4083ee191a087e8f",
}


def test_cifar_p_bytes(tmp_path) -> None:
    images = smooth_images(2, 32, 32, seed=2)
    make_cifar_p(images, tmp_path, perturbations=PERTURBATIONS, seed=12, progress=False,
                 labels=np.array([1, 2]))
    _check(_digests_by_top_folder(tmp_path), CIFAR_P)


def _image_folder(root: Path) -> Path:
    """Two classes, three PNG images of other sizes than 224 (resized and cropped by make-c)."""
    sizes = [(300, 260), (256, 256), (230, 331)]
    for index, (height, width) in enumerate(sizes):
        folder = root / f"n0{index % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        image = smooth_images(1, height, width, seed=20 + index)[0]
        Image.fromarray(image).save(folder / f"img{index}.png")
    return root


MAKE_C = {
    "blue_noise_sample": "9447f360891359c2",
    "brightness": "1cb81c7f6cb89f12",
    "brownish_noise": "0a6abdd54986f3e1",
    "caustic_refraction": "91d893b8bf3e3a76",
    "checkerboard_cutout": "274dbdc1da6f1bf9",
    "cocentric_sine_waves": "13543691da7209bf",
    "contrast": "9d5ed3061d7310e3",
    "defocus_blur": "0ca7cfdfc46aebc7",
    "elastic_transform": "9a64192b44805909",
    "fog": "9abd594b83a32d95",
    "frost": "b6273742bf626bb5",
    "gaussian_blur": "e84fee661fe9ff03",
    "gaussian_noise": "978f55c64f169d1f",
    "glass_blur": "9206c66cacb73794",
    "impulse_noise": "dcccf1492f20c587",
    "inverse_sparkles": "b935b51d0c2a974a",
    "jpeg_compression": "6987ea80fff1bd85",
    "motion_blur": "2499593961914403",
    "perlin_noise": "0e7b8bb4dba0899c",
    "pixelate": "c3236a651eb1b2f8",
    "plasma_noise": "a975da64f34e2561",
    "saturate": "ae0deeee056367c1",
    "shot_noise": "e906210159f35c86",
    "single_frequency_greyscale": "0ceace4cbed4d533",
    "snow": "4e3cc38df5e279c1",
    "sparkles": "3db051f91a1c232b",
    "spatter": "60923889a73f6b3a",
    "speckle_noise": "18a9ad9f27abdf9b",
    "zoom_blur": "b83035c6884d71bf",
}


def test_make_c_bytes(tmp_path, frost) -> None:
    images = _image_folder(tmp_path / "images")
    names = list(ALL_CORRUPTIONS) + list(CBAR_LEVELS["imagenet"])
    make_c_folder(images, tmp_path / "c", preset="imagenet", corruptions=names, severities=[2, 5],
                  seed=13, frost_dir=frost, require_frost=True, progress=False)
    _check(_digests_by_top_folder(tmp_path / "c"), MAKE_C)


MAKE_P = {
    "brightness": "a3928ac0aa4bd104",
    "gaussian_noise": "cdb358c49ca908a3",
    "motion_blur": "699d39e3b4a0d7c1",
    "rotate": "829b646619a4078f",
    "scale": "fc1616c8badd7dd1",
    "shot_noise": "a8f785cebcf75ba4",
    "spatter": "27c7c771094c07af",
    "tilt": "d6c7426f02dc0c93",
    "translate": "59bb6e440176f5f4",
    "zoom_blur": "e322c80c3c5d9665",
}


def test_make_p_bytes(tmp_path) -> None:
    images = _image_folder(tmp_path / "images")
    make_p_folder(images, tmp_path / "p", preset="cifar", perturbations=PERTURBATIONS, seed=14,
                  progress=False)
    _check(_digests_by_top_folder(tmp_path / "p"), MAKE_P)
