"""Names of a package imported on first use, so that importing the package stays light (no torch,
no compiled kernels) until one of them is asked for."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, modules: Mapping[str, str], extra: tuple[str, ...] = ()
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of `package`, whose name ``n`` is ``modules[n]``'s
    attribute ``n``, imported when first asked for; `extra` names are listed by ``dir`` too."""

    def __getattr__(name: str) -> Any:
        if name in modules:
            return getattr(importlib.import_module(modules[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*modules, *extra])

    return __getattr__, __dir__
