# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The method registry of the scripts and the CLI: a method is a config + trainer pair and one `register_method` line.

Classes are named as `"module:Class"` strings and imported on first use, so listing the methods (for
`hf-unlearn --help`) does not import torch.

Example:
    >>> from hf_unlearn.scripts.methods import METHODS, get_method
    >>> sorted(METHODS)
    ['ga', 'graddiff', 'npo', 'simnpo']
    >>> get_method("simnpo").world_recipe["beta"]
    1.0
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


__all__ = ["METHODS", "WORLD_COMMON", "WORLD_RECIPES", "UnlearnMethod", "get_method", "register_method"]

# Training settings shared by every method on an offline world (the batch of 16 is global: the scripts divide it by
# the number of processes). The config classes keep the papers' defaults for real runs.
WORLD_COMMON: dict[str, Any] = {
    "num_train_epochs": 10.0,
    "per_device_train_batch_size": 16,
    "weight_decay": 0.0,
    "warmup_steps": 0.1,
    "max_grad_norm": 1.0,
}


def _resolve(target: str | type) -> type:
    if not isinstance(target, str):
        return target
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


@dataclass(frozen=True)
class UnlearnMethod:
    """One registered unlearning method.

    Args:
        name (`str`): The name used on the command line (`hf-unlearn train NAME`).
        trainer (`str` or `type`): The trainer class, or `"module:Class"` to import it on first use.
        config (`str` or `type`): The config class (a `UnlearnConfig` subclass), or `"module:Class"`.
        world_recipe (`dict`, *optional*): Config values applied on an offline world unless given on the command
            line (measured there, see `benchmarks/bench_tofu_methods.py`); added to [`WORLD_COMMON`].
    """

    name: str
    trainer: str | type
    config: str | type
    world_recipe: dict[str, Any] = field(default_factory=dict)

    def classes(self) -> tuple[type, type]:
        """Imports and returns `(trainer_class, config_class)`."""
        return _resolve(self.trainer), _resolve(self.config)


METHODS: dict[str, UnlearnMethod] = {}
# name -> the method's offline-world recipe (kept in step with METHODS by `register_method`).
WORLD_RECIPES: dict[str, dict[str, Any]] = {}


def register_method(
    name: str, trainer: str | type, config: str | type, world_recipe: dict[str, Any] | None = None
) -> UnlearnMethod:
    """Adds a method to [`METHODS`] (see [`UnlearnMethod`] for the arguments) and returns its entry.

    Example:
        >>> from hf_unlearn.scripts.methods import METHODS, WORLD_RECIPES, register_method
        >>> entry = register_method("my_ga", "hf_unlearn:GradAscentTrainer", "hf_unlearn:GradAscentConfig")
        >>> entry.classes()[0].__name__
        'GradAscentTrainer'
        >>> del METHODS["my_ga"], WORLD_RECIPES["my_ga"]
    """
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"method name must be letters, digits and '_', got {name!r}.")
    METHODS[name] = UnlearnMethod(name, trainer, config, dict(world_recipe or {}))
    WORLD_RECIPES[name] = METHODS[name].world_recipe
    return METHODS[name]


def get_method(name: str) -> UnlearnMethod:
    """The registered method `name`; a `ValueError` lists the known ones."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}.")
    return METHODS[name]


# Measured on the offline `default` world with benchmarks/bench_tofu_methods.py (README, "The main job": SimNPO beta 2.5
# gave median forget quality 0.02 over seeds 0-2, beta 1.0 gave 0.44 at 0.985x utility).
register_method(
    "simnpo",
    "hf_unlearn.trainer:SimNPOTrainer",
    "hf_unlearn.trainer:SimNPOConfig",
    {"learning_rate": 3e-4, "beta": 1.0, "forget_weight": 1.0, "retain_weight": 1.0},
)
register_method(
    "npo",
    "hf_unlearn.trainer:NPOTrainer",
    "hf_unlearn.trainer:NPOConfig",
    {"learning_rate": 3e-4, "beta": 0.1, "forget_weight": 1.0, "retain_weight": 1.0},
)
register_method(
    "graddiff",
    "hf_unlearn.trainer:GradDiffTrainer",
    "hf_unlearn.trainer:GradDiffConfig",
    {"learning_rate": 1e-4, "forget_weight": 1.0, "retain_weight": 1.0},
)
register_method(
    "ga",
    "hf_unlearn.trainer:GradAscentTrainer",
    "hf_unlearn.trainer:GradAscentConfig",
    {"learning_rate": 1e-4, "forget_weight": 1.0},
)
