# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The offline worlds: small, deterministic, cached stand-ins for the Hub datasets and models (see design.md)."""

from .cache import cached_build, config_hash, default_cache_dir
from .muse import MUSE_PRESETS, MusePreset, MuseWorld, build_muse_world, muse_world_config
from .shapes import ConceptDetector, ShapesWorld, ShapesWorldConfig, load_shapes_world
from .tofu import TOFU_PRESETS, TofuPreset, TofuWorld, build_tofu_world, tofu_world_config
from .tofu_data import generate_authors, generate_tofu_data, n_forget_authors
from .tofu_models import CHAT_TEMPLATE, TINY_LLAMA_PRESETS, build_tokenizer, tiny_llama_config


__all__ = [
    "CHAT_TEMPLATE",
    "MUSE_PRESETS",
    "TINY_LLAMA_PRESETS",
    "TOFU_PRESETS",
    "ConceptDetector",
    "MusePreset",
    "MuseWorld",
    "ShapesWorld",
    "ShapesWorldConfig",
    "TofuPreset",
    "TofuWorld",
    "build_muse_world",
    "build_tofu_world",
    "build_tokenizer",
    "cached_build",
    "config_hash",
    "default_cache_dir",
    "generate_authors",
    "generate_tofu_data",
    "load_shapes_world",
    "muse_world_config",
    "n_forget_authors",
    "tiny_llama_config",
    "tofu_world_config",
]
