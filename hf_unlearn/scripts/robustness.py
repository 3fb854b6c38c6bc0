# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Is it forgotten or hidden? Relearning and quantisation attacks on a TOFU forget split (or the MUSE forget set,
`--benchmark muse`), with the target and retain models as the two ends of the scale.

The run logic behind `examples/robustness.py` and `hf-unlearn robustness`. For each model (the given `--model`, and
the reference target and retain models) it

1. runs a relearning attack ([`~hf_unlearn.eval.relearn.relearn_attack`]): fine-tunes a copy on a seeded sample of
   the forget set and re-evaluates the TOFU forget metrics at each of `--relearn_steps`;
2. re-evaluates after weight quantisation at each of `--quant_bits` ([`~hf_unlearn.eval.quantize.quantize_model`],
   round-to-nearest per-group on CPU, or bitsandbytes on a GPU with `--quant_backend bnb`).

With `--benchmark muse` the relearning sample is drawn from the forget articles (every token scored) and the metrics
are MUSE's (`forget_verbmem_ROUGE`, `forget_knowmem_ROUGE`, `privleak` against the unmodified retain model,
`extraction_strength`; [`~hf_unlearn.eval.evaluate_muse`]). TOFU forget metrics carry open-unlearning's names: `forget_Q_A_Prob` (mean length-normalised answer probability),
`forget_Q_A_ROUGE` (ROUGE-L recall of the greedy answer), `forget_truth_ratio` (`mean(min(R, 1/R))`) and
`forget_quality` (KS-test p-value against the unmodified retain model's truth ratios); see
[`~hf_unlearn.eval.tofu`]. Forgetting that survives keeps these near the retain model's curve as steps grow;
hidden knowledge climbs towards the target's.

Outputs in `--output_dir`: `robustness.json` (per model: the relearn curve and the quantisation results, plus the
settings), `robustness.md` (table) and `robustness.png` (the four metrics against relearn steps, one line per
model; needs matplotlib).

Example:
    >>> from hf_unlearn.scripts.robustness import parse_args
    >>> args = parse_args(["--relearn_steps", "0,5", "--quant_bits", "8", "--output_dir", "out"])
    >>> args.relearn_steps, args.quant_bits, args.forget_split
    ('0,5', '8', 'forget10')
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


__all__ = [
    "FORGET_METRICS",
    "MUSE_FORGET_METRICS",
    "MuseForgetEvaluator",
    "RobustnessArguments",
    "forget_metrics",
    "main",
    "parse_args",
    "probe_model",
    "register_cli",
]

#: open-unlearning's name → the key in `evaluate_tofu(...)["summary"]`.
FORGET_METRICS: dict[str, str] = {
    "forget_Q_A_Prob": "forget_probability",
    "forget_Q_A_ROUGE": "forget_rouge_l_recall",
    "forget_truth_ratio": "forget_truth_ratio",
    "forget_quality": "forget_quality",
}
#: The MUSE forget metrics (open-unlearning's names, as in `evaluate_muse(...)["summary"]`).
MUSE_FORGET_METRICS: dict[str, str] = {
    "forget_verbmem_ROUGE": "forget_verbmem_ROUGE",
    "forget_knowmem_ROUGE": "forget_knowmem_ROUGE",
    "privleak": "privleak",
    "extraction_strength": "extraction_strength",
}


@dataclass
class RobustnessArguments:
    """Which models to attack, on which data, and how."""

    model: str | None = field(
        default=None,
        metadata={"help": "The model to probe (Hub id or folder), e.g. an unlearned model. Default: only the "
                  "reference target and retain models are probed."},
    )  # fmt: skip
    benchmark: str = field(
        default="tofu",
        metadata={"help": "'tofu': the TOFU forget metrics (forget_Q_A_Prob, forget_Q_A_ROUGE, forget_truth_ratio, "
                  "forget_quality), relearning on forget QA pairs. 'muse': the MUSE forget metrics "
                  "(forget_verbmem_ROUGE, forget_knowmem_ROUGE, privleak, extraction_strength), relearning on the "
                  "forget articles (every token scored)."},
    )  # fmt: skip
    data: str | None = field(
        default=None,
        metadata={"help": "The data: a built mini-TOFU / mini-MUSE world folder (its target and retain models are "
                  "the reference ends by default) or a Hub id (locuslab/TOFU, muse-bench/MUSE-News; then give "
                  "--target_model and --retain_model). Default: the offline world of --preset (built and cached "
                  "on first use)."},
    )  # fmt: skip
    preset: str = field(default="default", metadata={"help": "Offline world preset when --data is not given."})
    world_seed: int = field(default=0, metadata={"help": "Seed of the offline world when --data is not given."})
    forget_split: str = field(
        default="forget10", metadata={"help": "TOFU: forget01, forget05 or forget10 (MUSE has one forget set)."}
    )
    target_model: str | None = field(
        default=None, metadata={"help": "The reference model trained on the forget set. Default: the world's target."}
    )
    retain_model: str | None = field(
        default=None,
        metadata={"help": "The reference model never trained on the forget set; its unmodified forget truth ratios "
                  "give forget quality. Default: the world's retain model for --forget_split."},
    )  # fmt: skip
    relearn_steps: str = field(
        default="0,10,25,50",
        metadata={"help": "Comma-separated optimizer steps at which to evaluate during relearning, strictly "
                  "increasing, >= 0 (0 = before relearning). Empty string: no relearning attack."},
    )  # fmt: skip
    relearn_samples: int = field(
        default=8, metadata={"help": "Forget items in the relearning sample (at most the forget set's size)."}
    )
    relearn_lr: float = field(default=1e-4, metadata={"help": "Relearning learning rate (AdamW, constant), > 0."})
    relearn_batch_size: int = field(default=4, metadata={"help": "Items per relearning step (<= relearn_samples)."})
    relearn_seed: int = field(default=0, metadata={"help": "Seed of the relearning sample and batch order."})
    relearn_lora: bool = field(default=False, metadata={"help": "Relearn a LoRA adapter instead of all weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (with --relearn_lora)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (with --relearn_lora)."})
    quant_bits: str = field(
        default="8,4",
        metadata={"help": "Comma-separated weight bit-widths (2..8) to evaluate after quantisation. Empty string: "
                  "no quantisation probe."},
    )  # fmt: skip
    quant_group_size: int = field(
        default=64,
        metadata={"help": "Input features per quantisation scale (rtn backend); must divide every linear layer's "
                  "input size."},
    )  # fmt: skip
    quant_backend: str = field(
        default="rtn",
        metadata={"help": "'rtn': round-to-nearest per-group fake quantisation (CPU or GPU). 'bnb': bitsandbytes "
                  "8-bit / 4-bit NF4 loading (CUDA GPU only; bits 8 and 4)."},
    )  # fmt: skip
    template: str = field(default="auto", metadata={"help": "QA template: auto (the world's), chat, llama2, phi."})
    eval_batch_size: int = field(default=32, metadata={"help": "Batch size of the TOFU evaluation."})
    eval_max_new_tokens: int = field(default=200, metadata={"help": "Greedy generation length for ROUGE."})
    eval_max_items: int | None = field(
        default=None, metadata={"help": "Evaluate only the first N forget items (quick checks)."}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where to write the results. Default: outputs/robustness/<time>."}
    )


def make_parser():
    """The `HfArgumentParser` over [`RobustnessArguments`]; its help lists every option."""
    from transformers import HfArgumentParser

    return HfArgumentParser(
        RobustnessArguments,
        description="Relearning and quantisation attacks on a TOFU forget split: re-evaluate the forget metrics of "
        "a model, and of the target and retain models, after N relearning steps on a forget sample and after "
        "weight quantisation.",
    )


def parse_args(input_args: list[str] | None = None) -> RobustnessArguments:
    """Parses the command line (or `input_args`, for tests).

    Args:
        input_args (`list[str]`, *optional*): Arguments instead of `sys.argv[1:]`.

    Returns:
        [`RobustnessArguments`]
    """
    argv = sys.argv[1:] if input_args is None else list(input_args)
    (args,) = make_parser().parse_args_into_dataclasses(args=argv)
    return args


def _int_list(value: str, name: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError as err:
        raise ValueError(f"--{name} must be comma-separated integers, got {value!r}.") from err


def forget_metrics(results: dict[str, Any], names: dict[str, str] = FORGET_METRICS) -> dict[str, Any]:
    """The forget metrics of an [`~hf_unlearn.eval.evaluate_tofu`] (or, with `names=MUSE_FORGET_METRICS`,
    [`~hf_unlearn.eval.evaluate_muse`]) result, under open-unlearning's names.

    Example:
        >>> forget_metrics({"summary": {"forget_probability": 0.5, "forget_quality": 0.1}})["forget_Q_A_Prob"]
        0.5
    """
    summary = results["summary"]
    return {name: summary.get(key) for name, key in names.items()}


def _validate(args: RobustnessArguments) -> tuple[list[int], list[int]]:
    """Every check that needs no model or data, before any work."""
    from ..data.tofu import FORGET_SPLITS
    from ..eval.quantize import _check_bits, _check_group_size
    from ..eval.relearn import check_relearn_steps

    steps = check_relearn_steps(args.relearn_steps) if args.relearn_steps.strip() else []
    bits = [_check_bits(b) for b in _int_list(args.quant_bits, "quant_bits")]
    if len(set(bits)) != len(bits):
        raise ValueError(f"--quant_bits lists a bit-width twice: {bits}.")
    _check_group_size(args.quant_group_size)
    if args.quant_backend not in ("rtn", "bnb"):
        raise ValueError(f"--quant_backend must be 'rtn' or 'bnb', got {args.quant_backend!r}.")
    if args.quant_backend == "bnb" and any(b not in (4, 8) for b in bits):
        raise ValueError(f"--quant_backend bnb supports --quant_bits 8 and 4 only, got {bits}.")
    if not args.relearn_lr > 0:
        raise ValueError(f"--relearn_lr must be > 0 (e.g. 1e-4), got {args.relearn_lr}.")
    if args.relearn_samples < 1:
        raise ValueError(f"--relearn_samples must be a positive integer, got {args.relearn_samples}.")
    if steps and not 1 <= args.relearn_batch_size <= args.relearn_samples:
        raise ValueError(
            f"--relearn_batch_size must be from 1 to --relearn_samples ({args.relearn_samples}), "
            f"got {args.relearn_batch_size}."
        )
    if args.benchmark not in ("tofu", "muse"):
        raise ValueError(f"--benchmark must be 'tofu' or 'muse', got {args.benchmark!r}.")
    if args.forget_split not in FORGET_SPLITS:
        raise ValueError(f"--forget_split must be one of {FORGET_SPLITS}, got {args.forget_split!r}.")
    if not steps and not bits:
        raise ValueError("nothing to do: give --relearn_steps and/or --quant_bits.")
    return steps, bits


def _plot(report: dict[str, Any], path: Path) -> None:
    from ..plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    for ax, name in zip(axes.flat, report["settings"]["metrics"]):
        for label, entry in report["models"].items():
            curve = [(p["step"], p[name]) for p in entry.get("relearn", []) if p[name] is not None]
            if curve:
                ax.plot(*zip(*curve), marker="o", label=label)
        ax.set_xlabel("relearn steps")
        ax.set_ylabel(name)
        if name == "forget_quality":
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    what = report["settings"]["forget_split"] if report["settings"]["benchmark"] == "tofu" else "the MUSE forget set"
    fig.suptitle(f"Relearning attack on {what}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _table(report: dict[str, Any]) -> str:
    from ..eval import markdown_table

    rows = []
    for label, entry in report["models"].items():
        for point in entry.get("relearn", []):
            rows.append({"model": label, "attack": f"relearn {point['step']} steps", **point})
        for point in entry.get("quantization", []):
            rows.append({"model": label, "attack": f"{point['bits']}-bit {point['backend']}", **point})
    metrics = report["settings"]["metrics"]
    return markdown_table(rows, [("model", "model"), ("attack", "attack"), *((n, n) for n in metrics)])


class MuseForgetEvaluator:
    """The MUSE evaluation as `probe_model` calls it: `evaluator(model, retain_results=...)` returns
    [`~hf_unlearn.eval.evaluate_muse`]'s result (VerbMem and KnowMem on the forget set, PrivLeak, extraction
    strength, KnowMem on the retain set).

    Example:
        >>> evaluator = MuseForgetEvaluator(tokenizer, "path/to/muse-world")  # doctest: +SKIP
        >>> evaluator(model)["summary"]["forget_verbmem_ROUGE"]  # doctest: +SKIP
    """

    template = "auto"  # relearning on MUSE documents uses no QA template

    def __init__(self, tokenizer: Any, data: str, batch_size: int = 8, max_items: int | None = None) -> None:
        self.tokenizer, self.data, self.batch_size, self.max_items = tokenizer, data, batch_size, max_items

    def __call__(self, model: Any, retain_results: Any = None) -> dict[str, Any]:
        from ..eval import evaluate_muse

        return evaluate_muse(
            model,
            self.tokenizer,
            self.data,
            retain_results=retain_results,
            batch_size=self.batch_size,
            max_items=self.max_items,
            progress=False,
        )


def probe_model(
    path: str,
    evaluator: Any,
    retain_reference: dict[str, Any],
    forget_rows: list[dict[str, Any]],
    args: RobustnessArguments,
    steps: list[int],
    bits: list[int],
    relearn_seed: int = 0,
    names: dict[str, str] = FORGET_METRICS,
) -> dict[str, Any]:
    """The relearning curve and the quantisation results of one model (loaded from `path`).

    Args:
        path (`str`): The model (Hub id or folder).
        evaluator (`Callable`): The forget-set evaluation, `evaluator(model, retain_results=...)` (a
            [`~hf_unlearn.eval.TofuEvaluator`], built once for all models), with `tokenizer` and `template` attributes.
        retain_reference (`dict`): The unmodified retain model's results (forget quality is computed against it).
        forget_rows (`list[dict]`): The forget set (the relearning sample is drawn from it).
        args ([`RobustnessArguments`]): The relearning and quantisation options.
        steps (`list[int]`): Relearn steps (checked); empty for no relearning.
        bits (`list[int]`): Bit-widths (checked); empty for no quantisation.
        relearn_seed (`int`, *optional*, defaults to `0`): Seed of the relearning sample and batch order.
        names (`dict`, *optional*, defaults to [`FORGET_METRICS`]): Which summary numbers to keep, under which names.

    Returns:
        `dict`: `relearn` (one entry per step: `step`, `train_loss` and the forget metrics),
        `relearn_sample_indices` and `quantization` (one entry per bit-width).
    """
    import torch
    from transformers import AutoModelForCausalLM

    from ..eval.quantize import load_bnb_quantized, quantize_model
    from ..eval.relearn import relearn_attack

    def metrics(model: Any) -> dict[str, Any]:
        return forget_metrics(evaluator(model, retain_results=retain_reference), names)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    entry: dict[str, Any] = {}
    model = AutoModelForCausalLM.from_pretrained(path).to(device)
    if steps:
        curve = relearn_attack(
            model,
            evaluator.tokenizer,
            forget_rows,
            metrics,
            steps=steps,
            num_samples=args.relearn_samples,
            learning_rate=args.relearn_lr,
            batch_size=args.relearn_batch_size,
            seed=relearn_seed,
            template=evaluator.template,
            use_lora=args.relearn_lora,
            lora_r=args.lora_r,
            lora_alpha=args.lora_alpha,
        )
        entry["relearn_sample_indices"] = curve[0]["sample_indices"]
        entry["relearn"] = [{"step": p["step"], "train_loss": p["loss"], **p["result"]} for p in curve]
    entry["quantization"] = []
    for b in bits:
        if args.quant_backend == "bnb":
            quantized = load_bnb_quantized(path, b)
        else:
            quantized = quantize_model(model, b, group_size=args.quant_group_size)
        entry["quantization"].append(
            {
                "bits": b,
                "backend": args.quant_backend,
                "group_size": args.quant_group_size if args.quant_backend == "rtn" else None,
                **metrics(quantized),
            }
        )
        del quantized
    return entry


def main(args: RobustnessArguments) -> dict[str, Any]:
    """Runs the attacks; returns the report (also written to `robustness.json`).

    Args:
        args ([`RobustnessArguments`]): The options (from [`parse_args`]).
    """
    steps, bits = _validate(args)
    import torch
    from transformers import AutoModelForCausalLM

    from ..data import load_muse, load_tofu, load_tokenizer_padded_with_eos
    from ..eval import TofuEvaluator, save_json
    from ..eval.relearn import sample_forget_rows
    from ..plotting import is_plotting_available
    from .utils import is_world

    output_dir = Path(args.output_dir or os.path.join("outputs", "robustness", time.strftime("%Y%m%d-%H%M%S")))
    if (output_dir / "robustness.json").exists():
        raise ValueError(
            f"{output_dir} already holds robustness.json; choose a new --output_dir (nothing overwritten)."
        )

    # ---- data and models ------------------------------------------------------------------------------------
    muse = args.benchmark == "muse"
    data: Any = args.data
    template = args.template
    target, retain = args.target_model, args.retain_model
    if is_world(args.data):
        if muse:
            from ..synthetic.muse import MuseWorld, build_muse_world

            world: Any = (
                build_muse_world(args.preset, seed=args.world_seed, num_workers=min(2, os.cpu_count() or 1))
                if args.data is None
                else MuseWorld.from_path(args.data)
            )
            retain_name = "retain"
        else:
            from ..data import retain_split_for
            from ..synthetic import TofuWorld, build_tofu_world

            world = (
                build_tofu_world(args.preset, seed=args.world_seed, num_workers=min(2, os.cpu_count() or 1))
                if args.data is None
                else TofuWorld.from_path(args.data)
            )
            retain_name = retain_split_for(args.forget_split)
            template = world.template if template == "auto" else template
        data = str(world.path)
        target = target or str(world.model_path("target"))
        retain = retain or str(world.model_path(retain_name))
    if retain is None:
        raise ValueError("--retain_model is required with Hub data: forget quality compares against it.")
    models = {"target": target, "retain": retain}
    if args.model is not None and os.path.abspath(args.model) != os.path.abspath(target or ""):
        models["model"] = args.model
    models = {k: v for k, v in models.items() if v is not None}

    forget_rows = (load_muse(data, "raw", "forget") if muse else load_tofu(data, args.forget_split)).to_list()
    if steps:
        sample_forget_rows(forget_rows, args.relearn_samples, args.relearn_seed)  # checks the size before any work
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer, _ = load_tokenizer_padded_with_eos(retain)

    if muse:
        evaluator: Any = MuseForgetEvaluator(
            tokenizer, data, batch_size=args.eval_batch_size, max_items=args.eval_max_items
        )
    else:
        evaluator = TofuEvaluator(  # tokenises the forget set once for every model, relearn step and bit-width
            tokenizer,
            data,
            forget_split=args.forget_split,
            template=template,
            batch_size=args.eval_batch_size,
            max_new_tokens=args.eval_max_new_tokens,
            eval_sets=("forget",),
            max_items=args.eval_max_items,
        )
    names = MUSE_FORGET_METRICS if muse else FORGET_METRICS

    start = time.perf_counter()
    retain_reference = evaluator(AutoModelForCausalLM.from_pretrained(retain).to(device))
    report: dict[str, Any] = {
        "benchmark": "tofu",
        "settings": {
            **asdict(args),
            "data": data,
            "template": template,
            "models": models,
            "device": device,
            "metrics": list(names),
        },
        "models": {},
    }
    for label, path in models.items():
        print(f"[{label}] {path}")
        report["models"][label] = {
            "path": path,
            **probe_model(
                path,
                evaluator,
                retain_reference,
                forget_rows,
                args,
                steps,
                bits,
                relearn_seed=args.relearn_seed,
                names=names,
            ),
        }
    report["seconds"] = round(time.perf_counter() - start, 1)

    output_dir.mkdir(parents=True, exist_ok=True)
    save_json(report, output_dir / "robustness.json")
    table = _table(report)
    title = "MUSE (forget set)" if muse else f"TOFU {args.forget_split}"
    (output_dir / "robustness.md").write_text(
        f"# Relearning and quantisation attacks on {title}\n\n{table}\n", encoding="utf-8"
    )
    if steps and is_plotting_available():
        _plot(report, output_dir / "robustness.png")
    elif steps:
        print('robustness.png skipped: plots need matplotlib (pip install "hf-unlearn[plot]").')
    print(table)
    print(f"results written to {output_dir}")
    return report


def run_robustness(args: argparse.Namespace) -> int:
    """Handler of `hf-unlearn robustness`."""
    if any(option in ("-h", "--help") for option in args.options):
        parser = make_parser()
        parser.prog = "hf-unlearn robustness"
        parser.print_help()
        return 0
    main(parse_args(args.options))
    return 0


def register_cli(subparsers: Any) -> None:
    """Adds `robustness` to the `hf-unlearn` sub-commands."""
    sub = subparsers.add_parser(
        "robustness",
        add_help=False,  # every option, --help included, goes to the job's own parser
        prefix_chars="+",  # so that options starting with "-" are not parsed here
        help="Relearning and quantisation attacks on a TOFU forget split or the MUSE forget set (as "
        "examples/robustness.py).",
        description="Is it forgotten or hidden? Re-evaluate a model's TOFU forget metrics after relearning on a "
        "forget sample and after weight quantisation, beside the target and retain models.",
    )
    sub.add_argument(
        "options", nargs=argparse.REMAINDER, help="The job's options; `hf-unlearn robustness --help` lists them."
    )
    sub.set_defaults(func=run_robustness)
