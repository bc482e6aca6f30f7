"""`ipmix demo` (the main job) end to end at a toy size, and its resumption."""

import numpy as np

from ipmix.cli import main


def test_demo_trains_evaluates_compares_and_resumes(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 96).astype(np.int64)
    labels[:10] = np.arange(10)
    np.savez(tmp_path / "cifar10.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    argv = ["demo", "--data", str(tmp_path), "--out", str(out), "--subset", "64", "--epochs", "1",
            "--n", "16", "--suite", "clean,calibration,ood", "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| vanilla |" in printed and "| ipmix |" in printed and "report.md" in printed
    for run in ("vanilla", "ipmix"):
        assert (out / run / "final.pt").is_file() and (out / run / "results.json").is_file()
    assert (out / "report" / "reliability.png").is_file()

    assert main(argv) == 0  # everything exists: nothing is trained or evaluated again
    again = capsys.readouterr().out
    assert again.count("found") == 4
