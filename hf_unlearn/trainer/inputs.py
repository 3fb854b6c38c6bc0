# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""What the trainers accept as data, checked before any work: a `DatasetDict(forget=..., retain=...)` (or a dict of
two `datasets.Dataset`s) in TRL's standard formats, tokenised and paired here, or an explicit
[`~hf_unlearn.data.ForgetRetainDataset`]; plus the tokenizer/model vocabulary check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..data.templates import model_max_length
from ..data.unlearn import ForgetRetainDataset, build_forget_retain_dataset


__all__ = ["check_vocabulary", "prepare_unlearning_dataset"]


def prepare_unlearning_dataset(data: Any, name: str, model: Any, processing_class: Any, args: Any) -> Any:
    """Returns a [`~hf_unlearn.data.ForgetRetainDataset`] for `data` (or `None`).

    Args:
        data: `None`, a `ForgetRetainDataset`, or a mapping with a `"forget"` and optionally a `"retain"` dataset in
            any format of `hf_unlearn.data.formats` (prompt-completion, conversational, question/answer, text).
        name (`str`): `"train_dataset"` or `"eval_dataset"`, for messages.
        model: The model (its context length is the default `max_length`).
        processing_class: The tokenizer (needed to tokenise a mapping).
        args ([`~hf_unlearn.UnlearnConfig`]): Supplies `max_length`, `qa_template` and `pairing_seed`.
    """
    max_length = args.max_length or model_max_length(model)
    if data is None:
        return None
    if isinstance(data, ForgetRetainDataset):
        if max_length is not None:
            longest = max(len(ex["input_ids"]) for ex in [*data.forget, *data.retain])
            if longest > max_length:
                raise ValueError(
                    f"{name} holds an example of {longest} tokens, longer than max_length={max_length} (the model's "
                    "context unless set). Rebuild it with `build_forget_retain_dataset(..., max_length=...)` or pass "
                    "the raw data as DatasetDict(forget=..., retain=...) so the trainer truncates and counts."
                )
        return data
    if isinstance(data, Mapping):
        unknown = set(data) - {"forget", "retain"}
        if "forget" not in data or unknown:
            raise ValueError(
                f"{name} as a dict needs the keys 'forget' (and optionally 'retain'), got {sorted(data)}; e.g. "
                "DatasetDict(forget=forget_ds, retain=retain_ds)."
            )
        if processing_class is None:
            raise ValueError(
                f"{name} is raw data ({sorted(data)}): pass `processing_class=tokenizer` so the trainer can tokenise "
                "it, or tokenise it yourself with `hf_unlearn.data.build_forget_retain_dataset`."
            )
        return build_forget_retain_dataset(
            processing_class,
            data["forget"],
            data.get("retain"),
            template=args.qa_template,
            max_length=max_length,
            seed=args.pairing_seed,
        )
    raise TypeError(
        f"{name} must be a DatasetDict(forget=..., retain=...) / dict of two datasets (prompt-completion, "
        "conversational, question/answer or text rows) or a hf_unlearn.data.ForgetRetainDataset; got "
        f"{type(data).__name__}."
    )


def check_vocabulary(model: Any, processing_class: Any, datasets: list[ForgetRetainDataset]) -> None:
    """Raises a `ValueError` when the tokenizer or the data has token ids the model's embedding cannot look up."""
    get_embeddings = getattr(model, "get_input_embeddings", None)
    embeddings = get_embeddings() if get_embeddings is not None else None
    size = getattr(embeddings, "num_embeddings", None)
    if size is None:
        return
    if processing_class is not None and hasattr(processing_class, "__len__") and len(processing_class) > size:
        raise ValueError(
            f"the tokenizer has {len(processing_class)} tokens but the model's embedding only {size}: they do not "
            "belong together. Pass the model's own tokenizer, or call `model.resize_token_embeddings(len(tokenizer))` "
            "after adding tokens."
        )
    for ds in datasets:
        for side in ("forget", "retain"):
            rows = getattr(ds, side)
            top = max((max(ex["input_ids"]) for ex in rows if ex["input_ids"]), default=-1)
            if top >= size:
                raise ValueError(
                    f"the {side} data holds token id {top}, but the model's embedding has {size} rows: the data was "
                    "tokenised with another tokenizer. Tokenise it with the model's tokenizer."
                )
