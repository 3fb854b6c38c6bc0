# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Configuration of SimNPO."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .base_config import UnlearnConfig


@dataclass
class SimNPOConfig(UnlearnConfig):
    r"""Configuration for [`SimNPOTrainer`] (SimNPO, Fan et al., 2024,
    [arXiv:2410.07163](https://huggingface.co/papers/2410.07163)).

    Loss, as the paper writes it:
    `forget_weight * -(2/beta) * logsigmoid(-(beta/|y|) * logp_theta(y|x) - gamma) + retain_weight * NLL(retain)`.
    No reference model. Defaults are the paper's TOFU forget10 values (Unlearn-Simple `config/forget.yaml`:
    `beta=4.5`, `npo_coeff=0.125` → `forget_weight`, `grad_diff_coeff=1` → `retain_weight`, `gamma=0`); for
    forget05 the paper uses `beta=2.5`, `forget_weight=0.1375`. On MUSE it uses `beta=0.7`, `forget_weight=1`,
    `retain_weight=0.1`.

    > [!NOTE]
    > The reference code puts the margin inside beta (`logsigmoid(beta * (-logp/|y| - gamma))`, i.e. a margin of
    > `beta * gamma`; open-unlearning issue #123). `gamma` here is the paper's; set `gamma_scaled_by_beta=True` to
    > reproduce the code. Both agree at `gamma=0`. The model cards' "lambda" is the *forget* weight in the code.

    Parameters:
        beta (`float`, *optional*, defaults to `4.5`):
            Inverse temperature (TOFU forget10: 4.5, forget05: 2.5).
        gamma (`float`, *optional*, defaults to `0.0`):
            Reward margin, outside beta as in the paper (open-unlearning calls it `delta`).
        gamma_scaled_by_beta (`bool`, *optional*, defaults to `False`):
            Use the reference code's margin `beta * gamma` instead of the paper's `gamma`.
        forget_weight (`float`, *optional*, defaults to `0.125`):
            Weight of the SimNPO forget term (the reference code's `npo_coeff`, TOFU forget10).
        retain_weight (`float`, *optional*, defaults to `1.0`):
            Weight of the retain NLL (the reference code's `grad_diff_coeff`).

        Other fields: see [`UnlearnConfig`].

    Example:
        >>> from hf_unlearn import SimNPOConfig
        >>> cfg = SimNPOConfig(output_dir="simnpo")
        >>> cfg.beta, cfg.gamma, cfg.forget_weight, cfg.retain_weight
        (4.5, 0.0, 0.125, 1.0)
    """

    beta: float = field(default=4.5, metadata={"help": "SimNPO inverse temperature beta (TOFU forget10: 4.5)."})
    gamma: float = field(
        default=0.0, metadata={"help": "Reward margin gamma, outside beta as in the paper (TOFU: 0)."}
    )
    gamma_scaled_by_beta: bool = field(
        default=False,
        metadata={"help": "Use the reference code's margin beta*gamma instead of the paper's gamma."},
    )
    forget_weight: float = field(
        default=0.125,
        metadata={"help": "Weight of the forget term (reference code's npo_coeff; TOFU forget10 0.125)."},
    )
    retain_weight: float = field(
        default=1.0, metadata={"help": "Weight of the retain NLL (reference code's grad_diff_coeff)."}
    )

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0 (the paper uses 2.5 to 4.5 on TOFU), got {self.beta}.")
        if not math.isfinite(self.gamma):
            raise ValueError(f"gamma must be a finite number, got {self.gamma}.")
        super().__post_init__()
