# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SimNPO with and without SalUn weight saliency on the offline mini-TOFU world.

For each seed, unlearns the world's target model on a forget split with plain SimNPO and with SimNPO restricted to
the salient weights by the `SalUnMask` callback (mask computed at train begin from the forget set), with the same
recipe; evaluates every model with `hf_unlearn.eval.evaluate_tofu` against the retain model; and reports forget
quality (FQ), model utility (MU), forget ROUGE-L, runtime, and a check that the non-salient weights stayed
bit-identical to the target's. Writes `results.json` and `results.md` into `--output_dir`.

    python benchmarks/salun_simnpo_tofu.py --output_dir runs/salun_simnpo --preset default --seeds 0 1 2 \\
        --salun_learning_rates 3e-4 6e-4

Copy `results.json` to `benchmarks/results/salun_simnpo_tofu.json` and run `python scripts/readme_tables.py` to
refresh the README's table.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from functools import partial


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="New (or empty) folder for results.json / results.md.")
    parser.add_argument("--preset", default="default", help="mini-TOFU world preset: test, default or tofu.")
    parser.add_argument(
        "--world", default=None, help="An already built mini-TOFU world folder (instead of building --preset)."
    )
    parser.add_argument("--world_seed", type=int, default=0, help="Seed of the world.")
    parser.add_argument("--forget_split", default="forget10", help="forget01, forget05 or forget10.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Unlearning seeds.")
    parser.add_argument("--sparsity", type=float, default=0.5, help="Fraction of weights SalUn may update.")
    parser.add_argument("--learning_rate", type=float, default=3e-4, help="SimNPO learning rate (both variants).")
    parser.add_argument(
        "--salun_learning_rates",
        type=float,
        nargs="+",
        default=None,
        help="Learning rates of the SalUn variant, one run each per seed (default: --learning_rate).",
    )
    parser.add_argument("--beta", type=float, default=2.5, help="SimNPO beta (the world's measured recipe).")
    parser.add_argument("--num_train_epochs", type=float, default=10.0, help="Epochs over the forget set.")
    parser.add_argument("--batch_size", type=int, default=16, help="Forget (and paired retain) batch size.")
    parser.add_argument("--weight_decay", type=float, default=0.0, help="AdamW weight decay.")
    parser.add_argument("--eval_batch_size", type=int, default=32, help="Batch size of the TOFU evaluation.")
    return parser.parse_args(input_args)


def _summary(results: dict) -> dict:
    s = results["summary"]
    return {
        "forget_quality": s.get("forget_quality"),
        "model_utility": s.get("model_utility"),
        "forget_rouge": s.get("forget_rouge_l_recall", s.get("forget_rouge")),
    }


def main(args: argparse.Namespace) -> dict:
    import torch
    from transformers.utils import logging as hf_logging

    from hf_unlearn import SalUnMask, SimNPOConfig, SimNPOTrainer
    from hf_unlearn.data import build_forget_retain_dataset, load_tofu, model_max_length, retain_split_for
    from hf_unlearn.data.collate import pad_batch, require_pad_token
    from hf_unlearn.data.unlearn import tokenize_qa_dataset
    from hf_unlearn.eval import evaluate_tofu
    from hf_unlearn.synthetic import TofuWorld, build_tofu_world

    torch.set_num_threads(1)
    hf_logging.set_verbosity_error()
    if os.path.isdir(args.output_dir) and os.listdir(args.output_dir):
        raise FileExistsError(f"--output_dir {args.output_dir} is not empty; choose a new folder.")
    world = TofuWorld.from_path(args.world) if args.world else build_tofu_world(args.preset, seed=args.world_seed)
    tokenizer = world.load_tokenizer()
    pad_id = require_pad_token(tokenizer)
    retain_name = retain_split_for(args.forget_split)
    forget = load_tofu(world.path, args.forget_split)
    retain = load_tofu(world.path, retain_name)
    target = world.load_model("target")
    max_length = model_max_length(target)
    forget_tokens = tokenize_qa_dataset(tokenizer, forget, world.template, max_length)

    def evaluate(model, retain_results=None) -> dict:
        return evaluate_tofu(
            model,
            tokenizer,
            str(world.path),
            forget_split=args.forget_split,
            retain_results=retain_results,
            template=world.template,
            batch_size=args.eval_batch_size,
            progress=False,
        )

    retain_full = evaluate(world.load_model(retain_name))
    rows = [{"model": "target", "seed": None, **_summary(evaluate(target, retain_full)), "runtime_s": None}]
    rows.append({"model": f"retain ({retain_name})", "seed": None, **_summary(retain_full), "runtime_s": None})
    rows[-1]["forget_quality"] = 1.0  # the retain model against itself
    target_state = {n: p.detach().clone() for n, p in target.named_parameters()}

    for seed in args.seeds:
        variants = [("SimNPO", args.learning_rate)]
        variants += [("SimNPO + SalUn", lr) for lr in args.salun_learning_rates or [args.learning_rate]]
        for variant, lr in variants:
            salun = variant != "SimNPO"
            model = world.load_model("target")
            with tempfile.TemporaryDirectory() as tmp:
                config = SimNPOConfig(
                    output_dir=tmp,
                    learning_rate=lr,
                    beta=args.beta,
                    forget_weight=1.0,
                    retain_weight=1.0,
                    num_train_epochs=args.num_train_epochs,
                    per_device_train_batch_size=args.batch_size,
                    weight_decay=args.weight_decay,
                    warmup_steps=0.1,
                    max_grad_norm=1.0,
                    seed=seed,
                    pairing_seed=seed,
                    report_to="none",
                    save_strategy="no",
                    logging_strategy="no",
                    disable_tqdm=True,
                    use_cpu=True,
                )
                train_dataset = build_forget_retain_dataset(
                    tokenizer, forget, retain, template=world.template, max_length=max_length, seed=seed
                )
                callbacks = []
                if salun:
                    callbacks.append(
                        SalUnMask(
                            forget_dataset=forget_tokens,
                            data_collator=partial(pad_batch, pad_token_id=pad_id),
                            sparsity=args.sparsity,
                        )
                    )
                trainer = SimNPOTrainer(
                    model, config, train_dataset=train_dataset, processing_class=tokenizer, callbacks=callbacks
                )
                start = time.perf_counter()
                trainer.train()
                runtime = time.perf_counter() - start
            row = {"model": variant, "seed": seed, "learning_rate": lr, **_summary(evaluate(model, retain_full))}
            row["runtime_s"] = runtime
            moved = sum(int((p.detach() != target_state[n]).sum()) for n, p in model.named_parameters())
            total = sum(p.numel() for p in model.parameters())
            row["fraction_of_weights_changed"] = moved / total
            if salun:
                mask = callbacks[0].mask
                row["frozen_bit_identical"] = all(
                    torch.equal(p.detach()[~mask[n]], target_state[n][~mask[n]]) for n, p in model.named_parameters()
                )
            rows.append(row)
            print(json.dumps(row), flush=True)

    summary = {}
    for variant, lr in variants:
        runs = [r for r in rows if r["model"] == variant and r.get("learning_rate") == lr]
        summary[f"{variant}, lr {lr:g}"] = {
            key: {
                "median": statistics.median(r[key] for r in runs),
                "mean": statistics.mean(r[key] for r in runs),
                "std": statistics.stdev(r[key] for r in runs) if len(runs) > 1 else 0.0,
            }
            for key in ("forget_quality", "model_utility", "forget_rouge", "runtime_s", "fraction_of_weights_changed")
        }
    preset = world.manifest.get("preset")
    lines = [
        f"### SimNPO vs SimNPO + SalUn (sparsity {args.sparsity}) on mini-TOFU `{preset}` {args.forget_split}",
        "",
        "| Model | seed | lr | Forget quality ↑ | Model utility ↑ | Forget ROUGE-L | weights changed | runtime (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        runtime = f"{r['runtime_s']:.1f}" if r["runtime_s"] is not None else "-"
        changed = f"{r['fraction_of_weights_changed']:.2f}" if "fraction_of_weights_changed" in r else "-"
        lines.append(
            f"| {r['model']} | {r['seed'] if r['seed'] is not None else '-'} | {r.get('learning_rate', '-')} | "
            f"{r['forget_quality']:.3g} | {r['model_utility']:.3f} | {r['forget_rouge']:.3f} | {changed} | {runtime} |"
        )
    lines += [
        "",
        "| Variant | FQ median | MU mean ± std | Forget ROUGE-L mean | runtime (s) |",
        "|---|---|---|---|---|",
    ]
    for variant, s in summary.items():
        lines.append(
            f"| {variant} | {s['forget_quality']['median']:.3g} | {s['model_utility']['mean']:.3f} ± "
            f"{s['model_utility']['std']:.3f} | {s['forget_rouge']['mean']:.3f} | {s['runtime_s']['mean']:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    os.makedirs(args.output_dir, exist_ok=True)
    results = {"args": vars(args), "world": str(world.path), "rows": rows, "summary": summary}
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.output_dir, "results.md"), "w") as f:
        f.write(table + "\n")
    return results


if __name__ == "__main__":
    main(parse_args())
