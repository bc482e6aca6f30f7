"""Keep numba's on-disk caches of ipmix's kernels in step with their sources.

numba caches each compiled function next to its module (``__pycache__/*.nbi``, ``*.nbc``) and
checks only that module's own file: a kernel compiled into another (``fused._apply_stage``
inlines ``fused_ops.apply_op``) keeps its old code after the callee's file changes. A release
replaces every file, so this bites a working tree: edit a kernel module, and the next run may
test the old code. On import, ipmix hashes the sources of the modules that use numba; when the
hash differs from the one recorded beside the caches, it removes the package's numba caches
(they are rebuilt on first use) and records the new hash. Where the package folder cannot be
written (an installed copy), nothing is checked: numba keeps its caches elsewhere then.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_STAMP = _PACKAGE / "__pycache__" / "numba-kernels.sha256"


def _kernel_sources() -> list[Path]:
    return sorted(p for p in _PACKAGE.rglob("*.py") if b"import numba" in p.read_bytes())


def refresh() -> None:
    """Remove the package's numba caches if a module that uses numba changed since they were made."""
    try:
        digest = hashlib.sha256()
        for path in _kernel_sources():
            digest.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes())
        current = digest.hexdigest()
        if _STAMP.is_file() and _STAMP.read_text() == current:
            return
        for cached in [*_PACKAGE.rglob("__pycache__/*.nbi"), *_PACKAGE.rglob("__pycache__/*.nbc")]:
            cached.unlink(missing_ok=True)
        _STAMP.parent.mkdir(exist_ok=True)
        _STAMP.write_text(current)
    except OSError:  # a read-only installation: numba caches elsewhere, per file
        return
