"""Tiny fake official benchmark layouts and a 1,000-class model whose logits are known.

Every fake image is one uniform colour that encodes an integer code (red + 256 * green), so
resizing and cropping leave it intact; `CodeModel` reads the code back and returns the row of a
logit table written by the test. Images are PNG (lossless) unless a test asks for JPEG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ipmix.data.classes import imagenet_wnids

WNIDS = imagenet_wnids()


def code_colour(code: int) -> tuple[int, int, int]:
    if not 0 <= code < 256 * 256:
        raise ValueError(f"code {code} out of range")
    return code % 256, code // 256, 0


def write_image(path: Path, code: int, size: int = 8, suffix: str = ".png") -> Path:
    path = path.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), code_colour(code)).save(path)
    return path


class CodeModel(nn.Module):
    """Logits ``table[code]`` for an image of uniform colour ``code`` ([0, 1] input)."""

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("table", torch.as_tensor(np.asarray(table), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = (x[:, 0].mean(dim=(1, 2)) * 255).round().long()
        green = (x[:, 1].mean(dim=(1, 2)) * 255).round().long()
        return self.table[red + 256 * green]


class LogitTable:
    """Allocates codes and their logit rows (1,000 columns by default)."""

    def __init__(self, columns: int = 1000, fill: float = 0.0) -> None:
        self.rows: list[np.ndarray] = [np.full(columns, fill, np.float32)]  # code 0: unused
        self.columns = columns
        self.fill = fill

    def add(self, logits: dict[int, float] | None = None, base: np.ndarray | None = None) -> int:
        row = np.full(self.columns, self.fill, np.float32) if base is None else base.astype(np.float32)
        for column, value in (logits or {}).items():
            row[column] = value
        self.rows.append(row)
        return len(self.rows) - 1

    def predicting(self, column: int, value: float = 10.0) -> int:
        """A code whose arg-max is `column`."""
        return self.add({column: value})

    def model(self) -> CodeModel:
        return CodeModel(np.stack(self.rows))


def write_video(path: Path, values: list[int], size: int = 16) -> Path:
    """An mp4 of uniform grey frames (PyAV, mpeg4): one frame per value."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for value in values:
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), value, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class GreyLevelModel(nn.Module):
    """1,000 classes, class k centred on grey level 32 k + 5: logits = -|level - centre|.

    The ranking of classes by distance to the frame's grey level is known in closed form, and
    lossy video coding moves a uniform frame by a grey level or two at most.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = x.mean(dim=(1, 2, 3)) * 255
        centres = 32 * torch.arange(1000, dtype=torch.float32) + 5
        return -(level[:, None] - centres[None]).abs()
