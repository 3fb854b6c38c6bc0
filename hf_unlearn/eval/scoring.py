# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Batched model scoring shared by every evaluation: per-sequence NLL / log-probs and greedy generation.

Every metric in `hf_unlearn.eval` (TOFU, MUSE, membership inference) is built from two model calls:

- [`score_sequences`]: the negative log-likelihood of the labelled tokens (the answer) of many sequences. Sequences
  are sorted by length, padded on the right, and scored in batches (one forward pass per batch, no per-item loop);
  results come back in the input order.
- [`generate_greedy`]: greedy continuations of many prompts, padded on the left, in batches.

The maths on logits is in `hf_unlearn.logprobs` ([`~hf_unlearn.logprobs.per_sequence_nll`],
[`~hf_unlearn.logprobs.target_log_probs`]), shared with the trainers' losses and unit-testable on hand-made tensors.

Example:
    >>> import torch
    >>> from hf_unlearn.logprobs import per_sequence_nll
    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
    >>> labels = torch.tensor([[-100, 2, 3]])
    >>> nll, n = per_sequence_nll(logits, labels)
    >>> round(nll.item(), 4), n.item()  # log(4)
    (1.3863, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data.collate import pad_batch
from ..logprobs import IGNORE_INDEX, target_log_probs


if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class SequenceScores:
    """Scores of many sequences, in input order.

    Attributes:
        nll (`torch.Tensor` of shape `(n,)`): Mean token NLL of the labelled tokens.
        nll_sum (`torch.Tensor` of shape `(n,)`): Summed token NLL.
        num_tokens (`torch.Tensor` of shape `(n,)`): Number of labelled tokens.
        token_logprobs (`list[torch.Tensor]`, *optional*): Log-probabilities of each labelled token (only when
            requested; used by Min-K%-style membership inference).
        token_logprob_mean (`list[torch.Tensor]`, *optional*): At each labelled position, the mean of `log p(z)` over
            the model's own next-token distribution, `mu = sum_z p(z) log p(z)` (minus the entropy; only when
            requested with `return_token_moments=True`; used by Min-K%++).
        token_logprob_std (`list[torch.Tensor]`, *optional*): At each labelled position, the standard deviation of
            `log p(z)` under the same distribution, `sqrt(sum_z p(z) (log p(z) - mu)^2)`.
        token_argmax_match (`list[torch.Tensor]`, *optional*): At each labelled position, whether the model's most
            likely next token is the label (bool; only with `return_token_argmax_match=True`; used by extraction
            strength).
    """

    nll: torch.Tensor
    nll_sum: torch.Tensor
    num_tokens: torch.Tensor
    token_logprobs: list[torch.Tensor] | None = None
    token_logprob_mean: list[torch.Tensor] | None = None
    token_logprob_std: list[torch.Tensor] | None = None
    token_argmax_match: list[torch.Tensor] | None = None

    def select(self, indices: Sequence[int]) -> SequenceScores:
        """The scores of the sequences at `indices`, in that order (to use one scoring pass for several metrics).

        Example:
            >>> import torch
            >>> s = SequenceScores(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 6.0]), torch.tensor([2, 3]))
            >>> s.select([1]).nll_sum.tolist()
            [6.0]
        """
        import torch

        index = torch.as_tensor(list(indices), dtype=torch.long)

        def pick(values: list[torch.Tensor] | None) -> list[torch.Tensor] | None:
            return None if values is None else [values[i] for i in index.tolist()]

        return SequenceScores(
            nll=self.nll[index],
            nll_sum=self.nll_sum[index],
            num_tokens=self.num_tokens[index],
            token_logprobs=pick(self.token_logprobs),
            token_logprob_mean=pick(self.token_logprob_mean),
            token_logprob_std=pick(self.token_logprob_std),
            token_argmax_match=pick(self.token_argmax_match),
        )


@contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Puts `model` in eval mode inside the block and restores its train/eval mode after (also on errors)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _device_of(model: Any) -> torch.device:
    import torch

    device = getattr(model, "device", None)
    if device is None:
        device = next(model.parameters()).device
    return torch.device(device)


def _batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches of sequences sorted by length (longest first), so that padding is small."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class _ScoreStore:
    """Collects per-sequence scores from the logits at each sequence's scored positions only: the model's logits
    are gathered where a token is scored (no padding, no prompt), so the vocabulary-wide log-softmax runs on those."""

    def __init__(self, n: int, logprobs: bool, moments: bool, argmax_match: bool) -> None:
        import torch

        self.nll_sum = torch.empty(n, dtype=torch.float32)
        self.num_tokens = torch.empty(n, dtype=torch.long)
        self.moments, self.argmax_match = moments, argmax_match
        self.logprobs = logprobs or moments or argmax_match
        self.token_logprobs: list[Any] = [None] * n
        self.token_mean: list[Any] = [None] * n
        self.token_std: list[Any] = [None] * n
        self.token_match: list[Any] = [None] * n

    def add(self, idx: Sequence[int], counts: Sequence[int], logits: torch.Tensor, targets: torch.Tensor) -> None:
        """Sequence `idx[j]` owns the next `counts[j]` rows of `logits` (`(tokens, vocab)`), row `t` scoring token
        `targets[t]`."""
        import torch

        logp = target_log_probs(logits, targets).cpu()
        owner = torch.repeat_interleave(torch.arange(len(idx)), torch.tensor(list(counts)))
        index = torch.tensor(list(idx))
        self.nll_sum[index] = -torch.zeros(len(idx)).index_add_(0, owner, logp)
        self.num_tokens[index] = torch.tensor(list(counts))
        if not self.logprobs:
            return
        split = [int(c) for c in counts]
        per_seq = {"logp": logp.split(split)}
        if self.moments:
            log_softmax = torch.log_softmax(logits.float(), dim=-1)
            mean = (log_softmax.exp() * log_softmax).sum(-1)
            std = (log_softmax.exp() * (log_softmax - mean.unsqueeze(-1)).square()).sum(-1).sqrt()
            per_seq["mean"], per_seq["std"] = mean.cpu().split(split), std.cpu().split(split)
        if self.argmax_match:
            per_seq["match"] = (logits.argmax(-1) == targets).cpu().split(split)
        for j, i in enumerate(idx):
            self.token_logprobs[i] = per_seq["logp"][j]
            if self.moments:
                self.token_mean[i], self.token_std[i] = per_seq["mean"][j], per_seq["std"][j]
            if self.argmax_match:
                self.token_match[i] = per_seq["match"][j]

    def result(self) -> SequenceScores:
        return SequenceScores(
            nll=self.nll_sum / self.num_tokens,
            nll_sum=self.nll_sum,
            num_tokens=self.num_tokens,
            token_logprobs=self.token_logprobs if self.logprobs else None,
            token_logprob_mean=self.token_mean if self.moments else None,
            token_logprob_std=self.token_std if self.moments else None,
            token_argmax_match=self.token_match if self.argmax_match else None,
        )


@functools.cache
def _reserved_layer() -> type:
    """A `DynamicLayer` that writes each step's keys and values into room reserved ahead (doubling when full)
    instead of concatenating, which copies the whole cache at every decoding step. Its `keys` / `values` are views of
    the filled part; code that assigns new tensors to them (`batch_select_indices`, a merge) is followed on the next
    update by a fresh reservation holding those."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = capacity
            self.reserved: tuple[Any, Any] | None = None

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            length = self.get_seq_length()
            end = length + key_states.shape[-2]
            room = self.reserved
            if (
                room is None
                or room[0].shape[-2] < end
                or room[0].shape[:-2] != key_states.shape[:-2]
                or (length and self.keys.data_ptr() != room[0].data_ptr())
            ):
                shape = (*key_states.shape[:-2], max(self.capacity, end + end // 2), key_states.shape[-1])
                room = (key_states.new_empty(shape), value_states.new_empty(shape))
                if length:
                    room[0][..., :length, :] = self.keys
                    room[1][..., :length, :] = self.values
                self.reserved = room
            room[0][..., length:end, :] = key_states
            room[1][..., length:end, :] = value_states
            self.keys, self.values = room[0][..., :end, :], room[1][..., :end, :]
            return self.keys, self.values

    return ReservedLayer


def _prefill(
    model: Any, prompts: list[Sequence[int]], pad_token_id: int, device: Any, capacity: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Any, str]:
    """One forward pass over left-padded prompts that fills a new key/value cache, with room for `capacity` positions
    reserved in each plain layer.

    Returns the logits at the last position (`(batch, 1, vocab)`; only those are computed where the model allows),
    the attention mask, each row's last position, the cache, and the name of the model's cache argument (`cache` in
    recent transformers, `past_key_values` before).
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    params = _forward_parameters(model)
    cache_arg = "cache" if "cache" in params else "past_key_values"
    extra = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
    config = getattr(model, "config", None)
    batch = pad_batch(
        [{"input_ids": p, "attention_mask": [1] * len(p)} for p in prompts],
        pad_token_id,
        padding_side="left",
        keys=("input_ids", "attention_mask"),
    )
    mask = batch["attention_mask"].to(device)
    position = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each prompt's positions start at 0
    cache = DynamicCache(config=config) if config is not None else DynamicCache()
    if config is not None:
        cache.layers = [
            _reserved_layer()(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers
        ]
    logits = model(
        input_ids=batch["input_ids"].to(device),
        attention_mask=mask,
        position_ids=position,
        use_cache=True,
        **{cache_arg: cache},
        **extra,
    ).logits[:, -1:, :]
    return logits, mask, position[:, -1:], cache, cache_arg


def score_continuations(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[Sequence[int]]],
    pad_token_id: int,
    batch_size: int = 16,
    return_token_logprobs: bool = False,
    return_token_moments: bool = False,
    return_token_argmax_match: bool = False,
    progress: bool = False,
    desc: str = "scoring",
) -> SequenceScores:
    """NLL of continuations that share a prompt (e.g. a question's true, paraphrased and perturbed answers), with
    each prompt run once for all of its continuations, in one forward pass.

    Every token of a continuation is scored (the prompt is not). The numbers are those of [`score_sequences`] on the
    concatenated `prompt + continuation` sequences with the prompt labelled `-100` (up to float rounding), with the
    prompt's tokens computed once instead of once per continuation. Each prompt and all of its continuations are
    packed into one row, `prompt, continuation 1, continuation 2, ...`, under an attention mask that lets each
    continuation see the prompt and its own earlier tokens only, with position ids that restart after the prompt for
    each continuation: one forward pass per batch, no key/value cache to copy. The logits are read at the scored
    positions only. Rows are sorted by length and grouped into batches of at most `batch_size` continuations (a
    prompt with more continuations gets a batch of its own).

    Models whose attention takes no custom 4-D mask (attention implementations other than `sdpa` and `eager`, e.g.
    flash attention) are scored with [`score_sequences`] on the concatenated sequences instead (same numbers).

    Args:
        model (`PreTrainedModel`): A decoder-only causal LM (scored in eval mode, no gradients).
        prompts (`Sequence[Sequence[int]]`): Prompt token ids, each non-empty.
        continuations (`Sequence[Sequence[Sequence[int]]]`): For each prompt, one or more non-empty continuations.
        pad_token_id (`int`): The tokenizer's pad id.
        batch_size (`int`, *optional*, defaults to `16`): Continuations per forward pass.
        return_token_logprobs, return_token_moments, return_token_argmax_match (`bool`, *optional*): As in
            [`score_sequences`].
        progress (`bool`, *optional*, defaults to `False`): Show a tqdm bar.
        desc (`str`, *optional*): The bar's label.

    Returns:
        [`SequenceScores`]: One entry per continuation, prompt by prompt in input order (on CPU).

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> _ = torch.manual_seed(0)
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)).eval()
        >>> shared = score_continuations(model, [[1, 2]], [[[3, 4], [5]]], pad_token_id=0)
        >>> alone = score_sequences(model, [{"input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]},
        ...     {"input_ids": [1, 2, 5], "labels": [-100, -100, 5]}], pad_token_id=0)
        >>> torch.allclose(shared.nll, alone.nll, atol=1e-6)
        True
    """
    import torch
    from tqdm.auto import tqdm

    if len(prompts) == 0:
        raise ValueError("no prompts to score continuations of.")
    if len(continuations) != len(prompts):
        raise ValueError(f"got {len(prompts)} prompts but {len(continuations)} lists of continuations.")
    for i, (p, conts) in enumerate(zip(prompts, continuations)):
        if len(p) == 0 or len(conts) == 0 or any(len(c) == 0 for c in conts):
            raise ValueError(
                f"prompt {i}: prompts, their lists of continuations and each continuation must be non-empty."
            )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise ValueError("score_continuations supports decoder-only (causal) language models.")
    flags = {
        "return_token_logprobs": return_token_logprobs,
        "return_token_moments": return_token_moments,
        "return_token_argmax_match": return_token_argmax_match,
    }
    if getattr(getattr(model, "config", None), "_attn_implementation", None) not in ("sdpa", "eager"):
        features = [
            {"input_ids": [*p, *c], "labels": [IGNORE_INDEX] * len(p) + list(c)}
            for p, conts in zip(prompts, continuations)
            for c in conts
        ]
        return score_sequences(model, features, pad_token_id, batch_size, **flags, progress=progress, desc=desc)
    first = [0]
    for conts in continuations:
        first.append(first[-1] + len(conts))
    store = _ScoreStore(first[-1], return_token_logprobs, return_token_moments, return_token_argmax_match)
    # batches of whole rows (a prompt and all its continuations), longest first, <= batch_size continuations each
    length = [len(p) + sum(len(c) for c in conts) for p, conts in zip(prompts, continuations)]
    batches: list[list[int]] = []
    for i in sorted(range(len(prompts)), key=lambda i: -length[i]):
        if batches and sum(len(continuations[j]) for j in batches[-1]) + len(continuations[i]) <= batch_size:
            batches[-1].append(i)
        else:
            batches.append([i])
    device = _device_of(model)
    with torch.inference_mode(), eval_mode(model):
        for group in tqdm(batches, desc=desc, disable=not progress, leave=False):
            batch = _packed_rows([prompts[i] for i in group], [continuations[i] for i in group], pad_token_id)
            mask = torch.zeros(batch["segment"].shape[0], 1, *batch["allowed"].shape[1:], dtype=model.dtype)
            mask.masked_fill_(~batch["allowed"].unsqueeze(1), torch.finfo(model.dtype).min)
            logits = model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=mask.to(device),
                position_ids=batch["position_ids"].to(device),
            ).logits
            scored = logits.flatten(0, 1)[batch["source"].to(device)]
            idx = [first[i] + k for i in group for k in range(len(continuations[i]))]
            store.add(idx, batch["counts"], scored, batch["targets"].to(device))
    return store.result()


def _packed_rows(
    prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]], pad_token_id: int
) -> dict[str, Any]:
    """One row per prompt: the prompt then each of its continuations, right-padded, with what the forward pass and
    the scoring need.

    Returns `input_ids` and `position_ids` (`(rows, length)`; each continuation's positions start where the prompt
    ends), `segment` (0 for the prompt, `k` for continuation `k`, -1 for padding), `allowed` (`(rows, length,
    length)`, whether query `q` may attend to key `k`: `k <= q` within the prompt or the query's own continuation),
    `source` (the flat `row * length + position` index of the logits that score each continuation token: the
    prompt's last position for a continuation's first token, the previous token's position after that), `targets`
    (the continuation tokens, in the same order) and `counts` (tokens per continuation).
    """
    import torch

    width = max(len(p) + sum(len(c) for c in conts) for p, conts in zip(prompts, continuations))
    ids = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    position = torch.zeros(len(prompts), width, dtype=torch.long)
    segment = torch.full((len(prompts), width), -1, dtype=torch.long)
    source: list[int] = []
    targets: list[int] = []
    counts: list[int] = []
    for row, (prompt, conts) in enumerate(zip(prompts, continuations)):
        n = len(prompt)
        ids[row, :n] = torch.tensor(list(prompt))
        position[row, :n] = torch.arange(n)
        segment[row, :n] = 0
        start = n
        for k, cont in enumerate(conts, start=1):
            end = start + len(cont)
            ids[row, start:end] = torch.tensor(list(cont))
            position[row, start:end] = torch.arange(n, n + len(cont))
            segment[row, start:end] = k
            base = row * width
            source += [base + n - 1, *range(base + start, base + end - 1)]
            targets += list(cont)
            counts.append(len(cont))
            start = end
    query, key = segment.unsqueeze(2), segment.unsqueeze(1)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    allowed = causal & (key >= 0) & ((key == 0) | (key == query))
    return {
        "input_ids": ids,
        "position_ids": position,
        "segment": segment,
        "allowed": allowed,
        "source": torch.tensor(source),
        "targets": torch.tensor(targets),
        "counts": counts,
    }


def score_sequences(
    model: PreTrainedModel,
    features: Sequence[dict[str, Sequence[int]]],
    pad_token_id: int,
    batch_size: int = 16,
    return_token_logprobs: bool = False,
    return_token_moments: bool = False,
    return_token_argmax_match: bool = False,
    progress: bool = False,
    desc: str = "scoring",
) -> SequenceScores:
    """NLL of the labelled tokens of many tokenised sequences, batched (sorted by length, right padding).

    Args:
        model (`PreTrainedModel`): A causal LM (scored in eval mode, its mode restored after; no gradients are taken).
        features (`Sequence[dict]`): Each with `input_ids` and `labels` (and optionally `attention_mask`), e.g. from
            [`~hf_unlearn.data.tokenize_qa`].
        pad_token_id (`int`): The tokenizer's pad id.
        batch_size (`int`, *optional*, defaults to `16`): Sequences per forward pass.
        return_token_logprobs (`bool`, *optional*, defaults to `False`): Also return per-token log-probabilities.
        return_token_moments (`bool`, *optional*, defaults to `False`): Also return, at each labelled position, the
            mean and standard deviation of the log-probabilities under the model's next-token distribution (implies
            `return_token_logprobs`).
        return_token_argmax_match (`bool`, *optional*, defaults to `False`): Also return, at each labelled position,
            whether the label is the model's argmax prediction.
        progress (`bool`, *optional*, defaults to `False`): Show a tqdm bar.
        desc (`str`, *optional*): The bar's label.

    Returns:
        [`SequenceScores`]: Scores in the order of `features` (on CPU).

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> _ = torch.manual_seed(0)
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)).eval()
        >>> feats = [{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}, {"input_ids": [4, 5], "labels": [-100, 5]}]
        >>> score_sequences(model, feats, pad_token_id=0).num_tokens.tolist()
        [2, 1]
    """
    import torch
    from tqdm.auto import tqdm

    if len(features) == 0:
        raise ValueError("no sequences to score.")
    empty = [i for i, f in enumerate(features) if all(label == IGNORE_INDEX for label in f["labels"][1:])]
    if empty:
        raise ValueError(
            f"sequence(s) {empty[:5]} have no labelled tokens (every label is -100 after the causal shift), so their "
            "NLL is undefined. Drop such rows (e.g. answers that are empty or were truncated away) or raise "
            "max_length."
        )
    device = _device_of(model)
    store = _ScoreStore(len(features), return_token_logprobs, return_token_moments, return_token_argmax_match)
    batches = _batches_by_length([len(f["input_ids"]) for f in features], batch_size)
    with torch.inference_mode(), eval_mode(model):
        for idx in tqdm(batches, desc=desc, disable=not progress, leave=False):
            rows = []
            for i in idx:
                f = features[i]
                mask = f.get("attention_mask")
                rows.append(
                    {
                        "input_ids": f["input_ids"],
                        "attention_mask": mask if mask is not None else [1] * len(f["input_ids"]),
                        "labels": f["labels"],
                    }
                )
            batch = pad_batch(rows, pad_token_id, padding_side="right")
            logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
            labels = batch["labels"][:, 1:]  # logits at t score the label at t + 1
            row, position = (labels != IGNORE_INDEX).nonzero(as_tuple=True)
            source = (row * batch["labels"].shape[1] + position).to(device)
            counts = (labels != IGNORE_INDEX).sum(-1).tolist()
            store.add(idx, counts, logits.logits.flatten(0, 1)[source], labels[row, position].to(device))
    return store.result()


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids: the model's generation config (an id or a list), else the tokenizer's; may be empty."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return []
    return [int(e) for e in eos] if isinstance(eos, (list, tuple)) else [int(eos)]


def _forward_parameters(model: Any) -> set[str]:
    """Names of the keyword arguments of the (base) model's forward, to pick the cache argument's name."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


def generate_greedy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int = 200,
    batch_size: int = 16,
    progress: bool = False,
    desc: str = "generating",
) -> list[str]:
    """Greedy continuations of tokenised prompts, batched with left padding; returns the decoded new text.

    The same tokens as `model.generate(do_sample=False, num_beams=1, max_new_tokens=...)` on each prompt alone, made
    faster: prompts are sorted by length into batches of `batch_size` (little padding) and decoded with a key/value
    cache; a row leaves the batch (and the cache) as soon as it emits an end-of-sequence token. When a batch is down
    to a quarter of its rows, those rows are parked (cache kept) and the next batch starts; parked rows of several
    batches then finish together, their caches left-padded to a common length, at most `batch_size` at a time, so a
    few long answers do not each cost a run of one-row steps. Each plain cache layer reserves room for the prompt and
    `max_new_tokens` ahead and writes every step's keys and values into it, instead of concatenating (which copies
    the whole cache at every step). The prompt's logits are computed only at its last position where the model allows
    (`logits_to_keep`). Decoder-only models; rows are not parked when the cache has
    other than plain growing layers (e.g. sliding-window attention).

    Args:
        model (`PreTrainedModel`): A causal LM.
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token; used to decode).
        prompts (`Sequence[Sequence[int]]`): Prompt token ids, e.g. from [`~hf_unlearn.data.tokenize_prompt`].
        max_new_tokens (`int`, *optional*, defaults to `200`): Generation length cap (open-unlearning's TOFU value).
        batch_size (`int`, *optional*, defaults to `16`): Prompts decoded together.
        progress (`bool`, *optional*, defaults to `False`): Show a tqdm bar.
        desc (`str`, *optional*): The bar's label.

    Returns:
        `list[str]`: The generated text of each prompt (special tokens removed, stripped), in input order.

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
        >>> from tokenizers import Tokenizer, models
        >>> _ = torch.manual_seed(0)
        >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=8, hidden_size=8, intermediate_size=16,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, eos_token_id=1)).eval()
        >>> tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(
        ...     {c: i for i, c in enumerate("_eabcdfg")}, unk_token="_")), pad_token="_", eos_token="e")
        >>> texts = generate_greedy(model, tok, [[2, 3], [4]], max_new_tokens=3)
        >>> texts == [tok.decode(model.generate(torch.tensor([p]), max_new_tokens=3, do_sample=False)[0, len(p):],
        ...     skip_special_tokens=True).strip() for p in [[2, 3], [4]]]
        True
    """
    import torch
    from tqdm.auto import tqdm

    from ..data.collate import require_pad_token

    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}.")
    if len(prompts) == 0:
        raise ValueError("no prompts to generate from.")
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise ValueError("generate_greedy supports decoder-only (causal) language models.")
    pad_id = require_pad_token(tokenizer)
    device = _device_of(model)
    eos = torch.tensor(_eos_ids(model, tokenizer), dtype=torch.long, device=device)
    tokens: list[list[int]] = [[] for _ in prompts]
    batches = _batches_by_length([len(p) for p in prompts], batch_size)
    park_at = batch_size // 4  # a batch down to this many rows parks them and the next batch starts
    parked: list[_Decoding] = []
    bar = tqdm(total=len(prompts), desc=desc, disable=not progress, leave=False)
    with torch.inference_mode(), eval_mode(model):
        for b, idx in enumerate(batches):
            state = _Decoding(model, [prompts[i] for i in idx], idx, pad_id, device, max_new_tokens)
            last = b == len(batches) - 1
            state.run(tokens, eos, max_new_tokens, bar, park_at=0 if last or not _mergeable(state.cache) else park_at)
            if len(state.rows):
                parked.append(state)
        while parked:  # the parked rows of several batches finish together, at most batch_size at a time
            group = [parked.pop()]
            while parked and sum(len(s.rows) for s in group) + len(parked[-1].rows) <= batch_size:
                group.append(parked.pop())
            _Decoding.merge(group).run(tokens, eos, max_new_tokens, bar, park_at=0)
    bar.close()
    return [text.strip() for text in tokenizer.batch_decode(tokens, skip_special_tokens=True)]


class _Decoding:
    """Rows of a greedy decoding in progress: their key/value cache, attention mask, positions and the logits from
    which each row's next token is taken."""

    def __init__(
        self, model: Any, prompts: list[Sequence[int]], rows: list[int], pad_id: int, device: Any, max_new_tokens: int
    ) -> None:
        import torch

        self.model = model
        capacity = max(len(p) for p in prompts) + max_new_tokens
        self.logits, self.mask, self.position, self.cache, self.cache_arg = _prefill(
            model, prompts, pad_id, device, capacity
        )
        self.rows = torch.tensor(rows, device=device)  # the prompt each row generates for

    def run(self, tokens: list[list[int]], eos: Any, max_new_tokens: int, bar: Any, park_at: int) -> None:
        """Decodes until every row has stopped (end-of-sequence or `max_new_tokens`), or until at most `park_at` rows
        are left (they then wait, with their next token not yet taken, to be merged with other parked rows)."""
        import torch

        while len(self.rows) > park_at:
            next_token = self.logits[:, -1, :].argmax(-1)
            done = torch.isin(next_token, eos)
            for k, (row, token) in enumerate(zip(self.rows.tolist(), next_token.tolist())):
                tokens[row].append(token)
                if len(tokens[row]) == max_new_tokens:
                    done[k] = True
            if bool(done.any()):  # finished rows leave the batch and the cache
                bar.update(int(done.sum()))
                keep = (~done).nonzero().squeeze(1)
                self.cache.batch_select_indices(keep)
                self.rows, next_token = self.rows[keep], next_token[keep]
                self.mask, self.position = self.mask[keep], self.position[keep]
                if len(self.rows) == 0:
                    return
            self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
            self.position = self.position + 1
            self.logits = self.model(
                input_ids=next_token.unsqueeze(1),
                attention_mask=self.mask,
                position_ids=self.position,
                use_cache=True,
                **{self.cache_arg: self.cache},
            ).logits
        self.logits = self.logits[:, -1:, :]

    @staticmethod
    def merge(states: list[_Decoding]) -> _Decoding:
        """One decoding of the rows of `states`: caches and masks left-padded to the longest, stacked."""
        import torch

        merged = states[0]
        for other in states[1:]:
            merged.mask = _merge_cache(merged.cache, merged.mask, other.cache, other.mask)
            merged.rows = torch.cat([merged.rows, other.rows])
            merged.position = torch.cat([merged.position, other.position])
            merged.logits = torch.cat([merged.logits, other.logits])
        return merged


def _mergeable(cache: Any) -> bool:
    """Whether rows of another decoding can join `cache`: every layer a plain growing key/value store (not a sliding
    window or a static cache)."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) in (DynamicLayer, _reserved_layer()) for layer in layers)


def _merge_cache(cache: Any, mask: torch.Tensor, other: Any, other_mask: torch.Tensor) -> torch.Tensor:
    """Appends the rows of cache `other` to `cache` in place, left-padding the shorter one's keys and values (and its
    attention mask) to the other's length; returns the merged attention mask."""
    import torch
    import torch.nn.functional as F

    length = max(mask.shape[1], other_mask.shape[1])

    def pad(x: torch.Tensor, dim_from_end: int) -> torch.Tensor:
        return F.pad(x, (0, 0) * (dim_from_end - 1) + (length - x.shape[-dim_from_end], 0))

    for layer, new in zip(cache.layers, other.layers):
        layer.keys = torch.cat([pad(layer.keys, 2), pad(new.keys, 2)])
        layer.values = torch.cat([pad(layer.values, 2), pad(new.values, 2)])
    return torch.cat([pad(mask, 1), pad(other_mask, 1)])
