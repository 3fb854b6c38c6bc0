# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Per-token log-probabilities of labelled tokens: the one copy of this maths, shared by the trainers' losses
(`hf_unlearn.trainer.losses`) and the evaluation's scoring (`hf_unlearn.eval.scoring`), which never import each other.

Conventions: labels are `-100` wherever a position is not scored (prompt, padding); logits at position `t` score the
label at `t + 1` (the causal shift is done here, once). Log-probabilities are computed in float32 as
`logit[label] - logsumexp(logits)`, which never materialises the full `(batch, seq, vocab)` log-softmax.

Example:
    >>> import torch
    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
    >>> logps, n = sequence_log_probs(logits, torch.tensor([[-100, 1, 2]]))
    >>> round(logps.item(), 4), n.item()  # 2 * log(1/4)
    (-2.7726, 2)
    >>> nll, n = per_sequence_nll(logits, torch.tensor([[-100, 1, 2]]))
    >>> round(nll.item(), 4)  # log(4)
    1.3863
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:  # torch is imported in the functions, so that importing the evaluation's CLI stays light
    import torch

IGNORE_INDEX = -100

__all__ = ["IGNORE_INDEX", "per_sequence_nll", "sequence_log_probs", "target_log_probs", "token_log_probs"]


def target_log_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`log p(targets[..., t])` under `logits[..., t, :]`, with no causal shift: the logits are already aligned with
    the tokens they score (e.g. gathered at the scored positions only).

    Args:
        logits (`torch.Tensor`): Logits of shape `(..., vocab)`.
        targets (`torch.Tensor`): Token ids of shape `logits.shape[:-1]`, each in `[0, vocab)`.

    Returns:
        `torch.Tensor`: The log-probabilities (float32, shape of `targets`).

    Example:
        >>> import torch
        >>> round(target_log_probs(torch.tensor([[0.0, 0.0, 0.0, 0.0]]), torch.tensor([2])).item(), 4)  # log(1/4)
        -1.3863
    """
    import torch

    logits = logits.float()
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def token_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each labelled token, after the causal shift.

    Args:
        logits (`torch.Tensor`): Model logits of shape `(batch, seq, vocab)`.
        labels (`torch.Tensor`): Token ids of shape `(batch, seq)`, `-100` where a position is not scored.

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: `log_probs` (float32, `(batch, seq - 1)`, `0` where not scored) and the
        boolean `mask` of scored positions (same shape).
    """

    if logits.ndim != 3 or labels.ndim != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(
            f"expected logits (batch, seq, vocab) and labels (batch, seq) of the same length, got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}."
        )
    labels = labels[:, 1:]
    mask = labels != IGNORE_INDEX
    log_probs = target_log_probs(logits[:, :-1, :], labels.masked_fill(~mask, 0))
    return log_probs.masked_fill(~mask, 0.0), mask


def sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probability of each sequence's labelled tokens, and how many tokens were scored.

    Args:
        logits (`torch.Tensor`): Model logits of shape `(batch, seq, vocab)`.
        labels (`torch.Tensor`): Token ids of shape `(batch, seq)`, `-100` where a position is not scored. They are
            shifted here: `logits[:, t]` scores `labels[:, t + 1]`.

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: `log_probs` (float, `(batch,)`), the sum of log p(token) over scored
        tokens, and `num_tokens` (long, `(batch,)`).
    """
    log_probs, mask = token_log_probs(logits, labels)
    return log_probs.sum(-1), mask.sum(-1)


def per_sequence_nll(
    logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sequence negative log-likelihood of the labelled tokens (causal shift, `-100` ignored).

    Args:
        logits (`torch.Tensor` of shape `(batch, seq_len, vocab)`): Model logits; position `t` predicts token `t+1`.
        labels (`torch.Tensor` of shape `(batch, seq_len)`): Token ids, `-100` where not scored.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` (per-token average, as TOFU's probability and
            truth ratio use) or `"sum"` (as NPO's log-ratio uses).

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: The NLL of each sequence (float32, shape `(batch,)`) and the number of
        scored tokens of each sequence (shape `(batch,)`). A sequence without scored tokens raises a `ValueError`.
    """
    import torch

    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}.")
    log_probs, num_tokens = sequence_log_probs(logits, labels)
    if bool((num_tokens == 0).any()):
        bad = torch.nonzero(num_tokens == 0).flatten().tolist()
        raise ValueError(
            f"sequence(s) {bad} of the batch have no labelled tokens (every label is -100 after the causal shift), "
            "so their NLL is undefined. Drop such rows (e.g. answers that are empty or were truncated away) or raise "
            "max_length."
        )
    total = -log_probs
    return (total / num_tokens if reduction == "mean" else total), num_tokens.to(torch.long)
