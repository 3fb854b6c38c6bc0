# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The offline worlds: small, deterministic, cached stand-ins for the Hub datasets and models (see design.md)."""

from .cache import cached_build, config_hash, default_cache_dir


__all__ = [
    "cached_build",
    "config_hash",
    "default_cache_dir",
]
