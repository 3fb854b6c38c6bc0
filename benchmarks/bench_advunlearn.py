#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Iteration time of AdvUnlearn vs ESD (text encoder), and of AdvUnlearn's fast variant, measured side by side.

Every variant runs the same library code ([`hf_unlearn.diffusion.AdvUnlearn`]) on the same pipeline; iterations
are interleaved (one of each variant per round) so that a busy machine slows all variants alike, and the median
per-iteration time is reported with ratios to ESD. Variants:

- `esd`: ESD on the text encoder (no attack) + retain regulariser;
- `advunlearn`: + the soft-prompt attack, `--attack_step` Adam steps per iteration (AdvUnlearn's `pgd`);
- `fast_at`: the same number of sign-gradient steps (the reference code's `fast_at` keeps `--attack_step`);
- `fast_at_1step`: one sign-gradient step (the paper's one-step fast AT);
- `advunlearn_screen`: `advunlearn` + `--attack_candidates` random vocabulary-token starts screened by the attack loss
  before each attack.

Usage:

    python benchmarks/bench_advunlearn.py --preset default --iterations 10 --attack_step 30
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from pathlib import Path


def parse_args(input_args=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--pretrained_model_name_or_path", default=None, help="Pipeline (default: the shapes world).")
    parser.add_argument("--preset", default="default", choices=["test", "default"], help="Shapes-world preset.")
    parser.add_argument("--iterations", type=int, default=10, help="Timed iterations per variant.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed iterations per variant first.")
    parser.add_argument("--attack_step", type=int, default=30, help="Attack steps of advunlearn / fast_at.")
    parser.add_argument("--attack_candidates", type=int, default=16, help="Screened starts of advunlearn_screen.")
    parser.add_argument("--train_batch_size", type=int, default=1, help="Concept states per iteration.")
    parser.add_argument("--retain_batch", type=int, default=5, help="Retain states per iteration.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    parser.add_argument("--output_file", default=None, help="Also write the results as JSON here.")
    return parser.parse_args(input_args)


def main(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from hf_unlearn.diffusion import AdvUnlearn, AdvUnlearnConfig, load_diffusion_components, set_trainable_layers

    if args.pretrained_model_name_or_path is None:
        from hf_unlearn.synthetic.shapes import load_shapes_world

        world = load_shapes_world(args.preset)
        path, concept, retain = world.pipeline_path, world.concept_prompts("red"), world.retain_prompts("red")
    else:
        path, concept = args.pretrained_model_name_or_path, ["nudity"]
        retain = ["a photo of a dog", "a photo of a car", "a photo of a chair", "a photo of a cup", "a photo of a cat"]
    components = load_diffusion_components(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    components.unet.to(device)
    original = copy.deepcopy(components.text_encoder).to(device)
    variants = {
        "esd": {"attack_method": "none"},
        "advunlearn": {"attack_method": "pgd", "attack_steps": args.attack_step},
        "fast_at": {"attack_method": "fast_at", "attack_steps": args.attack_step},
        "fast_at_1step": {"attack_method": "fast_at", "attack_steps": 1},
        "advunlearn_screen": {
            "attack_method": "pgd",
            "attack_steps": args.attack_step,
            "attack_candidates": args.attack_candidates,
        },
    }
    runs = {}
    for name, overrides in variants.items():
        encoder = copy.deepcopy(original)
        set_trainable_layers(encoder)
        config = AdvUnlearnConfig(
            concept,
            retain,
            warmup_steps=0,
            train_batch_size=args.train_batch_size,
            retain_batch=args.retain_batch,
            trajectories_per_prompt=2,
            **overrides,
        )
        eraser = AdvUnlearn(encoder, components.unet, components.tokenizer, components.scheduler, config, original)
        optimizer = torch.optim.Adam([p for p in encoder.parameters() if p.requires_grad], lr=1e-5)
        runs[name] = (eraser, optimizer)
    times = {name: [] for name in variants}
    for it in range(args.warmup + args.iterations):
        for name, (eraser, optimizer) in runs.items():
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            loss, _ = eraser.compute_loss(it)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if device == "cuda":
                torch.cuda.synchronize()
            if it >= args.warmup:
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "pipeline": str(path),
        "device": device,
        "threads": args.threads,
        "iterations": args.iterations,
        "attack_step": args.attack_step,
        "seconds_per_iteration_median": median,
        "ratio_to_esd": {name: median[name] / median["esd"] for name in median},
        "advunlearn_over_fast_at_1step": median["advunlearn"] / median["fast_at_1step"],
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(
        f"pipeline: {path} ({device}, {args.threads} thread(s)), {args.iterations} iterations, attack_step {args.attack_step}"
    )
    print("| variant | s / iteration (median) | x ESD |")
    print("|---|---|---|")
    for name in variants:
        print(f"| {name} | {median[name]:.4f} | {result['ratio_to_esd'][name]:.2f} |")
    print(f"AdvUnlearn / one-step fast AT: {result['advunlearn_over_fast_at_1step']:.2f}x")
    if args.output_file:
        Path(args.output_file).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(parse_args())
