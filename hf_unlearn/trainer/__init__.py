# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""LLM unlearning trainers (TRL style: one config + one trainer per method) and their pure loss functions.

- [`GradAscentTrainer`] / [`GradAscentConfig`]: gradient ascent on the forget set.
- [`GradDiffTrainer`] / [`GradDiffConfig`]: gradient difference (retain NLL or KL).
- [`NPOTrainer`] / [`NPOConfig`]: Negative Preference Optimization.
- [`SimNPOTrainer`] / [`SimNPOConfig`]: SimNPO (reference-free, length-normalised).
- [`NonFiniteGuard`]: stops any `Trainer` before a non-finite update reaches the weights (the unlearning trainers
  add it themselves); `safety` also holds the checkpoint-completeness, atomic-save and output-folder helpers.
- `losses`: `sequence_log_probs`, `mean_sequence_nll`, `npo_loss`, `simnpo_loss`, `kl_divergence`.

A new method is one `<name>_config.py` (a dataclass subclassing [`UnlearnConfig`]) and one `<name>_trainer.py`
(a [`UnlearnTrainer`] subclass implementing `forget_loss`).
"""

from .base_config import UnlearnConfig
from .base_trainer import UnlearnTrainer
from .grad_ascent_config import GradAscentConfig
from .grad_ascent_trainer import GradAscentTrainer
from .grad_diff_config import GradDiffConfig
from .grad_diff_trainer import GradDiffTrainer
from .losses import kl_divergence, mean_sequence_nll, npo_loss, sequence_log_probs, simnpo_loss
from .npo_config import NPOConfig
from .npo_trainer import NPOTrainer
from .safety import NonFiniteGuard
from .simnpo_config import SimNPOConfig
from .simnpo_trainer import SimNPOTrainer


__all__ = [
    "GradAscentConfig",
    "GradAscentTrainer",
    "GradDiffConfig",
    "GradDiffTrainer",
    "NPOConfig",
    "NPOTrainer",
    "NonFiniteGuard",
    "SimNPOConfig",
    "SimNPOTrainer",
    "UnlearnConfig",
    "UnlearnTrainer",
    "kl_divergence",
    "mean_sequence_nll",
    "npo_loss",
    "sequence_log_probs",
    "simnpo_loss",
]
