"""Matplotlib figures for files: made without pyplot (no global state, no display) and written
as PNG atomically. Shared by the robustness report, `ipmix reproduce`'s plots and `ipmix figures`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ipmix.utils.io import atomic_write_bytes


def new_figure(width: float, height: float) -> Any:
    """A matplotlib ``Figure`` of `width` x `height` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def png_bytes(figure: Any, dpi: int = 110, tight: bool = False) -> bytes:
    """`figure` as PNG (`tight`: cropped to what is drawn)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    return buffer.getvalue()


def write_png(figure: Any, path: str | Path, dpi: int = 110, tight: bool = False) -> Path:
    """Write `figure` to `path` as PNG, atomically; returns the path."""
    return atomic_write_bytes(Path(path), png_bytes(figure, dpi, tight))
