# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Select the worst-case forget set ("Challenging Forgets", Fan et al., ECCV 2024) by bi-level optimisation, and write
it as `selection.json` for other tools.

Digits (image classification): the 10% of training images hardest to unlearn from a small CNN, as rows of
`sklearn.datasets.load_digits()`; `--unit class` selects whole classes instead:

    python examples/worstcase_forget_set.py --world digits --budget 0.1 --seed 0 --output_dir runs/wc_digits
    python examples/salun_classification.py --forget_set runs/wc_digits/selection.json --output_dir runs/salun_wc

CIFAR-10 goes through the same code, loaded with `datasets` from the Hub id `uoft-cs/cifar10` (or `--data_source` a
local copy in its format, on machines without network); rows are rows of its `train` split:

    python examples/worstcase_forget_set.py --world cifar10 --budget 0.1 --lower_batch_size 512 --output_dir runs/wc_c10
    python examples/salun_classification.py --dataset cifar10 --forget_set runs/wc_c10/selection.json --output_dir D

mini-TOFU (LLM): the 4 of 40 fictitious authors hardest to unlearn from the world's target model (lower level: a few
weighted GradDiff or NPO steps; upper level: per-author forget loss); `selection.json` holds the `authors` and the
rows of the world's `full` split:

    python examples/worstcase_forget_set.py --world tofu --budget 4 --seed 0 --output_dir runs/wc_tofu
    python examples/simnpo_tofu.py --forget_set runs/wc_tofu/selection.json

Outputs in `--output_dir`: `selection.json` (`indices`, `n_rows`, `authors`/`groups`, `budget`, `mode`, the
settings, the objective `trace`, `seconds`) and `objective.png`. All logic lives in `hf_unlearn.worstcase`.
"""

import argparse
import os


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="New (or empty) folder for selection.json.")
    parser.add_argument(
        "--world", default="digits", choices=["digits", "cifar10", "tofu"], help="Which data and model."
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="Forget budget: a count of units (e.g. 4 authors) or a fraction in (0, 1) (e.g. 0.1 of the images). "
        "Default: 0.1 for digits, 4 for tofu.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed (digits: train/test split and original model).")
    parser.add_argument(
        "--mode", default="hardest", choices=["hardest", "easiest"], help="Worst-case (hardest) or easiest set."
    )
    parser.add_argument(
        "--unit",
        default="example",
        choices=["example", "class"],
        help="digits/cifar10: select images ('example') or whole classes ('class').",
    )
    parser.add_argument(
        "--lower_method",
        default=None,
        help="Lower-level unlearning method. digits/cifar10: FT (default), GA, GradDiff, RL; tofu: graddiff (default), "
        "npo.",
    )
    parser.add_argument(
        "--lower_batch_size",
        type=int,
        default=None,
        help="digits/cifar10: images per lower step, drawn at random (default: the whole training set, one "
        "full-batch step; e.g. 512 for CIFAR-10's 50,000 images).",
    )
    parser.add_argument(
        "--lower_optimizer",
        default="sign_sgd",
        choices=["sign_sgd", "native"],
        help="Lower-level update: sign-SGD (the paper) or the method's own optimiser (SGD / AdamW).",
    )
    parser.add_argument("--upper_steps", type=int, default=10, help="Upper iterations (the paper: 10).")
    parser.add_argument(
        "--lower_steps", type=int, default=None, help="Lower steps per upper iteration (digits 10, tofu 5)."
    )
    parser.add_argument(
        "--lower_lr", type=float, default=None, help="Lower-level learning rate (digits 1e-3, tofu 1e-4)."
    )
    parser.add_argument(
        "--w_lr",
        type=float,
        default=0.1,
        help="Upper step in weight units: a typical unit (one median absolute deviation from the median loss) "
        "moves this much per iteration (see WorstCaseConfig.step_normalization).",
    )
    parser.add_argument(
        "--step_normalization",
        default="mad",
        choices=["mad", "budget", "none"],
        help="How the upper step is scaled: 'mad' (default), 'budget' (fraction of the budget moved per "
        "iteration) or 'none' (the paper's raw step on the losses).",
    )
    parser.add_argument("--gamma", type=float, default=0.0, help="Weight of ||w||^2 in the upper objective.")
    parser.add_argument(
        "--init", default="uniform", choices=["uniform", "random"], help="Initial weights: m/N, or a random set."
    )
    parser.add_argument(
        "--train_fraction",
        type=float,
        default=1.0,
        help="digits: fraction of the non-test images used for training (CIFAR-10 uses its train split).",
    )
    parser.add_argument("--train_epochs", type=int, default=40, help="digits/cifar10: epochs of the original model.")
    parser.add_argument("--width", type=int, default=16, help="digits/cifar10: width of the small CNN.")
    parser.add_argument(
        "--data_source",
        default="uoft-cs/cifar10",
        help="cifar10: the Hub dataset id, or a local copy (a folder with the Hub repository's files, or a "
        "save_to_disk folder) on machines without network.",
    )
    parser.add_argument("--preset", default="default", help="tofu: offline world preset ('test', 'default').")
    parser.add_argument("--world_seed", type=int, default=0, help="tofu: seed of the offline world.")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    args = parser.parse_args(input_args)
    defaults = {
        "digits": {"budget": 0.1, "lower_method": "FT", "lower_steps": 10, "lower_lr": 1e-3},
        "cifar10": {"budget": 0.1, "lower_method": "FT", "lower_steps": 10, "lower_lr": 1e-3},
        "tofu": {"budget": 4, "lower_method": "graddiff", "lower_steps": 5, "lower_lr": 1e-4},
    }[args.world]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.budget >= 1:
        if not float(args.budget).is_integer():
            parser.error(f"--budget {args.budget}: a count must be whole; a fraction must be in (0, 1).")
        args.budget = int(args.budget)
    return args


def main(args: argparse.Namespace) -> dict:
    import torch

    from hf_unlearn.worstcase import SELECTION_FILE, WorstCaseConfig, plot_objective, save_selection

    torch.set_num_threads(args.threads)
    if os.path.isdir(args.output_dir) and os.listdir(args.output_dir):
        raise FileExistsError(f"--output_dir {args.output_dir} is not empty; choose a new folder.")
    selection = WorstCaseConfig(
        budget=args.budget,
        mode=args.mode,
        upper_steps=args.upper_steps,
        lower_steps=args.lower_steps,
        lower_lr=args.lower_lr,
        lower_optimizer=args.lower_optimizer,
        w_lr=args.w_lr,
        step_normalization=args.step_normalization,
        gamma=args.gamma,
        init=args.init,
        seed=args.seed,
    )
    if args.world in ("digits", "cifar10"):
        from hf_unlearn.vision import ClassificationUnlearningConfig
        from hf_unlearn.worstcase.vision import select_classification_forget_set

        record = select_classification_forget_set(
            ClassificationUnlearningConfig(
                dataset=args.world,
                data_source=args.data_source,
                train_fraction=args.train_fraction,
                train_epochs=args.train_epochs,
                width=args.width,
            ),
            selection,
            seed=args.seed,
            unit=args.unit,
            lower_method=args.lower_method,
            lower_batch_size=args.lower_batch_size,
        )
    else:
        from hf_unlearn.worstcase.tofu import select_tofu_forget_set

        record = select_tofu_forget_set(
            selection, preset=args.preset, world_seed=args.world_seed, lower_method=args.lower_method
        )
    path = save_selection(os.path.join(args.output_dir, SELECTION_FILE), record)
    plot_objective(record["trace"], os.path.join(args.output_dir, "objective.png"), title=f"{args.world} selection")
    chosen = record.get("authors") or record.get("groups") or f"{len(record['indices'])} rows"
    print(f"selected {chosen} in {record['seconds']:.1f} s; wrote {path}")
    return record


if __name__ == "__main__":
    main(parse_args())
