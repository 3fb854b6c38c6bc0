# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Configuration of gradient ascent."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base_config import UnlearnConfig


@dataclass
class GradAscentConfig(UnlearnConfig):
    r"""Configuration for [`GradAscentTrainer`]: maximise the forget set's negative log-likelihood.

    The loss is `-forget_weight * NLL(forget)`, with no retain term by default. Gradient ascent is unbounded: it
    is the baseline that shows model collapse (TOFU, Maini et al., 2024). For "gradient difference" use
    [`GradDiffConfig`].

    Parameters:
        retain_loss_type (`str`, *optional*, defaults to `"none"`):
            Plain gradient ascent has no retain term. See [`UnlearnConfig`] for the other fields.

    Example:
        >>> from hf_unlearn import GradAscentConfig
        >>> GradAscentConfig(output_dir="ga").retain_loss_type
        'none'
    """

    retain_loss_type: str = field(
        default="none", metadata={"help": "Retain regulariser; 'none' for plain gradient ascent."}
    )
