#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Original vs ESD vs SalUn vs AdvUnlearn on the shapes world, over seeds, with one evaluation.

For each seed, [`hf_unlearn.diffusion.compare.run_comparison`] trains ESD and AdvUnlearn (text encoder) and SalUn
(UNet, saliency-masked) from the world's pipeline and evaluates the four models with one `ConceptEvaluator`: concept
rate (Pre-ASR), ASR under a discrete (UnlearnDiffAtk-style) and a soft-prompt attack, each fitted against the model
evaluated, retain accuracy and an image-statistics distance to the original's retain images. Writes the JSON that
`scripts/readme_tables.py` renders, and an image grid (first seed: plain and attacked samples of each model).

Usage:

    python benchmarks/bench_diffusion_methods.py --preset default --seeds 0 1 2 \
        --output_file benchmarks/results/diffusion_methods.json --grid benchmarks/results/diffusion_methods.png \
        --demo_dir out/demo
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path


def parse_args(input_args=None):
    from hf_unlearn.diffusion.compare import ComparisonSettings

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--preset", default="default", choices=["test", "default"], help="Shapes-world preset.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds (training and evaluation).")
    parser.add_argument("--output_file", default=None, help="Write the results JSON here.")
    parser.add_argument("--grid", default=None, help="Write the first seed's image grid (PNG) here.")
    parser.add_argument(
        "--demo_dir",
        default=None,
        help="Save the first seed's models and demo.json here (for examples/diffusion/app.py).",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    help_text = {
        "concept": "The colour to erase.",
        "text_encoder_steps": "ESD / AdvUnlearn iterations.",
        "text_encoder_lr": "ESD / AdvUnlearn Adam learning rate.",
        "train_batch_size": "Concept states per ESD / AdvUnlearn iteration.",
        "retain_batch": "Retain states per ESD / AdvUnlearn iteration.",
        "ddim_steps": "DDIM steps of trajectory banks and SalUn's generated images.",
        "trajectories_per_prompt": "Trajectories per prompt in the ESD / AdvUnlearn banks.",
        "warmup_iter": "AdvUnlearn's plain-ESD iterations before attacks start.",
        "attack_step": "AdvUnlearn's inner attack steps.",
        "attack_lr": "AdvUnlearn's inner attack learning rate.",
        "attack_loss": "AdvUnlearn's inner attack objective: 'denoise' (chosen) or 'match' (reference code).",
        "plain_prompt_weight": "AdvUnlearn's ESD weight on the plain prompt beside the adversarial one (0: reference).",
        "salun_steps": "SalUn steps.",
        "salun_lr": "SalUn's Adam learning rate.",
        "salun_alpha": "SalUn's retain-loss weight.",
        "salun_sparsity": "Fraction of UNet weights SalUn may change.",
        "num_forget_images": "SalUn's generated images per concept prompt.",
        "num_retain_images": "SalUn's generated images per retain prompt.",
        "eval_num_images": "Evaluation images per prompt.",
        "eval_attack_steps": "Steps of the evaluation attacks.",
        "eval_attack_tokens": "Tokens of the evaluation attacks.",
    }
    for f in fields(ComparisonSettings):
        parser.add_argument(f"--{f.name}", type=type(f.default), default=f.default, help=help_text[f.name])
    return parser.parse_args(input_args)


def main(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from hf_unlearn.diffusion import save_comparison_grid
    from hf_unlearn.diffusion.compare import ComparisonSettings, run_comparison
    from hf_unlearn.synthetic.shapes import load_shapes_world

    settings = ComparisonSettings(**{f.name: getattr(args, f.name) for f in fields(ComparisonSettings)})
    world = load_shapes_world(args.preset)
    runs, start = [], time.time()
    data = {
        "command": shlex.join(["python", "benchmarks/bench_diffusion_methods.py", *sys.argv[1:]]),
        "world": {"preset": args.preset, "folder": world.root.name},
        "settings": asdict(settings),
        "seeds": [],
        "runs": runs,
    }
    for i, seed in enumerate(args.seeds):
        result, rows = run_comparison(world, settings, seed, output_dir=args.demo_dir if i == 0 else None)
        runs.append(result)
        print(json.dumps({"seed": seed, **{m: r["concept_rate"] for m, r in result["models"].items()}}))
        if i == 0 and args.grid:
            save_comparison_grid(
                rows, args.grid, title=f"erasing '{settings.concept}' (seed {seed}): plain vs attacked"
            )
        data["seeds"].append(seed)
        data["wall_seconds"] = round(time.time() - start, 1)
        data["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        if args.output_file:  # after every seed, so that finished seeds survive an interrupted run
            Path(args.output_file).parent.mkdir(parents=True, exist_ok=True)
            Path(args.output_file).write_text(json.dumps(data, indent=2) + "\n")
    return data


if __name__ == "__main__":
    main(parse_args())
