# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Shared configuration of the LLM unlearning trainers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transformers import TrainingArguments


_RETAIN_LOSS_TYPES = ("nll", "kl", "none")


@dataclass
class UnlearnConfig(TrainingArguments):
    r"""Configuration shared by every unlearning trainer ([`GradAscentTrainer`], [`GradDiffTrainer`],
    [`NPOTrainer`], [`SimNPOTrainer`]).

    The loss of every method is `forget_weight * forget_loss + retain_weight * retain_loss`; a method only defines
    its forget loss. Each term is a mean over sequences (see `hf_unlearn.trainer.losses`), so a global batch gives the
    same loss however it is split over devices and gradient-accumulation steps.

    Parameters:
        > Parameters that control the loss

        forget_weight (`float`, *optional*, defaults to `1.0`):
            Weight of the forget term (open-unlearning's `gamma`; SimNPO's reference code calls it `npo_coeff`).
        retain_weight (`float`, *optional*, defaults to `1.0`):
            Weight of the retain term (open-unlearning's `alpha`; the reference code's `grad_diff_coeff`). `0`
            disables the retain term.
        retain_loss_type (`str`, *optional*, defaults to `"nll"`):
            Retain regulariser: `"nll"` (negative log-likelihood of the retain answers), `"kl"` (KL divergence
            from the reference model on the retain batch; needs a reference model) or `"none"`.
        precompute_ref_log_probs (`bool`, *optional*, defaults to `False`):
            For methods with a reference model: compute the reference log-probabilities of the forget set once
            before training, cache them in the dataset, and release the reference model. Incompatible with
            `retain_loss_type="kl"` (which needs reference logits on changing retain batches).
        disable_dropout (`bool`, *optional*, defaults to `True`):
            Set dropout to 0 in the model (and reference), so the model and its reference score the same sequence
            identically at the start (as TRL's preference trainers do).
        pairing_seed (`int`, *optional*):
            Seed of the forget/retain pairing when the trainer builds the dataset itself; defaults to `seed`.

        > Parameters that control the data (when `train_dataset` is a `DatasetDict(forget=..., retain=...)`)

        max_length (`int`, *optional*):
            Maximum tokens per example (prompt + answer). Longer examples are cut at the end and counted (a warning
            says how many); an example whose whole answer would be cut raises an error. Defaults to the model's
            context length (`max_position_embeddings`). With an explicit `ForgetRetainDataset`, a longer example
            raises an error instead.
        qa_template (`str`, *optional*, defaults to `"auto"`):
            Prompt template of question/answer rows: `"auto"` (the tokenizer's chat template), `"chat"`, `"llama2"`
            or `"phi"` (TOFU's formats). Prompt-completion, conversational and `text` rows need none.

        > Parameters that control the output folder

        overwrite_output_dir (`bool`, *optional*, defaults to `False`):
            Allow a new run to write into an `output_dir` that holds another run's checkpoints or model (as the
            `--overwrite_output_dir` of the transformers example scripts). Without it such a run is refused before
            any work; resuming (`resume_from_checkpoint`) is always allowed.

    > [!NOTE]
    > Defaults that differ from [`~transformers.TrainingArguments`] follow the TOFU unlearning setup of the papers:
    > `learning_rate=1e-5`, `weight_decay=0.01`, `num_train_epochs=10`, `warmup_steps=0.1` (one of ten epochs),
    > `logging_steps=10`, `remove_unused_columns=False` (batches are nested `{"forget", "retain"}` dicts),
    > `save_strategy="no"` and `report_to="none"`.
    """

    # TrainingArguments overrides (TOFU defaults of the NPO/SimNPO papers).
    learning_rate: float = field(default=1e-5, metadata={"help": "Initial AdamW learning rate (papers: 1e-5)."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (TOFU: 0.01)."})
    num_train_epochs: float = field(default=10.0, metadata={"help": "Epochs over the forget set (TOFU: 10)."})
    warmup_steps: float = field(
        default=0.1,
        metadata={"help": "Warm-up steps, or a fraction of all steps if < 1 (TOFU: one epoch of ten, 0.1)."},
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every X optimizer steps."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: batches are nested {'forget', 'retain'} dicts."}
    )
    save_strategy: str = field(default="no", metadata={"help": "Checkpoint strategy: 'no', 'steps' or 'epoch'."})
    report_to: None | str | list[str] = field(default="none", metadata={"help": "Trackers to log to."})

    # > Parameters that control the loss
    forget_weight: float = field(
        default=1.0, metadata={"help": "Weight of the forget term (open-unlearning's gamma, the code's npo_coeff)."}
    )
    retain_weight: float = field(
        default=1.0, metadata={"help": "Weight of the retain term (open-unlearning's alpha); 0 disables it."}
    )
    retain_loss_type: str = field(
        default="nll",
        metadata={
            "help": "Retain regulariser: 'nll', 'kl' (needs a reference model) or 'none'.",
            "choices": list(_RETAIN_LOSS_TYPES),
        },
    )
    precompute_ref_log_probs: bool = field(
        default=False,
        metadata={"help": "Compute reference log-probs of the forget set once, then release the reference model."},
    )
    disable_dropout: bool = field(default=True, metadata={"help": "Set dropout to 0 in the model and reference."})
    pairing_seed: int | None = field(
        default=None, metadata={"help": "Seed of the forget/retain pairing; defaults to `seed`."}
    )

    # > Parameters that control the data
    max_length: int | None = field(
        default=None,
        metadata={
            "help": "Maximum tokens per example (prompt + answer) when the trainer tokenises the data: longer ones are "
            "cut at the end and counted; default: the model's context length."
        },
    )
    qa_template: str = field(
        default="auto",
        metadata={"help": "Template of question/answer rows: 'auto' (the chat template), 'chat', 'llama2' or 'phi'."},
    )

    # > Parameters that control the output folder
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Allow a new run to write over an output_dir that holds another run's checkpoints or model "
            "(refused otherwise; resuming is always allowed)."
        },
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate)) or (
            self.learning_rate <= 0
        ):
            raise ValueError(
                f"learning_rate must be a finite number > 0, got {self.learning_rate!r}; the papers' TOFU value is "
                "1e-5 (the offline world recipes use 1e-4 to 3e-4)."
            )
        if self.retain_loss_type not in _RETAIN_LOSS_TYPES:
            raise ValueError(
                f"retain_loss_type must be one of {list(_RETAIN_LOSS_TYPES)}, got {self.retain_loss_type!r}."
            )
        if self.forget_weight < 0 or self.retain_weight < 0:
            raise ValueError(
                f"forget_weight ({self.forget_weight}) and retain_weight ({self.retain_weight}) must be >= 0; the "
                "sign of each term is part of the method's loss."
            )
        if self.forget_weight == 0:
            raise ValueError("forget_weight=0 would not unlearn anything; set it > 0.")
        if self.precompute_ref_log_probs and self.retain_loss_type == "kl" and self.retain_weight > 0:
            raise ValueError(
                "precompute_ref_log_probs=True cannot be combined with retain_loss_type='kl': the KL term needs "
                "reference logits on every retain batch. Use retain_loss_type='nll' or keep a reference model."
            )
        if self.remove_unused_columns:
            raise ValueError(
                "remove_unused_columns must be False for unlearning trainers (batches are nested "
                "{'forget', 'retain'} dicts); drop the flag."
            )
        if self.max_length is not None and self.max_length < 2:
            raise ValueError(
                f"max_length must be at least 2 tokens (a prompt and an answer token), got {self.max_length}; leave "
                "it unset to use the model's context length."
            )
        if self.pairing_seed is None:
            self.pairing_seed = self.seed
        super().__post_init__()

    @property
    def uses_retain(self) -> bool:
        """Whether the loss has a retain term."""
        return self.retain_loss_type != "none" and self.retain_weight > 0
