# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Padding tokenised examples into batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .templates import IGNORE_INDEX


if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


def require_pad_token(tokenizer: PreTrainedTokenizerBase) -> int:
    """Returns the tokenizer's pad id, or raises a `ValueError` that says how to set one."""
    if tokenizer.pad_token_id is None:
        raise ValueError(
            "the tokenizer has no pad token, so batches cannot be padded. Set one before calling, e.g. "
            "`tokenizer.pad_token = tokenizer.eos_token` (labels are masked with -100 on padding, so this is safe)."
        )
    return tokenizer.pad_token_id


def load_tokenizer_padded_with_eos(path: str) -> tuple[PreTrainedTokenizerBase, bool]:
    """Loads `path`'s tokenizer and, when it has no pad token, pads with its EOS token (safe: padding is masked out of
    every loss and score; TOFU and open-unlearning do the same).

    Returns:
        `tuple`: `(tokenizer, padded_with_eos)`; the flag says whether the EOS token was made the pad token.

    Raises:
        ValueError: The tokenizer has neither a pad nor an EOS token.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is not None:
        return tokenizer, False
    if tokenizer.eos_token is None:
        raise ValueError(
            f"the tokenizer of {path} has neither a pad nor an EOS token; set `tokenizer.pad_token` and save it."
        )
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, True


def pad_batch(
    features: Sequence[dict[str, Any]],
    pad_token_id: int,
    padding_side: str = "right",
    keys: Sequence[str] = ("input_ids", "attention_mask", "labels"),
) -> dict[str, torch.Tensor]:
    """Pads lists of token ids to one length: `input_ids` with `pad_token_id`, `attention_mask` with 0, `labels`
    with -100.

    Args:
        features (`Sequence[dict]`): Tokenised examples (lists or 1-D tensors).
        pad_token_id (`int`): The pad id.
        padding_side (`str`, *optional*, defaults to `"right"`): `"left"` for generation.
        keys (`Sequence[str]`, *optional*): Which keys to pad; missing keys are skipped.

    Returns:
        `dict[str, torch.Tensor]`: Tensors of shape `(batch, max_len)`.

    Example:
        >>> batch = pad_batch([{"input_ids": [5, 6], "labels": [-100, 6]}, {"input_ids": [7], "labels": [7]}], 0)
        >>> batch["input_ids"].tolist(), batch["labels"].tolist()
        ([[5, 6], [7, 0]], [[-100, 6], [7, -100]])
    """
    import torch

    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
    if not features:
        raise ValueError("cannot pad an empty batch.")
    pad_values = {"input_ids": pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX}
    max_len = max(len(f["input_ids"]) for f in features)
    out: dict[str, torch.Tensor] = {}
    for key in keys:
        if key not in features[0]:
            continue
        rows = []
        for f in features:
            seq = [int(x) for x in f[key]]
            pad = [pad_values.get(key, 0)] * (max_len - len(seq))
            rows.append(pad + seq if padding_side == "left" else seq + pad)
        out[key] = torch.tensor(rows, dtype=torch.long)
    return out
