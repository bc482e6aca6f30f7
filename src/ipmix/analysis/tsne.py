"""Penultimate-layer features and their seeded t-SNE (scikit-learn), for Figure 8."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def penultimate_features(model: nn.Module, images: torch.Tensor, batch_size: int = 256,
                         device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """`model.forward_features` (ipmix models) of uint8 or [0, 1] images ``[N, 3, H, W]``, and
    the predicted classes: ``(features [N, D] float32, predictions [N])``."""
    if not hasattr(model, "forward_features") or not hasattr(model, "head"):
        raise ValueError(f"{type(model).__name__} exposes no penultimate features "
                         "(ipmix models have forward_features and head)")
    was_training = model.training
    model.eval().to(device)
    features, predictions = [], []
    try:
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size].to(device)
            chunk = chunk.float().div(255) if chunk.dtype == torch.uint8 else chunk.float()
            embedded = model.forward_features(chunk)
            features.append(embedded.float().cpu())
            predictions.append(model.head(embedded).argmax(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(features).numpy(), torch.cat(predictions).numpy()


def tsne_embedding(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of `features` (scikit-learn, PCA initialisation, `seed`): ``[N, 2]``.

    The perplexity is capped below the number of points, as scikit-learn requires."""
    from sklearn.manifold import TSNE

    if len(features) < 3:
        raise ValueError(f"t-SNE needs at least 3 points, got {len(features)}")
    perplexity = min(perplexity, (len(features) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed
                ).fit_transform(features.astype(np.float32))


__all__ = ["penultimate_features", "tsne_embedding"]
