"""The augmentation core: plan sampler, image ops, mixing kernels and the IPMix transforms.

Imports nothing from ipmix.data, ipmix.training, ipmix.robustness or ipmix.cli.
"""
