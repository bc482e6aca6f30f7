"""Table 5 at the smoke budget, end to end on the synthetic ImageNet toy (no ImageNet here)."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ipmix.cli import main
from ipmix.corruptions.imagenet_c.weather_digital import FROST_FILES
from ipmix.reproduce.tables import TABLES


@pytest.fixture(scope="module")
def table5(tiny_cifar, tmp_path_factory):
    """Table 5 with three of its rows (Vanilla, AugMax, IPMix; ~40 s): every column, by the real
    code path."""
    data = tmp_path_factory.mktemp("data")
    shutil.copy(tiny_cifar / "cifar10.npz", data)
    rng = np.random.default_rng(0)
    (data / "frost").mkdir()
    for name in FROST_FILES:  # stand-ins for the benchmark's frost textures
        Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(data / "frost" / name)
    out = tmp_path_factory.mktemp("reproduce5")
    spec = TABLES["5"]
    argv = ["reproduce", "5", "--budget", "smoke", "--out", str(out), "--data", str(data), "--no-progress"]
    with pytest.MonkeyPatch.context() as patch:
        rows = tuple(row for row in spec.rows if row.label in ("Vanilla", "AugMax", "IPMix"))
        patch.setitem(TABLES, "5", dataclasses.replace(spec, rows=rows))
        patch.delenv("IPMIX_DATA", raising=False)
        assert main(argv) == 0
    return out


@pytest.mark.slow
def test_every_column_is_measured_on_the_labelled_toy(table5):
    report = (table5 / "tables" / "table5.md").read_text()
    assert "SYNTHETIC ImageNet" in report and "budget `smoke`" in report
    assert "‡" in report  # ImageNet-P mFR unnormalised: no AlexNet run here
    entries = json.loads((table5 / "tables" / "table5.json").read_text())["entries"]
    assert len(entries) == 3 * 9 and all(e["ours"]["status"] == "done" for e in entries)
    augmax = {e["metric"]: e["ours"] for e in entries if e["row"] == "AugMax"}
    assert augmax["in_error"]["cells"] == ["imagenet-toy32-small-e1-train512/augmax-norm-dubin-jsd/seed0"]
    assert (table5 / "benchmarks" / "imagenet-toy32" / "toy.json").is_file()


@pytest.mark.slow
def test_values_are_the_suites_numbers(table5):
    entries = json.loads((table5 / "tables" / "table5.json").read_text())["entries"]
    ipmix = {e["metric"]: e["ours"] for e in entries if e["row"] == "IPMix"}
    run = table5 / "runs" / ipmix["in_a_accuracy"]["cells"][0]
    for metric, folder, section, key in (
        ("in_a_accuracy", "eval-imagenet-a-nall", "imagenet_a", "accuracy"),
        ("in_c_mce", "eval-imagenet-c-nall", "imagenet_c", "mce"),
        ("in_o_aupr", "eval-imagenet-o-nall", "imagenet_o", "aupr"),
        ("in_p_mfr", "eval-imagenet-p-nall", "imagenet_p", "mfr_unnormalized"),
    ):
        results = json.loads((run / folder / "results.json").read_text())
        assert ipmix[metric]["mean"] == pytest.approx(results[section][key]), metric
    a = json.loads((run / "eval-imagenet-a-nall" / "results.json").read_text())["imagenet_a"]
    assert a["count"] == 200  # one picture per ImageNet-A class, scored on its 200-class mask
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "imagenet" and config["recipe"] == "imagenet" and config["image_size"] == 32


def test_without_imagenet_the_cpu_budget_says_what_it_needs(tmp_path, capsys):
    assert main(["reproduce", "5", "--budget", "cpu", "--out", str(tmp_path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    needs = "needs ImageNet data: --imagenet DIR"
    assert f"needs    imagenet-small-e15/ipmix-batched/seed0  [5]  {needs}" in printed
    for split in ("train", "val"):
        (tmp_path / "in" / split).mkdir(parents=True)
    assert main(["reproduce", "5", "--budget", "cpu", "--out", str(tmp_path), "--dry-run",
                 "--imagenet", str(tmp_path / "in")]) == 0
    printed = capsys.readouterr().out
    assert "todo     imagenet-small-e15/ipmix-batched/seed0" in printed
    assert "not evaluated, needs ImageNet data: --imagenet-p DIR [5: ImageNet-P mFR]" in printed
