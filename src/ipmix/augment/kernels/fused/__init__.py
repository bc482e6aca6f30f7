"""The CPU backend: numba kernels that apply a plan sample by sample (`apply`), their image ops
(`ops`) and PIL's affine transform (`affine`)."""
