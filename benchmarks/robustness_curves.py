# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Is it forgotten or hidden? Relearning curves and quantisation for GA, GradDiff, NPO and SimNPO on mini-TOFU or
mini-MUSE, over several unlearning seeds, between the target and the retain model.

For each method and seed the target is unlearned with the main job and the method's offline-world recipe
(`hf_unlearn.scripts.unlearn_tofu`; with `--benchmark muse`, `hf_unlearn.scripts.muse`, the job of
`examples/simnpo_muse.py`); runs already in `--output_dir` are reused, so an interrupted call resumes. Then every
model (target, retain, each unlearned model) is attacked with `hf_unlearn.scripts.robustness.probe_model`:
relearning on a seeded sample of the forget set (relearn seed = the unlearning seed; target and retain once per
seed), evaluated at each of `--relearn_steps`, and round-to-nearest weight quantisation at each of `--quant_bits`.
TOFU: the forget split's metrics through one `TofuEvaluator` (tokenised once); MUSE: relearning on the forget
articles (every token scored) and MUSE's forget metrics (VerbMem, KnowMem, PrivLeak, extraction strength). Both
against the unmodified retain model.

    python benchmarks/robustness_curves.py        # default world, 4 methods x 3 seeds, steps 0,10,25,50, bits 8,4
    python benchmarks/robustness_curves.py --benchmark muse    # the same on the default mini-MUSE world

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
#: Per benchmark: the defaults that differ (relearning on 4 of MUSE's 16 forget articles, 2 per step, gives each
#: sampled item the exposure of TOFU's 8 of 80 QA pairs, 4 per step: steps x batch / sample = 25 passes at 50 steps).
BENCHMARK_DEFAULTS: dict[str, dict[str, Any]] = {
    "tofu": {"relearn_samples": 8, "relearn_batch_size": 4, "name": "robustness_curves"},
    "muse": {"relearn_samples": 4, "relearn_batch_size": 2, "name": "robustness_curves_muse"},
}
#: Options that only the TOFU evaluation has (MUSE has one forget set and fixed generation lengths) -> TOFU default.
TOFU_ONLY = {"forget_split": "forget10", "eval_max_new_tokens": 64}


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--benchmark",
        default="tofu",
        choices=sorted(BENCHMARK_DEFAULTS),
        help="'tofu': a mini-TOFU forget split and its forget metrics; 'muse': the mini-MUSE forget articles and "
        "MUSE's forget metrics, each method unlearned with its mini-MUSE recipe (hf_unlearn.scripts.muse).",
    )
    parser.add_argument("--preset", default="default", help="Offline world preset ('test', 'default').")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="Unlearning methods.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="Unlearning (and relearning) seeds.")
    parser.add_argument("--forget_split", default=None, help="TOFU forget split (default forget10; TOFU only).")
    parser.add_argument("--relearn_steps", default="0,10,25,50", help="Relearn steps at which to evaluate.")
    parser.add_argument(
        "--relearn_samples", type=int, default=None, help="Forget items in the relearning sample (TOFU 8, MUSE 4)."
    )
    parser.add_argument("--relearn_lr", type=float, default=1e-4, help="Relearning learning rate (AdamW).")
    parser.add_argument(
        "--relearn_batch_size", type=int, default=None, help="Items per relearning step (TOFU 4, MUSE 2)."
    )
    parser.add_argument("--quant_bits", default="8,4", help="Weight bit-widths (round-to-nearest, per group).")
    parser.add_argument("--quant_group_size", type=int, default=64, help="Input features per quantisation scale.")
    parser.add_argument(
        "--eval_max_new_tokens",
        type=int,
        default=None,
        help="Greedy generation length for ROUGE (default 64; TOFU only: MUSE's lengths are fixed, 128 and 32).",
    )
    parser.add_argument(
        "--output_dir", default=None, help="Models and runs (default outputs/robustness_curves[_muse])."
    )
    parser.add_argument(
        "--results", default=None, help="Results JSON (default benchmarks/results/robustness_curves[_muse].json)."
    )
    parser.add_argument(
        "--plot", default=None, help="Plot (default benchmarks/results/robustness_curves[_muse].png; '' for none)."
    )
    args = parser.parse_args(input_args)
    defaults = BENCHMARK_DEFAULTS[args.benchmark]
    if args.benchmark == "muse":
        given = [f"--{k}" for k in TOFU_ONLY if getattr(args, k) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} applies to --benchmark tofu only (MUSE has one forget set and fixed generation "
                "lengths); drop it."
            )
    else:
        for key, value in TOFU_ONLY.items():
            setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    for key in ("relearn_samples", "relearn_batch_size"):
        setattr(args, key, defaults[key] if getattr(args, key) is None else getattr(args, key))
    args.output_dir = args.output_dir or os.path.join("outputs", defaults["name"])
    for key, ext in (("results", "json"), ("plot", "png")):
        if getattr(args, key) is None:
            setattr(args, key, os.path.join("benchmarks", "results", f"{defaults['name']}.{ext}"))
    return args


def unlearned_model(method: str, seed: int, args: argparse.Namespace, retain_results: str | None = None) -> Path:
    """The unlearned model of (method, seed), trained with the main job unless it is already there (MUSE: with the
    retain model's evaluation from `retain_results`, a JSON path)."""
    run_dir = Path(args.output_dir) / "unlearned" / method / f"seed{seed}"
    if not (run_dir / "model" / "model.safetensors").is_file():
        argv = ["--preset", args.preset, "--disable_tqdm", "true"]
        argv += ["--seed", str(seed), "--output_dir", str(run_dir), "--overwrite_output_dir", "true"]
        if args.benchmark == "muse":
            from hf_unlearn.scripts import muse

            argv += ["--method", method, "--skip_reference_evals", "true", "--retain_results", str(retain_results)]
            muse.main(*muse.parse_args(argv))
        else:
            from hf_unlearn.scripts import unlearn_tofu

            argv += ["--forget_split", args.forget_split, "--eval_points", "0"]
            argv += ["--eval_max_new_tokens", str(args.eval_max_new_tokens)]
            unlearn_tofu.main(*unlearn_tofu.parse_args(argv, method=method), method=method)
    return run_dir / "model"


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def aggregate(runs: dict[str, list[dict[str, Any]]], metrics: list[str]) -> dict[str, Any]:
    """Per model: mean and standard deviation over seeds of each of `metrics` at each relearn step and bit-width."""
    out = {}
    for label, seeds in runs.items():
        steps = [p["step"] for p in seeds[0]["relearn"]]
        bits = [q["bits"] for q in seeds[0]["quantization"]]
        out[label] = {
            "relearn": {
                str(step): {m: _mean_std([r["relearn"][i][m] for r in seeds]) for m in metrics}
                for i, step in enumerate(steps)
            },
            "quantization": {
                str(b): {m: _mean_std([r["quantization"][i][m] for r in seeds]) for m in metrics}
                for i, b in enumerate(bits)
            },
        }
    return out


def plot(summary: dict[str, Any], path: str, title: str, metrics: list[str]) -> None:
    from hf_unlearn.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, metric in zip(axes.flat, metrics):
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

    from hf_unlearn.eval import TofuEvaluator, save_json
    from hf_unlearn.eval.relearn import check_relearn_steps
    from hf_unlearn.scripts.robustness import (
        FORGET_METRICS,
        MUSE_FORGET_METRICS,
        MuseForgetEvaluator,
        RobustnessArguments,
        probe_model,
    )

    torch.set_num_threads(1)
    steps = check_relearn_steps(args.relearn_steps)
    bits = [int(b) for b in args.quant_bits.split(",") if b.strip()]
    muse = args.benchmark == "muse"
    if muse:
        from hf_unlearn.data import load_muse
        from hf_unlearn.eval.muse import mark_muse_retain
        from hf_unlearn.synthetic.muse import build_muse_world

        world: Any = build_muse_world(args.preset, num_workers=min(2, os.cpu_count() or 1))
        retain_path = str(world.model_path("retain"))
        evaluator: Any = MuseForgetEvaluator(world.load_tokenizer(), str(world.path), batch_size=32)
        names = MUSE_FORGET_METRICS
        forget_rows = load_muse(world.path, "raw", "forget").to_list()
        what = "the mini-MUSE forget articles"
    else:
        from hf_unlearn.data import load_tofu, retain_split_for
        from hf_unlearn.synthetic import build_tofu_world

        world = build_tofu_world(args.preset)
        retain_path = str(world.model_path(retain_split_for(args.forget_split)))
        evaluator = TofuEvaluator(
            world.load_tokenizer(),
            world,
            forget_split=args.forget_split,
            batch_size=32,
            max_new_tokens=args.eval_max_new_tokens,
            eval_sets=("forget",),
        )
        names = FORGET_METRICS
        forget_rows = load_tofu(world.path, args.forget_split).to_list()
        what = args.forget_split
    metrics = list(names)
    retain_results = evaluator(AutoModelForCausalLM.from_pretrained(retain_path))
    retain_json = None
    if muse:  # the MUSE job reads the retain model's evaluation (PrivLeak's reference AUC) from a file
        retain_json = Path(args.output_dir) / "eval_retain.json"
        save_json(mark_muse_retain(retain_results), retain_json)
    models = {(m, s): str(unlearned_model(m, s, args, retain_json)) for m in args.methods for s in args.seeds}
    reference = {"target": str(world.model_path("target")), "retain": retain_path}
    options = RobustnessArguments(
        relearn_samples=args.relearn_samples,
        relearn_lr=args.relearn_lr,
        relearn_batch_size=args.relearn_batch_size,
        quant_group_size=args.quant_group_size,
    )
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
                probe_model(
                    path, evaluator, retain_results, forget_rows, options, steps, bits, relearn_seed=seed, names=names
                )
            )
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(entry, indent=1))
        runs.setdefault(label, []).append(entry)
    summary = aggregate(runs, metrics)
    command = "python benchmarks/robustness_curves.py" + (" --benchmark muse" if muse else "")
    report = {
        "benchmark": f"{args.benchmark} robustness curves",
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("output_dir", "results", "plot")},
            "world": world.path.name,
            "metrics": metrics,
            "command": command + ("" if args.preset == "default" else f" --preset {args.preset}"),
            "seconds_this_call": round(time.perf_counter() - start, 1),  # runs reused from --output_dir cost 0
        },
        "summary": summary,
        "runs": {label: [{k: v for k, v in r.items() if k != "path"} for r in rs] for label, rs in runs.items()},
    }
    if muse:  # each unlearned model's full MUSE evaluation by the job (KnowMem on retain: what unlearning kept)
        report["unlearning"] = {
            m: [
                {"seed": s, **json.loads((Path(models[m, s]).parent / "results.json").read_text())["unlearned"]}
                for s in args.seeds
            ]
            for m in args.methods
        }
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(report, indent=1) + "\n")
    if args.plot:
        plot(summary, args.plot, f"Relearning on {what}, mean ± std over seeds {args.seeds}", metrics)
    for label, entry in summary.items():
        first = metrics[0]
        curve = " ".join(f"{s}:{v[first]['mean']:.3f}" for s, v in entry["relearn"].items())
        quant = " ".join(f"{b}b:{v[first]['mean']:.3f}" for b, v in entry["quantization"].items())
        print(f"{label:10s} {first} by step {curve} | {quant}")
    return report


if __name__ == "__main__":
    main(parse_args())
