#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case vs random vs lowest-loss author sets on mini-TOFU: GA, GradDiff, NPO and SimNPO on each, forget quality
against a retain model that never saw the selected authors (trained and cached per author set), model utility, over
seeds; plus the selection's wall time beside one unlearning run of its lower-level method.

All logic is in `hf_unlearn.worstcase.tofu.run_worstcase_tofu`; this script writes `results.json` and `results.md`
and `worstcase_tofu.png` into a new `--output_dir`.

Usage:

    python benchmarks/worstcase_tofu.py --output_dir runs/wc_tofu_test --preset test --budget 2
    python benchmarks/worstcase_tofu.py --output_dir runs/wc_tofu --preset default --budget 4
"""

from __future__ import annotations

import argparse
import os


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--output_dir", required=True, help="New (or empty) folder for the results.")
    parser.add_argument("--preset", default="default", help="Offline world preset ('test', 'default').")
    parser.add_argument("--world_seed", type=int, default=0, help="World seed.")
    parser.add_argument("--budget", type=int, default=4, help="Authors to forget.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds.")
    parser.add_argument(
        "--methods", nargs="+", default=["ga", "graddiff", "npo", "simnpo"], help="Registered unlearning methods."
    )
    parser.add_argument("--lower_method", default="graddiff", choices=["graddiff", "npo"], help="Lower level.")
    parser.add_argument("--lower_steps", type=int, default=5, help="Lower steps per upper iteration.")
    parser.add_argument("--lower_lr", type=float, default=1e-4, help="Lower-level learning rate.")
    parser.add_argument("--upper_steps", type=int, default=10, help="Upper iterations.")
    parser.add_argument("--w_lr", type=float, default=0.1, help="Upper step (normalised, see WorstCaseConfig).")
    parser.add_argument("--eval_max_new_tokens", type=int, default=64, help="Generation length for ROUGE.")
    parser.add_argument(
        "--set_kinds",
        nargs="+",
        default=["worst", "random", "lowest_loss", "easiest"],
        choices=["worst", "random", "lowest_loss", "easiest"],
        help="Author sets to compare (easiest = the bi-level selection with mode='easiest').",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Continue an interrupted run in --output_dir (same settings): selected sets and scored runs are kept.",
    )
    return parser.parse_args(input_args)


def main(args: argparse.Namespace) -> dict:
    import torch

    from hf_unlearn.worstcase import WorstCaseConfig
    from hf_unlearn.worstcase.tofu import format_tofu_markdown, plot_tofu_results, run_worstcase_tofu

    torch.set_num_threads(1)
    results = run_worstcase_tofu(
        args.output_dir,
        WorstCaseConfig(
            budget=args.budget,
            upper_steps=args.upper_steps,
            lower_steps=args.lower_steps,
            lower_lr=args.lower_lr,
            w_lr=args.w_lr,
        ),
        preset=args.preset,
        world_seed=args.world_seed,
        lower_method=args.lower_method,
        methods=args.methods,
        seeds=args.seeds,
        set_kinds=args.set_kinds,
        eval_max_new_tokens=args.eval_max_new_tokens,
        resume=args.resume,
        progress=False,
    )
    table = format_tofu_markdown(results)
    with open(os.path.join(args.output_dir, "results.md"), "w") as f:
        f.write(table)
    plot_tofu_results(results, os.path.join(args.output_dir, "worstcase_tofu.png"))
    print(table)
    return results


if __name__ == "__main__":
    main(parse_args())
