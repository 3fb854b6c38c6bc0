# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Speed of the TOFU evaluation: the fast path (`hf_unlearn.eval.TofuEvaluator`) against the previous path, measured
side by side in one process on the same models, with the numbers checked equal.

The previous path is kept here, and only here, as a plain reference loop (`previous_evaluate`): per model and per
set it loads and tokenises the data, scores every sequence (true, paraphrased and perturbed answers, the question
recomputed for each), generates with `model.generate` in left-padded batches that run until every row of the batch
is done, and computes the privacy metrics with two more passes over the forget answers (MIA, extraction strength).
The fast path tokenises once for all models, packs each question with all of its answers into one row (the question
runs once, one forward call per batch), takes the forget set's MIA and extraction-strength numbers from that same
pass, and generates all sets' answers in one pool of batches with a cache from which finished rows are dropped (a
batch's last rows finish together with other batches').

    python benchmarks/bench_eval.py --output benchmarks/results/eval_speed.json

Two scenarios, each run by both paths: `full` evaluates `--models` (default: the world's target, retain90 and base
models) on all four sets with the privacy metrics; `relearn` evaluates the forget set (with privacy) of one model
`--curve_points` times, as a relearning curve or a quantisation probe does (the model is the same each time here;
the work per evaluation is what a curve repeats).

Time per metric: `tokenise` (load + tokenise the data), `probability + truth ratio` (scoring every answer of the four
sets, which for the forget set also gives the MIA scores and extraction strength on the fast path), `ROUGE
(generation)`, `privacy (other passes)` (holdout scoring; on the previous path also the forget MIA and extraction
strength passes), and `metric maths` (the rest). Wall times on a shared machine are loaded figures; the ratio of the
two paths measured in the same run is the number to read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any


PARTS = ("tokenise", "probability + truth ratio", "ROUGE (generation)", "privacy (other passes)", "metric maths")


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", help="Offline mini-TOFU preset ('test', 'default').")
    parser.add_argument("--world", default=None, help="A built world folder instead of the --preset cache.")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["target", "retain90", "base"],
        help="World model names (target, retain90, base, ...) or model folders; 'base' never saw the authors and "
        "answers at length, as an unlearned model does.",
    )
    parser.add_argument("--scenarios", nargs="+", default=["full", "relearn"], help="'full' and/or 'relearn'.")
    parser.add_argument("--curve_points", type=int, default=4, help="Evaluations in the 'relearn' scenario.")
    parser.add_argument("--forget_split", default="forget10", help="Forget split.")
    parser.add_argument("--batch_size", type=int, default=32, help="Batch size of both paths.")
    parser.add_argument("--max_new_tokens", type=int, default=200, help="Greedy generation length (both paths).")
    parser.add_argument("--repeats", type=int, default=1, help="Alternate the two paths this many times; best kept.")
    parser.add_argument("--output", default=None, help="Write the results JSON here (e.g. benchmarks/results/...).")
    return parser.parse_args(input_args)


class Timer:
    """CPU seconds of this process per part, accumulated (one torch thread: on an idle machine, the wall time; on a
    shared one, the work done, which the other processes' load does not inflate)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - start


# ---- the previous path (reference loop) ---------------------------------------------------------------------------


def hf_generate(model: Any, tokenizer: Any, prompts: list[list[int]], max_new_tokens: int, batch_size: int) -> list:
    """Greedy generation with `model.generate`, length-sorted left-padded batches (the previous `generate_greedy`)."""
    import torch
    from transformers import GenerationConfig

    from hf_unlearn.data import pad_batch

    config = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=model.generation_config.eos_token_id or tokenizer.eos_token_id,
    )
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    out: list[str | None] = [None] * len(prompts)
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            batch = pad_batch(
                [{"input_ids": prompts[i], "attention_mask": [1] * len(prompts[i])} for i in idx],
                tokenizer.pad_token_id,
                padding_side="left",
                keys=("input_ids", "attention_mask"),
            )
            new = model.generate(**batch, generation_config=config)[:, batch["input_ids"].shape[1] :]
            for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True)):
                out[i] = text.strip()
    return out


def previous_evaluate(
    model: Any, tokenizer: Any, data: str, args: argparse.Namespace, timer: Timer, eval_sets: tuple[str, ...]
) -> dict:
    """One model through the previous path: everything loaded, tokenised and scored again for this model."""
    from hf_unlearn.data.templates import get_template, tokenize_prompt, tokenize_qa
    from hf_unlearn.data.tofu import PERTURBED_COLUMNS, QA_COLUMNS
    from hf_unlearn.eval.mia import (
        MODEL_ATTACKS,
        OPEN_UNLEARNING_MIA_KEYS,
        mia_aucs,
        mia_scores_from_features,
        scored_text,
    )
    from hf_unlearn.eval.muse import extraction_strength
    from hf_unlearn.eval.scoring import score_sequences
    from hf_unlearn.eval.tofu import (
        EVAL_SETS,
        OPTION_SETS,
        _context_length,
        _holdout_rows,
        _load_set,
        _split_name,
        _tokenize_set,
        _utility_terms,
        model_utility,
        tofu_set_metrics,
    )

    model.eval()
    pad = tokenizer.pad_token_id
    with timer.part("tokenise"):
        tpl = get_template("auto", tokenizer)
        ctx = _context_length(model, tokenizer)
    sets, per_item = {}, {}
    for eval_set in [s for s in EVAL_SETS if s in eval_sets]:
        with timer.part("tokenise"):
            split = _split_name(eval_set, args.forget_split, "retain_perturbed")
            rows = _load_set(data, split, QA_COLUMNS + PERTURBED_COLUMNS[eval_set]).to_list()
            features, ans, para, pert = _tokenize_set(rows, eval_set, split, tokenizer, tpl, ctx)
            prompts = [tokenize_prompt(tokenizer, r["question"], tpl) for r in rows]
        with timer.part("probability + truth ratio"):
            nll = score_sequences(model, features, pad, batch_size=args.batch_size).nll.numpy()
        with timer.part("ROUGE (generation)"):
            generations = hf_generate(model, tokenizer, prompts, args.max_new_tokens, args.batch_size)
        with timer.part("metric maths"):
            agg, items = tofu_set_metrics(
                eval_set,
                nll[ans],
                [nll[i].tolist() for i in pert],
                nll_paraphrased=None if eval_set in OPTION_SETS else nll[para],
                generations=generations,
                references=[r["answer"] for r in rows],
            )
        sets[eval_set], per_item[eval_set] = agg, {**items, "nll_answer": nll[ans].tolist(), "generation": generations}
        if eval_set == "forget":
            forget_rows = rows
    with timer.part("tokenise"):
        holdout = _holdout_rows(data, args.forget_split, None, required=True)
        feats = {
            name: [tokenize_qa(tokenizer, r["question"], r["answer"], tpl, max_length=ctx) for r in rows]
            for name, rows in (("forget", forget_rows), ("holdout", holdout))
        }
    with timer.part("privacy (other passes)"):
        mia = {
            name: mia_scores_from_features(
                model,
                feats[name],
                pad,
                scored_texts=[scored_text(tokenizer, f["labels"]) for f in feats[name]],
                attacks=MODEL_ATTACKS,
                k=0.4,
                batch_size=args.batch_size,
            )
            for name in ("forget", "holdout")
        }
        es = extraction_strength(model, feats["forget"], pad, batch_size=args.batch_size)
    with timer.part("metric maths"):
        aucs = mia_aucs(mia["forget"], mia["holdout"])
        summary = {f"{s}_{k}": v[k] for s, v in sets.items() for k in ("probability", "rouge_l_recall", "truth_ratio")}
        if len(sets) == len(EVAL_SETS):
            summary["model_utility"] = model_utility(_utility_terms(sets))
        summary["extraction_strength"] = float(es.mean())
        summary.update({OPEN_UNLEARNING_MIA_KEYS[a]: v for a, v in aucs.items()})
    return {"summary": summary, "per_item": per_item}


# ---- the fast path, timed per part --------------------------------------------------------------------------------


@contextlib.contextmanager
def timed_fast_path(timer: Timer) -> Iterator[None]:
    """Times the fast path's parts by wrapping the scoring functions the evaluator calls (benchmark only)."""
    from hf_unlearn.eval import scoring, tofu

    originals = {
        "score_continuations": scoring.score_continuations,
        "score_sequences": scoring.score_sequences,
        "generate_greedy": scoring.generate_greedy,
    }
    original_tokenize = tofu.TofuEvaluator._tokenize
    parts = {
        "score_continuations": "probability + truth ratio",
        "score_sequences": "privacy (other passes)",
        "generate_greedy": "ROUGE (generation)",
    }

    def wrap(name: str):
        def wrapped(*a, **k):
            with timer.part(parts[name]):
                return originals[name](*a, **k)

        return wrapped

    def tokenize(self, ctx):
        with timer.part("tokenise"):
            return original_tokenize(self, ctx)

    for name in originals:
        setattr(scoring, name, wrap(name))
    tofu.TofuEvaluator._tokenize = tokenize
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(scoring, name, fn)
        tofu.TofuEvaluator._tokenize = original_tokenize


def fast_evaluate_all(
    models: dict, tokenizer: Any, data: str, args: argparse.Namespace, timer: Timer, eval_sets: tuple[str, ...]
) -> dict:
    from hf_unlearn.eval import TofuEvaluator

    with timed_fast_path(timer):
        start = time.process_time()
        with timer.part("tokenise"):
            evaluator = TofuEvaluator(
                tokenizer,
                data,
                forget_split=args.forget_split,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
                eval_sets=eval_sets,
                privacy=True,
            )
        out = {name: evaluator(model) for name, model in models.items()}
        total = time.process_time() - start
    timer.seconds["metric maths"] += total - sum(timer.seconds.values())
    return out


# ---- comparison ---------------------------------------------------------------------------------------------------


def compare(previous: dict, fast: dict) -> dict[str, Any]:
    """Largest differences between the two paths' numbers, and how many generations are identical."""
    import numpy as np

    keys = [k for k in previous["summary"] if fast["summary"].get(k) is not None]
    diff = max(abs(previous["summary"][k] - fast["summary"][k]) for k in keys)
    nll_diff, same, total = 0.0, 0, 0
    for eval_set, items in previous["per_item"].items():
        a, b = np.array(items["nll_answer"]), np.array(fast["per_item"][eval_set]["nll_answer"])
        nll_diff = max(nll_diff, float(np.abs(a - b).max()))
        same += sum(x == y for x, y in zip(items["generation"], fast["per_item"][eval_set]["generation"]))
        total += len(items["generation"])
    return {
        "max_abs_diff_summary": diff,
        "max_abs_diff_nll_answer": nll_diff,
        "identical_generations": same,
        "generations": total,
    }


def run_scenario(
    models: dict, tokenizer: Any, data: str, args: argparse.Namespace, eval_sets: tuple[str, ...]
) -> dict[str, Any]:
    """Both paths on `models`, alternated `--repeats` times (the fastest run of each kept); parts, totals, checks."""
    best: dict[str, dict[str, Any]] = {}
    for repeat in range(args.repeats):
        runs = {}
        for path in ("previous", "fast"):  # alternated, so that load changes hit both
            timer = Timer()
            start, wall = time.process_time(), time.perf_counter()
            if path == "previous":
                results = {
                    name: previous_evaluate(m, tokenizer, data, args, timer, eval_sets) for name, m in models.items()
                }
            else:
                results = fast_evaluate_all(models, tokenizer, data, args, timer, eval_sets)
            runs[path] = {
                "total": time.process_time() - start,
                "wall": time.perf_counter() - wall,
                **timer.seconds,
                "results": results,
            }
            print(
                f"repeat {repeat} {path}: {runs[path]['total']:.2f} CPU s ({runs[path]['wall']:.2f} s wall)",
                flush=True,
            )
        for path, run in runs.items():
            if path not in best or run["total"] < best[path]["total"]:
                best[path] = run
    rows = []
    for part in (*PARTS, "total", "wall"):
        prev, fast = best["previous"].get(part, 0.0), best["fast"].get(part, 0.0)
        rows.append(
            {
                "part": part,
                "previous_s": round(prev, 3),
                "fast_s": round(fast, 3),
                "speedup": prev / fast if fast else None,
            }
        )
    checks = {name: compare(best["previous"]["results"][name], best["fast"]["results"][name]) for name in models}
    return {"models": list(models), "eval_sets": list(eval_sets), "parts": rows, "checks": checks}


def main(args: argparse.Namespace) -> dict:
    import torch

    from hf_unlearn.eval.tofu import EVAL_SETS
    from hf_unlearn.synthetic import TofuWorld, build_tofu_world

    torch.set_num_threads(1)
    world = TofuWorld.from_path(args.world) if args.world else build_tofu_world(args.preset)
    tokenizer = world.load_tokenizer()
    models = {}
    for name in args.models:
        if os.path.isdir(name):
            from transformers import AutoModelForCausalLM

            models[name] = AutoModelForCausalLM.from_pretrained(name).eval()
        else:
            models[name] = world.load_model(name).eval()
    data = str(world.path)
    scenarios = {}
    for scenario in args.scenarios:
        if scenario == "full":
            chosen, eval_sets = models, EVAL_SETS
        elif scenario == "relearn":
            first = next(iter(models))
            chosen = {f"{first} #{i + 1}": models[first] for i in range(args.curve_points)}
            eval_sets = ("forget",)
        else:
            raise ValueError(f"unknown scenario {scenario!r}; choose 'full' and/or 'relearn'.")
        scenarios[scenario] = run_scenario(chosen, tokenizer, data, args, eval_sets)
        print(f"[{scenario}] | part | previous (CPU s) | fast (CPU s) | speed-up |\n|---|---|---|---|")
        for r in scenarios[scenario]["parts"]:
            print(f"| {r['part']} | {r['previous_s']:.2f} | {r['fast_s']:.2f} | {r['speedup']:.2f}x |")
        print(json.dumps(scenarios[scenario]["checks"], indent=1))
    report = {
        "benchmark": "tofu evaluation speed",
        "settings": {
            **vars(args),
            "world": world.path.name,
            "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(),
            "command": "python benchmarks/bench_eval.py "
            + " ".join(
                f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in vars(args).items()
                if v is not None and k != "output"
            ),
        },
        "scenarios": scenarios,
    }
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(parse_args())
