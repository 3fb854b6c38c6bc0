# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""TOFU metrics (Maini et al., 2024, https://huggingface.co/papers/2401.06121), as defined by TOFU's
`aggregate_eval_stat.py` and open-unlearning.

Four evaluation sets, each a TOFU `*_perturbed` config: the forget set (`forget10_perturbed`, ...), the retain set
(`retain_perturbed`), `real_authors_perturbed` and `world_facts_perturbed`. Per item the model is scored on the true
answer, the paraphrased answer and the perturbed (wrong-fact) answers, and generates an answer greedily. All
probabilities are *length-normalised*: `NLL` below is the mean token negative log-likelihood of the answer tokens
(end-of-sequence included) given the question.

- **Probability**: `exp(-NLL(answer))` on forget/retain; on real_authors/world_facts the normalised choice
  probability `p_true / (p_true + sum_j p_pert_j)` (TOFU's "probability with options").
- **ROUGE-L recall** of the greedy generation against the true answer (`rouge_score`, stemmer on).
- **Truth ratio** per item, in the TOFU *paper's* orientation, used everywhere in hf_unlearn:
  `R = exp(NLL(paraphrased) - mean_j NLL(perturbed_j))`, the geometric mean of the perturbed answers' probabilities
  over the paraphrased answer's. **R < 1 means the model prefers the true fact.** (TOFU's code stores 1/R.)
  real_authors/world_facts have no paraphrase: the true answer stands in for it.
  Reported aggregate: on the forget set `mean(min(R, 1/R))` ("closer to 1 is better"), on the other sets
  `mean(max(0, 1 - R))` ("true is better").
- **Forget quality**: the p-value of a two-sided Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`) between the
  per-item forget truth ratios of the evaluated model and those of a retain model (never trained on the forget set);
  the KS statistic `D` is reported beside it. High (→ 1) means indistinguishable from the retain model.
- **Model utility**: the harmonic mean of the nine numbers {probability, ROUGE-L recall, truth-ratio aggregate} x
  {retain, real_authors, world_facts} (`scipy.stats.hmean`; any zero makes it zero).

The pure functions below take per-item numbers (arrays, lists or tensors); [`evaluate_tofu`] runs a model over the
data with batched scoring and generation and calls them.

Example:
    >>> from hf_unlearn.eval.tofu import truth_ratio, truth_ratio_aggregate
    >>> r = truth_ratio([1.0, 2.0], [[2.0, 2.0], [1.0, 1.0]])  # item 0 prefers the truth, item 1 the perturbations
    >>> r.round(4).tolist()
    [0.3679, 2.7183]
    >>> round(truth_ratio_aggregate(r, "forget"), 4), round(truth_ratio_aggregate(r, "retain"), 4)
    (0.3679, 0.3161)
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

#: The evaluation sets, in report order. "forget" is the forget set; the other three enter model utility.
EVAL_SETS = ("forget", "retain", "real_authors", "world_facts")
UTILITY_SETS = ("retain", "real_authors", "world_facts")
#: Sets without a paraphrase, scored with "probability with options" and the true answer in the truth ratio.
OPTION_SETS = ("real_authors", "world_facts")
TRUTH_RATIO_DEFINITION = (
    "R = exp(NLL(paraphrased_answer) - mean_j NLL(perturbed_answer_j)), NLL = mean token NLL of the answer "
    "(TOFU paper orientation: R < 1 means the model prefers the true answer; TOFU's code stores 1/R). "
    "real_authors/world_facts use the true answer in place of the paraphrase."
)

ArrayLike = Any  # numpy array, torch tensor or (nested) sequence of floats


# ----------------------------------------------------------------------------------------------------------------
# Pure maths on per-item numbers
# ----------------------------------------------------------------------------------------------------------------


def _vector(x: ArrayLike, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one number per item (1-D), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there are no items to score.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values (item(s) {np.flatnonzero(~np.isfinite(arr))[:5]}).")
    return arr


def _rows(x: ArrayLike, n: int, name: str) -> list[np.ndarray]:
    """One 1-D array per item; rows may have different lengths (a ragged list of perturbed answers)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    rows = [np.asarray(r.detach().cpu().numpy() if hasattr(r, "detach") else r, dtype=np.float64) for r in x]
    if len(rows) != n:
        raise ValueError(f"{name} has {len(rows)} rows but there are {n} items.")
    for i, r in enumerate(rows):
        if r.ndim != 1 or r.size == 0:
            raise ValueError(f"{name}[{i}] must be a non-empty list of numbers (one per perturbed answer).")
        if not np.all(np.isfinite(r)):
            raise ValueError(f"{name}[{i}] contains NaN or infinite values.")
    return rows


def answer_probability(nll: ArrayLike) -> np.ndarray:
    """Per-item answer probability `exp(-NLL)`, with `NLL` the mean token NLL of the answer.

    Args:
        nll (`ArrayLike` of shape `(n,)`): Mean token NLL of each answer.

    Returns:
        `np.ndarray`: The probabilities.

    Example:
        >>> answer_probability([0.0, math.log(2)]).tolist()
        [1.0, 0.5]
    """
    return np.exp(-_vector(nll, "nll"))


def probability_with_options(nll_true: ArrayLike, nll_perturbed: ArrayLike) -> np.ndarray:
    """Per-item `p_true / (p_true + sum_j p_pert_j)` with length-normalised `p = exp(-NLL)` (TOFU's probability on
    real_authors/world_facts), computed stably in log space.

    Args:
        nll_true (`ArrayLike` of shape `(n,)`): Mean token NLL of the true answer.
        nll_perturbed (`ArrayLike` of shape `(n, k)`, or a ragged list of lists): Mean token NLL of each perturbed
            answer.

    Returns:
        `np.ndarray`: The probabilities, in `(0, 1)`.

    Example:
        >>> probability_with_options([math.log(2)], [[math.log(4), math.log(4)]]).round(4).tolist()  # .5/(.5+.25+.25)
        [0.5]
    """
    true = _vector(nll_true, "nll_true")
    rows = _rows(nll_perturbed, len(true), "nll_perturbed")
    out = np.empty(len(true))
    for i, (t, r) in enumerate(zip(true, rows)):
        logits = -np.concatenate(([t], r))
        logits -= logits.max()
        out[i] = math.exp(logits[0]) / np.exp(logits).sum()
    return out


def truth_ratio(nll_paraphrased: ArrayLike, nll_perturbed: ArrayLike) -> np.ndarray:
    """Per-item truth ratio `R = exp(NLL_para - mean_j NLL_pert_j)` (TOFU paper orientation; R < 1 = prefers truth).

    `R` is the geometric mean of the perturbed answers' length-normalised probabilities divided by the paraphrased
    answer's. For real_authors/world_facts pass the true answer's NLL as `nll_paraphrased`.

    Args:
        nll_paraphrased (`ArrayLike` of shape `(n,)`): Mean token NLL of the paraphrased answer.
        nll_perturbed (`ArrayLike` of shape `(n, k)`, or a ragged list of lists): Mean token NLL of each perturbed
            answer.

    Returns:
        `np.ndarray`: The truth ratios, positive.

    Example:
        >>> truth_ratio([1.0], [[1.0, 3.0]]).round(4).tolist()  # exp(1 - 2)
        [0.3679]
    """
    para = _vector(nll_paraphrased, "nll_paraphrased")
    rows = _rows(nll_perturbed, len(para), "nll_perturbed")
    return np.exp(para - np.array([r.mean() for r in rows]))


def truth_ratio_aggregate(truth_ratios: ArrayLike, eval_set: str) -> float:
    """The reported truth-ratio number of an evaluation set.

    Args:
        truth_ratios (`ArrayLike` of shape `(n,)`): Per-item `R` from [`truth_ratio`] (paper orientation).
        eval_set (`str`): `"forget"` gives `mean(min(R, 1/R))` (closer to 1 is better); `"retain"`,
            `"real_authors"` and `"world_facts"` give `mean(max(0, 1 - R))` (true is better).

    Returns:
        `float`: The aggregate, in `[0, 1]`.

    Example:
        >>> truth_ratio_aggregate([0.5, 2.0], "forget"), truth_ratio_aggregate([0.5, 2.0], "world_facts")
        (0.5, 0.25)
    """
    r = _vector(truth_ratios, "truth_ratios")
    if np.any(r <= 0):
        raise ValueError("truth ratios must be positive; got a value <= 0 (are these log-ratios?).")
    if eval_set == "forget":
        return float(np.mean(np.minimum(r, 1.0 / r)))
    if eval_set in UTILITY_SETS:
        return float(np.mean(np.maximum(0.0, 1.0 - r)))
    raise ValueError(f"eval_set must be one of {EVAL_SETS}, got {eval_set!r}.")


def forget_quality(truth_ratios: ArrayLike, retain_truth_ratios: ArrayLike) -> dict[str, float]:
    """TOFU forget quality: the two-sided KS test between a model's and a retain model's per-item forget truth ratios.

    The result does not depend on the truth-ratio orientation as long as both sides use the same one.

    Args:
        truth_ratios (`ArrayLike` of shape `(n,)`): The evaluated model's per-item forget truth ratios.
        retain_truth_ratios (`ArrayLike` of shape `(m,)`): The retain model's, on the same forget set.

    Returns:
        `dict`: `forget_quality` (the KS p-value) and `ks_statistic` (the KS distance `D`).

    Example:
        >>> forget_quality([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
        {'forget_quality': 1.0, 'ks_statistic': 0.0}
    """
    from scipy.stats import ks_2samp

    test = ks_2samp(
        _vector(truth_ratios, "truth_ratios"), _vector(retain_truth_ratios, "retain_truth_ratios"), method="auto"
    )
    return {"forget_quality": float(test.pvalue), "ks_statistic": float(test.statistic)}


def model_utility(values: Mapping[str, float] | Sequence[float]) -> float:
    """Harmonic mean of the utility numbers (TOFU: the nine {probability, ROUGE-L, truth ratio} x {retain,
    real_authors, world_facts}); any zero gives zero.

    Args:
        values (`Mapping[str, float]` or `Sequence[float]`): The numbers, each in `[0, 1]`.

    Returns:
        `float`: The harmonic mean.

    Example:
        >>> model_utility([0.5, 1.0]), model_utility({"a": 0.0, "b": 1.0})
        (0.6666666666666666, 0.0)
    """
    from scipy.stats import hmean

    nums = _vector(list(values.values()) if isinstance(values, Mapping) else list(values), "utility values")
    if np.any(nums < 0):
        raise ValueError(f"utility values must be non-negative, got {nums.tolist()}.")
    if np.any(nums == 0):
        return 0.0
    return float(hmean(nums))


_SCORER = None


def rouge_l_recall(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-item ROUGE-L recall of `predictions` against `references` (`rouge_score`, Porter stemmer on), as TOFU.

    Args:
        predictions (`Sequence[str]`): Generated answers.
        references (`Sequence[str]`): True answers.

    Returns:
        `np.ndarray`: Recall values in `[0, 1]`.

    Example:
        >>> rouge_l_recall(["she wrote two novels", "nothing"], ["She wrote three novels.", "Paris"]).tolist()
        [0.75, 0.0]
    """
    global _SCORER
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references.")
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return np.array([_SCORER.score(ref, pred)["rougeL"].recall for pred, ref in zip(predictions, references)])


def tofu_set_metrics(
    eval_set: str,
    nll_answer: ArrayLike,
    nll_perturbed: ArrayLike,
    nll_paraphrased: ArrayLike | None = None,
    generations: Sequence[str] | None = None,
    references: Sequence[str] | None = None,
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """All TOFU numbers of one evaluation set from per-item NLLs and generations (no model involved).

    This is the single implementation behind [`evaluate_tofu`], the `hf-unlearn eval tofu` command and the
    `evaluate` module in `hf_unlearn/eval/metrics/tofu`.

    Args:
        eval_set (`str`): One of `"forget"`, `"retain"`, `"real_authors"`, `"world_facts"`.
        nll_answer (`ArrayLike` of shape `(n,)`): Mean token NLL of the true answers.
        nll_perturbed (`ArrayLike` of shape `(n, k)` or ragged): Mean token NLL of the perturbed answers.
        nll_paraphrased (`ArrayLike` of shape `(n,)`, *optional*): Mean token NLL of the paraphrased answers; required
            for forget/retain, ignored for real_authors/world_facts (the true answer is used).
        generations (`Sequence[str]`, *optional*): Greedy generations; with `references`, gives ROUGE-L recall.
        references (`Sequence[str]`, *optional*): The true answers.

    Returns:
        `tuple[dict, dict]`: The aggregates (`num_items`, `probability`, `truth_ratio`, `truth_ratio_mean_raw`, and
        `rouge_l_recall` and, for utility sets, `utility` when generations are given) and the per-item lists
        (`probability`, `truth_ratio`, and `rouge_l_recall` when generations are given).

    Example:
        >>> agg, items = tofu_set_metrics("world_facts", [0.1, 0.2], [[2.0, 2.5], [3.0, 1.0]], generations=["Paris",
        ...     "Rome"], references=["Paris", "Madrid"])
        >>> round(agg["rouge_l_recall"], 2), round(agg["utility"], 3)
        (0.5, 0.663)
    """
    if eval_set not in EVAL_SETS:
        raise ValueError(f"eval_set must be one of {EVAL_SETS}, got {eval_set!r}.")
    nll_answer = _vector(nll_answer, "nll_answer")
    if eval_set in OPTION_SETS:
        prob = probability_with_options(nll_answer, nll_perturbed)
        tr = truth_ratio(nll_answer, nll_perturbed)
    else:
        if nll_paraphrased is None:
            raise ValueError(f"the {eval_set} set needs nll_paraphrased (the paraphrased answers' NLL).")
        prob = answer_probability(nll_answer)
        tr = truth_ratio(nll_paraphrased, nll_perturbed)
    aggregates: dict[str, Any] = {
        "num_items": len(nll_answer),
        "probability": float(prob.mean()),
        "truth_ratio": truth_ratio_aggregate(tr, eval_set),
        "truth_ratio_mean_raw": float(tr.mean()),
    }
    per_item: dict[str, list[Any]] = {"probability": prob.tolist(), "truth_ratio": tr.tolist()}
    if generations is not None:
        if references is None:
            raise ValueError("references (the true answers) are needed to score generations.")
        if len(generations) != len(nll_answer):
            raise ValueError(f"got {len(generations)} generations for {len(nll_answer)} items.")
        rouge = rouge_l_recall(generations, references)
        aggregates["rouge_l_recall"] = float(rouge.mean())
        per_item["rouge_l_recall"] = rouge.tolist()
        if eval_set in UTILITY_SETS:
            aggregates["utility"] = model_utility(
                [aggregates["probability"], aggregates["rouge_l_recall"], aggregates["truth_ratio"]]
            )
    return aggregates, per_item


def _utility_terms(sets: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    terms = {}
    for name in UTILITY_SETS:
        if name in sets:
            for key in ("probability", "rouge_l_recall", "truth_ratio"):
                if key in sets[name]:
                    terms[f"{name}_{key}"] = sets[name][key]
    return terms


# ----------------------------------------------------------------------------------------------------------------
# Running a model
# ----------------------------------------------------------------------------------------------------------------


def _split_name(eval_set: str, forget_split: str, retain_eval_split: str) -> str:
    from ..data.tofu import eval_split_for

    return {
        "forget": eval_split_for(forget_split),
        "retain": retain_eval_split,
        "real_authors": "real_authors_perturbed",
        "world_facts": "world_facts_perturbed",
    }[eval_set]


def _load_set(data: Any, split: str, columns: tuple[str, ...]) -> Dataset:
    from ..data.tofu import load_tofu, validate_qa_dataset

    if isinstance(data, Mapping):
        if split not in data:
            raise ValueError(f"the data has no split named {split!r}; it has {sorted(data)}.")
        ds = data[split]
        if isinstance(ds, list):
            from datasets import Dataset

            ds = Dataset.from_list(ds) if ds else Dataset.from_dict({c: [] for c in columns})
        return validate_qa_dataset(ds, columns, name=f"split {split!r}")
    return load_tofu(data, split, required_columns=columns)


def _context_length(model: Any, tokenizer: Any) -> int | None:
    from ..data.templates import model_max_length

    ctx = model_max_length(model)
    tok_ctx = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_ctx, int) and 0 < tok_ctx < 10**7:
        ctx = tok_ctx if ctx is None else min(ctx, tok_ctx)
    return ctx


def _perturbed_list(value: Any, row: int, split: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or len(value) == 0:
        raise ValueError(f"{split} row {row}: perturbed_answer must be a non-empty list of strings, got {value!r}.")
    return list(value)


def _tokenize_set(
    rows: list[dict[str, Any]], eval_set: str, split: str, tokenizer: Any, template: Any, ctx: int | None
) -> tuple[list[dict[str, list[int]]], list[int], list[int], list[list[int]]]:
    """Tokenises every sequence of a set into one flat list (in one batched call), and says where each item's
    sequences are."""
    from ..data.templates import tokenize_qa_pairs

    pairs: list[tuple[str, str]] = []
    names: list[str] = []
    ans_idx: list[int] = []
    para_idx: list[int] = []
    pert_idx: list[list[int]] = []

    def add(question: str, answer: str, row: int, what: str) -> int:
        pairs.append((question, answer))
        names.append(f"{split} row {row} ({what})")
        return len(pairs) - 1

    for i, r in enumerate(rows):
        q = r["question"]
        ans_idx.append(add(q, r["answer"], i, "answer"))
        if eval_set in OPTION_SETS:
            para_idx.append(ans_idx[-1])
        else:
            para_idx.append(add(q, r["paraphrased_answer"], i, "paraphrased_answer"))
        pert_idx.append([add(q, p, i, "perturbed_answer") for p in _perturbed_list(r["perturbed_answer"], i, split)])
    features = tokenize_qa_pairs(tokenizer, pairs, template, max_length=ctx, names=names)
    return features, ans_idx, para_idx, pert_idx


def _split_prompts(
    features: list[dict[str, list[int]]], item_starts: list[int]
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Per item, the shared prompt (the unlabelled prefix) and the labelled continuations of its sequences, which
    [`_tokenize_set`] lays out item by item starting at `item_starts` (`tokenize_qa` tokenises the prompt on its own,
    so every answer of a question has the same prompt tokens)."""
    prompts, continuations = [], []
    for i, begin in enumerate(item_starts):
        end = item_starts[i + 1] if i + 1 < len(item_starts) else len(features)
        n_prompt = next(t for t, label in enumerate(features[begin]["labels"]) if label != -100)
        prompts.append(features[begin]["input_ids"][:n_prompt])
        continuations.append([f["input_ids"][n_prompt:] for f in features[begin:end]])
    return prompts, continuations


def retain_truth_ratios(retain_results: Any, forget_split: str | None = None) -> np.ndarray:
    """The retain model's per-item forget truth ratios, from what a user can pass as `retain_results`.

    Args:
        retain_results (`dict`, `str`, `os.PathLike` or `Sequence[float]`): Results of [`evaluate_tofu`] on a retain
            model (the dict, or the path of its JSON), or the per-item truth ratios themselves (paper orientation,
            see [`truth_ratio`]).
        forget_split (`str`, *optional*): If given, a results dict made on another forget split is refused.

    Returns:
        `np.ndarray`: The truth ratios.
    """
    source = "retain_results"
    if isinstance(retain_results, (str, os.PathLike)):
        source = os.fspath(retain_results)
        if not os.path.isfile(source):
            raise ValueError(f"retain_results file {source!r} does not exist.")
        with open(source, encoding="utf-8") as f:
            retain_results = json.load(f)
    if isinstance(retain_results, Mapping):
        try:
            values = retain_results["per_item"]["forget"]["truth_ratio"]
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"{source} has no per_item.forget.truth_ratio; pass the JSON written by `hf-unlearn eval tofu` "
                "(or `evaluate_tofu`) for the retain model, or a plain list of its per-item forget truth ratios."
            ) from err
        stored_split = retain_results.get("forget_split")
        if forget_split is not None and stored_split is not None and stored_split != forget_split:
            raise ValueError(
                f"{source} holds retain results for {stored_split!r}, but this evaluation is on {forget_split!r}; "
                "evaluate the retain model on the same forget split."
            )
        return _vector(values, f"{source} truth ratios")
    return _vector(retain_results, "retain_results")


class TofuEvaluator:
    """TOFU evaluation of any number of models on one data setup: the data is loaded and tokenised once and every
    model call reuses it (a relearning curve, a training run's evaluations, or several models in one process).

    Per model, each question and all of its answers (true, paraphrased, perturbed) are one packed row of one forward
    pass, the question's tokens run once ([`~hf_unlearn.eval.scoring.score_continuations`], length-sorted batches),
    and that pass also gives the forget set's membership-inference scores and extraction strength (privacy metrics).
    Greedy answers to all sets' questions come from one call of [`~hf_unlearn.eval.scoring.generate_greedy`]
    (length-bucketed batches, key/value cache, rows leave the batch at end-of-sequence, the last rows of a batch wait
    to finish with those of other batches). The numbers are those of [`evaluate_tofu`], which is this class called
    once.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): The models' tokenizer; it needs a pad token.
        data, forget_split, template, batch_size, max_new_tokens, retain_eval_split, eval_sets, max_items, privacy:
            As in [`evaluate_tofu`].

    Example:
        >>> from hf_unlearn.eval.tofu import TofuEvaluator
        >>> evaluator = TofuEvaluator(tokenizer, "path/to/world", eval_sets=("forget",))  # doctest: +SKIP
        >>> retain = evaluator(retain_model)  # doctest: +SKIP
        >>> evaluator(unlearned_model, retain_results=retain)["summary"]["forget_quality"]  # doctest: +SKIP
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        data: str | os.PathLike | Mapping[str, Any] = "locuslab/TOFU",
        forget_split: str = "forget10",
        template: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 200,
        retain_eval_split: str = "retain_perturbed",
        eval_sets: Sequence[str] = EVAL_SETS,
        max_items: int | None = None,
        privacy: bool | None = None,
    ) -> None:
        from ..data.collate import require_pad_token
        from ..data.templates import get_template
        from ..data.tofu import FORGET_SPLITS, PERTURBED_COLUMNS, QA_COLUMNS

        if forget_split not in FORGET_SPLITS:
            raise ValueError(f"forget_split must be one of {FORGET_SPLITS}, got {forget_split!r}.")
        if not isinstance(data, (str, os.PathLike, Mapping)) and hasattr(data, "path"):
            data = data.path  # a built world object (`hf_unlearn.synthetic.TofuWorld`)
        unknown = [s for s in eval_sets if s not in EVAL_SETS]
        if unknown or not eval_sets:
            raise ValueError(f"eval_sets must be a non-empty subset of {EVAL_SETS}, got {list(eval_sets)}.")
        if max_items is not None and (not isinstance(max_items, int) or max_items < 1):
            raise ValueError(f"max_items must be a positive integer or None, got {max_items!r}.")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}.")
        self.tokenizer = tokenizer
        self.pad_id = require_pad_token(tokenizer)
        self.template = get_template(template, tokenizer)
        self.data = data
        self.forget_split = forget_split
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_items = max_items
        self.eval_sets = [s for s in EVAL_SETS if s in eval_sets]
        self.rows: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for eval_set in self.eval_sets:
            split = _split_name(eval_set, forget_split, retain_eval_split)
            ds = _load_set(data, split, QA_COLUMNS + PERTURBED_COLUMNS[eval_set])
            if max_items is not None:
                ds = ds.select(range(min(max_items, len(ds))))
            self.rows[eval_set] = (split, ds.to_list())
        self.holdout_rows = None
        if "forget" in self.eval_sets and privacy is not False:
            self.holdout_rows = _holdout_rows(data, forget_split, max_items, required=privacy is True)
        self._tokenized: dict[int | None, dict[str, Any]] = {}

    def _tokenize(self, ctx: int | None) -> dict[str, Any]:
        """Every sequence and prompt, tokenised once per context length (the same for every model of a family)."""
        from ..data.templates import tokenize_qa_pairs

        if ctx not in self._tokenized:
            sets = {}
            for eval_set, (split, rows) in self.rows.items():
                features, ans_idx, para_idx, pert_idx = _tokenize_set(
                    rows, eval_set, split, self.tokenizer, self.template, ctx
                )
                prompts, continuations = _split_prompts(features, ans_idx)
                sets[eval_set] = {
                    "continuations": continuations,
                    "ans_idx": ans_idx,
                    "para_idx": para_idx,
                    "pert_idx": pert_idx,
                    "prompts": prompts,
                }
            holdout = None
            if self.holdout_rows is not None:
                holdout = tokenize_qa_pairs(
                    self.tokenizer, [(r["question"], r["answer"]) for r in self.holdout_rows], self.template, ctx
                )
            self._tokenized[ctx] = {"sets": sets, "holdout": holdout}
        return self._tokenized[ctx]

    def _new_tokens(self, prompts: Sequence[Sequence[int]], split: str, ctx: int | None) -> int:
        new_tokens = self.max_new_tokens
        if ctx is not None:
            longest = max(len(p) for p in prompts)
            if longest >= ctx:
                raise ValueError(
                    f"{split}: a prompt is {longest} tokens, not shorter than the model's context ({ctx})."
                )
            if longest + new_tokens > ctx:
                new_tokens = ctx - longest
                logger.warning(
                    "max_new_tokens=%d does not fit the model's context (%d) after a %d-token prompt; using %d.",
                    self.max_new_tokens,
                    ctx,
                    longest,
                    new_tokens,
                )
        return new_tokens

    def _generate(self, model: Any, tokenized: dict[str, Any], ctx: int | None, progress: bool) -> dict[str, list]:
        """Greedy answers to every set's questions, in one pool of batches (sets with the same generation length
        share their batches, so a few long answers in one set do not hold up a batch of their own)."""
        from .scoring import generate_greedy

        caps = {s: self._new_tokens(tokenized["sets"][s]["prompts"], self.rows[s][0], ctx) for s in self.eval_sets}
        out: dict[str, list] = {}
        for cap in sorted(set(caps.values())):
            group = [s for s in self.eval_sets if caps[s] == cap]
            texts = generate_greedy(
                model,
                self.tokenizer,
                [p for s in group for p in tokenized["sets"][s]["prompts"]],
                max_new_tokens=cap,
                batch_size=self.batch_size,
                progress=progress,
                desc="generating",
            )
            for s in group:
                n = len(tokenized["sets"][s]["prompts"])
                out[s], texts = texts[:n], texts[n:]
        return out

    def __call__(self, model: PreTrainedModel, retain_results: Any = None, progress: bool = False) -> dict[str, Any]:
        """Evaluates `model`; returns what [`evaluate_tofu`] returns.

        Args:
            model (`PreTrainedModel`): The causal LM (its train/eval mode is restored afterwards).
            retain_results (*optional*): A retain model's results, JSON path or per-item forget truth ratios; gives
                forget quality (and the PrivLeak reference).
            progress (`bool`, *optional*, defaults to `False`): Show progress bars.
        """
        from .scoring import eval_mode, score_continuations, score_sequences

        retain_tr = None
        if retain_results is not None:
            if "forget" not in self.eval_sets:
                raise ValueError("retain_results gives forget quality, which needs the 'forget' eval set.")
            retain_tr = retain_truth_ratios(retain_results, self.forget_split)
        ctx = _context_length(model, self.tokenizer)
        tokenized = self._tokenize(ctx)
        privacy = tokenized["holdout"] is not None

        start = time.perf_counter()
        sets: dict[str, dict[str, Any]] = {}
        per_item: dict[str, dict[str, Any]] = {}
        privacy_results = None
        with eval_mode(model):
            generated = self._generate(model, tokenized, ctx, progress)
            for eval_set in self.eval_sets:
                split, rows = self.rows[eval_set]
                tok = tokenized["sets"][eval_set]
                extras = privacy and eval_set == "forget"  # the same pass gives the forget set's MIA scores and ES
                scores = score_continuations(
                    model,
                    tok["prompts"],
                    tok["continuations"],
                    self.pad_id,
                    batch_size=self.batch_size,
                    return_token_moments=extras,
                    return_token_argmax_match=extras,
                    progress=progress,
                    desc=f"scoring {split}",
                )
                nll = scores.nll.numpy()
                nll_ans = nll[tok["ans_idx"]]
                nll_para = nll[tok["para_idx"]]
                nll_pert = [nll[idx].tolist() for idx in tok["pert_idx"]]
                generations = generated[eval_set]
                references = [r["answer"] for r in rows]
                aggregates, items = tofu_set_metrics(
                    eval_set,
                    nll_ans,
                    nll_pert,
                    nll_paraphrased=None if eval_set in OPTION_SETS else nll_para,
                    generations=generations,
                    references=references,
                )
                sets[eval_set] = {"split": split, **aggregates}
                items.update(
                    {
                        "question": [r["question"] for r in rows],
                        "answer": references,
                        "generation": generations,
                        "nll_answer": nll_ans.tolist(),
                        "nll_perturbed": nll_pert,
                    }
                )
                if eval_set not in OPTION_SETS:
                    items["nll_paraphrased"] = nll_para.tolist()
                per_item[eval_set] = items
                if extras:
                    holdout_scores = score_sequences(
                        model,
                        tokenized["holdout"],
                        self.pad_id,
                        batch_size=self.batch_size,
                        return_token_moments=True,
                        progress=progress,
                        desc="MIA scoring holdout",
                    )
                    privacy_results = _privacy_from_scores(
                        scores.select(tok["ans_idx"]),
                        holdout_scores,
                        references,
                        [r["answer"] for r in self.holdout_rows],
                        _retain_min_k_auc(retain_results),
                    )
        return self._report(model, sets, per_item, retain_tr, privacy_results, time.perf_counter() - start)

    def _report(
        self,
        model: Any,
        sets: dict[str, dict[str, Any]],
        per_item: dict[str, dict[str, Any]],
        retain_tr: np.ndarray | None,
        privacy_results: dict[str, Any] | None,
        seconds: float,
    ) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        if retain_tr is not None:
            if len(retain_tr) != len(per_item["forget"]["truth_ratio"]):
                logger.warning(
                    "the retain results hold %d forget truth ratios but %d items were evaluated here (different "
                    "max_items or data?); forget quality compares the two samples as they are.",
                    len(retain_tr),
                    len(per_item["forget"]["truth_ratio"]),
                )
            fq = forget_quality(per_item["forget"]["truth_ratio"], retain_tr)
            summary["forget_quality"] = fq["forget_quality"]
            summary["forget_quality_ks_statistic"] = fq["ks_statistic"]
        else:
            summary["forget_quality"] = None
            summary["forget_quality_ks_statistic"] = None
        terms = _utility_terms(sets)
        summary["model_utility"] = model_utility(terms) if all(s in sets for s in UTILITY_SETS) else None
        for name, agg in sets.items():
            for key in ("probability", "rouge_l_recall", "truth_ratio", "utility"):
                if key in agg:
                    summary[f"{name}_{key}"] = agg[key]
        # open-unlearning's names (forget_truth_ratio already matches: mean(min(R, 1/R))).
        if "forget" in sets:
            summary["forget_Q_A_Prob"] = sets["forget"]["probability"]
            summary["forget_Q_A_ROUGE"] = sets["forget"].get("rouge_l_recall")
        if privacy_results is not None:
            summary.update(privacy_results["summary"])
            per_item["privacy"] = privacy_results["per_item"]
        data = self.data
        return {
            "benchmark": "tofu",
            "model": getattr(model, "name_or_path", None) or None,
            "data": data
            if isinstance(data, str)
            else (os.fspath(data) if isinstance(data, os.PathLike) else "<in-memory>"),
            "forget_split": self.forget_split,
            "template": self.template.name,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "max_items": self.max_items,
            "truth_ratio_definition": TRUTH_RATIO_DEFINITION,
            "summary": summary,
            "model_utility_terms": terms,
            "sets": sets,
            "per_item": per_item,
            "eval_seconds": seconds,
        }


def evaluate_tofu(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    data: str | os.PathLike | Mapping[str, Any] = "locuslab/TOFU",
    forget_split: str = "forget10",
    retain_results: Any = None,
    template: str = "auto",
    batch_size: int = 16,
    max_new_tokens: int = 200,
    retain_eval_split: str = "retain_perturbed",
    eval_sets: Sequence[str] = EVAL_SETS,
    max_items: int | None = None,
    privacy: bool | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluates a causal LM on TOFU: every metric of the benchmark, aggregated and per item.

    Scoring is batched over all answers of a set (each question packed with its true, paraphrased and perturbed
    answers into one row, the question run once) and greedy generation is batched with left padding and a key/value
    cache. To evaluate several models (or one model several times) on the same data, build a [`TofuEvaluator`] once
    and call it: the data is then loaded and tokenised once.

    Args:
        model (`PreTrainedModel`): The causal LM to evaluate (its train/eval mode is restored afterwards).
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer; it needs a pad token.
        data (`str`, `os.PathLike` or `Mapping`, *optional*, defaults to `"locuslab/TOFU"`): A Hub dataset id, a
            mini-TOFU world folder (`hf-unlearn build-world tofu`) or world object, or a mapping from split name to a
            `Dataset` or a list of rows.
        forget_split (`str`, *optional*, defaults to `"forget10"`): `forget01`, `forget05` or `forget10`; its
            `*_perturbed` config is the forget evaluation set.
        retain_results (`dict`, `str` or `Sequence[float]`, *optional*): A retain model's results (the dict returned
            by this function, or its JSON path) or its per-item forget truth ratios; gives forget quality.
        template (`str`, *optional*, defaults to `"auto"`): The QA template (`"auto"`, `"chat"`, `"llama2"`,
            `"phi"`), see [`~hf_unlearn.data.get_template`].
        batch_size (`int`, *optional*, defaults to `16`): Sequences per forward pass / prompts per `generate` call.
        max_new_tokens (`int`, *optional*, defaults to `200`): Greedy generation length (open-unlearning's value);
            capped so that prompt plus generation fits the model's context.
        retain_eval_split (`str`, *optional*, defaults to `"retain_perturbed"`): The retain evaluation set.
        eval_sets (`Sequence[str]`, *optional*): Which of `forget`, `retain`, `real_authors`, `world_facts` to run;
            model utility needs the last three.
        max_items (`int`, *optional*): Use only the first `max_items` items of each set (quick checks).
        privacy (`bool`, *optional*): Also compute open-unlearning's privacy metrics on the forget set (see
            [`tofu_privacy_metrics`]): PrivLeak and the MIA AUCs against the `holdoutXX` split, and extraction
            strength. `None` (default): when the data has the holdout split.
        progress (`bool`, *optional*, defaults to `True`): Show progress bars.

    Returns:
        `dict`: `summary` (flat numbers: `forget_quality`, `forget_quality_ks_statistic`, `model_utility`, and
        `<set>_<metric>` for each set, open-unlearning's names `forget_Q_A_Prob`, `forget_Q_A_ROUGE`,
        `forget_truth_ratio`, and with privacy `privleak`, `extraction_strength`, `mia_min_k`, ...), `sets`
        (aggregates per set), `per_item` (per set: `probability`,
        `truth_ratio`, `rouge_l_recall`, `generation`, and the NLLs), the settings, and `eval_seconds`. Pass it (or
        its JSON) as `retain_results` when evaluating other models against this one.

    Example:
        >>> from hf_unlearn.eval import evaluate_tofu
        >>> results = evaluate_tofu(model, tokenizer, "path/to/world", retain_results="retain90.json")  # doctest: +SKIP
        >>> results["summary"]["forget_quality"], results["summary"]["model_utility"]  # doctest: +SKIP
    """
    evaluator = TofuEvaluator(
        tokenizer,
        data,
        forget_split=forget_split,
        template=template,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        retain_eval_split=retain_eval_split,
        eval_sets=eval_sets,
        max_items=max_items,
        privacy=privacy,
    )
    return evaluator(model, retain_results=retain_results, progress=progress)


def mark_as_retain(results: dict[str, Any]) -> dict[str, Any]:
    """Scores a retain model's [`evaluate_tofu`] results against itself, in place: forget quality 1 (KS D 0) and
    PrivLeak 0 by construction. Returns `results`."""
    tr = results["per_item"]["forget"]["truth_ratio"]
    fq = forget_quality(tr, tr)
    results["summary"]["forget_quality"] = fq["forget_quality"]
    results["summary"]["forget_quality_ks_statistic"] = fq["ks_statistic"]
    if results["summary"].get("privleak") is not None:
        results["summary"]["privleak"] = 0.0
    return results


# ----------------------------------------------------------------------------------------------------------------
# Privacy (open-unlearning's TOFU privleak, MIA AUCs and extraction strength)
# ----------------------------------------------------------------------------------------------------------------


def _holdout_rows(data: Any, forget_split: str, max_items: int | None, required: bool) -> list[dict] | None:
    from ..data.tofu import QA_COLUMNS, holdout_split_for

    split = holdout_split_for(forget_split)
    if isinstance(data, Mapping) and split not in data:
        if required:
            raise ValueError(f"privacy metrics need the holdout split {split!r}; the data has {sorted(data)}.")
        return None
    try:
        ds = _load_set(data, split, QA_COLUMNS)
    except ValueError:
        if required:
            raise
        logger.warning("no %s split in %s: skipping PrivLeak and the MIA AUCs.", split, data)
        return None
    if max_items is not None:
        ds = ds.select(range(min(max_items, len(ds))))
    return ds.to_list()


def tofu_privacy_metrics(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    forget_rows: Sequence[Mapping[str, str]],
    holdout_rows: Sequence[Mapping[str, str]],
    template: Any = "auto",
    retain_results: Any = None,
    k: float = 0.4,
    batch_size: int = 16,
    progress: bool = False,
) -> dict[str, Any]:
    """open-unlearning's TOFU privacy metrics: MIA AUCs of forget (members) vs holdout QA pairs, PrivLeak, and
    extraction strength on the forget set. Every score is on the answer tokens given the question (the answer's EOS
    included); as in open-unlearning, Min-K%, Min-K%++ and extraction strength leave out the last of them, the EOS
    (see [`~hf_unlearn.eval.mia`] and [`~hf_unlearn.eval.muse.extraction_strength_of`]).

    Args:
        model (`PreTrainedModel`): The causal LM.
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer.
        forget_rows (`Sequence[Mapping]`): Forget QA rows (`question`, `answer`).
        holdout_rows (`Sequence[Mapping]`): Holdout QA rows (never trained on), e.g. `holdout10`.
        template (`str` or `QATemplate`, *optional*, defaults to `"auto"`): The QA template.
        retain_results (*optional*): The retain model's results (with `summary.mia_min_k`) or its Min-K% AUC; else
            PrivLeak is relative to 0.5, as open-unlearning without retain logs.
        k (`float`, *optional*, defaults to `0.4`): Min-K% fraction (open-unlearning's TOFU config).
        batch_size (`int`, *optional*, defaults to `16`): Sequences per forward pass.
        progress (`bool`, *optional*, defaults to `False`): Show progress bars.

    Returns:
        `dict`: `summary` (`privleak`, `extraction_strength`, `mia_loss`, `mia_zlib`, `mia_min_k`,
        `mia_min_k_plus_plus`) and `per_item` (scores of each attack on forget and holdout, extraction strength).
    """
    from ..data.collate import require_pad_token
    from ..data.templates import tokenize_qa
    from .scoring import eval_mode, score_sequences

    if not forget_rows or not holdout_rows:
        raise ValueError("privacy metrics need non-empty forget and holdout splits.")
    pad_id = require_pad_token(tokenizer)
    ctx = _context_length(model, tokenizer)
    retain_auc = _retain_min_k_auc(retain_results)
    scores = {}
    with eval_mode(model):
        for name, rows in (("forget", forget_rows), ("holdout", holdout_rows)):
            features = [tokenize_qa(tokenizer, r["question"], r["answer"], template, max_length=ctx) for r in rows]
            scores[name] = score_sequences(
                model,
                features,
                pad_id,
                batch_size=batch_size,
                return_token_moments=True,
                return_token_argmax_match=name == "forget",
                progress=progress,
                desc=f"MIA scoring {name}",
            )
    return _privacy_from_scores(
        scores["forget"],
        scores["holdout"],
        [r["answer"] for r in forget_rows],
        [r["answer"] for r in holdout_rows],
        retain_auc,
        k=k,
    )


def _retain_min_k_auc(retain_results: Any) -> float | None:
    """The retain model's Min-K% AUC from what a user passes as `retain_results`, or `None` (PrivLeak then uses 0.5)."""
    from .muse import retain_min_k_auc

    if isinstance(retain_results, (Mapping, str, os.PathLike, int, float)) and not isinstance(retain_results, bool):
        try:
            return retain_min_k_auc(retain_results)
        except ValueError:
            logger.warning("the retain results have no Min-K%% AUC (summary.mia_min_k): PrivLeak is relative to 0.5.")
    return None


def _privacy_from_scores(
    forget: Any,
    holdout: Any,
    forget_answers: Sequence[str],
    holdout_answers: Sequence[str],
    retain_auc: float | None,
    k: float = 0.4,
) -> dict[str, Any]:
    """The privacy metrics from one scoring pass over the forget answers (with token moments and argmax matches) and
    one over the holdout answers (with token moments)."""
    from .mia import MODEL_ATTACKS, OPEN_UNLEARNING_MIA_KEYS, mia_aucs, mia_scores_from_sequence_scores, privleak
    from .muse import extraction_strength_of

    scores = {
        "forget": mia_scores_from_sequence_scores(forget, MODEL_ATTACKS, k, forget_answers),
        "holdout": mia_scores_from_sequence_scores(holdout, MODEL_ATTACKS, k, holdout_answers),
    }
    aucs = mia_aucs(scores["forget"], scores["holdout"])
    es = np.array([extraction_strength_of(m) for m in forget.token_argmax_match])
    summary = {
        "privleak": privleak(aucs["min_k"], retain_auc),
        "extraction_strength": float(es.mean()),
        **{OPEN_UNLEARNING_MIA_KEYS[a]: v for a, v in aucs.items()},
    }
    per_item = {f"mia_{name}": {a: v.tolist() for a, v in s.items()} for name, s in scores.items()}
    per_item["extraction_strength"] = es.tolist()
    return {"summary": summary, "per_item": per_item, "retain_min_k_auc": retain_auc}
