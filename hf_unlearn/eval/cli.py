# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""`hf-unlearn eval tofu`: evaluate a model on TOFU (Hub `locuslab/TOFU` or a mini-TOFU world) and write JSON.

Example:
    >>> import argparse
    >>> from hf_unlearn.eval.cli import register_cli
    >>> parser = argparse.ArgumentParser()
    >>> register_cli(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["eval", "tofu", "--model", "m", "--output_file", "r.json"])
    >>> args.model, args.forget_split, args.batch_size
    (['m'], 'forget10', 16)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Adds `eval tofu` to the `hf-unlearn` command."""
    eval_parser = subparsers.add_parser("eval", help="Evaluate models on unlearning benchmarks.")
    benchmarks = eval_parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    eval_parser.set_defaults(func=lambda args: eval_parser.print_help() or 2)

    p = benchmarks.add_parser(
        "tofu",
        help="TOFU: forget quality, model utility, probability, ROUGE-L recall, truth ratio.",
        description=(
            "Evaluate a causal LM on TOFU (Maini et al., 2024). Writes a JSON file with the aggregates and the "
            "per-item numbers (truth ratios, generations, NLLs) and prints a Markdown table. Forget quality needs "
            "a retain model (--retain_model, evaluated here too) or its saved results (--retain_results)."
        ),
    )
    p.add_argument(
        "--model",
        required=True,
        nargs="+",
        help="Model(s) to evaluate: a folder, a Hub id, or the name of a model of the world given by --data "
        "(e.g. `target`, `retain90`). Several models are evaluated one after the other in this process, each "
        "against the same retain model, on data loaded and tokenised once (when their tokenizers match); give one "
        "--output_file per model.",
    )
    retain = p.add_mutually_exclusive_group()
    retain.add_argument(
        "--retain_model",
        default=None,
        help="Retain model (never trained on the forget set), evaluated first; its results go to "
        "--retain_output_file. Same forms as --model.",
    )
    retain.add_argument(
        "--retain_results",
        default=None,
        help="JSON written by an earlier `hf-unlearn eval tofu` run of the retain model (saves re-evaluating it).",
    )
    p.add_argument(
        "--data",
        default="locuslab/TOFU",
        help="Hub dataset id or mini-TOFU world folder (`hf-unlearn build-world tofu`). Default: locuslab/TOFU.",
    )
    p.add_argument(
        "--forget_split",
        default="forget10",
        choices=["forget01", "forget05", "forget10"],
        help="Forget split; its `_perturbed` config is evaluated. Default: forget10.",
    )
    p.add_argument(
        "--output_file",
        required=True,
        nargs="+",
        help="Where to write each model's results (a .json file per --model, in the same order); the Markdown "
        "table of the run (every model) is written beside each (.md).",
    )
    p.add_argument(
        "--retain_output_file",
        default=None,
        help="Where to write the retain model's results (JSON); default: <first output_file stem>.retain.json.",
    )
    p.add_argument(
        "--template",
        default="auto",
        choices=["auto", "chat", "llama2", "phi"],
        help="QA prompt template: `auto` (the tokenizer's chat template), `chat`, `llama2` (TOFU Llama-2-chat) or "
        "`phi` (TOFU Phi-1.5). Default: auto.",
    )
    p.add_argument(
        "--batch_size", type=int, default=16, help="Sequences per forward pass / generate call. Default: 16."
    )
    p.add_argument(
        "--max_new_tokens",
        type=int,
        default=200,
        help="Greedy generation length (open-unlearning's 200). Default: 200.",
    )
    p.add_argument(
        "--retain_eval_split",
        default="retain_perturbed",
        help="Retain evaluation config. Default: retain_perturbed.",
    )
    p.add_argument(
        "--max_items", type=int, default=None, help="Evaluate only the first N items of each set (quick checks)."
    )
    p.add_argument(
        "--device", default="auto", help="Torch device, e.g. `cpu`, `cuda`, `cuda:1`. Default: cuda if available."
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "bfloat16", "float16"],
        help="Weights dtype. Default: auto (the checkpoint's).",
    )
    p.add_argument(
        "--no_progress", action="store_true", help="Hide progress bars (evaluation, data and model loading)."
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="Allow writing over an existing --output_file / --retain_output_file (refused by default).",
    )
    p.set_defaults(func=run_tofu)
    _add_muse_parser(benchmarks)


def resolve_model_path(model: str, data: str) -> str:
    """A model argument as a loadable path: an existing folder, a world model name, or (else) a Hub id.

    A mini-TOFU world's `world.json` lists its models (`"models": {"target": "models/target", ...}`); `--model
    target --data WORLD` then means `WORLD/models/target`.
    """
    from ..data.tofu import WORLD_MANIFEST

    if os.path.isdir(model):
        return model
    manifest = Path(data) / WORLD_MANIFEST
    if manifest.is_file():
        models = json.loads(manifest.read_text(encoding="utf-8")).get("models", {})
        if model in models:
            entry = models[model]
            rel = entry.get("path") if isinstance(entry, dict) else entry
            return str(Path(data) / rel)
        if not os.path.isabs(model) and "/" not in model:
            raise ValueError(
                f"{model!r} is neither a folder nor a model of the world {data} (it has {sorted(models)})."
            )
    return model


def check_outputs(args: argparse.Namespace) -> list[Path]:
    """Checks `--model` / `--output_file` / `--retain_output_file` of an `eval` run (TOFU or MUSE) before any work;
    returns every output file (the retain model's last).

    Raises:
        `ValueError`: A model given twice, not one `.json` output file per model, or an output file given twice
            (the retain model's included).
    """
    repeated = [m for i, m in enumerate(args.model) if m in args.model[:i]]
    if repeated:
        raise ValueError(f"--model lists {repeated[0]!r} more than once; give each model once.")
    if len(args.output_file) != len(args.model):
        raise ValueError(
            f"--output_file: got {len(args.output_file)} file(s) for {len(args.model)} model(s); give one .json file "
            "per --model, in the same order."
        )
    outputs = [Path(f) for f in args.output_file]
    for out in outputs:
        if out.suffix != ".json":
            raise ValueError(f"--output_file must end in .json (a Markdown table goes next to it), got {out}.")
    if args.retain_model is not None:
        outputs.append(_retain_output(args))
    resolved = [out.resolve() for out in outputs]
    for i, out in enumerate(resolved):
        if out in resolved[:i]:
            what = (
                "--retain_output_file" if args.retain_model is not None and i == len(outputs) - 1 else "--output_file"
            )
            raise ValueError(f"{what}: {outputs[i]} is also another output file; give every output its own file.")
    return outputs


def check_inputs(args: argparse.Namespace) -> None:
    """Checks every path and id of an `eval tofu` run before any model is loaded or evaluated.

    Raises:
        `ValueError`: A missing folder ("no such folder"), a folder that is not a saved model, an unknown world
            model name, a missing `--retain_results` file, a model given twice, not one `.json` output file per
            model, an output file given twice, an existing output file without `--overwrite`, or a Hub id that
            cannot be reached.
    """
    from ..data.tofu import WORLD_MANIFEST
    from ..sources import check_dataset_source, check_model_source

    check_dataset_source(
        args.data,
        "--data",
        hint="Pass a Hub dataset id (locuslab/TOFU) or a mini-TOFU world folder; build one with "
        f"`hf-unlearn build-world tofu --output_dir {args.data}`.",
    )
    outputs = check_outputs(args)
    for option, value in [("--model", m) for m in args.model] + [("--retain_model", args.retain_model)]:
        if value is not None:
            check_model_source(resolve_model_path(value, args.data), option)
    if args.retain_results is not None and not Path(args.retain_results).is_file():
        raise ValueError(
            f"--retain_results {args.retain_results!r}: no such file. Pass the JSON written by an earlier "
            "`hf-unlearn eval tofu --retain_model ...` run, or evaluate the retain model with --retain_model."
        )
    is_world = (Path(args.data) / WORLD_MANIFEST).is_file()
    if args.retain_model is None and args.retain_results is None and not is_world:
        print("note: no --retain_model / --retain_results: forget quality will not be computed.", file=sys.stderr)  # noqa: T201
    for out in outputs:
        if out.exists() and not args.overwrite:
            raise ValueError(f"{out} already exists; choose a new --output_file, or pass --overwrite to replace it.")


def _retain_output(args: argparse.Namespace) -> Path:
    output = Path(args.output_file[0])
    return Path(args.retain_output_file or output.with_name(output.stem + ".retain.json"))


def _load(model_arg: str, args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from ..data import load_tokenizer_padded_with_eos

    path = resolve_model_path(model_arg, args.data)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)
    tokenizer, padded_with_eos = load_tokenizer_padded_with_eos(path)
    if padded_with_eos:
        print(f"note: {path} has no pad token; padding with its EOS token {tokenizer.eos_token!r}.", file=sys.stderr)  # noqa: T201
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    return model, tokenizer


def _same_tokenizer(a: Any, b: Any) -> bool:
    """Whether two tokenizers turn the same text into the same ids (so that one tokenisation of the data serves both
    models): same class, vocabulary, special tokens and chat template."""
    return (
        type(a) is type(b)
        and a.get_vocab() == b.get_vocab()
        and a.all_special_tokens == b.all_special_tokens
        and a.pad_token_id == b.pad_token_id
        and getattr(a, "chat_template", None) == getattr(b, "chat_template", None)
    )


def _evaluate(model_arg: str, args: argparse.Namespace, retain_results: Any, evaluator: Any = None) -> tuple[Any, Any]:
    """Evaluates one model with `evaluator` (a [`~hf_unlearn.eval.tofu.TofuEvaluator`]) when its tokenizer matches
    the evaluator's, else with a new one; returns the results and the evaluator used, for the next model."""
    from .tofu import TofuEvaluator

    model, tokenizer = _load(model_arg, args)
    if evaluator is None or not _same_tokenizer(evaluator.tokenizer, tokenizer):
        evaluator = TofuEvaluator(
            tokenizer,
            args.data,
            forget_split=args.forget_split,
            template=args.template,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            retain_eval_split=args.retain_eval_split,
            max_items=args.max_items,
        )
    results = evaluator(model, retain_results=retain_results, progress=not args.no_progress)
    results["model"] = model_arg
    return results, evaluator


def run_tofu(args: argparse.Namespace) -> int:
    """Runs `hf-unlearn eval tofu`."""
    from .report import load_json, save_json, tofu_table
    from .tofu import mark_as_retain

    if args.no_progress:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    check_inputs(args)
    rows: dict[str, Any] = {}
    retain_results: Any = None
    evaluator = None  # the data is loaded and tokenised once for the retain model and every evaluated model
    if args.retain_results is not None:
        retain_results = load_json(args.retain_results)
    elif args.retain_model is not None:
        retain_out = _retain_output(args)
        retain_results, evaluator = _evaluate(args.retain_model, args, retain_results=None)
        # The retain model against itself: forget quality 1 by construction.
        retain_results = mark_as_retain(retain_results)
        save_json(retain_results, retain_out)
        print(f"wrote {retain_out} ({retain_results['eval_seconds']:.1f} s)", file=sys.stderr)  # noqa: T201
        rows[f"{args.retain_model} (retain)"] = retain_results
    for model_arg, output in zip(args.model, map(Path, args.output_file)):
        results, evaluator = _evaluate(model_arg, args, retain_results=retain_results, evaluator=evaluator)
        if args.retain_results is not None:
            results["retain_results"] = os.fspath(args.retain_results)
        elif args.retain_model is not None:
            results["retain_model"] = args.retain_model
        save_json(results, output)
        print(f"wrote {output} ({results['eval_seconds']:.1f} s)", file=sys.stderr)  # noqa: T201
        rows[model_arg] = results
    table = tofu_table(rows)
    for output in args.output_file:
        Path(output).with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    print(table)  # noqa: T201
    return 0


def _add_muse_parser(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser(
        "muse",
        help="MUSE: VerbMem, KnowMem (forget/retain), PrivLeak, extraction strength, MIA AUCs.",
        description=(
            "Evaluate a causal LM on MUSE (Shi et al., 2024) as MUSE and open-unlearning define it. Writes a JSON "
            "file (open-unlearning key names, fractions; PrivLeak in %%) and a Markdown table (x 100, as MUSE's "
            "paper). PrivLeak is relative to a retain model (--retain_model, evaluated here too), its saved results "
            "(--retain_results) or its Min-K%% AUC (--retain_auc); without any, 0.5."
        ),
    )
    p.add_argument(
        "--model",
        required=True,
        nargs="+",
        help="Model(s) to evaluate: a folder, a Hub id, or the name of a model of the world given by --data (e.g. "
        "`target`, `retain`). Several models are evaluated one after the other in this process, each against the "
        "same retain model; give one --output_file per model.",
    )
    retain = p.add_mutually_exclusive_group()
    retain.add_argument("--retain_model", default=None, help="Retain model (never trained on the forget set).")
    retain.add_argument(
        "--retain_results", default=None, help="JSON of an earlier `eval muse` run of the retain model."
    )
    retain.add_argument(
        "--retain_auc",
        type=float,
        default=None,
        help="The retain model's Min-K%% AUC (forget as members vs holdout, in [0, 1]). MUSE's published retrained "
        "models: 1 - 0.4772 (News) and 1 - 0.5393 (Books), quoted from muse_bench's constants.",
    )
    p.add_argument(
        "--data",
        default="muse-bench/MUSE-News",
        help="MUSE Hub id (muse-bench/MUSE-News, muse-bench/MUSE-Books, or `news` / `books`) or a mini-MUSE world "
        "folder (`hf-unlearn build-world muse`). Default: muse-bench/MUSE-News.",
    )
    p.add_argument(
        "--output_file",
        required=True,
        nargs="+",
        help="Where to write each model's results (.json, one per --model, in the same order); the run's table (every "
        "model) goes beside each.",
    )
    p.add_argument(
        "--retain_output_file",
        default=None,
        help="Where to write the retain model's results (JSON); default: <first output_file stem>.retain.json.",
    )
    p.add_argument("--batch_size", type=int, default=8, help="Sequences per forward pass / generate call. Default: 8.")
    p.add_argument("--verbmem_max_new_tokens", type=int, default=128, help="VerbMem generation length (MUSE: 128).")
    p.add_argument("--knowmem_max_new_tokens", type=int, default=32, help="KnowMem answer length (MUSE: 32).")
    p.add_argument(
        "--answer_prefix",
        default=None,
        help="KnowMem answer cue. Default: the world's (`Answer:`) or MUSE's `Answer: ` (trailing space) for Hub data.",
    )
    p.add_argument("--privleak_k", type=float, default=0.4, help="Min-K%% fraction of PrivLeak (MUSE: 0.4).")
    p.add_argument("--max_items", type=int, default=None, help="Evaluate only the first N items of each set.")
    p.add_argument("--device", default="auto", help="Torch device, e.g. `cpu`, `cuda`. Default: cuda if available.")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "bfloat16", "float16"],
        help="Weights dtype. Default: auto (the checkpoint's).",
    )
    p.add_argument("--no_progress", action="store_true", help="Hide progress bars.")
    p.set_defaults(func=run_muse)


def run_muse(args: argparse.Namespace) -> int:
    """Runs `hf-unlearn eval muse`."""
    from .muse import evaluate_muse, mark_muse_retain, muse_table
    from .report import save_json

    check_outputs(args)

    def run(model_arg: str, retain_results: Any) -> dict[str, Any]:
        model, tokenizer = _load(model_arg, args)
        results = evaluate_muse(
            model,
            tokenizer,
            data=args.data,
            retain_results=retain_results,
            batch_size=args.batch_size,
            verbmem_max_new_tokens=args.verbmem_max_new_tokens,
            knowmem_max_new_tokens=args.knowmem_max_new_tokens,
            answer_prefix=args.answer_prefix,
            privleak_k=args.privleak_k,
            max_items=args.max_items,
            progress=not args.no_progress,
        )
        results["model"] = model_arg
        return results

    rows: dict[str, Any] = {}
    retain_results: Any = args.retain_results if args.retain_results is not None else args.retain_auc
    if args.retain_model is not None:
        retain_results = mark_muse_retain(run(args.retain_model, None))
        save_json(retain_results, _retain_output(args))
        rows[f"{args.retain_model} (retain)"] = retain_results
    for model_arg, output in zip(args.model, map(Path, args.output_file)):
        results = run(model_arg, retain_results)
        save_json(results, output)
        rows[model_arg] = results
    table = muse_table(rows)
    for output in args.output_file:
        Path(output).with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    print(table)  # noqa: T201
    return 0
