"""The GPU backend: one Triton kernel per call (`apply`), its image ops (`ops`), and the
offline compile check for real GPUs (`compile`)."""
