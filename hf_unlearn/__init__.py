# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""hf_unlearn: machine unlearning for the Hugging Face stack.

The public API is imported lazily (as in TRL), so that `import hf_unlearn` and the `hf-unlearn` command start fast:
heavy dependencies (torch, transformers, diffusers) load only when a name that needs them is first used.

Example:
    >>> import hf_unlearn
    >>> hf_unlearn.__version__
    '0.1.0'
"""

import importlib
from typing import TYPE_CHECKING, Any


__version__ = "0.1.0"

# THE list of public names: submodule -> names it defines (each room adds its own line). `__all__` and the lazy lookup
# are derived from it; the world internals (tokenizer and model factories, world classes) stay in
# `hf_unlearn.synthetic`, only the world builders are here.
_import_structure: dict[str, list[str]] = {
    "data": [
        "TOFU_SPLITS",
        "ForgetRetainDataset",
        "QATemplate",
        "build_forget_retain_dataset",
        "get_template",
        "load_muse",
        "load_tofu",
        "tokenize_qa",
    ],
    "diffusion": [
        "AdvUnlearn",
        "AdvUnlearnConfig",
        "ConceptEvaluator",
        "DiscretePromptAttack",
        "SoftPromptAttack",
        "SoftPromptTextEncoder",
        "esd_loss",
    ],
    "eval": [
        "evaluate_muse",
        "evaluate_tofu",
        "forget_quality",
        "mia_auc",
        "mia_scores",
        "model_utility",
        "privleak",
        "truth_ratio",
    ],
    "saliency": [
        "SalUnMask",
        "SaliencyMaskGuard",
        "apply_saliency_mask",
        "compute_saliency_mask",
        "load_saliency_mask",
        "save_saliency_mask",
    ],
    "synthetic": [
        "build_muse_world",
        "build_tofu_world",
        "load_shapes_world",
    ],
    "trainer": [
        "GradAscentConfig",
        "GradAscentTrainer",
        "GradDiffConfig",
        "GradDiffTrainer",
        "NPOConfig",
        "NPOTrainer",
        "SimNPOConfig",
        "SimNPOTrainer",
        "UnlearnConfig",
        "UnlearnTrainer",
        "kl_divergence",
        "npo_loss",
        "sequence_log_probs",
        "mean_sequence_nll",
        "simnpo_loss",
    ],
    "vision": [
        "ClassificationUnlearningConfig",
        "run_classification_benchmark",
    ],
    "worstcase": [
        "WorstCaseConfig",
        "load_selection",
        "select_forget_set",
    ],
}

if TYPE_CHECKING:  # pragma: no cover
    from .data import (
        TOFU_SPLITS,
        ForgetRetainDataset,
        QATemplate,
        build_forget_retain_dataset,
        get_template,
        load_muse,
        load_tofu,
        tokenize_qa,
    )
    from .diffusion import (
        AdvUnlearn,
        AdvUnlearnConfig,
        ConceptEvaluator,
        DiscretePromptAttack,
        SoftPromptAttack,
        SoftPromptTextEncoder,
        esd_loss,
    )
    from .eval import (
        evaluate_muse,
        evaluate_tofu,
        forget_quality,
        mia_auc,
        mia_scores,
        model_utility,
        privleak,
        truth_ratio,
    )
    from .saliency import (
        SaliencyMaskGuard,
        SalUnMask,
        apply_saliency_mask,
        compute_saliency_mask,
        load_saliency_mask,
        save_saliency_mask,
    )
    from .synthetic import build_muse_world, build_tofu_world, load_shapes_world
    from .trainer import (
        GradAscentConfig,
        GradAscentTrainer,
        GradDiffConfig,
        GradDiffTrainer,
        NPOConfig,
        NPOTrainer,
        SimNPOConfig,
        SimNPOTrainer,
        UnlearnConfig,
        UnlearnTrainer,
        kl_divergence,
        mean_sequence_nll,
        npo_loss,
        sequence_log_probs,
        simnpo_loss,
    )
    from .vision import ClassificationUnlearningConfig, run_classification_benchmark
    from .worstcase import WorstCaseConfig, load_selection, select_forget_set

_name_to_module = {name: module for module, names in _import_structure.items() for name in names}

# Derived from the table; the static imports above (for type checkers) are checked against it by a test.
__all__ = ["__version__", *sorted(_name_to_module)]  # noqa: PLE0604 (derived: names are the table's strings)


def __getattr__(name: str) -> Any:
    if name in _name_to_module:
        module = importlib.import_module(f".{_name_to_module[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hf_unlearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
