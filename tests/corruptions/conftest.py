"""Corruption tests: a private cache per test (folder listings go there, never to the user's)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IPMIX_CACHE", str(tmp_path_factory.mktemp("cache")))
