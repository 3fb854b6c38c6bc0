# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""MUSE metrics (Shi et al., 2024, https://huggingface.co/papers/2407.06460), as MUSE's code (`swj0419/muse_bench`)
and open-unlearning define them, plus open-unlearning's extraction strength.

- **VerbMem(D_f)**: the model greedily continues the prefix (`prompt`) of each forget text for up to 128 new tokens;
  the score is the ROUGE-L F1 (`rouge_score`, no stemmer) against the true continuation (`gt`, cut to its first 128
  tokens, special tokens counted, as MUSE does), averaged over texts.
- **KnowMem(D_f)**, **KnowMem(D_r)**: few-shot question answering. The prompt is MUSE's
  `"Question: {q}\\nAnswer: {a}\\n\\n"` for each in-context example, then `"Question: {q}\\nAnswer: "`; the greedy
  answer (up to 32 tokens) is cut at `"\\n\\n"`, `"\\nQuestion"` or `"Question:"`, and scored by ROUGE-L F1 against
  the true answer. KnowMem(D_r) is MUSE's utility measure.
- **PrivLeak**: the Min-K% (k = 0.4) membership AUC of forget (members) vs holdout texts, relative to the retain
  model's, in % (see [`~hf_unlearn.eval.mia.privleak`]); 0 = like the retain model.
- **Extraction strength** (open-unlearning): per item `1 - k/n`, where the scored tokens are the labelled tokens
  (the continuation `gt`) **except the last one**, `n` is their number and `k` the first position from which the
  model's argmax predictions reproduce the rest of them exactly (teacher forcing). As in open-unlearning's loop, when
  not even the last scored token is predicted, `k = n - 1` (so ES = `1/n`); an item with no scored token gets 0.
  open-unlearning leaves the last labelled token out in `tokenwise_vocab_logprobs` (`src/evals/metrics/utils.py`:
  the label positions are cut with `[:-1]`, meant for the EOS of a chat answer; a MUSE text has no EOS, so there it
  is the text's last token) and scores in `extraction_strength` (`src/evals/metrics/memorization.py`).

All numbers are fractions in `[0, 1]` (PrivLeak in %) under open-unlearning's key names (`forget_verbmem_ROUGE`,
`forget_knowmem_ROUGE`, `retain_knowmem_ROUGE`, `privleak`, `extraction_strength`, `mia_min_k`, ...); the Markdown
table shows them x 100 as MUSE's paper does.

Example:
    >>> from hf_unlearn.eval.muse import cut_at_stop_words, extraction_strength_of, knowmem_prompt
    >>> knowmem_prompt("Who?", [("Where?", "Paris")])
    'Question: Where?\\nAnswer: Paris\\n\\nQuestion: Who?\\nAnswer: '
    >>> cut_at_stop_words("Ann Lee\\n\\nQuestion: next")
    'Ann Lee'
    >>> extraction_strength_of([False, True, True, True, False])  # 5 labels; of the first 4, the last 3 match: 1 - 1/4
    0.75
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np


if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

#: Where MUSE cuts a KnowMem answer.
KNOWMEM_STOP_WORDS = ("\n\n", "\nQuestion", "Question:")
#: MUSE's answer cue (with its trailing space).
MUSE_ANSWER_PREFIX = "Answer: "
#: The Min-K% fraction of MUSE's PrivLeak (`forget_holdout_Min-40%`).
PRIVLEAK_K = 0.4
#: Summary keys, in report order, with the column names of the Markdown table (x 100, as in MUSE's paper).
MUSE_SUMMARY_KEYS = {
    "forget_verbmem_ROUGE": "VerbMem D_f",
    "forget_knowmem_ROUGE": "KnowMem D_f",
    "retain_knowmem_ROUGE": "KnowMem D_r",
    "privleak": "PrivLeak",
    "extraction_strength": "ES",
    "mia_min_k": "Min-K% AUC",
}

_SCORER = None


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-item ROUGE-L F1 and recall (`rouge_score`, no stemmer: MUSE's scorer).

    Example:
        >>> out = rouge_l(["the cat sat"], ["the cat sat down"])
        >>> round(float(out["f1"][0]), 4), float(out["recall"][0])
        (0.8571, 0.75)
    """
    global _SCORER
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references.")
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    scores = [_SCORER.score(ref, pred)["rougeL"] for pred, ref in zip(predictions, references)]
    return {"f1": np.array([s.fmeasure for s in scores]), "recall": np.array([s.recall for s in scores])}


def knowmem_prompt(question: str, icl: Sequence[tuple[str, str]] = (), answer_prefix: str = MUSE_ANSWER_PREFIX) -> str:
    """MUSE's few-shot KnowMem prompt: the in-context (question, answer) pairs, then the question."""
    shots = "".join(f"Question: {q}\n{answer_prefix.rstrip()} {a}\n\n" for q, a in icl)
    return f"{shots}Question: {question}\n{answer_prefix}"


def cut_at_stop_words(text: str, stop_words: Sequence[str] = KNOWMEM_STOP_WORDS) -> str:
    """The text before the first occurrence of any stop word (MUSE's `get_prefix_before_words_occur`)."""
    for word in stop_words:
        text = text.split(word)[0]
    return text


def extraction_strength_of(matches: Sequence[bool] | Any) -> float:
    """Extraction strength of one item, as open-unlearning computes it (see the module docstring).

    Args:
        matches (`Sequence[bool]` or `torch.Tensor`): One flag per labelled token, in order, the last (e.g. a TOFU
            answer's EOS) included: whether the model's most likely next token is that label
            (`SequenceScores.token_argmax_match`). 0/1 integers are read as flags.

    Returns:
        `float`: `1 - k/n` over all flags but the last (`n` of them; `k` the first position from which every flag is
        set, `n - 1` when none is); 0 when there is only one flag.

    Example:
        >>> extraction_strength_of([True, True, True, False])  # only the last label (not scored) is mispredicted
        1.0
        >>> extraction_strength_of([True, False, True, True])  # scored [T, F, T]: k = 2 of n = 3
        0.33333333333333337
    """
    m = np.asarray(matches.cpu().numpy() if hasattr(matches, "cpu") else matches, dtype=bool)
    if m.ndim != 1 or m.size == 0:
        raise ValueError(f"extraction strength needs a non-empty 1-D sequence of token flags, got shape {m.shape}.")
    m = m[:-1]  # open-unlearning does not score the last labelled token
    n = m.size
    if n == 0:
        return 0.0  # open-unlearning's score for an item with no scored token
    # The first k whose suffix m[k:] is all True; open-unlearning's loop leaves k = n - 1 when there is none.
    wrong = np.flatnonzero(~m)
    k = 0 if wrong.size == 0 else min(int(wrong[-1]) + 1, n - 1)
    return 1.0 - k / n


def _fit_new_tokens(prompts: Sequence[Sequence[int]], max_new_tokens: int, ctx: int | None, what: str) -> int:
    if ctx is None:
        return max_new_tokens
    longest = max(len(p) for p in prompts)
    if longest >= ctx:
        raise ValueError(f"{what}: a prompt is {longest} tokens, not shorter than the model's context ({ctx}).")
    if longest + max_new_tokens > ctx:
        logger.warning(
            "%s: max_new_tokens=%d cut to %d to fit the context (%d).", what, max_new_tokens, ctx - longest, ctx
        )
        return ctx - longest
    return max_new_tokens


def verbmem(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    continuations: Sequence[str],
    max_new_tokens: int = 128,
    batch_size: int = 8,
    progress: bool = False,
) -> dict[str, Any]:
    """VerbMem: greedy continuations of `prompts` scored by ROUGE-L against `continuations` (cut to
    `max_new_tokens` tokens).

    Args:
        model (`PreTrainedModel`): The causal LM.
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token).
        prompts (`Sequence[str]`): The text prefixes.
        continuations (`Sequence[str]`): The true continuations.
        max_new_tokens (`int`, *optional*, defaults to `128`): MUSE's generation length.
        batch_size (`int`, *optional*, defaults to `8`): Prompts per `generate` call.
        progress (`bool`, *optional*, defaults to `False`): Show progress bars.

    Returns:
        `dict`: `rouge_l_f1` and `rouge_l_recall` (means), and per item `generation`, `reference`, `rouge_l_f1`,
        `rouge_l_recall`.

    Example:
        >>> out = verbmem(model, tokenizer, ["The council of Ashford"], ["voted on Monday."])  # doctest: +SKIP
    """
    from .scoring import generate_greedy
    from .tofu import _context_length

    _check_pairs(prompts, continuations, "prompts", "continuations")
    ids = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
    new_tokens = _fit_new_tokens(ids, max_new_tokens, _context_length(model, tokenizer), "verbmem")
    refs = [
        tokenizer.decode(tokenizer(c, add_special_tokens=True)["input_ids"][:max_new_tokens], skip_special_tokens=True)
        for c in continuations
    ]
    gens = generate_greedy(
        model, tokenizer, ids, max_new_tokens=new_tokens, batch_size=batch_size, progress=progress, desc="verbmem"
    )
    scores = rouge_l(gens, refs)
    return {
        "rouge_l_f1": float(scores["f1"].mean()),
        "rouge_l_recall": float(scores["recall"].mean()),
        "per_item": {
            "generation": gens,
            "reference": refs,
            "rouge_l_f1": scores["f1"].tolist(),
            "rouge_l_recall": scores["recall"].tolist(),
        },
    }


def knowmem(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    answers: Sequence[str],
    icl: Sequence[tuple[str, str]] = (),
    max_new_tokens: int = 32,
    answer_prefix: str = MUSE_ANSWER_PREFIX,
    batch_size: int = 8,
    progress: bool = False,
) -> dict[str, Any]:
    """KnowMem: few-shot greedy answers, cut at MUSE's stop words, scored by ROUGE-L against the true answers.

    Args:
        model (`PreTrainedModel`): The causal LM.
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token).
        questions (`Sequence[str]`): The questions.
        answers (`Sequence[str]`): The true answers.
        icl (`Sequence[tuple[str, str]]`, *optional*): In-context (question, answer) examples.
        max_new_tokens (`int`, *optional*, defaults to `32`): MUSE's answer length.
        answer_prefix (`str`, *optional*, defaults to `"Answer: "`): The answer cue ending the prompt (MUSE's,
            with a trailing space).
        batch_size (`int`, *optional*, defaults to `8`): Prompts per `generate` call.
        progress (`bool`, *optional*, defaults to `False`): Show progress bars.

    Returns:
        `dict`: `rouge_l_f1` and `rouge_l_recall` (means) and per item `generation`, `rouge_l_f1`, `rouge_l_recall`.
    """
    from .scoring import generate_greedy
    from .tofu import _context_length

    _check_pairs(questions, answers, "questions", "answers")
    ids = [tokenizer(knowmem_prompt(q, icl, answer_prefix), add_special_tokens=True)["input_ids"] for q in questions]
    new_tokens = _fit_new_tokens(ids, max_new_tokens, _context_length(model, tokenizer), "knowmem")
    raw = generate_greedy(
        model, tokenizer, ids, max_new_tokens=new_tokens, batch_size=batch_size, progress=progress, desc="knowmem"
    )
    gens = [cut_at_stop_words(g).strip() for g in raw]
    scores = rouge_l(gens, list(answers))
    return {
        "rouge_l_f1": float(scores["f1"].mean()),
        "rouge_l_recall": float(scores["recall"].mean()),
        "per_item": {
            "question": list(questions),
            "answer": list(answers),
            "generation": gens,
            "rouge_l_f1": scores["f1"].tolist(),
            "rouge_l_recall": scores["recall"].tolist(),
        },
    }


def extraction_strength(
    model: PreTrainedModel,
    features: Sequence[dict[str, Sequence[int]]],
    pad_token_id: int,
    batch_size: int = 8,
    progress: bool = False,
) -> np.ndarray:
    """Per-item extraction strength of tokenised sequences (labelled tokens = the text to extract), open-unlearning's
    definition: the last labelled token is not scored (see [`extraction_strength_of`]).

    Args:
        model (`PreTrainedModel`): The causal LM.
        features (`Sequence[dict]`): `input_ids` and `labels` (`-100` on the prompt), e.g. from
            [`~hf_unlearn.data.tokenize_qa`].
        pad_token_id (`int`): The pad id.
        batch_size (`int`, *optional*, defaults to `8`): Sequences per forward pass.
        progress (`bool`, *optional*, defaults to `False`): Show progress bars.

    Returns:
        `np.ndarray`: One value in `[0, 1]` per sequence (0 only for a sequence with a single labelled token).

    Example:
        >>> es = extraction_strength(model, [{"input_ids": [5, 6, 7, 8], "labels": [-100, 6, 7, 8]}], 0)  # doctest: +SKIP
    """
    from .scoring import score_sequences

    scores = score_sequences(
        model,
        features,
        pad_token_id,
        batch_size=batch_size,
        return_token_argmax_match=True,
        progress=progress,
        desc="extraction strength",
    )
    return np.array([extraction_strength_of(m) for m in scores.token_argmax_match])


def _check_pairs(a: Sequence[str], b: Sequence[str], name_a: str, name_b: str) -> None:
    if len(a) == 0:
        raise ValueError(f"{name_a} is empty: there is nothing to evaluate.")
    if len(a) != len(b):
        raise ValueError(f"got {len(a)} {name_a} but {len(b)} {name_b}.")
    for name, values in ((name_a, a), (name_b, b)):
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f"{name}[{i}] must be a non-empty string, got {v!r}.")


def retain_min_k_auc(retain_results: Any) -> float:
    """The retain model's Min-K% AUC from its [`evaluate_muse`] / `evaluate_tofu` results (dict or JSON path) or a
    number.

    Example:
        >>> retain_min_k_auc({"summary": {"mia_min_k": 0.52}}), retain_min_k_auc(0.5)
        (0.52, 0.5)
    """
    from .report import load_json

    if isinstance(retain_results, (str, os.PathLike)):
        if not os.path.isfile(retain_results):
            raise ValueError(f"retain_results file {os.fspath(retain_results)!r} does not exist.")
        retain_results = load_json(retain_results)
    if isinstance(retain_results, Mapping):
        value = retain_results.get("summary", {}).get("mia_min_k")
        if value is None:
            raise ValueError(
                "the retain results have no summary.mia_min_k; pass the JSON written by `hf-unlearn eval muse` (or "
                "`eval tofu`) for the retain model, or its Min-K% AUC as a number."
            )
        return float(value)
    if isinstance(retain_results, bool) or not isinstance(retain_results, (int, float)):
        raise TypeError(f"retain_results must be a results dict, a JSON path or an AUC, got {type(retain_results)}.")
    return float(retain_results)


def _world_answer_prefix(data: str) -> str | None:
    import json

    from ..data.tofu import WORLD_MANIFEST

    manifest = os.path.join(data, WORLD_MANIFEST)
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as f:
            return json.load(f).get("knowmem_answer_prefix")
    return None


def evaluate_muse(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    data: str | os.PathLike = "muse-bench/MUSE-News",
    retain_results: Any = None,
    batch_size: int = 8,
    verbmem_max_new_tokens: int = 128,
    knowmem_max_new_tokens: int = 32,
    answer_prefix: str | None = None,
    privleak_k: float = PRIVLEAK_K,
    max_items: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluates a causal LM on MUSE: VerbMem, KnowMem (forget and retain), PrivLeak, extraction strength and the
    MIA AUCs, aggregated and per item.

    Args:
        model (`PreTrainedModel`): The causal LM (its train/eval mode is restored afterwards).
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer; it needs a pad token.
        data (`str` or `os.PathLike`, *optional*, defaults to `"muse-bench/MUSE-News"`): A MUSE Hub id (or `"news"`,
            `"books"`) or a mini-MUSE world folder (`hf-unlearn build-world muse`).
        retain_results (`dict`, `str` or `float`, *optional*): The retain model's results (dict or JSON path) or its
            Min-K% AUC; without it PrivLeak uses 0.5 (open-unlearning's default).
        batch_size (`int`, *optional*, defaults to `8`): Sequences per forward pass / `generate` call.
        verbmem_max_new_tokens (`int`, *optional*, defaults to `128`): MUSE's VerbMem length.
        knowmem_max_new_tokens (`int`, *optional*, defaults to `32`): MUSE's KnowMem length.
        answer_prefix (`str`, *optional*): KnowMem's answer cue; defaults to the world's (`"Answer:"`: its
            tokenizer keeps the space with the next word) or MUSE's `"Answer: "` for Hub data.
        privleak_k (`float`, *optional*, defaults to `0.4`): Min-K% fraction for PrivLeak and the MIA AUCs.
        max_items (`int`, *optional*): Use only the first `max_items` items of each set (quick checks).
        progress (`bool`, *optional*, defaults to `True`): Show progress bars.

    Returns:
        `dict`: `summary` (open-unlearning keys: `forget_verbmem_ROUGE`, `forget_knowmem_ROUGE`,
        `retain_knowmem_ROUGE`, `privleak`, `extraction_strength`, `mia_loss`, `mia_zlib`, `mia_min_k`,
        `mia_min_k_plus_plus`), `muse` (MUSE's x 100 numbers: `verbmem_f`, `knowmem_f`, `knowmem_r`, `privleak`),
        `per_item`, the settings and `eval_seconds`.

    Example:
        >>> results = evaluate_muse(model, tokenizer, "path/to/world", retain_results="retain.json")  # doctest: +SKIP
        >>> results["summary"]["privleak"]  # doctest: +SKIP
    """
    from ..data.collate import require_pad_token
    from ..data.muse import load_muse
    from .mia import MODEL_ATTACKS, OPEN_UNLEARNING_MIA_KEYS, check_k, check_vocab_fits, mia_aucs, mia_scores
    from .mia import privleak as privleak_of
    from .scoring import eval_mode

    if not isinstance(data, (str, os.PathLike)) and hasattr(data, "path"):
        data = data.path  # a built world object (`hf_unlearn.synthetic.MuseWorld`)
    data = os.fspath(data)
    if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1):
        raise ValueError(f"max_items must be a positive integer or None, got {max_items!r}.")
    privleak_k = check_k(privleak_k)
    pad_id = require_pad_token(tokenizer)
    check_vocab_fits(model, tokenizer)
    retain_auc = None if retain_results is None else retain_min_k_auc(retain_results)
    if answer_prefix is None:
        answer_prefix = _world_answer_prefix(data) or MUSE_ANSWER_PREFIX

    def rows(config: str, split: str) -> list[dict[str, Any]]:
        ds = load_muse(data, config, split)
        if max_items is not None and not split.endswith("_icl"):
            ds = ds.select(range(min(max_items, len(ds))))
        return ds.to_list()

    # Load (and validate) every split before any model call.
    verb = rows("verbmem", "forget")
    qa_sets = {
        which: (
            rows("knowmem", f"{which}_qa"),
            [(r["question"], r["answer"]) for r in rows("knowmem", f"{which}_qa_icl")],
        )
        for which in ("forget", "retain")
    }
    forget_texts = [r["text"] for r in rows("privleak", "forget")]
    holdout_texts = [r["text"] for r in rows("privleak", "holdout")]

    start = time.perf_counter()
    per_item: dict[str, Any] = {}
    with eval_mode(model):
        vm = verbmem(
            model,
            tokenizer,
            [r["prompt"] for r in verb],
            [r["gt"] for r in verb],
            max_new_tokens=verbmem_max_new_tokens,
            batch_size=batch_size,
            progress=progress,
        )
        per_item["verbmem_forget"] = vm["per_item"]
        km = {}
        for which, (qa, icl) in qa_sets.items():
            km[which] = knowmem(
                model,
                tokenizer,
                [r["question"] for r in qa],
                [r["answer"] for r in qa],
                icl=icl,
                max_new_tokens=knowmem_max_new_tokens,
                answer_prefix=answer_prefix,
                batch_size=batch_size,
                progress=progress,
            )
            per_item[f"knowmem_{which}"] = km[which]["per_item"]
        mia = {
            name: mia_scores(model, tokenizer, texts, attacks=MODEL_ATTACKS, k=privleak_k, batch_size=batch_size,
                             progress=progress)
            for name, texts in (("forget", forget_texts), ("holdout", holdout_texts))
        }  # fmt: skip
        aucs = mia_aucs(mia["forget"], mia["holdout"])
        for name, scores in mia.items():
            per_item[f"mia_{name}"] = {a: v.tolist() for a, v in scores.items()}
        features = []
        # open-unlearning's CompletionDataset: prompt + " " + gt tokenised in one call, the prompt's length masked
        for r in verb:
            prompt_len = len(tokenizer(r["prompt"], add_special_tokens=True)["input_ids"])
            ids = tokenizer(r["prompt"] + " " + r["gt"], add_special_tokens=True)["input_ids"]
            features.append({"input_ids": ids, "labels": [-100] * prompt_len + ids[prompt_len:]})
        es = extraction_strength(model, features, pad_id, batch_size=batch_size, progress=progress)
        per_item["extraction_strength"] = es.tolist()

    summary: dict[str, Any] = {
        "forget_verbmem_ROUGE": vm["rouge_l_f1"],
        "forget_knowmem_ROUGE": km["forget"]["rouge_l_f1"],
        "retain_knowmem_ROUGE": km["retain"]["rouge_l_f1"],
        "privleak": privleak_of(aucs["min_k"], retain_auc),
        "extraction_strength": float(es.mean()),
        **{OPEN_UNLEARNING_MIA_KEYS[a]: auc for a, auc in aucs.items()},
    }
    return {
        "benchmark": "muse",
        "model": getattr(model, "name_or_path", None) or None,
        "data": data,
        "summary": summary,
        "muse": {
            "verbmem_f": 100 * summary["forget_verbmem_ROUGE"],
            "knowmem_f": 100 * summary["forget_knowmem_ROUGE"],
            "knowmem_r": 100 * summary["retain_knowmem_ROUGE"],
            "privleak": summary["privleak"],
        },
        "retain_min_k_auc": retain_auc,
        "settings": {
            "batch_size": batch_size,
            "verbmem_max_new_tokens": verbmem_max_new_tokens,
            "knowmem_max_new_tokens": knowmem_max_new_tokens,
            "answer_prefix": answer_prefix,
            "privleak_k": privleak_k,
            "max_items": max_items,
        },
        "per_item": per_item,
        "eval_seconds": time.perf_counter() - start,
    }


def mark_muse_retain(results: dict[str, Any]) -> dict[str, Any]:
    """Scores a retain model's [`evaluate_muse`] results against itself, in place: PrivLeak 0 by construction (its
    own Min-K% AUC is the reference). Returns `results`."""
    results["summary"]["privleak"] = 0.0
    results["muse"]["privleak"] = 0.0
    results["retain_min_k_auc"] = results["summary"]["mia_min_k"]
    return results


def muse_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table of MUSE results (x 100 except PrivLeak, as in MUSE's paper), one row per model.

    Example:
        >>> print(muse_table({"target": {"summary": {"forget_verbmem_ROUGE": 0.9, "privleak": -99.0}}}))
        | model | VerbMem D_f | KnowMem D_f | KnowMem D_r | PrivLeak | ES | Min-K% AUC |
        |---|---|---|---|---|---|---|
        | target | 90.0 | - | - | -99.0 | - | - |
    """
    lines = [
        "| model | " + " | ".join(MUSE_SUMMARY_KEYS.values()) + " |",
        "|---" * (len(MUSE_SUMMARY_KEYS) + 1) + "|",
    ]
    for name, res in rows.items():
        s = res.get("summary", res)
        cells = []
        for key in MUSE_SUMMARY_KEYS:
            v = s.get(key)
            if v is None:
                cells.append("-")
            elif key in ("privleak",):
                cells.append(f"{v:.1f}")
            elif key == "mia_min_k":
                cells.append(f"{v:.3f}")
            else:
                cells.append(f"{100 * v:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
