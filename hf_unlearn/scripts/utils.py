# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Command-line helpers shared by the scripts: CPU detection, default output folders, the offline-world recipe."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from .methods import WORLD_COMMON, get_method


__all__ = [
    "apply_world_recipe",
    "cpu_flag",
    "given_options",
    "is_world",
    "load_model_and_tokenizer",
    "load_retain_results",
    "with_defaults",
]


def is_world(dataset: str | None) -> bool:
    """Whether `dataset` means an offline mini-TOFU world (none given, or a built world folder).

    Example:
        >>> is_world(None), is_world("locuslab/TOFU")
        (True, False)
    """
    from ..data import WORLD_MANIFEST

    return dataset is None or os.path.isfile(os.path.join(dataset, WORLD_MANIFEST))


def cpu_flag(argv: list[str]) -> list[str]:
    """`["--use_cpu", "true"]` when no GPU is present (without it, 2 CPU processes would not form a DDP group)."""
    import torch

    if any(a.startswith("--use_cpu") for a in argv):
        return []
    mps = getattr(torch.backends, "mps", None)
    if torch.cuda.is_available() or (mps is not None and mps.is_available()):
        return []
    return ["--use_cpu", "true"]


def given_options(argv: list[str]) -> set[str]:
    """The `--option` names present in `argv` (`--a=1 --b 2` gives `{"a", "b"}`).

    Example:
        >>> sorted(given_options(["--a=1", "--b", "2", "x"]))
        ['a', 'b']
    """
    return {a[2:].split("=")[0] for a in argv if a.startswith("--")}


def with_defaults(argv: list[str], job: str) -> list[str]:
    """`argv` plus `--use_cpu true` on a machine without GPU and `--output_dir outputs/JOB/<time>` when none given."""
    argv = list(argv) + cpu_flag(argv)
    if "output_dir" not in given_options(argv):
        argv += ["--output_dir", os.path.join("outputs", job, time.strftime("%Y%m%d-%H%M%S"))]
    return argv


def apply_world_recipe(training_args: Any, method: str, given: set[str], **overrides: Any) -> dict[str, Any]:
    """Sets the method's offline-world recipe ([`WORLD_COMMON`] + its registered recipe + `overrides`) on
    `training_args`, except options in `given`; the global batch is divided by `WORLD_SIZE`. Returns the recipe."""
    recipe = {**WORLD_COMMON, **get_method(method).world_recipe, **overrides}
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    recipe["per_device_train_batch_size"] = max(1, recipe["per_device_train_batch_size"] // world_size)
    for key, value in recipe.items():
        if key not in given:
            setattr(training_args, key, value)
    return recipe


def load_model_and_tokenizer(model_path: str, training_args: Any) -> tuple[Any, Any, Any]:
    """Loads a causal LM in the dtype `training_args` asks for (`bf16` / `fp16` / float32) and its tokenizer, with
    the EOS token as pad token when it has none (padding is masked out of every loss and score).

    Returns:
        `tuple`: `(model, tokenizer, dtype)`.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from ..data import load_tokenizer_padded_with_eos

    tokenizer, _ = load_tokenizer_padded_with_eos(model_path)
    dtype = torch.bfloat16 if training_args.bf16 else (torch.float16 if training_args.fp16 else torch.float32)
    return AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype), tokenizer, dtype


def load_retain_results(
    source: str, evaluate: Callable[[Any], dict[str, Any]], mark: Callable[[dict], dict], dtype: Any, device: Any
) -> dict[str, Any]:
    """The retain model's evaluation: read from the JSON of an earlier run (`source` ending in `.json`), or computed
    now by `evaluate(model)` on the model at `source` and scored against itself by `mark` (e.g.
    `hf_unlearn.eval.tofu.mark_as_retain`)."""
    from transformers import AutoModelForCausalLM

    from ..eval import load_json

    if str(source).endswith(".json"):
        return load_json(source)
    results = mark(evaluate(AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)))
    results["model"] = str(source)
    return results
