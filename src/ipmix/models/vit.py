"""A small Vision Transformer for 32x32 images (paper Appendix K trains "a small ViT").

The paper gives no configuration, so this follows a common plain ViT recipe for CIFAR from
scratch: 4x4 patches (64 tokens plus a class token), width 384, 7 pre-norm encoder blocks with
12 heads and an MLP of width 384, learned position embeddings, GELU, a final LayerNorm and a
linear head on the class token (about 6.3M parameters). Every size is an argument. Written here
rather than taken from timm to avoid a dependency for ~80 lines; attention uses PyTorch's
fused `scaled_dot_product_attention`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ipmix.models.base import DEFAULT_MEAN, DEFAULT_STD, ImageClassifier, check_num_classes


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        out = out.transpose(1, 2).reshape(batch, tokens, dim)
        return F.dropout(self.proj(out), self.dropout, self.training)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)); x + mlp(LN(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(ImageClassifier):
    """Plain ViT with a class token for small square images; [0, 1] images in."""

    def __init__(
        self,
        num_classes: int,
        image_size: int = 32,
        patch_size: int = 4,
        dim: int = 384,
        depth: int = 7,
        num_heads: int = 12,
        mlp_dim: int = 384,
        dropout: float = 0.0,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        super().__init__(mean, std)
        check_num_classes(num_classes)
        if patch_size < 1 or image_size % patch_size != 0:
            raise ValueError(
                f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})"
            )
        if num_heads < 1 or dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        if depth < 1 or mlp_dim < 1:
            raise ValueError(f"depth and mlp_dim must be >= 1, got {depth} and {mlp_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.image_size = image_size
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(3, dim, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))
        self.embed_dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(
            *(EncoderBlock(dim, num_heads, mlp_dim, dropout) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)
        self.num_features = dim
        self.head = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """ViT initialisation: truncated normal (std 0.02) for embeddings and linears."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Conv2d):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"this ViT takes {self.image_size}x{self.image_size} images, "
                f"got {tuple(x.shape[-2:])}"
            )
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = self.embed_dropout(torch.cat((cls, tokens), dim=1) + self.pos_embed)
        return self.norm(self.blocks(tokens))[:, 0]
