"""`make-c` then the ImageNet-C reader: what one writes, the other reads back, image for image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ipmix.corruptions.imagenet_c import (
    BENCHMARK_CORRUPTIONS,
    FrostTexturesNotFoundError,
    find_frost_dir,
)
from ipmix.corruptions.writers.folder_c import make_c_folder
from ipmix.data.classes import imagenet_wnids
from ipmix.robustness.imagenet_suite import evaluate_imagenet

SIZE = 64  # the tinyimagenet preset: quick, and the reader's checks are size-independent


class MeanColourModel(nn.Module):
    """1,000 logits from an image's mean colour (a fixed projection): deterministic, cheap."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("weight", torch.randn(3, 1000, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) @ self.weight


def test_make_c_output_is_read_back_by_the_imagenet_c_reader(tmp_path) -> None:
    try:
        find_frost_dir()
    except FrostTexturesNotFoundError:
        pytest.skip("frost textures not found ($IPMIX_DATA/frost): ImageNet-C needs all 15")
    skimage_data = pytest.importorskip("skimage.data")
    wnids = imagenet_wnids()[:2]
    photos = [skimage_data.astronaut(), skimage_data.coffee(), skimage_data.chelsea()]
    for index, photo in enumerate(photos):
        folder = tmp_path / "val" / wnids[index % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(photo[:200, :200])).save(folder / f"p{index}.JPEG", quality=95)

    summary = make_c_folder(tmp_path / "val", tmp_path / "c", preset="tinyimagenet", progress=False)
    assert summary.written == len(BENCHMARK_CORRUPTIONS) * 5 * len(photos)

    model = MeanColourModel()
    results = evaluate_imagenet(model, imagenet_c=tmp_path / "c", image_size=SIZE, progress=False)
    part = results["imagenet_c"]
    assert sorted(part["errors"]) == sorted(BENCHMARK_CORRUPTIONS)
    assert part["counts"] == {name: len(photos) for name in BENCHMARK_CORRUPTIONS}  # per severity
    # every error is a share of 3 images: a multiple of 100 / 3
    for errors in part["errors"].values():
        assert len(errors) == 5
        assert all(abs(e * 3 / 100 - round(e * 3 / 100)) < 1e-9 for e in errors)
    assert part["unnormalized_mce"] == pytest.approx(
        np.mean([np.mean(part["errors"][name]) for name in BENCHMARK_CORRUPTIONS])
    )
