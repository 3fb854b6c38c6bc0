# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Configuration of gradient difference."""

from __future__ import annotations

from dataclasses import dataclass

from .base_config import UnlearnConfig


@dataclass
class GradDiffConfig(UnlearnConfig):
    r"""Configuration for [`GradDiffTrainer`]: gradient ascent on the forget set plus descent on the retain set.

    The loss is `-forget_weight * NLL(forget) + retain_weight * R(retain)`, where `R` is the retain NLL
    (`retain_loss_type="nll"`, the default) or the KL divergence from the frozen pre-unlearning model
    (`retain_loss_type="kl"`, TOFU's "KL" baseline). Defaults: `forget_weight=1`, `retain_weight=1`
    (open-unlearning's GradDiff). All fields are documented in [`UnlearnConfig`].

    Example:
        >>> from hf_unlearn import GradDiffConfig
        >>> cfg = GradDiffConfig(output_dir="gd", retain_loss_type="kl")
        >>> cfg.retain_weight, cfg.retain_loss_type
        (1.0, 'kl')
    """
