"""Issue 13, item 9: the authors' PGD (aliased projection centre) and the OOD outlier count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ipmix.robustness.attacks import PGD_EPS, pgd_attack
from ipmix.robustness.ood import load_outlier_source


class Linear(nn.Module):
    """A fixed linear classifier: the loss gradient's sign is the same at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 3 * 8 * 8, generator=torch.Generator().manual_seed(0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight.T


def _reference_pgd(model, clean, labels, noise, eps, steps, step):
    """hzlsaber/IPMix and PixMix cifar.py PGD.forward, written from its description: the
    in-place random start also moves the tensor the projection is centred on."""
    centre = clean + noise  # adv_bx = bx.detach(); adv_bx += noise  (bx moves with it)
    adv = centre.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + step * grad.sign()
        adv = torch.min(torch.max(adv, centre - eps), centre + eps).clamp(0, 1)
    return adv


def test_reference_pgd_moves_the_centre_up_to_two_eps():
    model = Linear().eval()
    clean = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1
    labels = torch.arange(16) % 3
    ours = pgd_attack(model, clean, labels, generator=torch.Generator().manual_seed(5))
    theirs = pgd_attack(model, clean, labels, generator=torch.Generator().manual_seed(5), reference=True)
    assert (ours - clean).abs().max() <= PGD_EPS + 1e-6
    distance = (theirs - clean).abs()
    assert distance.max() <= 2 * PGD_EPS + 1e-6 and distance.max() > 1.5 * PGD_EPS
    assert ((distance > PGD_EPS + 1e-6).float().mean()) > 0.2
    noise = (torch.rand(clean.shape, generator=torch.Generator().manual_seed(5)) * 2 - 1) * PGD_EPS
    expected = _reference_pgd(model, clean, labels, noise, PGD_EPS, 20, 0.5 / 255)
    torch.testing.assert_close(theirs, expected, rtol=0, atol=1e-6)


def test_ood_folders_are_subsampled_to_the_protocol_count(tmp_path):
    for i in range(10):
        Image.new("RGB", (40, 40), (25 * i,) * 3).save(tmp_path / f"{i}.png")
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    protocol = load_outlier_source(tmp_path, 2, rng(), size=32)
    assert protocol.images.shape == (2, 32, 32, 3)
    again = load_outlier_source(tmp_path, 2, rng(), size=32)
    np.testing.assert_array_equal(protocol.images, again.images)  # seeded
    whole = load_outlier_source(tmp_path, 2, rng(), size=32, subsample=False)
    assert whole.images.shape == (10, 32, 32, 3)
    array = np.zeros((7, 32, 32, 3), np.uint8)
    assert load_outlier_source(array, 3, rng()).images.shape[0] == 3
    assert load_outlier_source(array, 3, rng(), subsample=False).images.shape[0] == 7
    np.save(tmp_path / "o.npy", array)
    assert load_outlier_source(tmp_path / "o.npy", 3, rng()).images.shape[0] == 3
    with pytest.raises(FileNotFoundError):
        load_outlier_source(tmp_path / "missing", 3, rng())
