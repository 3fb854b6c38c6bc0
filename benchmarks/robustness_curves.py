# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Is it forgotten or hidden? Relearning curves and quantisation for GA, GradDiff, NPO and SimNPO on mini-TOFU, over
several unlearning seeds, between the target and the retain model.

For each method and seed the target is unlearned with the main job (`hf_unlearn.scripts.unlearn_tofu`, the method's
offline-world recipe; runs already in `--output_dir` are reused, so an interrupted call resumes). Then every model
(target, retain, each unlearned model) is attacked with `hf_unlearn.scripts.robustness.probe_model`: relearning on a
seeded sample of the forget set (relearn seed = the unlearning seed; target and retain once per seed), evaluated at
each of `--relearn_steps`, and round-to-nearest weight quantisation at each of `--quant_bits`. Every evaluation is
the TOFU forget set through one `TofuEvaluator` (tokenised once), against the unmodified retain model.

    python benchmarks/robustness_curves.py        # default world, 4 methods x 3 seeds, steps 0,10,25,50, bits 8,4

Writes `--results` (JSON: per model and seed, the curves and quantisation results, and their means and standard
deviations over seeds) and a plot of the four forget metrics against relearn steps (`--plot`), and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any


METHODS = ("ga", "graddiff", "npo", "simnpo")
METRICS = ("forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_truth_ratio", "forget_quality")


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", help="Offline mini-TOFU preset ('test', 'default').")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="Unlearning methods.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="Unlearning (and relearning) seeds.")
    parser.add_argument("--forget_split", default="forget10", help="Forget split.")
    parser.add_argument("--relearn_steps", default="0,10,25,50", help="Relearn steps at which to evaluate.")
    parser.add_argument("--relearn_samples", type=int, default=8, help="Forget items in the relearning sample.")
    parser.add_argument("--relearn_lr", type=float, default=1e-4, help="Relearning learning rate (AdamW).")
    parser.add_argument("--relearn_batch_size", type=int, default=4, help="Items per relearning step.")
    parser.add_argument("--quant_bits", default="8,4", help="Weight bit-widths (round-to-nearest, per group).")
    parser.add_argument("--quant_group_size", type=int, default=64, help="Input features per quantisation scale.")
    parser.add_argument("--eval_max_new_tokens", type=int, default=64, help="Greedy generation length for ROUGE.")
    parser.add_argument("--output_dir", default=os.path.join("outputs", "robustness_curves"), help="Models, runs.")
    parser.add_argument(
        "--results", default=os.path.join("benchmarks", "results", "robustness_curves.json"), help="Results JSON."
    )
    parser.add_argument(
        "--plot", default=os.path.join("benchmarks", "results", "robustness_curves.png"), help="Plot ('' for none)."
    )
    return parser.parse_args(input_args)


def unlearned_model(method: str, seed: int, args: argparse.Namespace) -> Path:
    """The unlearned model of (method, seed), trained with the main job unless it is already there."""
    from hf_unlearn.scripts import unlearn_tofu

    run_dir = Path(args.output_dir) / "unlearned" / method / f"seed{seed}"
    if not (run_dir / "model" / "model.safetensors").is_file():
        argv = ["--preset", args.preset, "--forget_split", args.forget_split, "--eval_points", "0"]
        argv += ["--eval_max_new_tokens", str(args.eval_max_new_tokens), "--disable_tqdm", "true"]
        argv += ["--seed", str(seed), "--output_dir", str(run_dir), "--overwrite_output_dir", "true"]
        unlearn_tofu.main(*unlearn_tofu.parse_args(argv, method=method), method=method)
    return run_dir / "model"


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def aggregate(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per model: mean and standard deviation over seeds of each metric at each relearn step and bit-width."""
    out = {}
    for label, seeds in runs.items():
        steps = [p["step"] for p in seeds[0]["relearn"]]
        bits = [q["bits"] for q in seeds[0]["quantization"]]
        out[label] = {
            "relearn": {
                str(step): {m: _mean_std([r["relearn"][i][m] for r in seeds]) for m in METRICS}
                for i, step in enumerate(steps)
            },
            "quantization": {
                str(b): {m: _mean_std([r["quantization"][i][m] for r in seeds]) for m in METRICS}
                for i, b in enumerate(bits)
            },
        }
    return out


def plot(summary: dict[str, Any], path: str, title: str) -> None:
    from hf_unlearn.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, metric in zip(axes.flat, METRICS):
        for label, entry in summary.items():
            steps = [int(s) for s in entry["relearn"]]
            mean = [entry["relearn"][str(s)][metric]["mean"] for s in steps]
            std = [entry["relearn"][str(s)][metric]["std"] for s in steps]
            style = {"target": {"color": "grey", "linestyle": "--"}, "retain": {"color": "black", "linestyle": "--"}}
            style = style.get(label, {})
            ax.errorbar(steps, mean, yerr=std, marker="o", capsize=3, label=label, **style)
        ax.set_xlabel("relearn steps")
        ax.set_ylabel(metric)
        if metric == "forget_quality":
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from hf_unlearn.data import load_tofu, retain_split_for
    from hf_unlearn.eval import TofuEvaluator
    from hf_unlearn.eval.relearn import check_relearn_steps
    from hf_unlearn.scripts.robustness import RobustnessArguments, probe_model
    from hf_unlearn.synthetic import build_tofu_world

    torch.set_num_threads(1)
    steps = check_relearn_steps(args.relearn_steps)
    bits = [int(b) for b in args.quant_bits.split(",") if b.strip()]
    world = build_tofu_world(args.preset)
    models = {(m, s): str(unlearned_model(m, s, args)) for m in args.methods for s in args.seeds}
    retain_path = str(world.model_path(retain_split_for(args.forget_split)))
    reference = {"target": str(world.model_path("target")), "retain": retain_path}
    options = RobustnessArguments(
        relearn_samples=args.relearn_samples,
        relearn_lr=args.relearn_lr,
        relearn_batch_size=args.relearn_batch_size,
        quant_group_size=args.quant_group_size,
    )
    tokenizer = world.load_tokenizer()
    evaluator = TofuEvaluator(
        tokenizer,
        world,
        forget_split=args.forget_split,
        batch_size=32,
        max_new_tokens=args.eval_max_new_tokens,
        eval_sets=("forget",),
    )
    retain_results = evaluator(AutoModelForCausalLM.from_pretrained(retain_path))
    forget_rows = load_tofu(world.path, args.forget_split).to_list()
    start = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {}
    jobs = [(label, s, path) for label, path in reference.items() for s in args.seeds]
    jobs += [(m, s, path) for (m, s), path in models.items()]
    for label, seed, path in jobs:
        cached = Path(args.output_dir) / "curves" / label / f"seed{seed}.json"
        if cached.is_file():
            entry = json.loads(cached.read_text())
        else:
            print(f"[{label} seed {seed}] {path}", flush=True)
            entry = {"seed": seed, "path": path}
            entry.update(
                probe_model(path, evaluator, retain_results, forget_rows, options, steps, bits, relearn_seed=seed)
            )
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(entry, indent=1))
        runs.setdefault(label, []).append(entry)
    summary = aggregate(runs)
    report = {
        "benchmark": "tofu robustness curves",
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("output_dir", "results", "plot")},
            "world": world.path.name,
            "command": "python benchmarks/robustness_curves.py",
            "seconds_this_call": round(time.perf_counter() - start, 1),  # runs reused from --output_dir cost 0
        },
        "summary": summary,
        "runs": {label: [{k: v for k, v in r.items() if k != "path"} for r in rs] for label, rs in runs.items()},
    }
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    if args.plot:
        plot(summary, args.plot, f"Relearning on {args.forget_split}, mean ± std over seeds {args.seeds}")
    for label, entry in summary.items():
        prob = " ".join(f"{s}:{v['forget_Q_A_Prob']['mean']:.3f}" for s, v in entry["relearn"].items())
        quant = " ".join(f"{b}b:{v['forget_Q_A_Prob']['mean']:.3f}" for b, v in entry["quantization"].items())
        print(f"{label:10s} forget_Q_A_Prob by step {prob} | {quant}")
    return report


if __name__ == "__main__":
    main(parse_args())
