# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearning methods side by side on the mini-MUSE world: VerbMem, KnowMem, PrivLeak and MIA AUCs over seeds.

Runs `hf_unlearn.scripts.muse` (the logic of `examples/simnpo_muse.py`) once per method and seed, evaluates the
target, the retain model and the second retain seed once, and writes `summary.json` and `summary.md` (mean ± std
over seeds; each unlearned run with its seed, beta, learning rate and epochs) in `--output_dir`:

    python benchmarks/muse_methods.py --output_dir muse_bench --preset default --methods simnpo npo --seeds 0 1 2 3 4

Copy `summary.json` to `benchmarks/results/muse_methods.json` (with `--extra "--learning_rate 5e-4"`:
`muse_methods_lr5e-4.json`) and run `python scripts/readme_tables.py` to refresh the README's table.
"""

import argparse
import json
import shlex
from pathlib import Path

import numpy as np


# summary key -> (column, scale, decimals); ROUGE and ES x 100 as in MUSE's paper.
KEYS = {
    "forget_verbmem_ROUGE": ("VerbMem D_f", 100, 1),
    "forget_knowmem_ROUGE": ("KnowMem D_f", 100, 1),
    "retain_knowmem_ROUGE": ("KnowMem D_r", 100, 1),
    "privleak": ("PrivLeak", 1, 1),
    "extraction_strength": ("ES", 100, 1),
    "mia_min_k": ("Min-K% AUC", 1, 3),
}


def parse_args(input_args=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="Where runs and the summary go (must not exist yet).")
    parser.add_argument("--preset", default="default", help="mini-MUSE preset (test or default).")
    parser.add_argument("--world_seed", type=int, default=0, help="Seed of the world.")
    parser.add_argument("--methods", nargs="+", default=["simnpo", "npo"], help="Methods (scripts.muse names).")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="Unlearning seeds.")
    parser.add_argument(
        "--extra", default="", help='More options for every run, as one string, e.g. --extra "--learning_rate 5e-4".'
    )
    return parser.parse_args(input_args)


def _cell(values, scale, digits):
    v = np.asarray(values, dtype=float) * scale
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v[0]:.{digits}f}"


def main(args):
    from hf_unlearn.eval import evaluate_muse
    from hf_unlearn.eval.muse import mark_muse_retain
    from hf_unlearn.scripts.muse import main as run
    from hf_unlearn.scripts.muse import parse_args as run_args
    from hf_unlearn.synthetic.muse import build_muse_world

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=False)
    world = build_muse_world(args.preset, seed=args.world_seed, num_workers=2)
    tok = world.load_tokenizer()
    rows = {}
    retain = mark_muse_retain(evaluate_muse(world.load_model("retain"), tok, world, progress=False))
    (out / "eval_retain.json").write_text(json.dumps(retain))
    rows["retain"] = [retain["summary"]]
    for name in ("target", "retain_seed1"):
        rows[name] = [
            evaluate_muse(world.load_model(name), tok, world, retain_results=retain, progress=False)["summary"]
        ]
    for method in args.methods:
        rows[method] = []
        for seed in args.seeds:
            argv = ["--method", method, "--dataset", str(world.path), "--seed", str(seed), "--skip_reference_evals",
                    "--retain_results", str(out / "eval_retain.json"), "--output_dir", str(out / f"{method}_s{seed}"),
                    "--disable_tqdm", "true", *shlex.split(args.extra)]  # fmt: skip
            script_args, training_args = run_args(argv)
            summary = run(script_args, training_args)["unlearned"]
            hyper = {k: getattr(training_args, k) for k in ("beta", "learning_rate", "num_train_epochs")}
            rows[method].append({**summary, "seed": seed, **hyper})
    settings = {**vars(args), "world": world.path.name}
    (out / "summary.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2))
    lines = ["| model | n | " + " | ".join(c[0] for c in KEYS.values()) + " |", "|---" * (len(KEYS) + 2) + "|"]
    for name, summaries in rows.items():
        cells = [_cell([s[k] for s in summaries], scale, d) for k, (_, scale, d) in KEYS.items()]
        lines.append(f"| {name} | {len(summaries)} | " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(parse_args())
