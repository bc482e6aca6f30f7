"""The comparison table beyond the paper ('field') and Table 17's AugMax row, at the smoke
budget end to end on a tiny dataset."""

import dataclasses
import json

import pytest

from ipmix.cli import main
from ipmix.reproduce.budgets import get_budget
from ipmix.reproduce.tables import TABLES


@pytest.fixture(scope="module")
def field(tiny_cifar, tmp_path_factory):
    """The field table's seven methods (~2 min; its '+ JSD' rows are the same code paths with
    JSD, left out here) and Table 17's Vanilla and AugMax rows, which share their runs."""
    out = tmp_path_factory.mktemp("reproduce-field")
    argv = ["reproduce", "field", "17", "--budget", "smoke", "--out", str(out), "--data",
            str(tiny_cifar), "--no-progress"]
    seventeen = TABLES["17"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(TABLES, "field", dataclasses.replace(TABLES["field"], extra_methods=()))
        patch.setitem(TABLES, "17", dataclasses.replace(seventeen, rows=tuple(
            row for row in seventeen.rows if row.label in ("Vanilla", "AugMax"))))
        patch.setenv("IPMIX_CACHE", str(out / "cache"))
        patch.delenv("IPMIX_DATA", raising=False)  # no frost textures: frost is skipped
        assert main(argv) == 0
    return out


@pytest.mark.slow
def test_every_method_of_the_field_runs_and_is_measured(field):
    data = json.loads((field / "tables" / "field.json").read_text())
    rows = list(dict.fromkeys(e["row"] for e in data["entries"]))
    assert rows == ["Vanilla", "AugMix", "PixMix", "IPMix", "AugMax", "PRIME", "LayerMix"]
    columns = list(dict.fromkeys(e["column"] for e in data["entries"]))
    assert columns == [c.label for c in TABLES["field"].columns]
    assert all(e["ours"]["status"] == "done" for e in data["entries"])
    cells = {e["row"]: e["ours"]["cells"][0] for e in data["entries"] if e["metric"] == "error"}
    assert cells["AugMax"] == "cifar10-small-e1-train512/augmax-norm-dubin-jsd/seed0"
    assert cells["PRIME"] == "cifar10-small-e1-train512/prime-batched/seed0"
    config = json.loads((field / "runs" / cells["AugMax"] / "config.json").read_text())
    assert config["model_kwargs"] == {"norm": "dubin"} and config["jsd_weight"] == 10.0


@pytest.mark.slow
def test_the_page_cites_every_published_number(field):
    page = (field / "tables" / "field.md").read_text()
    assert page.startswith("# Table 'field': The field side by side")
    assert "Published values of AugMax: AugMax (Wang et al., NeurIPS 2021), Table 2" in page
    assert "Published values of PRIME: PRIME (Modas et al., ECCV 2022)" in page
    assert "Published values of Vanilla, AugMix, PixMix: IPMix (Huang et al., NeurIPS 2023), Table 3" in page
    assert "| 9.64† |" in page and "| 11† |" in page  # converted from accuracies
    assert "LayerMix's published numbers are not transcribed" in page
    assert "JSD loss off for AugMix, IPMix, PRIME" in page and "IPMix and PRIME applied per batch" in page
    assert (field / "tables" / "field.png").is_file()


@pytest.mark.slow
def test_table17_has_its_augmax_row_from_the_same_run(field):
    entries = json.loads((field / "tables" / "table17.json").read_text())["entries"]
    augmax = next(e for e in entries if e["row"] == "AugMax")
    assert augmax["ours"]["status"] == "done" and augmax["ours"]["mean"] > 0
    assert augmax["paper"]["value"] == 7564
    assert augmax["ours"]["cells"] == ["cifar10-small-e1-train512/augmax-norm-dubin-jsd/seed0"]


def test_the_smoke_budget_adds_the_jsd_rows():
    extras = [e.row for e in TABLES["field"].entries(get_budget("smoke")) if e.extra]
    assert list(dict.fromkeys(extras)) == ["AugMix + JSD", "IPMix + JSD", "PRIME + JSD"]
