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

# submodule -> public names it defines. Each room adds its own line.
_import_structure: dict[str, list[str]] = {
    "data": [
        "TOFU_SPLITS",
        "QATemplate",
        "get_template",
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
        "evaluate_tofu",
        "forget_quality",
        "model_utility",
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
        "ShapesWorld",
        "TofuWorld",
        "build_tofu_world",
        "build_tokenizer",
        "load_shapes_world",
        "tiny_llama_config",
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
        "sequence_nll",
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
    from .data import TOFU_SPLITS, QATemplate, get_template, load_tofu, tokenize_qa
    from .diffusion import (
        AdvUnlearn,
        AdvUnlearnConfig,
        ConceptEvaluator,
        DiscretePromptAttack,
        SoftPromptAttack,
        SoftPromptTextEncoder,
        esd_loss,
    )
    from .eval import evaluate_tofu, forget_quality, model_utility, truth_ratio
    from .saliency import (
        SaliencyMaskGuard,
        SalUnMask,
        apply_saliency_mask,
        compute_saliency_mask,
        load_saliency_mask,
        save_saliency_mask,
    )
    from .synthetic import (
        ShapesWorld,
        TofuWorld,
        build_tofu_world,
        build_tokenizer,
        load_shapes_world,
        tiny_llama_config,
    )
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
        npo_loss,
        sequence_log_probs,
        sequence_nll,
        simnpo_loss,
    )
    from .vision import ClassificationUnlearningConfig, run_classification_benchmark
    from .worstcase import WorstCaseConfig, load_selection, select_forget_set

_name_to_module = {name: module for module, names in _import_structure.items() for name in names}

# Keep in sync with `_import_structure` (a test checks it).
__all__ = [
    "TOFU_SPLITS",
    "AdvUnlearn",
    "AdvUnlearnConfig",
    "ClassificationUnlearningConfig",
    "ConceptEvaluator",
    "DiscretePromptAttack",
    "GradAscentConfig",
    "GradAscentTrainer",
    "GradDiffConfig",
    "GradDiffTrainer",
    "NPOConfig",
    "NPOTrainer",
    "QATemplate",
    "SalUnMask",
    "SaliencyMaskGuard",
    "ShapesWorld",
    "SimNPOConfig",
    "SimNPOTrainer",
    "SoftPromptAttack",
    "SoftPromptTextEncoder",
    "TofuWorld",
    "UnlearnConfig",
    "UnlearnTrainer",
    "WorstCaseConfig",
    "__version__",
    "apply_saliency_mask",
    "build_tofu_world",
    "build_tokenizer",
    "compute_saliency_mask",
    "esd_loss",
    "evaluate_tofu",
    "forget_quality",
    "get_template",
    "kl_divergence",
    "load_saliency_mask",
    "load_selection",
    "load_shapes_world",
    "load_tofu",
    "model_utility",
    "npo_loss",
    "run_classification_benchmark",
    "save_saliency_mask",
    "select_forget_set",
    "sequence_log_probs",
    "sequence_nll",
    "simnpo_loss",
    "tiny_llama_config",
    "tokenize_qa",
    "truth_ratio",
]


def __getattr__(name: str) -> Any:
    if name in _name_to_module:
        module = importlib.import_module(f".{_name_to_module[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hf_unlearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
