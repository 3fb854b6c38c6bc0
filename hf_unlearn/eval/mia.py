# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Membership-inference attacks (MIAs) on causal LMs: per-text scores, AUCs, and MUSE's PrivLeak.

Every attack gives each text a score where **higher means "more likely a training member"**. With `nll` the mean
token negative log-likelihood of the scored tokens, `log p_t` the log-probability of the t-th scored token, and
`n` the number of scored tokens:

| attack | score (higher = member) | paper |
|---|---|---|
| `loss` | `-nll` | Yeom et al., 2018 |
| `zlib` | `-nll / zlib(text)`, `zlib(text)` = bytes of `zlib.compress(text.encode("utf-8"))` | Carlini et al., 2021 |
| `min_k` | mean of the `max(1, int(k n))` smallest `log p_t` | Shi et al., 2024 (Min-K% Prob) |
| `min_k++` | mean of the `max(1, int(k n))` smallest `(log p_t - mu_t) / sigma_t` | Zhang et al., 2024 (Min-K%++) |
| `reference` | `nll_ref - nll` (the reference model's loss minus the model's) | Carlini et al., 2021 |

**Which tokens** (as open-unlearning, `src/evals/metrics/utils.py`): `loss` and `zlib` use every labelled token;
`min_k` and `min_k++` leave out the **last** labelled token (`tokenwise_logprobs` / `tokenwise_vocab_logprobs` cut
the label positions with `[:-1]`, meant for the EOS of a chat answer; on a whole text it is the text's last token), so
there `n` is one less, and a sequence with a single labelled token scores 0 (open-unlearning's value for no token).
[`min_k_score`] and [`min_k_plus_plus_score`] compute the formula on the tokens they are given; the per-sequence
functions ([`mia_scores`], [`mia_scores_from_features`], [`mia_scores_from_sequence_scores`]) drop the last one.

In Min-K%++, `mu_t = sum_z p(z) log p(z)` and `sigma_t^2 = sum_z p(z) (log p(z) - mu_t)^2` are the mean and variance
of the log-probabilities under the model's own next-token distribution at position `t` (`sigma_t` is floored at
`1e-3`, as open-unlearning floors the variance at `1e-6`, so a one-hot distribution does not divide by zero).

open-unlearning reports the *negated* scores (lower = member) with forget labelled 0 and holdout 1; [`mia_auc`]
labels members 1 and uses the scores above, which is the same AUC: **1 when members look much more likely than
non-members, 0.5 when the attack cannot tell them apart**.

**PrivLeak** (MUSE, Shi et al., 2024): `(AUC'_model - AUC'_retain) / AUC'_retain * 100` with `AUC' = 1 - AUC` of the
Min-K% attack, forget texts as members and holdout texts as non-members (MUSE's own orientation; open-unlearning
flips its AUC the same way). A retain model has PrivLeak 0 by construction; strongly negative means the model still
tells the forget set from the holdout set (under-unlearned), strongly positive that it now finds the forget set
*less* likely than unseen text (over-unlearned). Without a retain model the reference AUC is 0.5.

Scores are computed from one batched pass of [`~hf_unlearn.eval.scoring.score_sequences`] (sequences sorted by
length, right padding with an attention mask), so a text's score does not depend on the batch it sits in.

Example:
    >>> from hf_unlearn.eval.mia import mia_auc, min_k_score, privleak
    >>> min_k_score([-0.1, -3.0, -0.2, -2.0, -0.5], k=0.4)  # mean of the 2 smallest log-probs
    -2.5
    >>> mia_auc(members=[3.0, 2.0], nonmembers=[1.0, 2.5])
    0.75
    >>> privleak(auc=1.0, retain_auc=0.5)  # the forget set is told apart perfectly; the retain model cannot
    -100.0
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np


if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from .scoring import SequenceScores

#: Attacks that need only the evaluated model, in report order.
MODEL_ATTACKS = ("loss", "zlib", "min_k", "min_k++")
#: Every attack; `reference` also needs a reference model (e.g. the base model before fine-tuning).
ATTACKS = (*MODEL_ATTACKS, "reference")
#: Floor of Min-K%++'s per-position standard deviation.
MIN_K_PLUS_PLUS_STD_FLOOR = 1e-3
#: open-unlearning's metric name of each attack's AUC (`mia_min_k`, ...).
OPEN_UNLEARNING_MIA_KEYS = {
    "loss": "mia_loss",
    "zlib": "mia_zlib",
    "min_k": "mia_min_k",
    "min_k++": "mia_min_k_plus_plus",
    "reference": "mia_reference",
}
#: The summary keys of the TOFU privacy metrics (`tofu_privacy_metrics`), with their table labels, in report order.
PRIVACY_SUMMARY_KEYS = {
    "mia_loss": "LOSS",
    "mia_zlib": "zlib",
    "mia_min_k": "Min-K%",
    "mia_min_k_plus_plus": "Min-K%++",
    "privleak": "PrivLeak",
    "extraction_strength": "ES",
}


def check_k(k: Any) -> float:
    """Validates the Min-K% fraction `k` (in `(0, 1]`) and returns it as a float."""
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k <= 1:
        raise ValueError(f"k (the fraction of lowest-probability tokens) must be a number in (0, 1], got {k!r}.")
    return float(k)


def _n_lowest(n: int, k: float) -> int:
    return max(1, int(n * k))


def _tokens(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of per-token values, got shape {arr.shape}.")
    return arr


def min_k_score(token_logprobs: Sequence[float] | Any, k: float = 0.2) -> float:
    """Min-K% Prob: the mean of the `max(1, int(k n))` smallest token log-probabilities (higher = member).

    Args:
        token_logprobs (`Sequence[float]` or `torch.Tensor`): `log p_t` of each scored token.
        k (`float`, *optional*, defaults to `0.2`): Fraction of tokens kept, in `(0, 1]`.

    Returns:
        `float`: The score.

    Example:
        >>> min_k_score([-1.0, -4.0, -2.0], k=1.0)
        -2.3333333333333335
    """
    k = check_k(k)
    lp = np.sort(_tokens(token_logprobs, "token_logprobs"))
    return float(lp[: _n_lowest(lp.size, k)].mean())


def min_k_plus_plus_score(
    token_logprobs: Sequence[float] | Any,
    token_mean: Sequence[float] | Any,
    token_std: Sequence[float] | Any,
    k: float = 0.2,
) -> float:
    """Min-K%++: the mean of the `max(1, int(k n))` smallest standardised log-probs `(log p_t - mu_t) / sigma_t`.

    Args:
        token_logprobs (`Sequence[float]`): `log p_t` of each scored token.
        token_mean (`Sequence[float]`): `mu_t`, the mean of `log p(z)` under the model's next-token distribution.
        token_std (`Sequence[float]`): `sigma_t`, its standard deviation (floored at
            [`MIN_K_PLUS_PLUS_STD_FLOOR`]).
        k (`float`, *optional*, defaults to `0.2`): Fraction of tokens kept, in `(0, 1]`.

    Returns:
        `float`: The score (higher = member).

    Example:
        >>> min_k_plus_plus_score([-1.0, -3.0], [-2.0, -2.0], [0.5, 2.0], k=0.5)  # (-3 + 2) / 2
        -0.5
    """
    k = check_k(k)
    lp = _tokens(token_logprobs, "token_logprobs")
    mu = _tokens(token_mean, "token_mean")
    sigma = _tokens(token_std, "token_std")
    if not lp.shape == mu.shape == sigma.shape:
        raise ValueError(f"per-token arrays disagree in length: {lp.size}, {mu.size}, {sigma.size}.")
    z = np.sort((lp - mu) / np.maximum(sigma, MIN_K_PLUS_PLUS_STD_FLOOR))
    return float(z[: _n_lowest(z.size, k)].mean())


def zlib_entropy(text: str) -> int:
    """The zlib "entropy" of a text: the length in bytes of `zlib.compress(text.encode("utf-8"))`."""
    return len(zlib.compress(text.encode("utf-8")))


def mia_auc(members: Sequence[float] | Any, nonmembers: Sequence[float] | Any) -> float:
    """ROC AUC of telling members from non-members by a score where higher = member (`sklearn.metrics`).

    Args:
        members (`Sequence[float]`): Scores of texts that were trained on (e.g. the forget set).
        nonmembers (`Sequence[float]`): Scores of texts that were not (e.g. the holdout set).

    Returns:
        `float`: The AUC in `[0, 1]`; 0.5 = chance. Same number as open-unlearning's `mia_*` metrics.

    Example:
        >>> mia_auc([0.9, 0.8], [0.1, 0.2])
        1.0
    """
    from sklearn.metrics import roc_auc_score

    m = np.asarray(members, dtype=np.float64).ravel()
    nm = np.asarray(nonmembers, dtype=np.float64).ravel()
    if m.size == 0 or nm.size == 0:
        raise ValueError(
            f"an AUC needs both members and non-members; got {m.size} member and {nm.size} non-member scores "
            "(is the forget or the holdout split empty?)."
        )
    scores = np.concatenate([m, nm])
    if not np.all(np.isfinite(scores)):
        raise ValueError("MIA scores contain NaN or infinite values.")
    return float(roc_auc_score(np.r_[np.ones(m.size), np.zeros(nm.size)], scores))


def privleak(auc: float, retain_auc: float | None = None) -> float:
    """MUSE's PrivLeak in %: `((1 - auc) - (1 - retain_auc)) / (1 - retain_auc) * 100`.

    Args:
        auc (`float`): The model's Min-K% AUC, forget as members vs holdout ([`mia_auc`] orientation).
        retain_auc (`float`, *optional*): The retain model's AUC on the same texts; `None` uses 0.5 (chance), as
            open-unlearning does without retain logs.

    Returns:
        `float`: PrivLeak; 0 = like the retain model, negative = under-unlearned, positive = over-unlearned.

    Example:
        >>> round(privleak(0.25, retain_auc=0.5), 6)
        50.0
    """
    ref = 0.5 if retain_auc is None else float(retain_auc)
    for name, value in (("auc", auc), ("retain_auc", ref)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be an AUC in [0, 1], got {value!r}.")
    if ref == 1:
        raise ValueError("retain_auc is 1, so 1 - retain_auc is 0 and PrivLeak is undefined.")
    return ((1 - auc) - (1 - ref)) / (1 - ref) * 100


def check_vocab_fits(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str = "model") -> None:
    """Raises a `ValueError` when the tokenizer can produce ids the model has no embedding for."""
    embeddings = model.get_input_embeddings()
    n_model = getattr(embeddings, "num_embeddings", None)
    if n_model is not None and len(tokenizer) > n_model:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the {name} has only {n_model} embeddings: they do not "
            "belong together. Load the tokenizer saved with this model (AutoTokenizer.from_pretrained(model_path))."
        )


def mia_scores_from_features(
    model: PreTrainedModel,
    features: Sequence[dict[str, Sequence[int]]],
    pad_token_id: int,
    scored_texts: Sequence[str] | None = None,
    attacks: Sequence[str] = MODEL_ATTACKS,
    k: float = 0.2,
    batch_size: int = 8,
    reference_model: PreTrainedModel | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """MIA scores of tokenised sequences whose labelled tokens are scored (e.g. TOFU answers given the question).

    Args:
        model (`PreTrainedModel`): The causal LM under attack.
        features (`Sequence[dict]`): `input_ids`, `labels` (`-100` = not scored) and optionally `attention_mask`.
        pad_token_id (`int`): The tokenizer's pad id.
        scored_texts (`Sequence[str]`, *optional*): The text of the scored part of each sequence; needed by `zlib`.
        attacks (`Sequence[str]`, *optional*): Any of [`ATTACKS`].
        k (`float`, *optional*, defaults to `0.2`): Min-K% / Min-K%++ fraction, in `(0, 1]`.
        batch_size (`int`, *optional*, defaults to `8`): Sequences per forward pass.
        reference_model (`PreTrainedModel`, *optional*): Needed by `reference`.
        progress (`bool`, *optional*, defaults to `False`): Show progress bars.

    Returns:
        `dict[str, np.ndarray]`: Attack name to per-sequence scores (higher = member), in input order.
    """
    from .scoring import score_sequences

    attacks = _check_attacks(attacks, reference_model)
    k = check_k(k)
    if "zlib" in attacks and (scored_texts is None or len(scored_texts) != len(features)):
        raise ValueError("the zlib attack needs scored_texts: one string per sequence (the scored text).")
    needs_moments = "min_k++" in attacks
    scores = score_sequences(
        model,
        features,
        pad_token_id,
        batch_size=batch_size,
        return_token_logprobs="min_k" in attacks,
        return_token_moments=needs_moments,
        progress=progress,
        desc="MIA scoring",
    )
    out = mia_scores_from_sequence_scores(scores, [a for a in attacks if a != "reference"], k, scored_texts)
    if "reference" in attacks:
        ref = score_sequences(
            reference_model, features, pad_token_id, batch_size=batch_size, progress=progress, desc="MIA reference"
        )
        out["reference"] = ref.nll.double().numpy() - scores.nll.double().numpy()
    return out


def mia_scores_from_sequence_scores(
    scores: SequenceScores,
    attacks: Sequence[str] = MODEL_ATTACKS,
    k: float = 0.2,
    scored_texts: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per-sequence scores of the model-only attacks from an already computed scoring pass, so that one forward pass
    serves several metrics (e.g. TOFU's probability and its MIAs on the same answers). `min_k` and `min_k++` leave out
    each sequence's last labelled token, as open-unlearning (module docstring).

    Args:
        scores ([`~hf_unlearn.eval.scoring.SequenceScores`]): From `score_sequences`, with token log-probabilities for
            `min_k` and token moments for `min_k++`.
        attacks (`Sequence[str]`, *optional*): Any of [`MODEL_ATTACKS`].
        k (`float`, *optional*, defaults to `0.2`): Min-K% / Min-K%++ fraction, in `(0, 1]`.
        scored_texts (`Sequence[str]`, *optional*): The scored text of each sequence; needed by `zlib`.

    Returns:
        `dict[str, np.ndarray]`: Attack name to per-sequence scores (higher = member).

    Example:
        >>> import torch
        >>> from hf_unlearn.eval.scoring import SequenceScores
        >>> s = SequenceScores(nll=torch.tensor([0.5]), nll_sum=torch.tensor([1.5]), num_tokens=torch.tensor([3]),
        ...     token_logprobs=[torch.tensor([-0.2, -0.4, -0.9])])
        >>> {a: v.tolist() for a, v in mia_scores_from_sequence_scores(s, ["loss", "min_k"], k=0.5).items()}
        {'loss': [-0.5], 'min_k': [-0.4000000059604645]}
    """
    unknown = [a for a in attacks if a not in MODEL_ATTACKS]
    if unknown:
        raise ValueError(
            f"attacks must be among {MODEL_ATTACKS} here (the reference attack needs a model), got {unknown}."
        )
    k = check_k(k)
    if "zlib" in attacks and (scored_texts is None or len(scored_texts) != len(scores.nll)):
        raise ValueError("the zlib attack needs scored_texts: one string per sequence (the scored text).")
    if "min_k" in attacks and scores.token_logprobs is None:
        raise ValueError(
            "the min_k attack needs token log-probabilities (score_sequences(return_token_logprobs=True))."
        )
    if "min_k++" in attacks and scores.token_logprob_mean is None:
        raise ValueError("the min_k++ attack needs token moments (score_sequences(return_token_moments=True)).")
    nll = scores.nll.double().numpy()
    out: dict[str, np.ndarray] = {}
    for attack in attacks:
        if attack == "loss":
            out[attack] = -nll
        elif attack == "zlib":
            out[attack] = -nll / np.array([zlib_entropy(t) for t in scored_texts], dtype=np.float64)
        elif attack == "min_k":
            out[attack] = np.array([min_k_score(lp[:-1], k) if len(lp) > 1 else 0.0 for lp in scores.token_logprobs])
        else:
            out[attack] = np.array(
                [
                    min_k_plus_plus_score(lp[:-1], mu[:-1], sd[:-1], k) if len(lp) > 1 else 0.0
                    for lp, mu, sd in zip(scores.token_logprobs, scores.token_logprob_mean, scores.token_logprob_std)
                ]
            )
    return out


def _check_attacks(attacks: Sequence[str], reference_model: Any) -> list[str]:
    if isinstance(attacks, str):
        attacks = [attacks]
    attacks = list(dict.fromkeys(attacks))
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise ValueError(f"attacks must be a non-empty subset of {ATTACKS}, got {attacks}.")
    if reference_model is not None and "reference" not in attacks:
        attacks.append("reference")
    if "reference" in attacks and reference_model is None:
        raise ValueError("the 'reference' attack needs reference_model (e.g. the base model before fine-tuning).")
    return attacks


def mia_scores(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    attacks: Sequence[str] = MODEL_ATTACKS,
    k: float = 0.2,
    batch_size: int = 8,
    reference_model: PreTrainedModel | None = None,
    max_length: int | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Membership-inference scores of whole texts under a causal LM, per attack (higher = more likely a member).

    Every token after the first is scored (Min-K% and Min-K%++ leave out the last one too, as open-unlearning); see
    the module docstring for each attack's formula.

    Args:
        model (`PreTrainedModel`): The causal LM under attack.
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token; its vocabulary must fit the model).
        texts (`Sequence[str]`): Non-empty texts of at least two tokens.
        attacks (`Sequence[str]`, *optional*, defaults to `("loss", "zlib", "min_k", "min_k++")`): Any of
            [`ATTACKS`]; `"reference"` is added when `reference_model` is given.
        k (`float`, *optional*, defaults to `0.2`): Min-K% / Min-K%++ fraction of lowest tokens, in `(0, 1]` (the
            papers' and open-unlearning's class default; MUSE's PrivLeak uses 0.4).
        batch_size (`int`, *optional*, defaults to `8`): Texts per forward pass.
        reference_model (`PreTrainedModel`, *optional*): A model that never saw the members (e.g. the base model);
            enables the `reference` attack. It must share the tokenizer.
        max_length (`int`, *optional*): Truncate texts to this many tokens; defaults to the model's context.
        progress (`bool`, *optional*, defaults to `False`): Show progress bars.

    Returns:
        `dict[str, np.ndarray]`: Attack name to one score per text, in the order of `texts`.

    Example:
        >>> from hf_unlearn.eval.mia import mia_auc, mia_scores
        >>> scores = mia_scores(model, tokenizer, forget_texts + holdout_texts)  # doctest: +SKIP
        >>> n = len(forget_texts)  # doctest: +SKIP
        >>> mia_auc(scores["min_k"][:n], scores["min_k"][n:])  # doctest: +SKIP
    """
    from ..data.collate import require_pad_token
    from ..data.muse import tokenize_texts
    from ..data.templates import model_max_length

    attacks = _check_attacks(attacks, reference_model)
    k = check_k(k)
    pad_id = require_pad_token(tokenizer)
    check_vocab_fits(model, tokenizer)
    if reference_model is not None:
        check_vocab_fits(reference_model, tokenizer, name="reference model")
    if max_length is None:
        max_length = model_max_length(model)
    features = tokenize_texts(tokenizer, texts, max_length=max_length)
    return mia_scores_from_features(
        model,
        features,
        pad_id,
        scored_texts=list(texts),
        attacks=attacks,
        k=k,
        batch_size=batch_size,
        reference_model=reference_model,
        progress=progress,
    )


def mia_aucs(member_scores: dict[str, np.ndarray], nonmember_scores: dict[str, np.ndarray]) -> dict[str, float]:
    """[`mia_auc`] of every attack present in both score dicts (e.g. forget vs holdout).

    Example:
        >>> mia_aucs({"loss": [2.0, 3.0]}, {"loss": [1.0, 0.0]})
        {'loss': 1.0}
    """
    return {a: mia_auc(member_scores[a], nonmember_scores[a]) for a in member_scores if a in nonmember_scores}
