# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""GA, GradDiff, NPO and SimNPO on the mini-TOFU world over several seeds: medians of forget quality and utility.

Runs the main job (`hf_unlearn.scripts.unlearn_tofu`, the code behind `examples/simnpo_tofu.py`) once per (method,
seed): the target and retain models are evaluated once, then each run unlearns forget10 from the target and evaluates
the result. Methods take their registered offline-world recipe (`hf_unlearn.scripts.WORLD_RECIPES`) unless overridden
with `method:key=value,...` (e.g. `ga:learning_rate=3e-4`).

    python benchmarks/bench_tofu_methods.py --preset default --seeds 0 1 2 --output_dir outputs/tofu_methods

Runs already finished in `--output_dir` (their `results.json` exists) are reused, so an interrupted call can be
resumed with the same command. Writes `summary.json` and `summary.md` (per method: median forget quality, its ratio
to the target's, median model utility and its ratio, and whether the run meets ">= 100x forget quality at >= 0.9x
utility").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


#: Membership-inference numbers of each run (forget vs holdout answers, k = 0.4; PrivLeak against the retain model),
#: kept in summary.json beside forget quality and utility.
PRIVACY_KEYS = ("mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus", "privleak", "extraction_strength")


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", help="Offline world preset ('test', 'default', 'tofu').")
    parser.add_argument("--world", default=None, help="A built world folder to use instead of the --preset cache.")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["simnpo", "npo", "graddiff", "ga"],
        help="Methods (simnpo, npo, graddiff, ga), each optionally with overrides: 'ga:learning_rate=3e-4'.",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="Training / pairing seeds.")
    parser.add_argument("--forget_split", default="forget10", help="Forget split.")
    parser.add_argument(
        "--output_dir", default=os.path.join("outputs", "tofu_methods", time.strftime("%Y%m%d-%H%M%S"))
    )
    parser.add_argument("--eval_max_new_tokens", type=int, default=64, help="Greedy generation length for ROUGE.")
    return parser.parse_args(input_args)


def _method_spec(spec: str) -> tuple[str, str, list[str]]:
    method, _, overrides = spec.partition(":")
    flags: list[str] = []
    for item in filter(None, overrides.split(",")):
        key, _, value = item.partition("=")
        flags += [f"--{key}", value]
    label = spec.replace(":", "_").replace(",", "_").replace("=", "")
    return method, label, flags


def main(args: argparse.Namespace) -> dict:
    from hf_unlearn.scripts import unlearn_tofu

    out = Path(args.output_dir)
    if (out / "summary.json").exists():
        raise ValueError(f"{out} already holds summary.json; choose a new --output_dir.")
    common = ["--preset", args.preset, "--forget_split", args.forget_split, "--eval_points", "0"]
    common += ["--dataset", args.world] if args.world else []
    common += ["--eval_max_new_tokens", str(args.eval_max_new_tokens), "--disable_tqdm", "true"]
    runs: dict[str, list[dict]] = {}
    reference: dict | None = None
    retain_json = None
    for spec in args.methods:
        method, label, flags = _method_spec(spec)
        for seed in args.seeds:
            run_dir = out / label / f"seed{seed}"
            argv = [*common, *flags, "--seed", str(seed), "--output_dir", str(run_dir)]
            if retain_json is not None:
                argv += ["--retain_results", str(retain_json), "--skip_reference_evals"]
            start = time.perf_counter()
            if (run_dir / "results.json").is_file():  # finished by an interrupted earlier call: reuse it
                result = json.loads((run_dir / "results.json").read_text())
                print(f"{label} seed {seed}: reusing {run_dir / 'results.json'}", flush=True)
            else:
                result = unlearn_tofu.main(*unlearn_tofu.parse_args(argv, method=method), method=method)
            if reference is None:
                reference = {"target": result["target"], "retain": result["retain"]}
                retain_json = run_dir / "eval_retain.json"
            row = {
                "seed": seed,
                "forget_quality": result["unlearned"]["forget_quality"],
                "model_utility": result["unlearned"]["model_utility"],
                "forget_rouge_l_recall": result["unlearned"].get("forget_rouge_l_recall"),
                **{k: result["unlearned"][k] for k in PRIVACY_KEYS if k in result["unlearned"]},
                "train_seconds": result["settings"]["train_seconds"],
                "run_seconds": round(time.perf_counter() - start, 1),
                "hyperparameters": result["settings"]["hyperparameters"],
            }
            runs.setdefault(label, []).append(row)
            print(f"{label} seed {seed}: FQ {row['forget_quality']:.3g} MU {row['model_utility']:.4f}", flush=True)

    target, retain = reference["target"], reference["retain"]
    summary = {}
    lines = [
        f"mini-TOFU `{args.preset}` world, {args.forget_split}; medians over seeds {args.seeds}.",
        (
            f"Target: FQ {target['forget_quality']:.3g}, MU {target['model_utility']:.4f}. "
            f"Retain: FQ {retain['forget_quality']:.3g}, MU {retain['model_utility']:.4f}."
        ),
        "",
        "| method | FQ per seed | median FQ | x target | median MU | x target | forget ROUGE-L | >=100x FQ & >=0.9x MU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, rows in runs.items():
        fq = statistics.median(r["forget_quality"] for r in rows)
        mu = statistics.median(r["model_utility"] for r in rows)
        rouge = statistics.median(r["forget_rouge_l_recall"] for r in rows)
        fq_ratio = fq / target["forget_quality"] if target["forget_quality"] else float("inf")
        mu_ratio = mu / target["model_utility"]
        ok = fq_ratio >= 100 and mu_ratio >= 0.9
        summary[label] = {
            "median_forget_quality": fq,
            "forget_quality_x_target": fq_ratio,
            "median_model_utility": mu,
            "model_utility_x_target": mu_ratio,
            "median_forget_rouge_l_recall": rouge,
            "passes": ok,
            "runs": rows,
        }
        per_seed = " / ".join(f"{r['forget_quality']:.2g}" for r in rows)
        lines.append(
            f"| {label} | {per_seed} | {fq:.3g} | {fq_ratio:.3g} | {mu:.4f} | {mu_ratio:.3f} | {rouge:.3f} | "
            f"{'yes' if ok else 'no'} |"
        )
    table = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps({"target": target, "retain": retain, "methods": summary, "settings": vars(args)}, indent=2)
    )
    (out / "summary.md").write_text(table + "\n")
    print(table)
    return summary


if __name__ == "__main__":
    main(parse_args())
