# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Configuration of NPO."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base_config import UnlearnConfig


@dataclass
class NPOConfig(UnlearnConfig):
    r"""Configuration for [`NPOTrainer`] (Negative Preference Optimization, Zhang et al., 2024,
    [arXiv:2404.05868](https://huggingface.co/papers/2404.05868)).

    Loss: `forget_weight * -(2/beta) * logsigmoid(-beta * (logp_theta(y|x) - logp_ref(y|x))) + retain_weight * R`,
    with summed sequence log-probabilities and `R` the retain NLL (or KL). Defaults follow the papers' TOFU setup and
    open-unlearning's NPO (`beta=0.1`, forget and retain weights 1).

    Parameters:
        beta (`float`, *optional*, defaults to `0.1`):
            Inverse temperature. Smaller values behave like gradient ascent; larger values stop pushing a sequence
            sooner once its likelihood falls below the reference's.

        The reference model is chosen by [`NPOTrainer`]: an explicit `ref_model`, the adapter-disabled base of a
        peft model, a frozen copy of the model, or (`precompute_ref_log_probs=True`) log-probs computed once.
        Other fields: see [`UnlearnConfig`].

    Example:
        >>> from hf_unlearn import NPOConfig
        >>> NPOConfig(output_dir="npo").beta
        0.1
    """

    beta: float = field(default=0.1, metadata={"help": "NPO inverse temperature beta (paper default 0.1)."})

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0 (the paper uses 0.1), got {self.beta}.")
        super().__post_init__()
