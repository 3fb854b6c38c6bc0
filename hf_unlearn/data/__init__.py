# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Data room: QA templates and tokenisation, TOFU-format loading, batching. Knows nothing of scoring."""

from .collate import load_tokenizer_padded_with_eos, pad_batch, require_pad_token
from .muse import MUSE_COLUMNS, MUSE_HUB_IDS, load_muse, tokenize_texts
from .templates import (
    IGNORE_INDEX,
    TEMPLATES,
    QATemplate,
    get_template,
    model_max_length,
    tokenize_prompt,
    tokenize_qa,
    tokenize_qa_pairs,
)
from .tofu import (
    FORGET_SPLITS,
    PERTURBED_COLUMNS,
    QA_COLUMNS,
    TOFU_HUB_ID,
    TOFU_SPLITS,
    WORLD_MANIFEST,
    eval_split_for,
    holdout_split_for,
    load_tofu,
    retain_split_for,
    validate_qa_dataset,
)
from .unlearn import (
    ForgetRetainCollator,
    ForgetRetainDataset,
    build_forget_retain_dataset,
    tokenize_qa_dataset,
)


__all__ = [
    "FORGET_SPLITS",
    "IGNORE_INDEX",
    "MUSE_COLUMNS",
    "MUSE_HUB_IDS",
    "PERTURBED_COLUMNS",
    "QA_COLUMNS",
    "TEMPLATES",
    "TOFU_HUB_ID",
    "TOFU_SPLITS",
    "WORLD_MANIFEST",
    "ForgetRetainCollator",
    "ForgetRetainDataset",
    "QATemplate",
    "build_forget_retain_dataset",
    "eval_split_for",
    "get_template",
    "holdout_split_for",
    "load_muse",
    "load_tofu",
    "load_tokenizer_padded_with_eos",
    "model_max_length",
    "pad_batch",
    "require_pad_token",
    "retain_split_for",
    "tokenize_prompt",
    "tokenize_qa",
    "tokenize_qa_dataset",
    "tokenize_qa_pairs",
    "tokenize_texts",
    "validate_qa_dataset",
]
