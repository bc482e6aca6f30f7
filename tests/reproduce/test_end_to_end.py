"""`ipmix reproduce` at the smoke budget, end to end on a tiny dataset: run, skip, fail, retry."""

import json

import numpy as np
import pytest

from ipmix.cli import main
from ipmix.reproduce.records import STATISTICS, load_record


@pytest.fixture(scope="module")
def table12(tiny_cifar, tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    argv = ["reproduce", "12", "--budget", "smoke", "--out", str(out), "--data", str(tiny_cifar),
            "--no-progress"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPMIX_CACHE", str(out / "cache"))
        patch.delenv("IPMIX_DATA", raising=False)  # no frost textures: frost is skipped
        assert main(argv) == 0
    return out, argv


def _cells(out):
    return sorted(path.parent for path in (out / "runs").glob("*/*/seed*/cell.json"))


def test_the_table_is_written_beside_the_papers(table12):
    out, _ = table12
    report = (out / "tables" / "table12.md").read_text()
    assert "| IPMix-Square |" in report and "| 18.3 |" in report and "budget `smoke`" in report
    assert "run on cifar10 here" in report and "weight decay 5e-4" in report
    data = json.loads((out / "tables" / "table12.json").read_text())
    assert {e["row"] for e in data["entries"]} == {"IPMix-Square", "IPMix-Scar", "IPMix"}
    error = next(e for e in data["entries"] if e["row"] == "IPMix" and e["metric"] == "error")
    assert error["ours"]["status"] == "done" and error["paper"]["value"] == 18.3
    low, high = error["ours"]["interval"]
    assert low <= error["ours"]["mean"] <= high
    assert (out / "tables" / "table12.png").is_file()
    assert len(_cells(out)) == 3


def test_records_agree_with_the_suites_numbers(table12):
    out, _ = table12
    cell = _cells(out)[0]
    for folder in sorted(cell.glob("eval-*")):
        results = json.loads((folder / "results.json").read_text())
        record = load_record(folder / "predictions.npz")
        assert record.n == results["meta"]["n"]
        everything = np.arange(record.n)[None]
        for metric, section, key in (("error", "clean", "error"), ("pgd", "pgd", "error"),
                                     ("mfr", "perturbation", "mfr"), ("rms", "calibration", "rms_clean"),
                                     ("auroc", "ood", "auroc")):
            if section not in results or metric == "auroc":
                continue
            statistic = STATISTICS[metric](record)
            assert statistic(everything)[0] == pytest.approx(results[section][key], abs=1e-9), metric


def test_done_cells_are_skipped(table12, capsys):
    out, argv = table12
    logs = {path: path.stat().st_mtime_ns for path in out.glob("runs/*/*/seed*/log.jsonl")}
    capsys.readouterr()
    assert main(argv) == 0
    assert "3 cells: 3 done or not runnable, 0 to run" in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in logs} == logs


def test_a_ledger_stands_in_for_run_folders_lost_with_a_machine(table12, tmp_path, capsys):
    out, argv = table12
    ledger, before, after = tmp_path / "cells.json", tmp_path / "before", tmp_path / "after"
    report = ["--report-only", "--ledger", str(ledger)]
    assert main([*argv, *report, "--tables-out", str(before)]) == 0
    kept = json.loads(ledger.read_text())
    assert kept["budget"] == "smoke" and len(kept["cells"]) == 3
    first = next(iter(kept["cells"].values()))
    assert first["commit"] and first["train"]["aug"] == "ipmix" and first["evaluations"]
    assert first["metrics"]["error"]["interval"] is not None  # the bootstrap, kept

    new_machine = tmp_path / "new-out"  # the run folders are gone: the ledger holds the cells
    moved = [*argv[:argv.index("--out") + 1], str(new_machine), *argv[argv.index("--out") + 2:]]
    assert main([*moved, *report, "--tables-out", str(after)]) == 0
    entries = [json.loads((folder / "table12.json").read_text())["entries"] for folder in (before, after)]
    assert [e["ours"] for e in entries[0]] == [e["ours"] for e in entries[1]]
    assert entries[1][0]["ours"]["status"] == "done"
    capsys.readouterr()
    assert main([*moved, "--ledger", str(ledger), "--tables-out", str(after)]) == 0  # trains nothing
    assert "3 cells: 3 done or not runnable (3 in the ledger), 0 to run" in capsys.readouterr().out
    assert not list(new_machine.glob("runs/*/*/seed*/log.jsonl"))
    assert main(["reproduce", "12", "--budget", "smoke", "--out", str(new_machine), "--dry-run",
                 "--ledger", str(ledger)]) == 0
    assert "ledger   cifar10-small-e1-train512/ipmix-set-mix-batched/seed0" in capsys.readouterr().out


def test_a_ledger_of_another_budget_is_refused(table12, tmp_path, capsys):
    out, _ = table12
    ledger = tmp_path / "cells.json"
    ledger.write_text(json.dumps({"format": 1, "budget": "smoke", "cells": {}}))
    assert main(["reproduce", "12", "--budget", "cpu", "--out", str(out), "--dry-run",
                 "--ledger", str(ledger)]) == 2
    assert "holds cells of budget 'smoke', not 'cpu'" in capsys.readouterr().err


def test_a_failed_cell_is_reported_and_the_others_go_on(table12, tiny_cifar, capsys, monkeypatch):
    out, argv = table12
    monkeypatch.setenv("IPMIX_CACHE", str(out / "cache"))
    broken, other = _cells(out)[:2]
    for folder in (broken, other):
        for results in folder.glob("eval-*/results.json"):
            results.unlink()
    (broken / "final.pt").write_bytes(b"not a checkpoint")
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "1 cell(s) failed" in captured.err and broken.relative_to(out / "runs").as_posix() in captured.err
    info = json.loads((broken / "cell.json").read_text())
    assert info["status"] == "failed" and "final.pt" in info["error"]
    assert json.loads((other / "cell.json").read_text())["status"] == "done"
    assert "| failed |" in (out / "tables" / "table12.md").read_text()

    (broken / "final.pt").unlink()  # retried on the next call: trained again from its checkpoint
    assert main(argv) == 0
    assert json.loads((broken / "cell.json").read_text())["status"] == "done"


def test_dry_run_lists_cells_costs_and_commands(table12, capsys):
    out, _ = table12
    assert main(["reproduce", "12", "2", "--budget", "smoke", "--out", str(out), "--dry-run",
                 "--commands"]) == 0
    printed = capsys.readouterr().out
    assert "done     cifar10-small-e1-train512/ipmix-set-mix-batched/seed0  [12,2]" in printed
    assert "todo     cifar10-small-e1-train512/ipmix-framework-linear-set-mix-batched/seed0" in printed
    assert "ipmix train --dataset cifar10 --model small --aug ipmix --epochs 1" in printed
    assert "estimated cost of what is left" in printed


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["reproduce", "6", "--budget", "cpu", "--out", str(tmp_path), "--dry-run"]) == 2
    assert "unknown table '6'" in capsys.readouterr().err
    assert main(["reproduce", "3", "--budget", "cpu", "--out", str(tmp_path), "--commands"]) == 2
    assert "--commands goes with --dry-run" in capsys.readouterr().err
