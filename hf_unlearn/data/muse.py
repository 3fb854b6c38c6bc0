# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Loading MUSE-format data: `muse-bench/MUSE-News` / `muse-bench/MUSE-Books` from the Hub, or a local mini-MUSE world,
through one code path.

MUSE publishes one config per use, each with named splits (open-unlearning reads the same ones):

| config | splits | columns |
|---|---|---|
| `raw` | `forget`, `retain1`, `retain2`, `holdout` | `text` |
| `verbmem` | `forget` | `prompt`, `gt` |
| `knowmem` | `forget_qa`, `retain_qa`, `forget_qa_icl`, `retain_qa_icl` | `question`, `answer` |
| `privleak` | `forget`, `retain`, `holdout` | `text` |

A mini-MUSE world (`hf-unlearn build-world muse`) saves the same configs (a `README.md` with `configs:` metadata over
JSON files; `raw` has `retain1` only), so `load_muse(path_or_id, "knowmem", "forget_qa")` reads either.

Example:
    >>> from hf_unlearn.data.muse import MUSE_COLUMNS
    >>> MUSE_COLUMNS["verbmem"]
    ('prompt', 'gt')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

MUSE_HUB_IDS = {"news": "muse-bench/MUSE-News", "books": "muse-bench/MUSE-Books"}
#: The columns each MUSE config needs.
MUSE_COLUMNS = {
    "raw": ("text",),
    "verbmem": ("prompt", "gt"),
    "knowmem": ("question", "answer"),
    "privleak": ("text",),
    "train": ("text",),
}


def load_muse(path: str | os.PathLike, config: str, split: str) -> Dataset:
    """Loads one split of a MUSE config from the Hub (`muse-bench/MUSE-News`) or a local mini-MUSE world folder.

    Args:
        path (`str` or `os.PathLike`): A Hub dataset id (`"muse-bench/MUSE-News"`, `"muse-bench/MUSE-Books"`), the
            short names `"news"` / `"books"`, or a local folder (a world built by `hf-unlearn build-world muse`, or
            its `data/` folder).
        config (`str`): `"raw"`, `"verbmem"`, `"knowmem"`, `"privleak"` (or `"train"` in a world).
        split (`str`): The split, e.g. `"forget_qa"`.

    Returns:
        `datasets.Dataset`: The split, validated to be non-empty and to have the config's columns.

    Example:
        >>> ds = load_muse("muse-bench/MUSE-News", "knowmem", "forget_qa")  # doctest: +SKIP
    """
    from datasets import load_dataset

    from .tofu import WORLD_MANIFEST, _local_config_files, validate_qa_dataset

    if config not in MUSE_COLUMNS:
        raise ValueError(f"config must be one of {sorted(MUSE_COLUMNS)}, got {config!r}.")
    path = os.fspath(path)
    path = MUSE_HUB_IDS.get(path.lower(), path) if not os.path.exists(path) else path
    if os.path.isfile(os.path.join(path, WORLD_MANIFEST)):
        path = os.path.join(path, "data")
    local_files = _local_config_files(path, config, split)
    try:
        if local_files is not None:
            ds = load_dataset("json", data_files=local_files, split="train")
        else:
            ds = load_dataset(path, config, split=split)
    except ValueError as err:
        if "BuilderConfig" in str(err) or "not found" in str(err) or "Unknown split" in str(err):
            raise ValueError(f"dataset {path!r} has no config {config!r} with split {split!r}: {err}") from err
        raise
    except StopIteration as err:
        raise ValueError(f"{path}:{config}/{split} is empty: there is nothing to evaluate or unlearn.") from err
    columns = MUSE_COLUMNS[config]
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise ValueError(
            f"{path}:{config}/{split} is missing column(s) {missing}; it has {ds.column_names}. MUSE's {config!r} "
            f"config has {list(columns)} (see muse-bench/MUSE-News)."
        )
    return validate_qa_dataset(ds, columns, name=f"{path}:{config}/{split}")


def tokenize_texts(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int | None = None, add_eos: bool = False
) -> list[dict[str, list[int]]]:
    """Tokenises whole texts (MUSE's raw articles, MIA texts): every token is a label (the first is never predicted).

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer (its special tokens, e.g. BOS, are added).
        texts (`Sequence[str]`): Non-empty strings.
        max_length (`int`, *optional*): Keep only the first `max_length` tokens (the model's context).
        add_eos (`bool`, *optional*, defaults to `False`): Append the EOS token (as for training on whole documents).

    Returns:
        `list[dict]`: `input_ids`, `attention_mask` and `labels` per text.

    Example:
        >>> from hf_unlearn.synthetic import build_tokenizer
        >>> tok = build_tokenizer(["The council met."], vocab_size=300)
        >>> f = tokenize_texts(tok, ["The council met."], add_eos=True)[0]
        >>> f["labels"] == f["input_ids"] and f["input_ids"][-1] == tok.eos_token_id
        True
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a sequence of strings, got {type(texts).__name__}.")
    if len(texts) == 0:
        raise ValueError("texts is empty: there is nothing to score.")
    features = []
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"texts[{i}] must be a non-empty string, got {text!r}.")
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        if add_eos:
            if tokenizer.eos_token_id is None:
                raise ValueError("the tokenizer has no eos_token; set `tokenizer.eos_token` or pass add_eos=False.")
            ids = [*ids, tokenizer.eos_token_id]
        if max_length is not None:
            ids = ids[:max_length]
        if len(ids) < 2:
            raise ValueError(
                f"texts[{i}] ({text[:40]!r}) is {len(ids)} token(s); scoring needs at least 2 (the first token has "
                "no context to be predicted from)."
            )
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
    return features
