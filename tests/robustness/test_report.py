"""Report: seed grouping, mean ± std, markdown, plots, and the evaluate/report commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ipmix.cli import main
from ipmix.robustness import report
from ipmix.robustness.report import ResultsNotFoundError, comparison_table, group_runs


def _results(error: float, seed: int, lr: float = 0.1, mfr: float | None = 5.0) -> dict:
    results = {
        "meta": {
            "dataset": "cifar10", "n": 100, "suite": ["clean", "c", "p"], "model_name": "small",
            "config": {"lr": lr, "seed": seed, "out": f"runs/x-seed{seed}", "augment": "ipmix"},
        },
        "clean": {"error": error},
        "corruption": {
            "errors": {"fog": [error, error + 1, error + 2, error + 3, error + 4]},
            "mce": error + 10, "mce_partial": error + 10,
        },
        "calibration": {
            "rms_clean": 3.0, "rms_c": 7.0,
            "bins_clean": {"confidence": [0.5, 0.9], "accuracy": [0.4, 0.95], "counts": [50, 50]},
        },
    }
    if mfr is not None:
        results["perturbation"] = {"flip_probability": {"rotate": mfr, "gaussian_noise": 1.0},
                                   "mfr": mfr}
    return results


def test_runs_differing_only_by_seed_form_one_row_with_mean_and_std():
    runs = {
        "runs/ipmix-seed0": _results(10.0, 0),
        "runs/ipmix-seed1": _results(12.0, 1),
        "runs/ipmix-lr-seed0": _results(20.0, 0, lr=0.05),
    }
    groups = group_runs(runs)
    assert [g.runs for g in groups] == [
        ("runs/ipmix-seed0", "runs/ipmix-seed1"), ("runs/ipmix-lr-seed0",)
    ]
    assert groups[0].label == "ipmix (2 seeds)" and groups[1].label == "ipmix-lr"
    table = comparison_table(runs)
    lines = table.strip().splitlines()
    assert lines[0].split("|")[1:-1] == [
        " Run ", " Error ", " mCE ", " RMS clean ", " RMS C ", " mFR ", " PGD error ", " AUROC ",
        " AUPR ",
    ]
    # mean 11, sample std sqrt(2) = 1.41; mCE 21 ± 1.41; missing PGD / OOD shown as a dash
    assert "| ipmix (2 seeds) | 11.00 ± 1.41 | 21.00 ± 1.41 | 3.00 ± 0.00 | 7.00 ± 0.00 |" in table
    assert "| ipmix-lr | 20.00 | 30.00 | 3.00 | 7.00 | 5.00 | – | – | – |" in table


def test_runs_without_config_are_never_merged_and_partial_mce_is_marked():
    first, second = _results(10.0, 0), _results(10.0, 1)
    del first["meta"]["config"], second["meta"]["config"]
    second["corruption"]["mce"] = None
    table = comparison_table({"a": first, "b": second})
    assert len(group_runs({"a": first, "b": second})) == 2
    assert "| b | 10.00 | 20.00* |" in table
    assert "\\* mean over the benchmark corruptions" in table
    with pytest.raises(ValueError, match="no runs"):
        comparison_table({})


def test_results_markdown_sections():
    results = _results(10.0, 0)
    results["ood"] = {"sources": {"blobs": {"auroc": 90.0, "aupr": 80.0, "fpr95": 30.0,
                                            "count": 2}},
                      "auroc": 90.0, "aupr": 80.0, "fpr95": 30.0}
    text = report.results_markdown(results, "one run")
    assert text.startswith("# one run")
    assert "| fog | 10.00 | 11.00 | 12.00 | 13.00 | 14.00 | 12.00 |" in text
    assert "| rotate | 5.00 |" in text
    assert "| blobs | 2 | 90.00 | 80.00 | 30.00 |" in text


def test_write_report_writes_table_and_plots(tmp_path):
    for name, error, seed in (("a-seed0", 10.0, 0), ("a-seed1", 12.0, 1)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_results(error, seed)))
    table_path, plots = report.write_report(
        [tmp_path / "a-seed0", tmp_path / "a-seed1"], tmp_path / "out"
    )
    assert table_path.read_text().count("a (2 seeds)") == 1
    assert sorted(p.name for p in plots) == [
        "corruption_errors.png", "flip_rates.png", "reliability.png"
    ]
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in plots)
    with pytest.raises(ResultsNotFoundError, match="ipmix evaluate"):
        report.load_results(tmp_path / "missing")


def test_one_run_is_never_two_seeds_and_repeated_seeds_are_named(tmp_path, capsys):
    for name, seed in (("c1", 0), ("c2", 0), ("c3", 1)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_results(10.0 + seed, seed)))
    for twice in ([f"{tmp_path}/c1", f"{tmp_path}/c1/"], [f"{tmp_path}/c1", f"{tmp_path}/c1/results.json"],
                  [f"{tmp_path}/c1", f"{tmp_path}/c2/../c1"]):
        assert main(["report", *twice, "--out", str(tmp_path / "report")]) == 2
        err = capsys.readouterr().err
        assert f"run {twice[1]} given twice (also as {twice[0]}): it would count as two seeds" in err
    assert main(["report", str(tmp_path / "c1"), str(tmp_path / "c2"), "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "| c1 (2 runs, 1 seed) |" in captured.out and "(2 seeds)" not in captured.out
    assert f"ipmix report: note: {tmp_path / 'c1'}, {tmp_path / 'c2'} differ only by seed but have 1 " \
        "distinct seed(s) among 2 runs: their ± is not a spread over seeds" in captured.err
    runs = {str(tmp_path / name): _results(10.0, seed) for name, seed in (("c1", 0), ("c2", 0), ("c3", 1))}
    assert group_runs(runs)[0].label == "c1 (3 runs, 2 seeds)"


# ------------------------------------------------------------------------------ the commands


def _tiny_data(tmp_path, classes: int = 10):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "cifar10.npz",
        x_train=rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
        y_train=np.arange(4) % classes,
        x_test=rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8),
        y_test=np.arange(12) % classes,
    )
    return tmp_path


def _checkpoint(path, num_classes: int, dataset: str = "cifar10"):
    from ipmix.models import build_model, make_checkpoint

    model = build_model("small", num_classes, width=2)
    torch.save(make_checkpoint(model, "small", num_classes, dataset, {"width": 2},
                               {"seed": 0, "lr": 0.1}), path)
    return path


def test_evaluate_and_report_commands(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    data = _tiny_data(tmp_path / "data")
    run = tmp_path / "run"
    run.mkdir()
    _checkpoint(run / "final.pt", 10)
    status = main([
        "evaluate", str(run), "--suite", "clean,calibration,pgd,ood", "--n", "10",
        "--data", str(data), "--no-progress", "--batch-size", "4",
    ])
    assert status == 0
    results = json.loads((run / "results.json").read_text())
    assert results["meta"]["n"] == 10 and results["meta"]["model_name"] == "small"
    assert results["meta"]["config"] == {"seed": 0, "lr": 0.1}
    assert (run / "results.md").read_text().startswith("# Robustness of run")
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.md").is_file()
    assert (tmp_path / "report" / "reliability.png").is_file()
    assert "| run |" in capsys.readouterr().out


def test_evaluate_refuses_a_checkpoint_for_another_dataset(tmp_path, capsys):
    data = _tiny_data(tmp_path)
    _checkpoint(tmp_path / "c100.pt", 100, dataset="cifar100")
    assert main(["evaluate", str(tmp_path / "c100.pt"), "--suite", "clean", "--data", str(data),
                 "--dataset", "cifar10", "--no-progress"]) == 2
    assert "trained on cifar100" in capsys.readouterr().err
    _checkpoint(tmp_path / "wrong.pt", 100, dataset="cifar10")
    assert main(["evaluate", str(tmp_path / "wrong.pt"), "--suite", "clean", "--data", str(data),
                 "--no-progress"]) == 2
    assert "100 classes" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    _checkpoint(tmp_path / "ok.pt", 10)
    assert main(["evaluate", str(tmp_path / "ok.pt"), "--suite", "ood", "--data", str(data),
                 "--ood", str(tmp_path / "empty"), "--no-progress"]) == 2
    assert "holds no images" in capsys.readouterr().err


def test_tables_follow_the_benchmark_order_not_the_json_order():
    results = _results(10.0, 0)
    results["corruption"]["errors"] = {"zoom_blur": [1] * 5, "fog": [2] * 5,
                                       "gaussian_noise": [3] * 5, "my_own": [4] * 5}
    results["perturbation"]["flip_probability"] = {"tilt": 1.0, "gaussian_noise": 2.0}
    text = report.results_markdown(json.loads(json.dumps(results, sort_keys=True)))
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert rows.index("gaussian_noise") < rows.index("zoom_blur") < rows.index("fog")
    assert rows.index("fog") < rows.index("my_own")
    flip_gaussian = len(rows) - 1 - rows[::-1].index("gaussian_noise")  # the CIFAR-P table's
    assert rows.index("my_own") < flip_gaussian < rows.index("tilt")
