"""PGD under an L-inf budget, in pixel space [0, 1], as in the IPMix / PixMix evaluation.

The CIFAR scripts of hzlsaber/IPMix and andyzoujm/pixmix use eps = 2/255, 20 steps of
0.5/255, a uniform random start in the eps-ball, the *summed* cross-entropy, a signed-gradient
step, and after every step a projection onto the eps-ball and [0, 1]. ipmix models take [0, 1]
inputs and normalise inside, so the attack runs on the pixels directly.

Their ``PGD.forward`` writes ``adv_bx = bx.detach()`` then ``adv_bx += uniform(-eps, eps)``:
``detach`` shares storage, so the in-place addition moves ``bx`` too, and every projection is
onto the eps-ball around the *random start* ``clean + u``, not around the clean image. Their
images can therefore lie up to 2 eps from the clean one, and the first forward pass sees the
unclamped start. By default ipmix projects onto the ball around the clean image and clamps the
start to [0, 1] (the attack the paper describes); ``reference=True`` reproduces their code
exactly, for comparisons with published numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ipmix.utils.images import check_unit_range

PGD_EPS = 2 / 255
PGD_STEPS = 20
PGD_STEP_SIZE = 0.5 / 255


class AttackConfigError(ValueError):
    """An attack parameter is out of range."""


def pgd_attack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float = PGD_EPS,
    steps: int = PGD_STEPS,
    step_size: float = PGD_STEP_SIZE,
    generator: torch.Generator | None = None,
    random_start: bool = True,
    reference: bool = False,
) -> torch.Tensor:
    """Adversarial images within `eps` (L-inf) of `images` and inside [0, 1].

    `images` is float ``[B, C, H, W]`` in [0, 1] on the model's device. The random start is
    drawn on the CPU from `generator` (required when `random_start`), so a seed gives the same
    start on any device. The model's parameters receive no gradient; its mode is left as is
    (call ``model.eval()`` first). With `reference`, the projection centre is the unclamped
    random start, as in hzlsaber/IPMix and andyzoujm/pixmix ``cifar.py`` (see the module
    docstring): the result then lies within 2 `eps` of `images`.
    """
    if eps < 0 or step_size < 0 or steps < 0:
        raise AttackConfigError(
            f"eps, step_size and steps must be >= 0, got {eps}, {step_size}, {steps}"
        )
    if images.ndim != 4:
        raise AttackConfigError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise AttackConfigError(f"images must be float in [0, 1], got {images.dtype}")
    check_unit_range(images, "PGD images")
    clean = images.detach()
    centre = clean
    adversarial = clean.clone()
    if random_start and eps > 0:
        if generator is None:
            raise AttackConfigError("a random start needs an explicit torch.Generator")
        noise = torch.rand(clean.shape, generator=generator, dtype=torch.float32)
        start = clean + ((noise * 2 - 1) * eps).to(clean)
        # the reference's aliasing: its centre is the start itself, fed to the model unclamped
        centre = start if reference else clean
        adversarial = start if reference else start.clamp(0, 1)
    # reference: min(max(x, c - eps), c + eps).clamp(0, 1), which equals this clamped box
    lower = (centre - eps).clamp(0, 1)
    upper = (centre + eps).clamp(0, 1)
    if not reference:
        adversarial = torch.min(torch.max(adversarial, lower), upper)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(adversarial), labels, reduction="sum")
            (grad,) = torch.autograd.grad(loss, adversarial)
        adversarial = adversarial.detach() + step_size * grad.sign()
        adversarial = torch.min(torch.max(adversarial, lower), upper)
    return adversarial.detach()


def pgd_part(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    device: torch.device,
    seed: int,
    progress: bool,
    reference: bool,
    on_predictions: Callable[[str, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """The suite's ``pgd`` part: error (%) on PGD images of uint8 ``[N, H, W, 3]`` `images`.

    `on_predictions` receives the softmax outputs on all adversarial images, labelled ``pgd``.
    """
    from ipmix.robustness.predict import _images_to_tensor

    generator = torch.Generator().manual_seed(seed)
    wrong = 0
    outputs = []
    for start in tqdm(range(0, len(images), batch_size), desc="PGD", disable=not progress, leave=False):
        batch = _images_to_tensor(images[start : start + batch_size], device)
        targets = torch.from_numpy(labels[start : start + batch_size]).to(device)
        adversarial = pgd_attack(model, batch, targets, generator=generator, reference=reference)
        with torch.no_grad():
            logits = model(adversarial)
        wrong += int((logits.argmax(1) != targets).sum())
        if on_predictions is not None:
            outputs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    if on_predictions is not None:
        on_predictions("pgd", np.concatenate(outputs))
    return {
        "error": 100 * wrong / len(images),
        "eps": PGD_EPS,
        "steps": PGD_STEPS,
        "step_size": PGD_STEP_SIZE,
        "variant": "reference" if reference else "clean-centre",
    }
