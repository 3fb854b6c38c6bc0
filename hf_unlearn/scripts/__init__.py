# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The reusable part of the example scripts (as TRL keeps `trl/scripts/`): argument dataclasses, run logic and the
method registry. The examples in `examples/` and the `hf-unlearn train` command call the same functions.

- [`~hf_unlearn.scripts.methods`]: `METHODS`, `register_method`, the offline-world recipes (`WORLD_RECIPES`).
- [`~hf_unlearn.scripts.unlearn_tofu`]: `parse_args` / `main` of the TOFU job (unlearn, evaluate, report, push).
- [`~hf_unlearn.scripts.lora_unlearn`]: `parse_args` / `main` of LoRA unlearning on your own QA files.
- [`~hf_unlearn.scripts.muse`]: `parse_args` / `main` of the MUSE job (`examples/simnpo_muse.py`).

Only the registry is imported here (no torch), so that the CLI's help stays fast.
"""

from .methods import METHODS, WORLD_COMMON, WORLD_RECIPES, UnlearnMethod, get_method, register_method


__all__ = ["METHODS", "WORLD_COMMON", "WORLD_RECIPES", "UnlearnMethod", "get_method", "register_method"]
