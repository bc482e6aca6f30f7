"""The backends that apply an IPMix plan: each takes the plan and only applies it.

- `reference`: PIL image ops and numpy mixing, the readable statement (``IPMix(backend="pil")``);
- `fused`: compiled numba kernels, one pass per sample (``IPMix`` and ``IPMixBatch`` on CPUs);
- `triton`: the same design as one GPU kernel (``IPMixBatch`` on CUDA tensors);
- `grouped`: batched torch ops grouped by op family (``IPMixBatch(backend="torch")``, any device);
- `cpu_math`: the arithmetic `reference` and `fused` share bit for bit (powers, mask noise).
"""
