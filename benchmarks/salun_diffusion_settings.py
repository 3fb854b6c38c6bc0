#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SalUn's comparison settings on the shapes world: a learning-rate x alpha grid on one (held-out) seed.

Each setting trains SalUn exactly as `benchmarks/bench_diffusion_methods.py` does
([`hf_unlearn.diffusion.compare.train_salun_unet`] with [`ComparisonSettings`]) and evaluates only the SalUn UNet with
the comparison's evaluator (`--seed`: training and evaluation seed). Besides the evaluator's metrics it records the loss
curve (every `--log_every` steps) and the spread of the concept prompts' plain images (per-pixel standard deviation over
a prompt's images averaged over pixels, the lowest over prompts: a collapsed UNet draws the same image from every
noise), and the same metrics of the original UNet.

Selection rule, fixed before the runs: among settings with retain accuracy >= `--min_retain_accuracy` and image
distance <= `--max_image_distance`, the lowest soft-attack ASR, then the lowest discrete-attack ASR, then the lowest
image distance. Choose on a seed the comparison does not report (its tables use seeds 0, 1, 2).

Usage:

    python benchmarks/salun_diffusion_settings.py --preset default --seed 3 \
        --learning_rates 1e-3 3e-4 1e-4 3e-5 --alphas 0.5 1 2 --output_file OUT.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path


def parse_args(input_args=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--preset", default="default", choices=["test", "default"], help="Shapes-world preset.")
    parser.add_argument("--seed", type=int, default=3, help="Training and evaluation seed (not 0-2: reported).")
    parser.add_argument("--learning_rates", type=float, nargs="+", default=[1e-3, 3e-4, 1e-4, 3e-5], help="SalUn lrs.")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="SalUn retain weights.")
    parser.add_argument("--salun_steps", type=int, default=100, help="SalUn steps (the comparison's).")
    parser.add_argument("--salun_sparsity", type=float, default=0.5, help="Fraction of UNet weights SalUn may change.")
    parser.add_argument("--eval_num_images", type=int, default=12, help="Evaluation images per prompt.")
    parser.add_argument("--eval_attack_steps", type=int, default=20, help="Steps of the evaluation attacks.")
    parser.add_argument("--min_retain_accuracy", type=float, default=0.98, help="Selection: retain accuracy floor.")
    parser.add_argument("--max_image_distance", type=float, default=0.30, help="Selection: image distance ceiling.")
    parser.add_argument("--log_every", type=int, default=10, help="Record the losses every this many steps.")
    parser.add_argument("--output_file", default=None, help="Write the results JSON here.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    return parser.parse_args(input_args)


def select(runs: list[dict], min_retain_accuracy: float, max_image_distance: float) -> dict | None:
    """The run the selection rule picks (`None` when no run passes the retain floors).

    Example:
        >>> runs = [{"asr_soft": 0.0, "asr_discrete": 0.0, "retain_accuracy": 0.9, "retain_image_distance": 0.8},
        ...         {"asr_soft": 0.1, "asr_discrete": 0.0, "retain_accuracy": 1.0, "retain_image_distance": 0.2}]
        >>> select(runs, 0.98, 0.3)["asr_soft"]
        0.1
    """
    ok = [
        r
        for r in runs
        if r["retain_accuracy"] >= min_retain_accuracy and r["retain_image_distance"] <= max_image_distance
    ]
    return min(ok, key=lambda r: (r["asr_soft"], r["asr_discrete"], r["retain_image_distance"]), default=None)


def main(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from hf_unlearn.diffusion.compare import (
        ComparisonSettings,
        comparison_evaluator,
        comparison_inputs,
        train_salun_unet,
    )
    from hf_unlearn.synthetic.shapes import load_shapes_world

    world = load_shapes_world(args.preset)
    base = ComparisonSettings(
        salun_steps=args.salun_steps,
        salun_sparsity=args.salun_sparsity,
        eval_num_images=args.eval_num_images,
        eval_attack_steps=args.eval_attack_steps,
    )
    components, concept_prompts, pseudo, retain_prompts = comparison_inputs(world, base, args.seed)
    evaluator = comparison_evaluator(world, base, args.seed)

    def evaluate(unet) -> dict:
        result = evaluator.evaluate(components.text_encoder, keep_images=base.eval_num_images, unet=unet)
        plain = result["images"]["plain"].reshape(len(concept_prompts), base.eval_num_images, -1)
        return {
            **{k: result[k] for k in evaluator.metric_names},
            "concept_image_spread": float(plain.std(1).mean(1).min()),
        }

    runs = []
    data = {
        "settings": {**vars(args), "base": asdict(base)},
        "world": world.root.name,
        "original": evaluate(None),
        "runs": runs,
    }
    for lr in args.learning_rates:
        for alpha in args.alphas:
            settings = replace(base, salun_lr=lr, salun_alpha=alpha)
            start = time.time()
            unet, _, frozen_ok, history = train_salun_unet(
                components, concept_prompts, pseudo, retain_prompts, settings, args.seed, world.config.guidance_scale
            )
            train_seconds = time.time() - start
            run = {
                "salun_lr": lr,
                "salun_alpha": alpha,
                **evaluate(unet),
                "frozen_weights_bit_identical": frozen_ok,
                "loss_curve": {
                    step: {k: round(v, 5) for k, v in history[step].items()}
                    for step in [*range(0, len(history), args.log_every), len(history) - 1]
                },
                "train_seconds": round(train_seconds, 1),
            }
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "loss_curve"}), flush=True)
            chosen = select(runs, args.min_retain_accuracy, args.max_image_distance)
            data["chosen"] = None if chosen is None else {k: chosen[k] for k in ("salun_lr", "salun_alpha")}
            if args.output_file:
                Path(args.output_file).parent.mkdir(parents=True, exist_ok=True)
                Path(args.output_file).write_text(json.dumps(data, indent=2) + "\n")
    return data


if __name__ == "__main__":
    main(parse_args())
