"""Quality report, contact sheet and the `ipmix mixing-set` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipmix.cli import main
from ipmix.mixing_sets import MixingSet
from ipmix.mixing_sets.inspect import colourfulness, contact_sheet, inspect_set


def test_colourfulness_is_zero_for_grey_and_matches_the_formula() -> None:
    grey = np.random.default_rng(0).integers(0, 256, (8, 8, 1), dtype=np.uint8).repeat(3, axis=2)
    assert colourfulness(grey) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200  # rg = 200, yb = 100 everywhere: 0.3 * hypot(200, 100)
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(200, 100))


def test_report_counts_low_variance_pictures_and_duplicates() -> None:
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    array[2] = 128  # flat: low variance
    array[3] = array[2]  # flat and a duplicate of picture 2
    array[5] = array[0]  # a duplicate
    array[6] = 120 + rng.integers(0, 5, (16, 16, 3), dtype=np.uint8)  # std about 1.4
    report = inspect_set(MixingSet.from_array(array))
    assert report.count == report.inspected == 10
    assert report.low_variance == 3 and report.low_variance_indices == [2, 3, 6]
    assert report.duplicates == 2
    assert report.sizes == {(16, 16): 10}
    assert 0 < report.mean_pairwise_difference < 256
    text = "\n".join(report.lines())
    assert "30.00%" in text and "duplicates (identical at 32 px): 2" in text


def test_report_on_a_sample_of_a_huge_generated_set() -> None:
    from ipmix.mixing_sets.generate import generated_mixing_set

    report = inspect_set(generated_mixing_set("dead-leaves", native_side=24), limit=20)
    assert report.count == 2**31 - 1 and report.inspected == 20
    assert report.low_variance == 0 and report.duplicates == 0


def test_contact_sheet_is_written(tmp_path: Path) -> None:
    array = np.random.default_rng(2).integers(0, 256, (7, 10, 10, 3), dtype=np.uint8)
    path = contact_sheet(MixingSet.from_array(array), tmp_path / "sheet.png", rows=2, columns=4, cell=16)
    with Image.open(path) as sheet:
        assert sheet.size[0] > 4 * 16 and sheet.size[1] > 2 * 16


def test_cli_generate_then_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set.npz"
    code = main(["mixing-set", "generate", "--kind", "mix", "--proportions",
                 "spectrum=1,dead-leaves=1", "--count", "12", "--size", "16", "--seed", "2",
                 "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 0 and out.exists()
    assert main(["mixing-set", "inspect", str(out), "--limit", "6"]) == 0
    printed = capsys.readouterr().out
    assert "pictures: 12 (statistics on 6)" in printed
    assert (tmp_path / "set-npz-sheet.png").exists()


def test_cli_errors_exit_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["mixing-set", "generate", "--count", "4", "--size", "16", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "a"), "--proportions", "ifs=oops"]) == 2
    assert main([*base, "--kind", "ifs", "--proportions", "ifs=1", "--out", str(tmp_path / "b")]) == 2
    assert main(["mixing-set", "inspect", str(tmp_path / "missing")]) == 2
    errors = capsys.readouterr().err
    assert "not a number" in errors and "only applies to --kind mix" in errors
    assert "not found" in errors
