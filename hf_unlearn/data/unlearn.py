# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Forget/retain pairing for unlearning: a dataset whose items are `{"forget": ..., "retain": ...}` and its collator.

The forget set is the anchor: one epoch visits every forget example once, and each is paired with a retain example
chosen by a seeded permutation of the retain set that changes every epoch. The pairing is a pure function of
`(seed, epoch, forget index)`, which gives three guarantees the reference implementations lack:

- **Distributed training**: ranks receive different forget indices from the sampler, so they also get different
  retain examples (within an epoch, distinct forget indices get distinct retain examples while the retain set is at
  least as large as the forget set). A run on 1 process and on N processes sees the same (forget, retain) pairs.
- **Gradient accumulation**: each micro-batch carries its own paired retain batch, so the retain term is
  accumulated exactly like the forget term.
- **Resume**: after resuming from a checkpoint the pairing is the same as in an uninterrupted run.

The trainers call `set_epoch` at the start of every epoch (dataloader workers must therefore not be persistent).

Example:
    >>> ds = ForgetRetainDataset(
    ...     [{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}], [{"input_ids": [4, 5], "labels": [-100, 5]}]
    ... )
    >>> item = ds[0]
    >>> item["forget"]["input_ids"], item["retain"]["input_ids"], item["retain"]["index"]
    ([1, 2, 3], [4, 5], 0)
    >>> batch = ForgetRetainCollator(pad_token_id=0)([item])
    >>> batch["forget"]["labels"].tolist(), batch["retain"]["attention_mask"].tolist()
    ([[-100, 2, 3]], [[1, 1]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .collate import pad_batch, require_pad_token
from .templates import IGNORE_INDEX, QATemplate, tokenize_qa_pairs


if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "ForgetRetainCollator",
    "ForgetRetainDataset",
    "build_forget_retain_dataset",
    "tokenize_qa_dataset",
]

_TOKEN_KEYS = ("input_ids", "attention_mask", "labels")


def _as_examples(data: Any, name: str) -> list[dict[str, list[int]]]:
    """Turns a datasets.Dataset / list of dicts of token ids into a validated list of plain dicts."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        raise TypeError(f"{name} must be a sequence of tokenised examples (e.g. a datasets.Dataset), not a dict.")
    columns = getattr(data, "column_names", None)
    if columns is not None and ("input_ids" not in columns or "labels" not in columns):
        raise ValueError(
            f"{name} has columns {columns} but no `input_ids`/`labels`. Tokenise it first, e.g. with "
            "`hf_unlearn.data.build_forget_retain_dataset(tokenizer, forget, retain, template=...)`."
        )
    examples = []
    for i, row in enumerate(data):
        if "input_ids" not in row or "labels" not in row:
            raise ValueError(
                f"{name}[{i}] has keys {sorted(row)} but needs `input_ids` and `labels`; tokenise it with "
                "`hf_unlearn.data.tokenize_qa_dataset` or `build_forget_retain_dataset`."
            )
        ids = [int(x) for x in row["input_ids"]]
        labels = [int(x) for x in row["labels"]]
        if len(ids) != len(labels):
            raise ValueError(f"{name}[{i}]: input_ids ({len(ids)}) and labels ({len(labels)}) differ in length.")
        # Losses score labels[1:] (causal shift): at least one must be a real token, or per-token averages
        # (SimNPO's length normalisation, the NLL terms) divide by zero.
        if not any(lab != IGNORE_INDEX for lab in labels[1:]):
            raise ValueError(
                f"{name}[{i}] has no answer tokens to score (all labels after the first position are -100). "
                "Its answer is empty or was truncated away; drop the row or raise max_length."
            )
        mask = [int(x) for x in row["attention_mask"]] if "attention_mask" in row else [1] * len(ids)
        examples.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return examples


class ForgetRetainDataset:
    """Pairs every forget example with a retain example, anew each epoch (see the module docstring).

    Args:
        forget (`Sequence[dict]` or `datasets.Dataset`): Tokenised forget examples (`input_ids`, `labels`,
            optionally `attention_mask`); must not be empty.
        retain (`Sequence[dict]` or `datasets.Dataset`, *optional*): Tokenised retain examples. Without them the
            items hold only `"forget"` (gradient ascent, or SimNPO/NPO with `retain_weight=0`).
        seed (`int`, *optional*, defaults to `0`): Seed of the retain permutations.

    Example:
        >>> ds = ForgetRetainDataset([{"input_ids": [1, 2], "labels": [-100, 2]}])
        >>> len(ds), sorted(ds[0])
        (1, ['forget'])
    """

    def __init__(self, forget: Any, retain: Any = None, seed: int = 0) -> None:
        self.forget = _as_examples(forget, "forget")
        if not self.forget:
            raise ValueError("the forget set is empty: there is nothing to unlearn. Pass at least one forget example.")
        self.retain = _as_examples(retain, "retain")
        if retain is not None and not self.retain:
            raise ValueError("the retain set is empty; pass retain=None to train without a retain term.")
        self.seed = int(seed)
        self.epoch = 0
        self._perms: dict[tuple[int, int], list[int]] = {}
        self.ref_log_probs: list[float] | None = None
        self.truncated: dict[str, int] = {"forget": 0, "retain": 0}  # set by `build_forget_retain_dataset`

    @property
    def has_retain(self) -> bool:
        """Whether items carry a `"retain"` example."""
        return bool(self.retain)

    def __len__(self) -> int:
        return len(self.forget)

    def set_epoch(self, epoch: int) -> None:
        """Selects the retain permutation of `epoch` (called by the trainers at each epoch start)."""
        self.epoch = int(epoch)

    def retain_index(self, index: int, epoch: int | None = None) -> int:
        """The retain example paired with forget example `index` in `epoch` (default: the current epoch)."""
        import torch

        epoch = self.epoch if epoch is None else epoch
        n = len(self.retain)
        # Forget sets larger than the retain set walk through further permutations (a new one per n items).
        key = (epoch, index // n)
        if key not in self._perms:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 7919 + key[1])
            self._perms[key] = torch.randperm(n, generator=gen).tolist()
            if len(self._perms) > 64:  # keep the cache small
                self._perms.pop(next(iter(self._perms)))
        return self._perms[key][index % n]

    def set_ref_log_probs(self, values: Sequence[float] | torch.Tensor | None) -> None:
        """Stores precomputed reference log-probabilities, one per forget example (or `None` to clear them)."""
        if values is None:
            self.ref_log_probs = None
            return
        values = [float(v) for v in values]
        if len(values) != len(self.forget):
            raise ValueError(f"got {len(values)} reference log-probs for {len(self.forget)} forget examples.")
        self.ref_log_probs = values

    def __getitem__(self, index: int) -> dict[str, dict[str, Any]]:
        if not 0 <= index < len(self.forget):
            raise IndexError(index)
        forget = dict(self.forget[index], index=index)
        if self.ref_log_probs is not None:
            forget["ref_log_probs"] = self.ref_log_probs[index]
        item: dict[str, dict[str, Any]] = {"forget": forget}
        if self.retain:
            j = self.retain_index(index)
            item["retain"] = dict(self.retain[j], index=j)
        return item


@dataclass
class ForgetRetainCollator:
    """Pads the forget and retain halves of a batch separately (right padding, labels padded with -100).

    Args:
        pad_token_id (`int`): The tokenizer's pad id.

    Returns (when called):
        `dict`: `{"forget": {input_ids, attention_mask, labels, index[, ref_log_probs]}, "retain": {...}}` of tensors.
    """

    pad_token_id: int

    def __call__(self, features: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, torch.Tensor]]:
        import torch

        if not features:
            raise ValueError("cannot collate an empty batch.")
        batch: dict[str, dict[str, torch.Tensor]] = {}
        for side in ("forget", "retain"):
            if side not in features[0]:
                continue
            rows = [f[side] for f in features]
            if "attention_mask" not in rows[0]:
                rows = [dict(r, attention_mask=[1] * len(r["input_ids"])) for r in rows]
            out = pad_batch(rows, self.pad_token_id, keys=_TOKEN_KEYS)
            if "index" in rows[0]:
                out["index"] = torch.tensor([r["index"] for r in rows], dtype=torch.long)
            if "ref_log_probs" in rows[0]:
                out["ref_log_probs"] = torch.tensor([r["ref_log_probs"] for r in rows], dtype=torch.float32)
            batch[side] = out
        return batch


def tokenize_qa_dataset(
    tokenizer: PreTrainedTokenizerBase,
    data: Any,
    template: str | QATemplate = "auto",
    max_length: int | None = None,
    question_column: str = "question",
    answer_column: str = "answer",
) -> list[dict[str, list[int]]]:
    """Tokenises a QA dataset (rows with question/answer) with answer-only labels.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        data (`datasets.Dataset` or `Sequence[dict]`): Rows with `question_column` and `answer_column`.
        template (`str` or `QATemplate`, *optional*, defaults to `"auto"`): See `hf_unlearn.data.get_template`.
        max_length (`int`, *optional*): The model context; longer rows raise a `ValueError`.
        question_column (`str`, *optional*, defaults to `"question"`): Column holding the question.
        answer_column (`str`, *optional*, defaults to `"answer"`): Column holding the answer.

    Returns:
        `list[dict]`: One `{input_ids, attention_mask, labels}` per row.
    """
    pairs = []
    for i, row in enumerate(data):
        if question_column not in row or answer_column not in row:
            raise ValueError(f"row {i} has keys {sorted(row)}; expected {question_column!r} and {answer_column!r}.")
        pairs.append((row[question_column], row[answer_column]))
    return tokenize_qa_pairs(tokenizer, pairs, template, max_length, names=[f"row {i}" for i in range(len(pairs))])


def build_forget_retain_dataset(
    tokenizer: PreTrainedTokenizerBase,
    forget: Any,
    retain: Any = None,
    template: str | QATemplate = "auto",
    max_length: int | None = None,
    seed: int = 0,
) -> ForgetRetainDataset:
    """Tokenises forget/retain data in any of TRL's standard formats (if not tokenised yet) and pairs them.

    Formats (detected from the columns, see `hf_unlearn.data.formats`): prompt-completion (`prompt`, `completion`),
    conversational (`messages`, through the tokenizer's chat template), question/answer (`question`, `answer`, in
    `template`), plain `text` (every token scored), or already tokenised (`input_ids`, `labels`). Examples longer
    than `max_length` are cut at the end; how many is logged and kept in the dataset's `truncated` attribute.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        forget (`datasets.Dataset` or `Sequence[dict]`): The forget rows.
        retain (`datasets.Dataset` or `Sequence[dict]`, *optional*): The retain rows (any format).
        template (`str` or `QATemplate`, *optional*, defaults to `"auto"`): The prompt template of question/answer
            rows (`"auto"` needs a chat template on the tokenizer; otherwise pass `"phi"` or `"llama2"`).
        max_length (`int`, *optional*): Cut longer examples to this many tokens (e.g. the model's context); an
            example whose whole answer would be cut raises a `ValueError`.
        seed (`int`, *optional*, defaults to `0`): Pairing seed.

    Returns:
        [`ForgetRetainDataset`]: The paired dataset.

    Example:
        >>> from hf_unlearn.synthetic import build_tokenizer
        >>> tok = build_tokenizer(["Who wrote it? Ann wrote it. Where? In Paris."], vocab_size=300)
        >>> forget = [{"prompt": "Who wrote it?", "completion": " Ann wrote it."}]
        >>> retain = [{"prompt": "Where?", "completion": " In Paris."}]
        >>> ds = build_forget_retain_dataset(tok, forget, retain, max_length=6)  # 4 + 4 + EOS and 3 + 3 + EOS tokens
        >>> ds.truncated, len(ds.forget[0]["input_ids"]), ds.forget[0]["labels"].count(-100)
        ({'forget': 1, 'retain': 1}, 6, 4)
    """
    from transformers.utils import logging

    from .formats import tokenize_rows

    require_pad_token(tokenizer)
    truncated = {"forget": 0, "retain": 0}
    sides = {"forget": forget, "retain": retain}
    for name, rows in sides.items():
        if rows is not None:
            sides[name], truncated[name] = tokenize_rows(tokenizer, rows, name, template, max_length)
    if any(truncated.values()):
        logging.get_logger(__name__).warning(
            f"max_length={max_length} truncated {truncated['forget']} of {len(sides['forget'])} forget and "
            f"{truncated['retain']} of {len(sides['retain'] or [])} retain examples (their ends were cut); raise "
            "max_length to keep whole answers."
        )
    dataset = ForgetRetainDataset(sides["forget"], sides["retain"], seed=seed)
    dataset.truncated = truncated
    return dataset
