#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case vs random vs lowest-loss prompt sets for ESD on the shapes world (the paper's prompt-wise setting).

Per seed: the worst-case set of `--budget` prompts among every template x synonym x shape prompt of `--concept`
([`hf_unlearn.worstcase.diffusion.run_worstcase_prompts`]: bi-level selection, lower level = weighted ESD steps on the
text encoder from the original, upper level on the per-prompt denoising loss), a random set and the lowest-loss set;
ESD on each set's prompts; the world's detector on fresh images of every prompt. Writes `worstcase_prompts.json` and
`.md` to `--output_dir`.

Usage:

    python benchmarks/worstcase_prompts.py --preset default --budget 4 --seeds 0 1 2 --output_dir OUT
"""

from __future__ import annotations

import argparse


def parse_args(input_args=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--preset", default="default", choices=["test", "default"], help="Shapes-world preset.")
    parser.add_argument("--concept", default="red", help="Concept whose prompts are the units.")
    parser.add_argument("--budget", type=float, default=4, help="Prompts per set (a count, or a fraction in (0, 1)).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds.")
    parser.add_argument("--upper_steps", type=int, default=5, help="Upper (selection) iterations.")
    parser.add_argument("--lower_steps", type=int, default=10, help="Weighted ESD sign-SGD steps per iteration.")
    parser.add_argument("--lower_lr", type=float, default=1e-3, help="Sign-SGD step of the lower level.")
    parser.add_argument("--w_lr", type=float, default=0.1, help="Upper step (MAD-normalised selection weight).")
    parser.add_argument("--esd_steps", type=int, default=100, help="Adam steps of each evaluation ESD run.")
    parser.add_argument("--esd_lr", type=float, default=1e-3, help="Adam learning rate of the ESD runs.")
    parser.add_argument("--num_images", type=int, default=24, help="Evaluation images per prompt.")
    parser.add_argument("--num_target_images", type=int, default=4, help="Original images per prompt in the loss.")
    parser.add_argument("--output_dir", required=True, help="Where the JSON and Markdown go (must not hold them).")
    return parser.parse_args(input_args)


def main(args) -> dict:
    import torch

    torch.set_num_threads(1)
    from hf_unlearn.synthetic.shapes import load_shapes_world
    from hf_unlearn.worstcase import WorstCaseConfig
    from hf_unlearn.worstcase.diffusion import format_worstcase_prompts_markdown, run_worstcase_prompts, write_results

    budget = int(args.budget) if float(args.budget).is_integer() else args.budget
    results = run_worstcase_prompts(
        load_shapes_world(args.preset),
        args.concept,
        budget=budget,
        seeds=args.seeds,
        selection=WorstCaseConfig(
            upper_steps=args.upper_steps, lower_steps=args.lower_steps, lower_lr=args.lower_lr, w_lr=args.w_lr
        ),
        esd_settings={
            "steps": args.esd_steps,
            "learning_rate": args.esd_lr,
            "train_batch_size": 8,
            "retain_batch": 8,
            "ddim_steps": 25,
            "trajectories_per_prompt": 4,
        },
        num_images=args.num_images,
        num_target_images=args.num_target_images,
    )
    results["settings"]["preset"] = args.preset
    write_results(results, args.output_dir)
    print(format_worstcase_prompts_markdown(results))
    return results


if __name__ == "__main__":
    main(parse_args())
