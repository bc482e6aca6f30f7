"""Augmentation methods beside IPMix that torchvision lacks: PixMix and CutOut (`baselines`),
AugMax's chains (`augmax`), PRIME (`prime`) and LayerMix (`layermix`)."""
