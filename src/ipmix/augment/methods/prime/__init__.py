"""PRIME (Modas et al., ECCV 2022): the transforms (`transform`) and their three primitives
(`primitives`)."""
