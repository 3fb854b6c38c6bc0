# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SimNPO: reference-free, length-normalised NPO."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from .base_trainer import UnlearnTrainer
from .losses import simnpo_loss
from .simnpo_config import SimNPOConfig


class SimNPOTrainer(UnlearnTrainer):
    """Trainer for SimNPO (Fan et al., 2024, [arXiv:2410.07163](https://huggingface.co/papers/2410.07163)).

    Forget term, as in the paper: `-(2/beta) * logsigmoid(-(beta/|y|) * logp_theta(y|x) - gamma)`
    ([`simnpo_loss`]); retain term: the retain NLL weighted by `retain_weight`. No reference model is built (one
    forward per step instead of NPO's two). `gamma_scaled_by_beta=True` reproduces the reference code's margin.

    Args:
        model (`PreTrainedModel`, `PeftModel` or `str`): The model to unlearn from.
        args ([`SimNPOConfig`], *optional*): Hyperparameters (paper defaults for TOFU forget10).
        train_dataset ([`~hf_unlearn.data.ForgetRetainDataset`]): Paired forget/retain data.
        **kwargs: See [`UnlearnTrainer`].

    Example:
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from hf_unlearn import SimNPOConfig, SimNPOTrainer
        >>> from hf_unlearn.data import ForgetRetainDataset
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, pad_token_id=0))
        >>> row = {"input_ids": [1, 5, 6, 2], "labels": [-100, 5, 6, 2]}
        >>> args = SimNPOConfig(output_dir="/tmp/simnpo-doc", max_steps=2, per_device_train_batch_size=2,
        ...     use_cpu=True, logging_steps=1)
        >>> data = ForgetRetainDataset([row] * 4, retain=[row] * 4)
        >>> trainer = SimNPOTrainer(model, args, train_dataset=data)
        >>> trainer.ref_model is None
        True
        >>> loss = trainer.compute_loss(model, trainer.data_collator([data[0], data[1]]))
        >>> sorted(trainer._metrics["train"])  # every term is logged separately
        ['forget/avg_log_probs', 'forget/log_probs', 'forget/loss', 'forget/nll', 'retain/loss']
    """

    _tag_names: ClassVar[tuple[str, ...]] = ("hf_unlearn", "unlearning", "simnpo")
    _name = "SimNPO"
    _paper: ClassVar[dict[str, str]] = {
        "title": "Simplicity Prevails: Rethinking Negative Preference Optimization for LLM Unlearning",
        "id": "2410.07163",
        "citation": (
            "@article{fan2024simplicity,\n  title={Simplicity Prevails: Rethinking Negative Preference Optimization "
            "for LLM Unlearning},\n  author={Fan, Chongyu and Liu, Jiancheng and Lin, Licong and Jia, Jinghan and "
            "Zhang, Ruiqi and Mei, Song and Liu, Sijia},\n  journal={arXiv preprint arXiv:2410.07163},\n  "
            "year={2024}\n}"
        ),
    }
    config_class = SimNPOConfig

    def forget_loss(
        self, model: nn.Module, forget: dict[str, torch.Tensor], log_probs: torch.Tensor, num_tokens: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        args = self.args
        loss = simnpo_loss(
            log_probs,
            num_tokens,
            beta=args.beta,
            gamma=args.gamma,
            gamma_scaled_by_beta=args.gamma_scaled_by_beta,
        )
        return loss, {"forget/avg_log_probs": log_probs / num_tokens}
