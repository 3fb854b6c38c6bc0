# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Evaluation room: TOFU metrics, batched scoring and generation shared by every benchmark, and reports.

Evaluation judges a model however it was made: nothing here imports the trainers.

- `tofu`: the TOFU metrics as pure functions on per-item numbers, [`evaluate_tofu`] to run a model, and
  [`TofuEvaluator`] to run many (the data tokenised once).
- `mia`: membership-inference attacks (LOSS, zlib, Min-K%, Min-K%++, reference) on any texts, AUCs, PrivLeak.
- `muse`: the MUSE metrics (VerbMem, KnowMem, PrivLeak, extraction strength) and [`evaluate_muse`].
- `scoring`: batched per-sequence NLL / token log-probs (answers sharing a question scored over one cached question
  pass) and batched greedy generation with a key/value cache (reused by MUSE and MIAs).
- `callbacks`: TOFU / MUSE metrics during training, logged through the Trainer (import from
  `hf_unlearn.eval.callbacks`; it imports transformers).
- `report`: JSON, Markdown tables and trade-off plots.
- `relearn`: the relearning attack (fine-tune a copy on a forget sample, re-evaluate at chosen steps).
- `quantize`: the quantisation probe (round-to-nearest per-group weight quantisation; bitsandbytes on a GPU).
- `metrics/tofu`: the same TOFU metrics as an `evaluate` module, loadable by path ([`TOFU_METRIC_PATH`]; needs the
  `evaluate` extra). Plots need the `plot` extra (matplotlib).
"""

from pathlib import Path

from ..logprobs import per_sequence_nll
from .mia import ATTACKS, MODEL_ATTACKS, mia_auc, mia_aucs, mia_scores, min_k_plus_plus_score, min_k_score, privleak
from .muse import evaluate_muse, extraction_strength, knowmem, muse_table, rouge_l, verbmem
from .quantize import load_bnb_quantized, quantize_model, quantize_tensor
from .relearn import relearn_attack
from .report import load_json, markdown_table, plot_tradeoff, save_json, tofu_table
from .scoring import SequenceScores, generate_greedy, score_sequences
from .tofu import (
    EVAL_SETS,
    TRUTH_RATIO_DEFINITION,
    UTILITY_SETS,
    TofuEvaluator,
    answer_probability,
    evaluate_tofu,
    forget_quality,
    model_utility,
    probability_with_options,
    retain_truth_ratios,
    rouge_l_recall,
    tofu_set_metrics,
    truth_ratio,
    truth_ratio_aggregate,
)


#: Path to pass to `evaluate.load(TOFU_METRIC_PATH, "forget")` (config = evaluation set).
TOFU_METRIC_PATH = str(Path(__file__).parent / "metrics" / "tofu")

__all__ = [
    "ATTACKS",
    "EVAL_SETS",
    "MODEL_ATTACKS",
    "TOFU_METRIC_PATH",
    "TRUTH_RATIO_DEFINITION",
    "UTILITY_SETS",
    "SequenceScores",
    "TofuEvaluator",
    "answer_probability",
    "evaluate_muse",
    "evaluate_tofu",
    "extraction_strength",
    "forget_quality",
    "generate_greedy",
    "knowmem",
    "load_bnb_quantized",
    "load_json",
    "markdown_table",
    "mia_auc",
    "mia_aucs",
    "mia_scores",
    "min_k_plus_plus_score",
    "min_k_score",
    "model_utility",
    "muse_table",
    "per_sequence_nll",
    "plot_tradeoff",
    "privleak",
    "probability_with_options",
    "quantize_model",
    "quantize_tensor",
    "relearn_attack",
    "retain_truth_ratios",
    "rouge_l",
    "rouge_l_recall",
    "save_json",
    "score_sequences",
    "tofu_set_metrics",
    "tofu_table",
    "truth_ratio",
    "truth_ratio_aggregate",
    "verbmem",
]
