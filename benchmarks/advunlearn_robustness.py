#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Robustness of AdvUnlearn variants vs ESD on the shapes world, with each training run's wall time side by side.

Per seed, every variant trains a copy of the world's text encoder with the library's loop
([`hf_unlearn.diffusion.erase_text_encoder`], the example script's optimiser settings) on the world's plain concept
prompts, and is evaluated by the world's detector on the same evaluator (concept rate, ASR under the discrete
UnlearnDiffAtk-style attack and under the soft attack, retain accuracy). Variants:

- `esd`: ESD on the text encoder (no attack) + the retain regulariser;
- `advunlearn`: + the soft-prompt attack (`--attack_step` Adam steps, warm start: AdvUnlearn's `pgd`);
- `fast_at_1step`: one sign-gradient step per attack (the paper's fast AT);
- `advunlearn_screen`: `advunlearn` + `--attack_candidates` random vocabulary-token starts screened by the attack
  loss before each attack (a discrete screen before the soft steps);
- `advunlearn_denoise`: `advunlearn` with the inner attack fitted to UnlearnDiffAtk's denoising loss of the frozen
  model's own concept samples (`attack_loss="denoise"`) instead of the reference code's prediction matching;
- `advunlearn_mix`: `advunlearn` + the ESD loss on the plain concept prompt beside the adversarial one
  (`plain_prompt_weight`, `--plain_prompt_weight`);
- `advunlearn_denoise_mix`: both.

Evaluation attacks never see training randomness: their targets, token draws and noise come from the evaluator's own
generators (seeded from `seed + --eval_seed_offset`). To choose settings without looking at the reported evaluation,
run with other training seeds and another `--eval_seed_offset` (a held-out split: other evaluation images, attack
targets, token draws and noise), then report with the defaults.
Times are wall seconds of each training run in the same process, one after another (a loaded machine slows all).

Usage:

    python benchmarks/advunlearn_robustness.py --preset default --seeds 0 1 2 --output_file OUT.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


VARIANTS = (
    "esd",
    "advunlearn",
    "fast_at_1step",
    "advunlearn_screen",
    "advunlearn_denoise",
    "advunlearn_mix",
    "advunlearn_denoise_mix",
)


def parse_args(input_args=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--preset", default="default", choices=["test", "default"], help="Shapes-world preset.")
    parser.add_argument("--concept", default="red", help="Concept to erase.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Training seeds.")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, help="Variants to run.")
    parser.add_argument("--max_train_steps", type=int, default=200, help="Optimizer steps per run.")
    parser.add_argument("--learning_rate", type=float, default=1e-3, help="Adam learning rate.")
    parser.add_argument("--train_batch_size", type=int, default=8, help="Concept states per iteration.")
    parser.add_argument("--retain_batch", type=int, default=8, help="Retain states per iteration.")
    parser.add_argument("--ddim_steps", type=int, default=25, help="DDIM steps of the frozen trajectories.")
    parser.add_argument("--trajectories_per_prompt", type=int, default=8, help="Trajectories per prompt.")
    parser.add_argument("--warmup_iter", type=int, default=20, help="Plain-ESD iterations before attacks.")
    parser.add_argument("--attack_step", type=int, default=5, help="Attack steps of advunlearn(_screen).")
    parser.add_argument("--attack_lr", type=float, default=1e-2, help="Attack learning rate.")
    parser.add_argument("--attack_candidates", type=int, default=16, help="Screened starts of advunlearn_screen.")
    parser.add_argument(
        "--plain_prompt_weight",
        type=float,
        default=1.0,
        help="Weight of the plain-prompt ESD loss of the *_mix variants.",
    )
    parser.add_argument("--eval_num_images", type=int, default=48, help="Evaluation images per prompt.")
    parser.add_argument("--eval_attack_steps", type=int, default=40, help="Steps of the evaluation attacks.")
    parser.add_argument(
        "--eval_seed_offset",
        type=int,
        default=1000,
        help="The evaluator of training seed s is seeded with s + this (use another value to choose settings on a "
        "held-out evaluation split).",
    )
    parser.add_argument("--output_file", default=None, help="Write the results as JSON here.")
    parser.add_argument(
        "--reuse",
        default=None,
        help="A previous output JSON of this benchmark with the same settings (all but --seeds, --variants and the "
        "files): its rows of the original and of variants other than ESD are copied for its seeds instead of rerun "
        "(training and evaluation are deterministic per seed). ESD is retrained whenever another variant is, so new "
        "variants are timed beside it; `esd_reproduced` in the JSON says whether it matched the reused run's metrics.",
    )
    return parser.parse_args(input_args)


def variant_config(name: str, args) -> dict:
    """The [`AdvUnlearnConfig`] overrides of a variant."""
    attack = {"attack_lr": args.attack_lr, "warmup_steps": args.warmup_iter}
    pgd = {"attack_method": "pgd", "attack_steps": args.attack_step, **attack}
    mix = {"plain_prompt_weight": args.plain_prompt_weight}
    return {
        "esd": {"attack_method": "none"},
        "advunlearn": {"attack_method": "pgd", "attack_steps": args.attack_step, **attack},
        "fast_at_1step": {"attack_method": "fast_at", "attack_steps": 1, **attack},
        "advunlearn_screen": {
            "attack_method": "pgd",
            "attack_steps": args.attack_step,
            "attack_candidates": args.attack_candidates,
            **attack,
        },
        "advunlearn_denoise": {**pgd, "attack_loss": "denoise"},
        "advunlearn_mix": {**pgd, **mix},
        "advunlearn_denoise_mix": {**pgd, "attack_loss": "denoise", **mix},
    }[name]


#: Settings that do not change a (seed, variant) row, so a row can be reused across runs that differ only in them.
_ROW_INDEPENDENT = ("seeds", "variants", "output_file", "reuse")


def load_reusable_runs(args) -> dict[int, dict]:
    """Seed -> run of the `--reuse` JSON, after checking that its settings match these (raises before any work)."""
    if args.reuse is None:
        return {}
    path = Path(args.reuse)
    if not path.is_file():
        raise ValueError(
            f"--reuse {args.reuse!r} is not a file: pass a JSON written by this benchmark's --output_file."
        )
    previous = json.loads(path.read_text())
    if not isinstance(previous, dict) or "settings" not in previous or "runs" not in previous:
        raise ValueError(f"--reuse {args.reuse!r} has no 'settings' and 'runs': not this benchmark's output JSON.")
    ours = {k: v for k, v in vars(args).items() if k not in _ROW_INDEPENDENT}
    defaults = vars(parse_args([]))  # an option newer than the earlier run counts as its default there
    theirs = {k: previous["settings"].get(k, defaults[k]) for k in ours}
    differ = sorted(k for k, v in ours.items() if theirs[k] != v)
    if differ:
        pairs = ", ".join(f"{k}: {theirs[k]!r} there, {ours[k]!r} here" for k in differ)
        raise ValueError(f"--reuse {args.reuse!r} was run with other settings ({pairs}); rerun with the same ones.")
    return {run["seed"]: {**run, "world": previous["settings"].get("world")} for run in previous["runs"]}


def _spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(args) -> dict:
    import torch

    torch.set_num_threads(1)
    from hf_unlearn.diffusion import (
        AdvUnlearnConfig,
        DiscretePromptAttack,
        SoftPromptAttack,
        erase_text_encoder,
        load_diffusion_components,
        shapes_world_evaluator,
    )
    from hf_unlearn.synthetic.shapes import load_shapes_world

    previous = load_reusable_runs(args)
    world = load_shapes_world(args.preset)
    components = load_diffusion_components(str(world.pipeline_path))
    original = components.text_encoder.eval()
    concept, retain = world.concept_prompts(args.concept), world.retain_prompts(args.concept)
    metrics = ("concept_rate", "asr_discrete", "asr_soft", "retain_accuracy", "retain_image_distance")
    runs = []
    reused_worlds = {run.get("world") for run in previous.values()}
    if previous and reused_worlds != {world.root.name}:
        raise ValueError(f"--reuse {args.reuse!r} was run on world(s) {sorted(reused_worlds)}, not {world.root.name}.")
    for seed in args.seeds:
        prev = previous.get(seed, {})
        todo = [n for n in args.variants if n != "esd" and n not in prev]
        if "esd" in args.variants and (todo or "esd" not in prev):
            todo.insert(0, "esd")
        if todo or "original" not in prev:
            evaluator = shapes_world_evaluator(
                world,
                args.concept,
                num_images=args.eval_num_images,
                seed=seed + args.eval_seed_offset,
                discrete_attack=DiscretePromptAttack(num_tokens=1, steps=args.eval_attack_steps),
                soft_attack=SoftPromptAttack(num_tokens=1, steps=args.eval_attack_steps, lr=1e-2),
            )
        run = {"seed": seed, "world": world.root.name}
        if "original" in prev:
            run["original"] = prev["original"]
        else:
            run["original"] = {k: evaluator.evaluate(original, keep_images=0)[k] for k in metrics}
        for name in args.variants:
            if name not in todo:
                run[name] = {**prev[name], "reused_from": args.reuse}
                if "esd" in prev:  # its time relative to the ESD trained beside it
                    run[name]["train_seconds_x_esd"] = prev[name]["train_seconds"] / prev["esd"]["train_seconds"]
                continue
            config = AdvUnlearnConfig(
                concept,
                retain,
                ddim_steps=args.ddim_steps,
                trajectories_per_prompt=args.trajectories_per_prompt,
                train_batch_size=args.train_batch_size,
                retain_batch=args.retain_batch,
                seed=seed,
                **variant_config(name, args),
            )
            start = time.perf_counter()
            encoder = erase_text_encoder(
                original,
                components.unet,
                components.tokenizer,
                components.scheduler,
                config,
                args.max_train_steps,
                args.learning_rate,
            )
            seconds = time.perf_counter() - start
            scores = evaluator.evaluate(encoder, keep_images=0)
            run[name] = {**{k: scores[k] for k in metrics}, "train_seconds": seconds}
            if name == "esd" and "esd" in prev:
                run["esd_reproduced"] = all(prev["esd"][k] == run["esd"][k] for k in metrics)
            shown = (*metrics, "train_seconds")
            print(f"seed {seed} {name}: " + ", ".join(f"{k} {run[name][k]:.3f}" for k in shown), flush=True)
        runs.append(run)
        if args.output_file:  # after every seed, so a long run leaves its finished seeds
            Path(args.output_file).write_text(json.dumps(_result(args, world, runs, metrics), indent=2))
    result = _result(args, world, runs, metrics)
    if args.output_file:
        Path(args.output_file).write_text(json.dumps(result, indent=2))
    return result


def _result(args, world, runs, metrics) -> dict:
    names = ["original", *args.variants]
    summary = {
        name: {
            k: _spread([r[name][k] for r in runs])
            for k in (*metrics, "train_seconds")
            if all(r[name].get(k) is not None for r in runs)
        }
        for name in names
    }
    ratios = {}
    for name in args.variants:
        if name == "esd" or "esd" not in args.variants:
            continue
        ratios[name] = {
            k: statistics.median(r[name][k] / r["esd"][k] for r in runs if r["esd"][k] > 0)
            for k in ("asr_discrete", "asr_soft")
            if any(r["esd"][k] > 0 for r in runs)
        }
        # training time against the ESD trained in the same process (a reused row keeps its own run's ratio)
        ratios[name]["train_seconds"] = statistics.median(
            r[name].get("train_seconds_x_esd", r[name]["train_seconds"] / r["esd"]["train_seconds"]) for r in runs
        )
    return {
        "settings": {**vars(args), "world": world.root.name},
        "runs": runs,
        "summary": summary,
        "median_ratio_to_esd": ratios,
    }


if __name__ == "__main__":
    main(parse_args())
