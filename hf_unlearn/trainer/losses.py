# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The loss maths of LLM unlearning, as pure functions over per-sequence quantities.

Every function here is a plain tensor function (no model, no trainer), so each formula can be checked against a
hand computation. The trainers call them and add nothing but model forwards and bookkeeping.

Conventions:

- Labels use `-100` on every position that is not scored (prompt and padding), as in `transformers`. Logits at
  position `t` predict the label at `t + 1` (the causal shift is done here, once).
- Every loss term is a **mean over sequences of a per-sequence quantity**. The loss of a global batch therefore does
  not depend on how it is split across devices and gradient-accumulation steps. The peers' NLL terms differ: they use
  the HF token-mean loss (summed token NLL divided by the number of label tokens of the micro-batch, i.e. by about
  batch x answer length), which weights long answers more and changes with the split; it equals ours only when every
  sequence has the same number of answer tokens. Their TOFU runs use batch 16 (open-unlearning: 4 per device x 4
  accumulation steps), so the two do differ there. The NPO / SimNPO forget terms are per-sequence in both.
- The per-token log-probability maths lives in `hf_unlearn.logprobs` (shared with the evaluation); `sequence_log_probs`
  is re-exported here.

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

from ..logprobs import IGNORE_INDEX, sequence_log_probs


__all__ = [
    "kl_divergence",
    "mean_sequence_nll",
    "npo_loss",
    "sequence_log_probs",
    "simnpo_loss",
]


def _check_lengths(num_tokens: torch.Tensor, what: str) -> None:
    if bool((num_tokens <= 0).any()):
        bad = torch.nonzero(num_tokens <= 0).flatten().tolist()
        raise ValueError(
            f"{what}: sequence(s) {bad} of the batch have no label tokens (every label is -100 after the causal "
            "shift), so a per-token average is undefined. Drop such rows (e.g. answers that are empty or were "
            "truncated away) or raise `max_length`."
        )


def mean_sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over sequences of each sequence's mean token negative log-likelihood: a scalar loss.

    This is the retain (and gradient-ascent forget) term. (The per-sequence values, as the evaluation uses them, are
    `hf_unlearn.logprobs.per_sequence_nll`; both are built on the same `sequence_log_probs`.) It equals the usual HF
    token-mean loss when all sequences have the same number of label tokens, and, unlike it, does not depend on how a
    global batch is split.

    Args:
        logits (`torch.Tensor`): `(batch, seq, vocab)`.
        labels (`torch.Tensor`): `(batch, seq)`, `-100` where not scored.

    Returns:
        `torch.Tensor`: A scalar.

    Example:
        >>> import torch
        >>> round(mean_sequence_nll(torch.zeros(2, 3, 4), torch.tensor([[-100, 1, 2], [-100, -100, 3]])).item(), 4)
        1.3863
    """
    logps, num_tokens = sequence_log_probs(logits, labels)
    _check_lengths(num_tokens, "mean_sequence_nll")
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
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}.")
        mask = labels[:, 1:] != IGNORE_INDEX  # positions that predict a label token (causal shift)
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
