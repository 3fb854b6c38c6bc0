# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case forget sets ("Challenging Forgets", Fan et al., ECCV 2024): bi-level selection of the forget set that
is hardest (or easiest) to unlearn, with the baselines to report beside it and a selection file other tools read.

The core ([`select_forget_set`]) knows nothing of a model family; classification (`hf_unlearn.worstcase.vision`),
LLM unlearning on TOFU authors (`hf_unlearn.worstcase.tofu`) and concept erasure in text-to-image pipelines
(`hf_unlearn.worstcase.diffusion`: units = a concept's prompts, weighted ESD on the text encoder) plug in a
lower-level loss and a per-unit loss through [`SelectionProblem`].
"""

from .baselines import group_histogram, jaccard, lowest_loss_units, mean_pairwise_jaccard, random_units
from .files import SELECTION_FILE, load_selection, save_selection, validate_selection
from .projection import project_budget, resolve_budget, top_m, top_m_mask
from .report import plot_objective
from .selection import (
    SelectionProblem,
    SelectionResult,
    WorstCaseConfig,
    select_forget_set,
    sign_sgd_step,
    upper_step,
)


__all__ = [
    "SELECTION_FILE",
    "SelectionProblem",
    "SelectionResult",
    "WorstCaseConfig",
    "group_histogram",
    "jaccard",
    "load_selection",
    "lowest_loss_units",
    "mean_pairwise_jaccard",
    "plot_objective",
    "project_budget",
    "random_units",
    "resolve_budget",
    "save_selection",
    "select_forget_set",
    "sign_sgd_step",
    "top_m",
    "top_m_mask",
    "upper_step",
    "validate_selection",
]
