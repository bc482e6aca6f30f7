"""Where ipmix caches what it can rebuild: ``$IPMIX_CACHE``, else ``~/.cache/ipmix``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "IPMIX_CACHE"


def cache_root() -> Path:
    """The cache folder (not created here; writers create what they need inside it)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ipmix"
