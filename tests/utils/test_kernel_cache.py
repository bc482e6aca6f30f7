"""numba's caches of the package's kernels are dropped when a kernel module changes."""

from pathlib import Path

from ipmix import _kernel_cache


def test_caches_are_removed_when_a_module_that_uses_numba_changes(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "package"
    (package / "__pycache__").mkdir(parents=True)
    kernel, plain = package / "kernel.py", package / "plain.py"
    kernel.write_text("import numba\n")
    plain.write_text("x = 1\n")
    monkeypatch.setattr(_kernel_cache, "_PACKAGE", package)
    monkeypatch.setattr(_kernel_cache, "_STAMP", package / "__pycache__" / "stamp")
    cache = package / "__pycache__" / "kernel.f-1.py311.nbi"

    _kernel_cache.refresh()  # first run: no stamp yet
    cache.write_text("compiled")
    _kernel_cache.refresh()
    assert cache.exists()  # nothing changed
    plain.write_text("x = 2\n")
    _kernel_cache.refresh()
    assert cache.exists()  # a module without numba does not count
    kernel.write_text("import numba\n# changed\n")
    _kernel_cache.refresh()
    assert not cache.exists()
