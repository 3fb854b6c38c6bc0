# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SalUn for image classification: Retrain, FT, GA, RL, SalUn and l1-sparse on real data, several seeds.

Runs offline on scikit-learn's bundled 8x8 digits in minutes on one CPU thread; `--dataset cifar10` uses
CIFAR-10 through `datasets` (Hub id `uoft-cs/cifar10`, or `--data_source` a local copy). Prints the table (UA, RA, TA, MIA-Efficacy, average gap to
Retrain and runtime relative to Retrain, mean ± std over seeds) and writes `results.json`, `results.md` and `gap.png`
into `--output_dir`.

Example:
    python examples/salun_classification.py --output_dir runs/salun_digits --tune
    python examples/salun_classification.py --output_dir runs/salun_digits_small --train_fraction 0.3 --tune
    python examples/salun_classification.py --output_dir runs/salun_wc --forget_set runs/wc_digits/selection.json
"""

import argparse
import os


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    from hf_unlearn.vision.benchmark import DEFAULT_LEARNING_RATES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="New (or empty) folder for results.json/.md and gap.png.")
    parser.add_argument("--dataset", default="digits", choices=["digits", "cifar10"], help="Dataset.")
    parser.add_argument(
        "--data_source",
        default="uoft-cs/cifar10",
        help="cifar10: the Hub dataset id, or a local copy (a folder with the Hub repository's files, or a "
        "save_to_disk folder) on machines without network.",
    )
    parser.add_argument(
        "--train_fraction",
        type=float,
        default=1.0,
        help="Fraction of the non-test digits used for training; e.g. 0.3 widens the train/test gap so that random "
        "forgetting becomes measurable.",
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["class", "random"],
        choices=["class", "random"],
        help="Forgetting scenarios.",
    )
    parser.add_argument("--forget_fraction", type=float, default=0.1, help="Forget fraction of random forgetting.")
    parser.add_argument("--forget_class", type=int, default=0, help="Class forgotten in class-wise forgetting.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds (split, forget set, training).")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_LEARNING_RATES),
        choices=list(DEFAULT_LEARNING_RATES),
        help="Unlearning methods.",
    )
    parser.add_argument("--train_epochs", type=int, default=40, help="Epochs of the original model and of Retrain.")
    parser.add_argument("--train_lr", type=float, default=0.05, help="Peak learning rate of original and Retrain.")
    parser.add_argument("--unlearn_epochs", type=int, default=10, help="Epochs of FT, RL, SalUn and l1-sparse.")
    parser.add_argument("--ga_epochs", type=int, default=5, help="Epochs of GA.")
    parser.add_argument("--batch_size", type=int, default=64, help="Batch size.")
    parser.add_argument("--width", type=int, default=16, help="Width of the small CNN.")
    parser.add_argument("--sparsity", type=float, default=0.5, help="Fraction of weights SalUn may update, in (0, 1].")
    parser.add_argument("--l1_alpha", type=float, default=5e-4, help="Initial l1 weight of l1-sparse.")
    parser.add_argument(
        "--lr",
        nargs="+",
        default=[],
        metavar="METHOD=LR",
        help=f"Learning-rate overrides when not tuning, e.g. SalUn=0.01 (defaults: {DEFAULT_LEARNING_RATES}).",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="Tune each method's learning rate per scenario on separate seeds (smallest mean Avg. Gap over a grid), "
        "then keep it fixed across the reported seeds.",
    )
    parser.add_argument(
        "--tune_seeds", type=int, nargs="+", default=[100, 101, 102], help="Seeds used only for tuning (not reported)."
    )
    parser.add_argument(
        "--forget_set",
        default=None,
        help="A selection.json (examples/worstcase_forget_set.py) giving the forget set as rows of the full data "
        "set; replaces --scenarios, and the train/test split and train fraction are the ones it was selected on.",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    args = parser.parse_args(input_args)
    overrides = {}
    for item in args.lr:
        method, sep, value = item.partition("=")
        if not sep or method not in DEFAULT_LEARNING_RATES:
            parser.error(f"--lr entries must be METHOD=LR with METHOD in {list(DEFAULT_LEARNING_RATES)}, got {item!r}")
        try:
            overrides[method] = float(value)
        except ValueError:
            parser.error(f"--lr {item!r}: {value!r} is not a number")
    args.lr = overrides
    return args


def main(args: argparse.Namespace) -> dict:
    from dataclasses import asdict

    import torch

    from hf_unlearn.vision import ClassificationUnlearningConfig, format_markdown, run_classification_benchmark
    from hf_unlearn.vision.benchmark import DEFAULT_LEARNING_RATES, save_results

    torch.set_num_threads(args.threads)
    if os.path.isdir(args.output_dir) and os.listdir(args.output_dir):
        raise FileExistsError(f"--output_dir {args.output_dir} is not empty; choose a new folder.")
    options = {}
    if args.forget_set is not None:  # checked (rows, duplicates, data size) before any training
        from hf_unlearn.worstcase.vision import forget_set_options

        options = forget_set_options(args.forget_set, args.dataset, args.data_source)
    config = ClassificationUnlearningConfig(
        dataset=args.dataset,
        data_source=args.data_source,
        train_fraction=args.train_fraction,
        scenarios=args.scenarios,
        forget_fraction=args.forget_fraction,
        forget_class=args.forget_class,
        seeds=args.seeds,
        methods=args.methods,
        train_epochs=args.train_epochs,
        train_lr=args.train_lr,
        unlearn_epochs=args.unlearn_epochs,
        ga_epochs=args.ga_epochs,
        batch_size=args.batch_size,
        width=args.width,
        sparsity=args.sparsity,
        l1_alpha=args.l1_alpha,
        learning_rates={**DEFAULT_LEARNING_RATES, **args.lr},
        tune=args.tune,
        tune_seeds=args.tune_seeds,
    )
    if options:
        config = ClassificationUnlearningConfig(**{**asdict(config), **options})
    results = run_classification_benchmark(config)
    print(format_markdown(results))
    if results["tuning"]:
        print("Learning rates chosen on the tuning seeds (mean Avg. Gap per grid value):")
        for scenario, table in results["tuning"].items():
            grid = {m: {r["learning_rate"]: r["gap"] for r in rows} for m, rows in table.items()}
            print(f"  {scenario}: {results['learning_rates'][scenario]}  grid (None = diverged): {grid}")
    paths = save_results(results, args.output_dir)
    print(f"Wrote {paths['json']}, {paths['md']} and {paths['plot']}")
    return results


if __name__ == "__main__":
    main(parse_args())
