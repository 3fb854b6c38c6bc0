# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Negative Preference Optimization."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from .base_trainer import UnlearnTrainer
from .losses import npo_loss
from .npo_config import NPOConfig


class NPOTrainer(UnlearnTrainer):
    """Trainer for NPO (Zhang et al., 2024, [arXiv:2404.05868](https://huggingface.co/papers/2404.05868)).

    Forget term: `-(2/beta) * logsigmoid(-beta * (logp_theta(y|x) - logp_ref(y|x)))` ([`npo_loss`]); retain term as
    in [`UnlearnConfig`]. The reference model is one of (see [`UnlearnTrainer`]): a frozen copy prepared by
    accelerate/DeepSpeed/FSDP, the adapter-disabled base of a peft model (no copy), or log-probs precomputed once
    (`precompute_ref_log_probs=True`, no reference model held during training). All three give the same loss.

    Args:
        model (`PreTrainedModel`, `PeftModel` or `str`): The model to unlearn from.
        args ([`NPOConfig`], *optional*): Hyperparameters (paper defaults).
        train_dataset ([`~hf_unlearn.data.ForgetRetainDataset`]): Paired forget/retain data.
        ref_model (`PreTrainedModel`, *optional*): The reference; by default derived from `model` as above.
        **kwargs: See [`UnlearnTrainer`].

    Example:
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from hf_unlearn import NPOConfig, NPOTrainer
        >>> from hf_unlearn.data import ForgetRetainDataset
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, pad_token_id=0))
        >>> row = {"input_ids": [1, 5, 6, 2], "labels": [-100, 5, 6, 2]}
        >>> args = NPOConfig(output_dir="/tmp/npo-doc", max_steps=1, per_device_train_batch_size=2, use_cpu=True,
        ...     precompute_ref_log_probs=True)
        >>> trainer = NPOTrainer(model, args, train_dataset=ForgetRetainDataset([row] * 4, retain=[row] * 4))
        >>> trainer.ref_model is None  # log-probs cached in the dataset, no reference model held
        True
    """

    _tag_names: ClassVar[tuple[str, ...]] = ("hf_unlearn", "unlearning", "npo")
    _name = "NPO"
    _paper: ClassVar[dict[str, str]] = {
        "title": "Negative Preference Optimization: From Catastrophic Collapse to Effective Unlearning",
        "id": "2404.05868",
        "citation": (
            "@inproceedings{zhang2024negative,\n  title={Negative Preference Optimization: From Catastrophic Collapse "
            "to Effective Unlearning},\n  author={Zhang, Ruiqi and Lin, Licong and Bai, Yu and Mei, Song},\n  "
            "booktitle={First Conference on Language Modeling},\n  year={2024}\n}"
        ),
    }
    config_class = NPOConfig
    requires_reference = True

    def forget_loss(
        self, model: nn.Module, forget: dict[str, torch.Tensor], log_probs: torch.Tensor, num_tokens: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ref_log_probs = self.reference_log_probs(model, forget).to(log_probs.dtype)
        loss = npo_loss(log_probs, ref_log_probs, beta=self.args.beta)
        return loss, {"forget/ref_log_probs": ref_log_probs, "forget/log_ratio": log_probs - ref_log_probs}
