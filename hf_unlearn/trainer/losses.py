# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The loss maths of LLM unlearning, as pure functions over per-sequence quantities.

Every function here is a plain tensor function (no model, no trainer), so each formula can be checked against a
hand computation. The trainers call them and add nothing but model forwards and bookkeeping.

Conventions:

- Labels use `-100` on every position that is not scored (prompt and padding), as in `transformers`. Logits at
  position `t` predict the label at `t + 1` (the causal shift is done here, once).
- Every loss term is a **mean over sequences of a per-sequence quantity**. The loss of a global batch therefore does
  not depend on how it is split across devices and gradient-accumulation steps (the reference TOFU code, run at its
  per-device batch size of 1, computes the same numbers).

Formulas (`logp(y|x)` = summed log-probability of the answer tokens, `|y|` = their number):

- NPO (Zhang et al., 2024): `-(2/beta) * logsigmoid(-beta * (logp_theta(y|x) - logp_ref(y|x)))`.
- SimNPO (Fan et al., 2024), as the paper writes it:
  `-(2/beta) * logsigmoid(-(beta/|y|) * logp_theta(y|x) - gamma)`. The reference code multiplies the margin by
  beta (`-(2/beta) * logsigmoid(beta * (-logp/|y| - gamma))`, open-unlearning issue #123); pass
  `gamma_scaled_by_beta=True` for that form. The two agree when `gamma = 0`, the TOFU default.

Example:
    >>> import torch
    >>> from hf_unlearn.trainer.losses import npo_loss, simnpo_loss
    >>> logps, ref = torch.tensor([-10.0]), torch.tensor([-10.0])
    >>> round(npo_loss(logps, ref, beta=0.1).item(), 4)  # -(2/0.1) * log(0.5)
    13.8629
    >>> round(simnpo_loss(torch.tensor([-4.0]), torch.tensor([2]), beta=2.0).item(), 4)  # -log(sigmoid(4))
    0.0181
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


IGNORE_INDEX = -100

__all__ = [
    "kl_divergence",
    "npo_loss",
    "sequence_log_probs",
    "sequence_nll",
    "simnpo_loss",
]


def _shift(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if logits.ndim != 3 or labels.ndim != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(
            f"expected logits (batch, seq, vocab) and labels (batch, seq) of the same length, got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}."
        )
    logits = logits[:, :-1, :]
    labels = labels[:, 1:]
    mask = labels != IGNORE_INDEX
    return logits, labels.masked_fill(~mask, 0), mask


def sequence_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probability of each sequence's labelled tokens, and how many tokens were scored.

    Args:
        logits (`torch.Tensor`): Model logits of shape `(batch, seq, vocab)`.
        labels (`torch.Tensor`): Token ids of shape `(batch, seq)`, `-100` where a position is not scored. They are
            shifted here: `logits[:, t]` scores `labels[:, t + 1]`.

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: `log_probs` (float, `(batch,)`), the sum of log p(token) over scored
        tokens, and `num_tokens` (long, `(batch,)`).

    Example:
        >>> import torch
        >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
        >>> logps, n = sequence_log_probs(logits, torch.tensor([[-100, 1, 2]]))
        >>> round(logps.item(), 4), n.item()  # 2 * log(1/4)
        (-2.7726, 2)
    """
    from trl.trainer.utils import selective_log_softmax

    logits, labels, mask = _shift(logits, labels)
    per_token = selective_log_softmax(logits.float(), labels)
    per_token = per_token.masked_fill(~mask, 0.0)
    return per_token.sum(-1), mask.sum(-1)


def _check_lengths(num_tokens: torch.Tensor, what: str) -> None:
    if bool((num_tokens <= 0).any()):
        bad = torch.nonzero(num_tokens <= 0).flatten().tolist()
        raise ValueError(
            f"{what}: sequence(s) {bad} of the batch have no label tokens (every label is -100 after the causal "
            "shift), so a per-token average is undefined. Drop such rows (e.g. answers that are empty or were "
            "truncated away) or raise `max_length`."
        )


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over sequences of each sequence's mean token negative log-likelihood.

    This is the retain (and gradient-ascent forget) term. It equals the usual HF token-mean loss when all sequences
    have the same number of label tokens, and, unlike it, does not depend on how a global batch is split.

    Args:
        logits (`torch.Tensor`): `(batch, seq, vocab)`.
        labels (`torch.Tensor`): `(batch, seq)`, `-100` where not scored.

    Returns:
        `torch.Tensor`: A scalar.

    Example:
        >>> import torch
        >>> round(sequence_nll(torch.zeros(2, 3, 4), torch.tensor([[-100, 1, 2], [-100, -100, 3]])).item(), 4)
        1.3863
    """
    logps, num_tokens = sequence_log_probs(logits, labels)
    _check_lengths(num_tokens, "sequence_nll")
    return (-logps / num_tokens).mean()


def npo_loss(
    policy_log_probs: torch.Tensor, ref_log_probs: torch.Tensor, beta: float = 0.1, reduction: str = "mean"
) -> torch.Tensor:
    """Negative Preference Optimization loss (Zhang et al., 2024, arXiv:2404.05868).

    `L = -(2/beta) * logsigmoid(-beta * (logp_theta(y|x) - logp_ref(y|x)))`, with summed (not length-normalised)
    sequence log-probabilities, as in the paper and its code. As `beta -> 0` it tends to gradient ascent.

    Args:
        policy_log_probs (`torch.Tensor`): `(batch,)` summed log-probs of the forget answers under the model.
        ref_log_probs (`torch.Tensor`): `(batch,)` the same under the frozen reference (no gradient flows into it).
        beta (`float`, *optional*, defaults to `0.1`): Inverse temperature; must be positive.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"`, `"sum"` or `"none"` (per sequence).

    Returns:
        `torch.Tensor`: The loss.

    Example:
        >>> import torch
        >>> round(npo_loss(torch.tensor([-5.0]), torch.tensor([-5.0]), beta=1.0).item(), 4)  # -2 log(1/2)
        1.3863
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}.")
    log_ratio = policy_log_probs - ref_log_probs.detach()
    losses = -F.logsigmoid(-beta * log_ratio) * (2.0 / beta)
    return _reduce(losses, reduction)


def simnpo_loss(
    policy_log_probs: torch.Tensor,
    num_tokens: torch.Tensor,
    beta: float = 4.5,
    gamma: float = 0.0,
    gamma_scaled_by_beta: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """SimNPO forget loss (Fan et al., 2024, arXiv:2410.07163): NPO without a reference model, length-normalised.

    Paper form (default): `L = -(2/beta) * logsigmoid(-(beta/|y|) * logp_theta(y|x) - gamma)`.
    With `gamma_scaled_by_beta=True`, the reference code's form: `-(2/beta) * logsigmoid(beta * (-logp/|y| -
    gamma))`, i.e. the margin is `beta * gamma` (code gamma = paper gamma / beta).

    Args:
        policy_log_probs (`torch.Tensor`): `(batch,)` summed log-probs of the forget answers.
        num_tokens (`torch.Tensor`): `(batch,)` how many answer tokens each sum covers (`|y|`); all must be > 0.
        beta (`float`, *optional*, defaults to `4.5`): Inverse temperature (4.5 is the paper's TOFU forget10 value).
        gamma (`float`, *optional*, defaults to `0.0`): Reward margin (TOFU default 0).
        gamma_scaled_by_beta (`bool`, *optional*, defaults to `False`): Use the reference code's `beta * gamma`.
        reduction (`str`, *optional*, defaults to `"mean"`): `"mean"`, `"sum"` or `"none"`.

    Returns:
        `torch.Tensor`: The loss.

    Example:
        >>> import torch
        >>> round(simnpo_loss(torch.tensor([-6.0]), torch.tensor([3]), beta=1.0, gamma=1.0).item(), 4)
        0.6265
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}.")
    _check_lengths(num_tokens, "simnpo_loss")
    avg_logps = policy_log_probs / num_tokens.to(policy_log_probs.dtype)
    margin = beta * gamma if gamma_scaled_by_beta else gamma
    losses = -F.logsigmoid(-beta * avg_logps - margin) * (2.0 / beta)
    return _reduce(losses, reduction)


def kl_divergence(
    logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor | None = None, attention_mask=None
) -> torch.Tensor:
    """KL(ref || model) per token, averaged over each sequence's scored positions, then over sequences.

    The retain regulariser of GradDiff-KL / NPO-KL. The reference code sums `kl_div(log_softmax(theta),
    log_softmax(ref), log_target=True)` over all positions (padding included) and divides by the batch size; here
    padding is excluded and each sequence counts once, so the value does not depend on padding or batch layout.

    Args:
        logits (`torch.Tensor`): Model logits `(batch, seq, vocab)`.
        ref_logits (`torch.Tensor`): Reference logits of the same shape (no gradient flows into them).
        labels (`torch.Tensor`, *optional*): If given, only positions that predict a label token (after the causal
            shift) are counted; otherwise every position with `attention_mask == 1`.
        attention_mask (`torch.Tensor`, *optional*): `(batch, seq)`; used when `labels` is `None`.

    Returns:
        `torch.Tensor`: A scalar, 0 when the two distributions are equal.

    Example:
        >>> import torch
        >>> x = torch.randn(2, 4, 5)
        >>> kl_divergence(x, x, attention_mask=torch.ones(2, 4)).item()
        0.0
    """
    if logits.shape != ref_logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and ref_logits {tuple(ref_logits.shape)} differ in shape.")
    if labels is not None:
        _, _, mask = _shift(logits, labels)
        logits, ref_logits = logits[:, :-1], ref_logits[:, :-1]
    elif attention_mask is not None:
        mask = attention_mask.bool()
    else:
        mask = torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device)
    logp = F.log_softmax(logits.float(), dim=-1)
    ref_logp = F.log_softmax(ref_logits.detach().float(), dim=-1)
    per_token = (ref_logp.exp() * (ref_logp - logp)).sum(-1).masked_fill(~mask, 0.0)
    counts = mask.sum(-1)
    _check_lengths(counts, "kl_divergence")
    return (per_token.sum(-1) / counts).mean()


def _reduce(losses: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
