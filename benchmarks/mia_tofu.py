# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Membership-inference AUCs on the mini-TOFU world: forget10 (members) vs holdout10 answers, for the target, the
retain models and models unlearned by the LLM examples, over seeds.

Each unlearned model comes from `examples/<method>_tofu.py` (its offline-world recipe), run in its own process;
the attacks (LOSS, zlib, Min-K%, Min-K%++ with k = 0.4, as open-unlearning's TOFU config), PrivLeak (relative to
the retain90 model) and extraction strength are computed by `hf_unlearn.eval.tofu.tofu_privacy_metrics`. Writes
`summary.json` and `summary.md` (mean ± std over seeds) in `--output_dir`:

    python benchmarks/mia_tofu.py --output_dir mia_tofu --preset default --methods simnpo npo --seeds 0 1 2
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from hf_unlearn.eval.mia import PRIVACY_SUMMARY_KEYS as KEYS


def parse_args(input_args=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="Where runs and the summary go (must not exist yet).")
    parser.add_argument("--preset", default="default", help="mini-TOFU preset.")
    parser.add_argument("--forget_split", default="forget10", help="forget01, forget05 or forget10.")
    parser.add_argument("--methods", nargs="+", default=["simnpo", "npo"], help="examples/<method>_tofu.py to run.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="Unlearning seeds.")
    return parser.parse_args(input_args)


def _cell(values, digits=3):
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v[0]:.{digits}f}"


def main(args):
    from transformers import AutoModelForCausalLM

    from hf_unlearn.data import holdout_split_for
    from hf_unlearn.eval.tofu import tofu_privacy_metrics
    from hf_unlearn.synthetic import build_tofu_world

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=False)
    world = build_tofu_world(args.preset, num_workers=2)
    tok = world.load_tokenizer()
    forget = world.load_split(args.forget_split).to_list()
    holdout = world.load_split(holdout_split_for(args.forget_split)).to_list()

    def privacy(model, retain_auc=None):
        res = tofu_privacy_metrics(model, tok, forget, holdout, template=world.template, retain_results=retain_auc)
        return res["summary"]

    rows = {"retain90": [privacy(world.load_model("retain90"))]}
    retain_auc = rows["retain90"][0]["mia_min_k"]
    rows["retain90"][0]["privleak"] = 0.0
    for name in ("target", "retain90_seed1"):
        rows[name] = [privacy(world.load_model(name), retain_auc)]
    examples = Path(__file__).resolve().parent.parent / "examples"
    retain_json = None  # the first run evaluates the retain model; later runs reuse its eval_retain.json
    for method in args.methods:
        rows[method] = []
        for seed in args.seeds:
            run_dir = out / f"{method}_s{seed}"
            cmd = [sys.executable, str(examples / f"{method}_tofu.py"), "--preset", args.preset, "--forget_split",
                   args.forget_split, "--seed", str(seed), "--output_dir", str(run_dir), "--eval_points", "0",
                   "--skip_reference_evals", "--disable_tqdm", "true"]  # fmt: skip
            if retain_json is not None:
                cmd += ["--retain_results", str(retain_json)]
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            retain_json = retain_json or run_dir / "eval_retain.json"
            rows[method].append(privacy(AutoModelForCausalLM.from_pretrained(run_dir / "model"), retain_auc))
    (out / "summary.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2))
    lines = ["| model | n | " + " | ".join(KEYS.values()) + " |", "|---" * (len(KEYS) + 2) + "|"]
    for name, summaries in rows.items():
        cells = [_cell([s[k] for s in summaries], 1 if k == "privleak" else 3) for k in KEYS]
        lines.append(f"| {name} | {len(summaries)} | " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(parse_args())
