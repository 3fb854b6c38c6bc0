# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""TRL's standard dataset formats for forget and retain sets, tokenised with answer-only labels.

Each row becomes `{input_ids, attention_mask, labels}` with `labels = -100` on the prompt, so the unlearning losses
score what the model would answer. The format is detected from the columns:

| format | columns | prompt | scored part |
|---|---|---|---|
| `"prompt_completion"` | `prompt`, `completion` (strings, or lists of messages) | `prompt` | `completion` (+ EOS) |
| `"conversational"` | `messages` | every turn before the last (chat template, generation prompt) | the last (assistant) turn |
| `"qa"` | `question`, `answer` | the question in a template (see `get_template`) | the answer (+ EOS) |
| `"text"` | `text` | none | every token (corpora such as MUSE's) |
| `"tokenized"` | `input_ids`, `labels` | as given | as given |

The prompt and the scored part are tokenised separately and concatenated, so the same content in the
prompt-completion, conversational and QA forms gives the same token ids.

Example:
    >>> detect_format(["question", "answer", "author"]), detect_format(["messages"]), detect_format(["text"])
    ('qa', 'conversational', 'text')
    >>> truncate_example({"input_ids": [5, 6, 7, 8], "attention_mask": [1, 1, 1, 1], "labels": [-100, -100, 7, 8]}, 3)
    ({'input_ids': [5, 6, 7], 'attention_mask': [1, 1, 1], 'labels': [-100, -100, 7]}, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .templates import IGNORE_INDEX, QATemplate, tokenize_qa


if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["DATA_FORMATS", "detect_format", "tokenize_example", "tokenize_rows", "truncate_example"]

DATA_FORMATS: dict[str, tuple[str, ...]] = {
    "tokenized": ("input_ids", "labels"),
    "prompt_completion": ("prompt", "completion"),
    "conversational": ("messages",),
    "qa": ("question", "answer"),
    "text": ("text",),
}


def detect_format(columns: Iterable[str]) -> str:
    """The format (a key of [`DATA_FORMATS`]) of rows with these columns; a `ValueError` lists the options."""
    columns = set(columns)
    for name, needed in DATA_FORMATS.items():
        if set(needed) <= columns:
            return name
    options = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in DATA_FORMATS.items())
    raise ValueError(f"cannot tell the data format from columns {sorted(columns)}. Use one of: {options}.")


def _chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], **kwargs: Any) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "conversational rows need a tokenizer with a chat template; set `tokenizer.chat_template`, or pass "
            "the data as prompt/completion strings or question/answer columns."
        )
    return tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)


def _prompt_and_answer(tokenizer: PreTrainedTokenizerBase, prompt: Any, completion: Any) -> tuple[list[int], str]:
    """Token ids of the prompt and the text of the scored part, for string or message-list prompts."""
    if isinstance(prompt, str) and isinstance(completion, str):
        return tokenizer(prompt)["input_ids"], completion
    if isinstance(prompt, list) and isinstance(completion, list):
        prompt_text = _chat(tokenizer, prompt, add_generation_prompt=True)
        full = _chat(tokenizer, prompt + completion)
        if not full.startswith(prompt_text):
            raise ValueError(
                "the chat template renders the prompt turns differently with and without the answer, so the answer "
                "cannot be located; pass prompt/completion strings instead."
            )
        # a chat template renders BOS (if any) as text
        return tokenizer(prompt_text, add_special_tokens=False)["input_ids"], full[len(prompt_text) :]
    raise TypeError(
        f"prompt and completion must both be strings or both lists of messages, got {type(prompt).__name__} and "
        f"{type(completion).__name__}."
    )


def tokenize_example(
    tokenizer: PreTrainedTokenizerBase, row: dict[str, Any], data_format: str, template: str | QATemplate = "auto"
) -> dict[str, list[int]]:
    """Tokenises one row of `data_format` (see the module docstring); no truncation.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        row (`dict`): One row.
        data_format (`str`): A key of [`DATA_FORMATS`] (see [`detect_format`]).
        template (`str` or `QATemplate`, *optional*, defaults to `"auto"`): The template of `"qa"` rows.

    Returns:
        `dict`: `input_ids`, `attention_mask` and `labels` lists of equal length.
    """
    if data_format == "tokenized":
        return row
    if data_format == "qa":
        return tokenize_qa(tokenizer, row["question"], row["answer"], template)
    if data_format == "text":
        ids = tokenizer(row["text"])["input_ids"]
        if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
            ids = [*ids, tokenizer.eos_token_id]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)}
    if data_format == "conversational":
        messages = row["messages"]
        if not messages or messages[-1].get("role") != "assistant":
            raise ValueError("a conversational row must end with an assistant turn (the answer to score).")
        prompt_ids, answer = _prompt_and_answer(tokenizer, messages[:-1], messages[-1:])
    elif data_format == "prompt_completion":
        prompt_ids, answer = _prompt_and_answer(tokenizer, row["prompt"], row["completion"])
    else:
        raise ValueError(f"unknown data format {data_format!r}; choose one of {sorted(DATA_FORMATS)}.")
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in answer_ids:
        answer_ids = [*answer_ids, tokenizer.eos_token_id]
    return {
        "input_ids": [*prompt_ids, *answer_ids],
        "attention_mask": [1] * (len(prompt_ids) + len(answer_ids)),
        "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids,
    }


def truncate_example(example: dict[str, list[int]], max_length: int) -> tuple[dict[str, list[int]], bool]:
    """Cuts an example to its first `max_length` tokens (TRL's `keep_start`); returns it and whether it was cut."""
    if len(example["input_ids"]) <= max_length:
        return example, False
    return {
        k: list(v[:max_length]) for k, v in example.items() if k in ("input_ids", "attention_mask", "labels")
    }, True


def tokenize_rows(
    tokenizer: PreTrainedTokenizerBase,
    rows: Any,
    name: str,
    template: str | QATemplate = "auto",
    max_length: int | None = None,
) -> tuple[list[dict[str, list[int]]], int]:
    """Tokenises (when needed) and truncates a forget or retain set in any format of [`DATA_FORMATS`].

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        rows (`datasets.Dataset` or `Sequence[dict]`): The rows, all in one format.
        name (`str`): `"forget"` or `"retain"`, for messages.
        template (`str` or `QATemplate`, *optional*, defaults to `"auto"`): The template of question/answer rows.
        max_length (`int`, *optional*): Cut longer examples to this many tokens (counted in the return value).

    Returns:
        `tuple`: The tokenised examples and how many were truncated. An example whose whole answer lies beyond
        `max_length` raises a `ValueError` naming the row.
    """
    if len(rows) == 0:
        raise ValueError(f"the {name} set is empty: pass at least one {name} example.")
    columns = getattr(rows, "column_names", None) or list(rows[0])
    data_format = detect_format(columns)
    if max_length is not None and max_length < 2:
        raise ValueError(
            f"max_length must be at least 2 tokens (a prompt token and an answer token), got {max_length}."
        )
    out, truncated = [], 0
    for i, row in enumerate(rows):
        example = tokenize_example(tokenizer, row, data_format, template)
        if max_length is not None:
            example, cut = truncate_example(example, max_length)
            truncated += cut
            if cut and not any(label != IGNORE_INDEX for label in example["labels"][1:]):
                raise ValueError(
                    f"{name} row {i}: max_length={max_length} cuts away its whole answer (the prompt alone is "
                    f"{max_length}+ tokens). Raise max_length, shorten the prompt, or drop the row."
                )
        out.append(example)
    return out, truncated
