# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Batched model scoring shared by every evaluation: per-sequence NLL / log-probs and greedy generation.

Every metric in `hf_unlearn.eval` (TOFU, MUSE, membership inference) is built from two model calls:

- [`score_sequences`]: the negative log-likelihood of the labelled tokens (the answer) of many sequences. Sequences
  are sorted by length, padded on the right, and scored in batches (one forward pass per batch, no per-item loop);
  results come back in the input order.
- [`generate_greedy`]: greedy continuations of many prompts, padded on the left, in batches.

The maths on logits is [`~hf_unlearn.logprobs.sequence_nll`] (re-exported here), shared with the trainers' losses and
unit-testable on hand-made tensors.

Example:
    >>> import torch
    >>> from hf_unlearn.eval.scoring import sequence_nll
    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
    >>> labels = torch.tensor([[-100, 2, 3]])
    >>> nll, n = sequence_nll(logits, labels)
    >>> round(nll.item(), 4), n.item()  # log(4)
    (1.3863, 2)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data.collate import pad_batch
from ..logprobs import sequence_nll, token_log_probs


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

    n = len(features)
    if n == 0:
        raise ValueError("no sequences to score.")
    device = _device_of(model)
    nll = torch.empty(n, dtype=torch.float32)
    nll_sum = torch.empty(n, dtype=torch.float32)
    num_tokens = torch.empty(n, dtype=torch.long)
    token_logprobs: list[torch.Tensor | None] = [None] * n
    token_mean: list[torch.Tensor | None] = [None] * n
    token_std: list[torch.Tensor | None] = [None] * n
    token_match: list[torch.Tensor | None] = [None] * n
    return_token_logprobs = return_token_logprobs or return_token_moments or return_token_argmax_match
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
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            s, counts = sequence_nll(logits, batch["labels"], reduction="sum")
            s, counts = s.cpu(), counts.cpu()
            index = torch.tensor(idx)
            nll_sum[index] = s
            num_tokens[index] = counts
            nll[index] = s / counts
            if return_token_logprobs:
                picked, mask = token_log_probs(logits, batch["labels"])
                picked, mask = picked.cpu(), mask.cpu()
                if return_token_moments:
                    logp = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
                    mean = (logp.exp() * logp).sum(-1)
                    std = (logp.exp() * (logp - mean.unsqueeze(-1)).square()).sum(-1).sqrt()
                    mean, std = mean.cpu(), std.cpu()
                if return_token_argmax_match:
                    match = (logits[:, :-1, :].argmax(-1) == batch["labels"][:, 1:]).cpu()
                for row, i in enumerate(idx):
                    token_logprobs[i] = picked[row][mask[row]]
                    if return_token_moments:
                        token_mean[i] = mean[row][mask[row]]
                        token_std[i] = std[row][mask[row]]
                    if return_token_argmax_match:
                        token_match[i] = match[row][mask[row]]
    return SequenceScores(
        nll=nll,
        nll_sum=nll_sum,
        num_tokens=num_tokens,
        token_logprobs=token_logprobs if return_token_logprobs else None,  # type: ignore[arg-type]
        token_logprob_mean=token_mean if return_token_moments else None,  # type: ignore[arg-type]
        token_logprob_std=token_std if return_token_moments else None,  # type: ignore[arg-type]
        token_argmax_match=token_match if return_token_argmax_match else None,  # type: ignore[arg-type]
    )


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

    Args:
        model (`PreTrainedModel`): A causal LM.
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token; used to decode).
        prompts (`Sequence[Sequence[int]]`): Prompt token ids, e.g. from [`~hf_unlearn.data.tokenize_prompt`].
        max_new_tokens (`int`, *optional*, defaults to `200`): Generation length cap (open-unlearning's TOFU value).
        batch_size (`int`, *optional*, defaults to `16`): Prompts per `generate` call.
        progress (`bool`, *optional*, defaults to `False`): Show a tqdm bar.
        desc (`str`, *optional*): The bar's label.

    Returns:
        `list[str]`: The generated text of each prompt (special tokens removed, stripped), in input order.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import GenerationConfig

    from ..data.collate import require_pad_token

    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}.")
    if len(prompts) == 0:
        raise ValueError("no prompts to generate from.")
    pad_id = require_pad_token(tokenizer)
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    gen_config = GenerationConfig(
        do_sample=False, num_beams=1, max_new_tokens=max_new_tokens, pad_token_id=pad_id, eos_token_id=eos
    )
    device = _device_of(model)
    out: list[str | None] = [None] * len(prompts)
    batches = _batches_by_length([len(p) for p in prompts], batch_size)
    with torch.inference_mode():
        for idx in tqdm(batches, desc=desc, disable=not progress, leave=False):
            batch = pad_batch(
                [{"input_ids": prompts[i], "attention_mask": [1] * len(prompts[i])} for i in idx],
                pad_id,
                padding_side="left",
                keys=("input_ids", "attention_mask"),
            )
            batch = {k: v.to(device) for k, v in batch.items()}
            generated = model.generate(**batch, generation_config=gen_config)
            new_tokens = generated[:, batch["input_ids"].shape[1] :].cpu()
            texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for i, text in zip(idx, texts):
                out[i] = text.strip()
    return out  # type: ignore[return-value]
