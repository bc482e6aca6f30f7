"""Test-wide settings: hypothesis runs derandomised, so every run checks the same examples."""

from hypothesis import settings

settings.register_profile("ipmix", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ipmix")
