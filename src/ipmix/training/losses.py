"""Training losses: cross-entropy on hard or soft labels, and AugMix's JSD consistency loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: AugMix's (and the IPMix authors') weight of the consistency term.
JSD_WEIGHT = 12.0
#: Lower clamp of the mixture distribution, as in AugMix's code.
MIXTURE_FLOOR = 1e-7


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy for integer labels ``[B]`` or soft labels ``[B, C]`` (MixUp, CutMix)."""
    if targets.ndim == 1:
        return F.cross_entropy(logits, targets)
    if targets.shape != logits.shape:
        raise ValueError(f"soft labels {tuple(targets.shape)} do not match logits {tuple(logits.shape)}")
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def jsd_consistency(logits: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean over views of ``KL(p_i || M)``, ``M = clamp(mean_i p_i, 1e-7, 1)`` (batch mean).

    With the clean view and two augmented views this is AugMix's Jensen-Shannon term.
    """
    if len(logits) < 2:
        raise ValueError(f"the JSD term needs at least two views, got {len(logits)}")
    probs = [F.softmax(view.float(), dim=1) for view in logits]
    log_mixture = torch.clamp(torch.stack(probs).mean(dim=0), MIXTURE_FLOOR, 1.0).log()
    divergences = [F.kl_div(log_mixture, p, reduction="batchmean") for p in probs]
    return torch.stack(divergences).mean()


def jsd_loss(
    logits: list[torch.Tensor] | tuple[torch.Tensor, ...],
    targets: torch.Tensor,
    weight: float = JSD_WEIGHT,
) -> torch.Tensor:
    """AugMix's loss: cross-entropy on the clean view (``logits[0]``) + `weight` x JSD term."""
    return cross_entropy(logits[0], targets) + weight * jsd_consistency(logits)
