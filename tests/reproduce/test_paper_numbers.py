"""The paper's numbers as data: every printed value present once, tied to its place, consistent."""

import numpy as np
import pytest

from ipmix.reproduce.budgets import get_budget
from ipmix.reproduce.paper import PaperValueNotFound, paper_table, paper_value, paper_values
from ipmix.reproduce.tables import TABLES


def test_every_value_is_tied_to_one_place():
    places = [(v.table, v.section, v.row, v.column) for v in paper_values()]
    assert len(places) == len(set(places))
    assert all(all(place) for place in places)


@pytest.mark.parametrize("table_id", [t for t in TABLES if t.isdigit()])
def test_every_entry_of_every_table_has_its_paper_value(table_id):
    spec = TABLES[table_id]
    entries = spec.entries(get_budget("paper"))
    assert entries and not any(e.extra for e in entries)
    for entry in entries:  # raises, naming the place, if a printed value is missing
        paper_value(table_id, entry.section, entry.row, entry.column)
    # and nothing is transcribed that the grid does not show (except the Mean rows)
    shown = {(e.section, e.row, e.column) for e in entries}
    extra = {(v.section, v.row, v.column) for v in paper_table(table_id)} - shown
    assert all(row == "Mean" for _, row, _ in extra)


def test_counts_and_spot_values():
    assert len(paper_table("3")) == len(paper_table("4")) == 2 * 5 * 7
    assert len(paper_table("5")) == 8 * 9
    value = paper_value("3", "CIFAR-10", "WideResNet40-4", "Vanilla")
    assert (value.value, value.std, value.text) == (4.4, 0.05, "4.4 ± 0.05")
    assert paper_value("18", "CIFAR-100", "Mean", "PGD Error").value == 93.3
    assert paper_value("17", "ResNet-18", "AugMax", "Time(sec/epochs)").value == 7564
    with pytest.raises(PaperValueNotFound, match="Table 3 has no value at section 'CIFAR-10', row 'VGG'"):
        paper_value("3", "CIFAR-10", "VGG", "Vanilla")


def test_errata_are_noted_and_values_filed_under_what_they_measure():
    trivial = paper_value("9", "CIFAR-100", "TrivialAugment", "mCE")
    assert trivial.value == 35.4 and "erratum" in trivial.note
    assert paper_value("9", "CIFAR-100", "TrivialAugment", "PGD Error").value == 96.3
    # Table 9's IPMix row and Table 19's IPMix row are Table 18's (CIFAR-100) in Table 18's order
    for table, row, model in (("9", "IPMix", "WideResNet28-10"), ("19", "IPMix", "WideResNet40-4")):
        for column in ("Error", "mCE", "mFR", "PGD Error", "RMS"):
            assert paper_value(table, "CIFAR-100", row, column).value == paper_value(
                "18", "CIFAR-100", model, column).value, (table, column)
    assert "erratum" in paper_value("19", "CIFAR-100", "w/o patch", "mFR").note


def test_tables_agree_where_they_print_the_same_run():
    same = [  # (table, section, row, column) pairs the paper prints twice
        (("7", "CIFAR-100", "IPMix", "Error"), ("3", "CIFAR-100", "WideResNet40-4", "IPMix")),
        (("7", "CIFAR-100", "IPMix", "mCE"), ("4", "CIFAR-100", "WideResNet40-4", "IPMix")),
        (("11", "CIFAR-100", "IPMix", "RMS"), ("7", "CIFAR-100", "IPMix", "RMS")),
        (("8", "CIFAR-100", "fractals(ours)", "mCE"), ("7", "CIFAR-100", "IPMix", "mCE")),
        (("12", "CIFAR-100", "IPMix", "Error"), ("2", "CIFAR-100", "Chain-Mixed", "Error")),
        (("12", "CIFAR-100", "IPMix", "RMS"), ("18", "CIFAR-100", "ResNeXt-29", "RMS")),
        (("15", "CIFAR-100", "AugMix", "mCE"), ("4", "CIFAR-100", "WideResNet40-4", "AugMix")),
        (("15", "CIFAR-100", "MixUp", "Error"), ("3", "CIFAR-100", "WideResNet40-4", "MixUp")),
        (("18", "CIFAR-10", "ResNet-18", "mCE"), ("4", "CIFAR-10", "ResNet-18", "IPMix")),
    ]
    for first, second in same:
        assert paper_value(*first).value == paper_value(*second).value, (first, second)


@pytest.mark.parametrize("table_id", ["3", "4", "18"])
def test_mean_rows_are_the_means_of_the_architectures(table_id):
    """A typo in any transcribed architecture row would show here (rounding: 0.1)."""
    columns = (("Error", "mCE", "mFR", "PGD Error", "RMS") if table_id == "18" else
               ("Vanilla", "MixUp", "CutOut", "CutMix", "AugMix", "PixMix", "IPMix"))
    for section in ("CIFAR-10", "CIFAR-100"):
        for column in columns:
            rows = [paper_value(table_id, section, row, column).value
                    for row in ("WideResNet40-4", "WideResNet28-10", "ResNeXt-29", "ResNet-18")]
            printed = paper_value(table_id, section, "Mean", column)
            if abs(np.mean(rows) - printed.value) > 0.1 + 1e-9:  # the paper's one slip, noted
                assert (table_id, section, column) == ("4", "CIFAR-10", "AugMix")
                assert "average 10.2" in printed.note


#: Where the field table's IPMix-paper values are printed in the paper's own tables.
FIELD_FROM_THE_PAPER = {
    ("Vanilla", "Error"): ("3", "CIFAR-10", "ResNet-18", "Vanilla"),
    ("Vanilla", "mCE"): ("4", "CIFAR-10", "ResNet-18", "Vanilla"),
    ("AugMix", "Error"): ("3", "CIFAR-10", "ResNet-18", "AugMix"),
    ("AugMix", "mCE"): ("4", "CIFAR-10", "ResNet-18", "AugMix"),
    ("PixMix", "Error"): ("3", "CIFAR-10", "ResNet-18", "PixMix"),
    ("PixMix", "mCE"): ("4", "CIFAR-10", "ResNet-18", "PixMix"),
    **{("IPMix", column): ("18", "CIFAR-10", "ResNet-18", column)
       for column in ("Error", "mCE", "RMS", "mFR", "PGD Error")},
    **{(method, "Time(sec/epochs)"): ("17", "ResNet-18", method, "Time(sec/epochs)")
       for method in ("Vanilla", "AugMix", "PixMix", "IPMix", "AugMax")},
}


def test_the_field_tables_published_values_cite_their_sources_and_agree_with_the_paper():
    values = {(v.row, v.column): v for v in paper_table("field")}
    entries = {(e.row, e.column) for e in TABLES["field"].entries(get_budget("paper"))}
    assert set(values) <= entries and all(v.source for v in values.values())
    for place, (table, section, row, column) in FIELD_FROM_THE_PAPER.items():
        assert values[place].value == paper_value(table, section, row, column).value, place
        assert "IPMix" in values[place].source
    # the other papers' numbers, converted from accuracies where they print those
    assert values[("AugMax", "Error")].value == pytest.approx(100 - 95.76)
    assert values[("AugMax", "mCE")].value == pytest.approx(100 - 90.36)
    assert values[("PRIME", "Error")].value == pytest.approx(100 - 93.1)
    assert values[("PRIME", "mCE")].value == pytest.approx(100 - 89.0)
    assert "AugMax" in values[("AugMax", "mCE")].source and "PRIME" in values[("PRIME", "mCE")].source
    assert not any(row == "LayerMix" for row, _ in values)  # not transcribed (see the notes)
