#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Iteration time of AdvUnlearn vs ESD (text encoder), and of AdvUnlearn's fast variant, measured side by side.

Every variant runs the same library code ([`hf_unlearn.diffusion.AdvUnlearn`]) on the same pipeline; iterations
are interleaved (one of each variant per round) so that a busy machine slows all variants alike, and the median
per-iteration time is reported with ratios to ESD, per seed and as mean ± std over seeds (each seed draws its own
trajectories and attacks). The pipeline is loaded with [`hf_unlearn.diffusion.load_diffusion_components`], as for
`CompVis/stable-diffusion-v1-4` (the shapes world is a Stable Diffusion v1-layout pipeline). Variants:

- `esd`: ESD on the text encoder (no attack) + retain regulariser;
- `advunlearn`: + the soft-prompt attack, `--attack_step` Adam steps per iteration (AdvUnlearn's `pgd`);
- `fast_at`: the same number of sign-gradient steps (the reference code's `fast_at` keeps `--attack_step`);
- `fast_at_1step`: one sign-gradient step (the paper's one-step fast AT);
- `advunlearn_screen`: `advunlearn` + `--attack_candidates` random vocabulary-token starts screened by the attack loss
  before each attack;
- `advunlearn_denoise_mix`: the setting chosen for the shapes world: `advunlearn` with the inner attack on
  UnlearnDiffAtk's denoising loss (`attack_loss="denoise"`) and the plain prompt's ESD loss beside the adversarial one
  (`plain_prompt_weight=1`).

Usage:

    python benchmarks/bench_advunlearn.py --preset default --iterations 10 --attack_step 30 --seeds 0 1 2 \
        --output_file benchmarks/results/advunlearn_timing.json
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds; one timed run per seed.")
    parser.add_argument("--output_file", default=None, help="Also write the results as JSON here.")
    return parser.parse_args(input_args)


def time_variants(components, original, concept, retain, args, seed: int, device: str) -> dict[str, float]:
    """Median seconds per iteration of each variant, iterations interleaved (one of each variant per round)."""
    import torch
    from tqdm.auto import tqdm

    from hf_unlearn.diffusion import AdvUnlearn, AdvUnlearnConfig, set_trainable_layers

    runs = {}
    for name, overrides in variants(args.attack_step, args.attack_candidates).items():
        encoder = copy.deepcopy(original)
        set_trainable_layers(encoder)
        config = AdvUnlearnConfig(
            concept,
            retain,
            warmup_steps=0,
            train_batch_size=args.train_batch_size,
            retain_batch=args.retain_batch,
            trajectories_per_prompt=2,
            seed=seed,
            **overrides,
        )
        eraser = AdvUnlearn(encoder, components.unet, components.tokenizer, components.scheduler, config, original)
        optimizer = torch.optim.Adam([p for p in encoder.parameters() if p.requires_grad], lr=1e-5)
        runs[name] = (eraser, optimizer)
    times = {name: [] for name in runs}
    progress = tqdm(range(args.warmup + args.iterations), desc=f"seed {seed}: rounds of {len(runs)} variants")
    losses = {}
    for it in progress:
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
            losses[f"{name} loss"] = round(loss.item(), 5)
        progress.set_postfix(losses)
    return {name: statistics.median(t) for name, t in times.items()}


def variants(attack_step: int, attack_candidates: int = 16) -> dict[str, dict]:
    """The timed variants' [`AdvUnlearnConfig`] overrides."""
    return {
        "esd": {"attack_method": "none"},
        "advunlearn": {"attack_method": "pgd", "attack_steps": attack_step},
        "fast_at": {"attack_method": "fast_at", "attack_steps": attack_step},
        "fast_at_1step": {"attack_method": "fast_at", "attack_steps": 1},
        "advunlearn_screen": {
            "attack_method": "pgd",
            "attack_steps": attack_step,
            "attack_candidates": attack_candidates,
        },
        "advunlearn_denoise_mix": {
            "attack_method": "pgd",
            "attack_steps": attack_step,
            "attack_loss": "denoise",
            "plain_prompt_weight": 1.0,
        },
    }


def main(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from hf_unlearn.diffusion import load_diffusion_components

    world = None
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
    components.vae.to(device)
    original = copy.deepcopy(components.text_encoder).to(device)
    per_seed = {}
    for seed in args.seeds:
        per_seed[seed] = time_variants(components, original, concept, retain, args, seed, device)
    ratios = {seed: {n: m[n] / m["esd"] for n in m} for seed, m in per_seed.items()}

    def spread(values: list[float]) -> dict[str, float]:
        return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    result = {
        "pipeline": world.world_id if world is not None else str(path),
        "world": None if world is None else {"world_id": world.world_id, "config_hash": world.config_hash},
        "preset": args.preset if world is not None else None,
        "device": device,
        "threads": args.threads,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "attack_step": args.attack_step,
        "train_batch_size": args.train_batch_size,
        "retain_batch": args.retain_batch,
        "seeds": args.seeds,
        "seconds_per_iteration_median": {str(seed): m for seed, m in per_seed.items()},
        "seconds_per_iteration": {n: spread([m[n] for m in per_seed.values()]) for n in variants(args.attack_step)},
        "ratio_to_esd": {n: spread([r[n] for r in ratios.values()]) for n in variants(args.attack_step)},
        "advunlearn_over_fast_at_1step": spread([m["advunlearn"] / m["fast_at_1step"] for m in per_seed.values()]),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(
        f"pipeline: {result['pipeline']} ({device}, {args.threads} thread(s)), {args.iterations} iterations, "
        f"attack_step {args.attack_step}, seeds {args.seeds}"
    )
    print("| variant | s / iteration (median; mean ± std over seeds) | x ESD |")
    print("|---|---|---|")
    for name in variants(args.attack_step):
        t, r = result["seconds_per_iteration"][name], result["ratio_to_esd"][name]
        print(f"| {name} | {t['mean']:.4f} ± {t['std']:.4f} | {r['mean']:.2f} ± {r['std']:.2f} |")
    if args.output_file:
        Path(args.output_file).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(parse_args())
