"""`ipmix demo` (the main job) end to end at a toy size: intervals, verdicts, epoch times, resume."""

import json

import numpy as np

from ipmix.cli import main


def test_demo_trains_evaluates_compares_and_resumes(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    labels = np.arange(96, dtype=np.int64) % 10
    palette = np.random.default_rng(5).integers(30, 226, size=(10, 3))
    images = np.clip(palette[labels][:, None, None] + rng.normal(0, 30, (96, 32, 32, 3)), 0, 255)
    images = images.astype(np.uint8)
    np.savez(tmp_path / "cifar10.npz", x_train=images, y_train=labels, x_test=images[:40],
             y_test=labels[:40])
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("IPMIX_DATA", raising=False)
    out = tmp_path / "demo"
    argv = ["demo", "--data", str(tmp_path), "--out", str(out), "--subset", "64", "--epochs", "1",
            "--n-clean", "40", "--n", "20", "--n-p", "4", "--workers", "0", "--threads", "1",
            "--mixing-set-size", "16", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| Error | 40 |" in printed and "| mCE" in printed and "IPMix - vanilla" in printed
    assert "Training time per epoch: vanilla" in printed and "docs/results/cpu/" in printed
    rows = json.loads((out / "report" / "demo.json").read_text())["rows"]
    error = next(row for row in rows if row["metric"] == "error")
    low, high = error["difference_interval"]
    assert low <= error["difference"] <= high
    assert error["verdict"] in ("inside the noise", "IPMix better", "IPMix worse")
    assert (error["verdict"] == "inside the noise") == (low <= 0 <= high)
    assert (out / "report" / "reliability.png").is_file() and (out / "report" / "report.md").is_file()

    assert main(argv) == 0  # everything exists: nothing is trained or evaluated again
    assert "2 cells: 2 done or not runnable, 0 to run" in capsys.readouterr().out
