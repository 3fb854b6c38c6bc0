# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Gradient ascent on the forget set."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from .base_trainer import UnlearnTrainer
from .grad_ascent_config import GradAscentConfig


class GradAscentTrainer(UnlearnTrainer):
    """Gradient ascent: maximise the forget answers' negative log-likelihood (the TOFU baseline).

    Forget term: `-mean_i NLL_i`, with `NLL_i` the mean token NLL of forget answer `i`. Unbounded below: expect the
    model to collapse if trained long (that is what this baseline shows). See [`UnlearnTrainer`] for arguments.

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from hf_unlearn import GradAscentConfig, GradAscentTrainer
        >>> from hf_unlearn.data import ForgetRetainDataset
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, pad_token_id=0))
        >>> data = ForgetRetainDataset([{"input_ids": [1, 5, 6, 2], "labels": [-100, 5, 6, 2]}] * 4)
        >>> args = GradAscentConfig(output_dir="/tmp/ga-doc", max_steps=1, per_device_train_batch_size=2,
        ...     use_cpu=True, report_to="none")
        >>> trainer = GradAscentTrainer(model, args, train_dataset=data)
        >>> batch = trainer.data_collator([data[0], data[1]])
        >>> loss = trainer.compute_loss(model, batch)  # = -(mean token NLL of the forget answers)
        >>> bool(loss < 0)
        True
    """

    _tag_names: ClassVar[tuple[str, ...]] = ("hf_unlearn", "unlearning", "gradient-ascent")
    _name = "GradAscent"
    _paper: ClassVar[dict[str, str]] = {
        "title": "TOFU: A Task of Fictitious Unlearning for LLMs",
        "id": "2401.06121",
        "citation": (
            "@article{maini2024tofu,\n  title={TOFU: A Task of Fictitious Unlearning for LLMs},\n  author={Maini, "
            "Pratyush and Feng, Zhili and Schwarzschild, Avi and Lipton, Zachary C. and Kolter, J. Zico},\n  "
            "journal={arXiv preprint arXiv:2401.06121},\n  year={2024}\n}"
        ),
    }
    config_class = GradAscentConfig

    def forget_loss(
        self, model: nn.Module, forget: dict[str, torch.Tensor], log_probs: torch.Tensor, num_tokens: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return (log_probs / num_tokens).mean(), {}
