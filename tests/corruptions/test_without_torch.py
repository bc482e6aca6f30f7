"""The corruptions without torch: ``import ipmix.corruptions``, `corrupt`, the writers and the four
``make-*`` commands run in a process where torch and torchvision cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import ipmix

BLOCK_TORCH = "import sys; sys.modules.update(torch=None, torchvision=None); "


def _run(code: str, cwd: Path) -> str:
    """Run `code` in a fresh process in `cwd` that finds this ipmix and no torch."""
    paths = [str(Path(ipmix.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH + code], capture_output=True, text=True,
                            cwd=cwd, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_package_and_its_writers_import_neither_torch_nor_augment(tmp_path) -> None:
    code = (
        "from ipmix.corruptions import corrupt; import ipmix.corruptions.writers.cifar, "
        "ipmix.corruptions.writers.folder_c, ipmix.corruptions.writers.folder_p; "
        "print(sorted(m for m in sys.modules if m.startswith(('ipmix.augment', 'ipmix.training'))))"
    )
    assert _run(code, tmp_path).strip() == "[]"


def test_the_commands_run_without_torch(tmp_path) -> None:
    (tmp_path / "images" / "a").mkdir(parents=True)
    picture = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "images" / "a" / "x.png")
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), np.arange(4)
    np.savez(tmp_path / "cifar10.npz", x_train=images, y_train=labels, x_test=images, y_test=labels,
             class_names=np.array([str(i) for i in range(10)]))  # fmt: skip
    commands = [
        ["make-c", "--images", "images", "--out", "c", "--preset", "cifar", "--corruptions", "contrast"],
        ["make-p", "--images", "images", "--out", "p", "--preset", "cifar", "--perturbations", "rotate"],
        ["make-cifar-c", "--out", "cc", "--data", ".", "--corruptions", "fog"],
        ["make-cifar-p", "--out", "cp", "--data", ".", "--perturbations", "translate"],
    ]
    code = "from ipmix.cli import main; " + "; ".join(
        f"assert main({[*command, '--no-progress']!r}) == 0" for command in commands
    )
    _run(code, tmp_path)
    for written in ("c/contrast/1/a/x.jpg", "p/rotate/a/x.mp4", "cc/fog.npy", "cp/translate.npy"):
        assert (tmp_path / written).is_file()
