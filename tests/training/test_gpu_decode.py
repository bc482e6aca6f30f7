"""--decode cuda: bytes and crops from the workers, decoding on the device (run here on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_folders import build_image_folder
from torch.utils.data import DataLoader

from ipmix.data import AugmentedImages, ImageFolderDataset, RandomResizedCropFlip, scan_image_folder
from ipmix.training import ConfigError, TrainConfig
from ipmix.training.gpu_decode import EncodedCrops, decode_batch


def test_device_decoding_sees_the_crops_of_the_cpu_pipeline(tmp_path):
    index = scan_image_folder(build_image_folder(tmp_path / "f", classes=3, per_class=6), cache=False)
    source = ImageFolderDataset(index)
    encoded = EncodedCrops(source, RandomResizedCropFlip(40), seed=7)
    reference = AugmentedImages(source, [RandomResizedCropFlip(40)], seed=7, dtype=torch.uint8)
    loader = DataLoader(encoded, batch_size=9, collate_fn=encoded.collate)
    batches = [(decode_batch(batch, 40, torch.device("cpu")), labels) for batch, labels in loader]
    images = torch.cat([b for b, _ in batches])
    labels = torch.cat([lab for _, lab in batches])
    expected = torch.stack([reference[i][0] for i in range(len(reference))])
    assert images.shape == expected.shape == (18, 3, 40, 40) and images.dtype == torch.uint8
    assert labels.tolist() == index.labels.tolist()
    kinds = [encoded[i][0][0] for i in range(len(encoded))]
    assert "jpeg" in kinds and "decoded" in kinds  # PNG and CMYK files fall back to PIL
    difference = (images.float() - expected.float()).abs().mean(dim=(1, 2, 3))
    # Same windows and flips; only decoder and resampler rounding differ.
    assert difference.max() < 0.5, difference.tolist()
    jpeg = [i for i, kind in enumerate(kinds) if kind == "jpeg"]
    assert np.all(difference[[i for i in range(18) if i not in jpeg]].numpy() == 0)


def test_device_decoding_options_are_checked(tmp_path):
    base = dict(out=str(tmp_path / "r"), dataset="imagefolder", data=str(tmp_path), decode="cuda")
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        TrainConfig(**base).resolved("cpu")
    with pytest.raises(ConfigError, match="use --batched with ipmix, or a batch-level method"):
        TrainConfig(**base, aug="augmix").resolved("cuda")
    with pytest.raises(ConfigError, match="random-resized only"):
        TrainConfig(**base, train_crop="pad").resolved("cuda")
    assert TrainConfig(**base).resolved("cuda").batched is True
