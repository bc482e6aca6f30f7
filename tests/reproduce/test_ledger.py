"""The ledger: a cell done elsewhere counts as done only for the same run."""

from pathlib import Path

import pytest

from ipmix.reproduce.job import plan
from ipmix.reproduce.ledger import Ledger, Reading, load_ledger


def _cell(aug="ipmix"):
    _, _, cells = plan(["3"], "cpu")
    return next(c for c in cells if c.options["aug"] == aug and c.seed == 0 and not c.options["jsd"])


def test_a_cell_round_trips_through_the_file(tmp_path):
    cell = _cell()
    ledger = load_ledger(tmp_path / "cells.json", "cpu")
    assert not ledger.holds(cell) and ledger.reading(cell, "error") is None
    ledger.put(cell, {"error": Reading(11.9, "", (11.3, 12.6)), "mce": Reading(19.6, "*")},
               {"commit": "abc1234"})
    ledger.save()
    again = load_ledger(tmp_path / "cells.json", "cpu")
    assert again.holds(cell) and again.cells[cell.name]["commit"] == "abc1234"
    assert again.reading(cell, "error") == Reading(11.9, "", (11.3, 12.6))
    assert again.reading(cell, "mce") == Reading(19.6, "*", None)
    assert again.reading(cell, "pgd") is None
    assert again.done([cell, _cell("none")]) == frozenset({cell.name})


def test_a_cell_made_with_other_options_is_not_held(tmp_path):
    cell = _cell()
    ledger = Ledger(None, "cpu")
    ledger.put(cell, {"error": Reading(11.9)}, {})
    ledger.cells[cell.name]["train"]["epochs"] = 100  # same name, another run
    assert not ledger.holds(cell) and ledger.reading(cell, "error") is None
    assert ledger.save() is None  # no path: never written


def test_tables_name_the_commits_of_held_cells_only():
    from ipmix.reproduce.output import collect, run_commits

    (spec,), budget, _ = plan(["3"], "cpu")
    ipmix, vanilla = _cell(), _cell("none")
    ledger = Ledger(None, "cpu")
    ledger.put(ipmix, {"error": Reading(11.9)}, {"commit": "aaa1111"})
    ledger.put(vanilla, {"error": Reading(11.0)}, {"commit": "bbb2222"})
    ledger.cells[vanilla.name]["train"]["epochs"] = 100  # another run under the same name
    rows = collect(spec, [ipmix, vanilla], Path("/nonexistent"), budget, ledger)
    assert run_commits(rows, [ipmix, vanilla], ledger) == ["aaa1111"]


@pytest.mark.parametrize("text", ["{", '{"format": 0, "budget": "cpu", "cells": {}}', "[]"])
def test_a_file_that_is_not_a_ledger_is_refused(tmp_path, text):
    path = tmp_path / "cells.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="not a ledger"):
        load_ledger(path, "cpu")
