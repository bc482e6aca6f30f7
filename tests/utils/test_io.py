"""Atomic writes: complete files with the usual permissions, nothing left behind on failure."""

import json
import os
import stat

import pytest

from ipmix.utils.io import atomic_write_bytes, atomic_write_json


def test_atomic_write_replaces_the_file_and_uses_the_umask(tmp_path):
    path = tmp_path / "sub" / "data.bin"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["data.bin"]


def test_json_round_trip_and_failed_writes_leave_no_temporary(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1, 2], "b": 1}
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "y.json", {"bad": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
