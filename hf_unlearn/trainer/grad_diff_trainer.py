# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Gradient difference: ascent on the forget set, descent (or KL) on the retain set."""

from __future__ import annotations

from typing import ClassVar

from .grad_ascent_trainer import GradAscentTrainer
from .grad_diff_config import GradDiffConfig


class GradDiffTrainer(GradAscentTrainer):
    """Gradient difference: `-forget_weight * NLL(forget) + retain_weight * R(retain)` (TOFU's GradDiff / KL).

    `R` is the retain NLL or, with `retain_loss_type="kl"`, the KL divergence from the frozen pre-unlearning model
    (built as described in [`UnlearnTrainer`]). See [`UnlearnTrainer`] for arguments.

    Example:
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from hf_unlearn import GradDiffConfig, GradDiffTrainer
        >>> from hf_unlearn.data import ForgetRetainDataset
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, pad_token_id=0))
        >>> row = {"input_ids": [1, 5, 6, 2], "labels": [-100, 5, 6, 2]}
        >>> data = ForgetRetainDataset([row] * 4, retain=[row] * 4)
        >>> args = GradDiffConfig(output_dir="/tmp/gd-doc", max_steps=1, per_device_train_batch_size=2,
        ...     use_cpu=True, logging_steps=1)
        >>> trainer = GradDiffTrainer(model, args, train_dataset=data)
        >>> loss = trainer.compute_loss(model, trainer.data_collator([data[0], data[1]]))
        >>> round(loss.item(), 6)  # forget and retain are the same rows here: -NLL + NLL
        0.0
    """

    _tag_names: ClassVar[tuple[str, ...]] = ("hf_unlearn", "unlearning", "gradient-difference")
    _name = "GradDiff"
    config_class = GradDiffConfig
