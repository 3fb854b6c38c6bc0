#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case vs random vs lowest-loss vs easiest forget sets on digits (or CIFAR-10): Retrain, FT, GA, RL, l1-sparse
and SalUn on each, several seeds, plus the selection's wall time beside one FT run of the same process.

All logic is in `hf_unlearn.worstcase.vision.run_worstcase_classification`; this script parses options and writes
`results.json`, `results.md` and `worstcase.png` into a new `--output_dir`.

Usage:

    python benchmarks/worstcase_classification.py --output_dir runs/wc_digits --unit example --budget 0.1
    python benchmarks/worstcase_classification.py --output_dir runs/wc_digits_class --unit class --budget 1
    python benchmarks/worstcase_classification.py --output_dir runs/wc_c10 --dataset cifar10 --lower_batch_size 512
"""

from __future__ import annotations

import argparse
import json
import os


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    from hf_unlearn.vision.methods import UNLEARNING_METHODS
    from hf_unlearn.worstcase.vision import LOWER_METHODS, SET_KINDS

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--output_dir", required=True, help="New (or empty) folder for the results.")
    parser.add_argument("--dataset", default="digits", choices=["digits", "cifar10"], help="Dataset.")
    parser.add_argument(
        "--data_source",
        default="uoft-cs/cifar10",
        help="cifar10: the Hub dataset id, or a local copy (a folder with the Hub repository's files, or a "
        "save_to_disk folder) on machines without network.",
    )
    parser.add_argument("--unit", default="example", choices=["example", "class"], help="Selection unit.")
    parser.add_argument("--budget", type=float, default=0.1, help="Forget budget: a count, or a fraction in (0, 1).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds.")
    parser.add_argument("--set_kinds", nargs="+", default=list(SET_KINDS), choices=SET_KINDS, help="Forget sets.")
    parser.add_argument(
        "--methods", nargs="+", default=list(UNLEARNING_METHODS), choices=list(UNLEARNING_METHODS), help="Methods."
    )
    parser.add_argument("--lower_method", default="FT", choices=LOWER_METHODS, help="Lower-level method.")
    parser.add_argument(
        "--lower_batch_size",
        type=int,
        default=None,
        help="Images per lower step, drawn at random (default: the whole training set; e.g. 512 for CIFAR-10).",
    )
    parser.add_argument("--lower_optimizer", default="sign_sgd", choices=["sign_sgd", "native"], help="Lower update.")
    parser.add_argument("--lower_steps", type=int, default=10, help="Lower steps per upper iteration.")
    parser.add_argument("--lower_lr", type=float, default=1e-3, help="Lower-level learning rate.")
    parser.add_argument("--upper_steps", type=int, default=10, help="Upper iterations.")
    parser.add_argument("--w_lr", type=float, default=0.1, help="Upper step (normalised, see WorstCaseConfig).")
    parser.add_argument("--step_normalization", default="mad", choices=["mad", "budget", "none"], help="Upper step.")
    parser.add_argument("--init", default="uniform", choices=["uniform", "random"], help="Initial weights.")
    parser.add_argument("--width", type=int, default=16, help="Width of the small CNN.")
    parser.add_argument("--train_epochs", type=int, default=40, help="Epochs of the original model and Retrain.")
    return parser.parse_args(input_args)


def main(args: argparse.Namespace) -> dict:
    import torch

    from hf_unlearn.vision import ClassificationUnlearningConfig
    from hf_unlearn.worstcase import WorstCaseConfig
    from hf_unlearn.worstcase.vision import (
        WorstCaseClassificationConfig,
        format_worstcase_markdown,
        plot_worstcase,
        run_worstcase_classification,
    )

    torch.set_num_threads(1)
    if os.path.isdir(args.output_dir) and os.listdir(args.output_dir):
        raise FileExistsError(f"--output_dir {args.output_dir} is not empty; choose a new folder.")
    budget = int(args.budget) if args.budget >= 1 else args.budget
    config = WorstCaseClassificationConfig(
        benchmark=ClassificationUnlearningConfig(
            dataset=args.dataset,
            data_source=args.data_source,
            methods=args.methods,
            width=args.width,
            train_epochs=args.train_epochs,
        ),
        selection=WorstCaseConfig(
            budget=budget,
            upper_steps=args.upper_steps,
            lower_steps=args.lower_steps,
            lower_lr=args.lower_lr,
            lower_optimizer=args.lower_optimizer,
            w_lr=args.w_lr,
            step_normalization=args.step_normalization,
            init=args.init,
        ),
        unit=args.unit,
        lower_method=args.lower_method,
        lower_batch_size=args.lower_batch_size,
        set_kinds=args.set_kinds,
        seeds=args.seeds,
    )
    results = run_worstcase_classification(config)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    table = format_worstcase_markdown(results)
    with open(os.path.join(args.output_dir, "results.md"), "w") as f:
        f.write(table)
    plot_worstcase(results, os.path.join(args.output_dir, "worstcase.png"))
    print(table)
    return results


if __name__ == "__main__":
    main(parse_args())
