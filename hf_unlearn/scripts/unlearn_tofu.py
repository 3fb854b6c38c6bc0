# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearn a TOFU forget split, evaluate the target, retain and unlearned models, and report.

The run logic behind `examples/simnpo_tofu.py`, `examples/npo_tofu.py` and `hf-unlearn train METHOD`, for any method
in the registry ([`~hf_unlearn.scripts.methods.METHODS`]). With no data options it runs offline on the mini-TOFU
world (built on first use and cached), applying the method's measured offline-world recipe to every option not given
on the command line; with `--dataset locuslab/TOFU --model ...` the config's paper defaults stand.

Outputs in `--output_dir`: `model/` (the unlearned model with its model card), `results.json`
(`{"target": {...}, "retain": {...}, "unlearned": {...}}`, each with `forget_quality` and `model_utility`, plus the
evaluation trajectory), `results.md` (table), `tradeoff.png` (forget quality vs model utility over training) and the
full per-item evaluations `eval_<model>.json` (reusable as `--retain_results`). `--push_to_hub --hub_model_id
user/name` uploads `model/`.

Example:
    >>> from hf_unlearn.scripts.unlearn_tofu import parse_args
    >>> script_args, training_args = parse_args(["--preset", "test", "--output_dir", "out"], method="npo")
    >>> script_args.forget_split, training_args.beta, training_args.learning_rate  # the offline-world recipe
    ('forget10', 0.1, 0.0003)
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerate import PartialState
from transformers import TrainerCallback

from .methods import WORLD_COMMON, get_method
from .utils import (
    apply_world_recipe,
    given_options,
    is_world,
    load_model_and_tokenizer,
    load_retain_results,
    with_defaults,
)


__all__ = ["ScriptArguments", "TofuTrajectoryCallback", "main", "make_parser", "parse_args"]


@dataclass
class ScriptArguments:
    """What to unlearn from which model, and how to evaluate it."""

    dataset: str | None = field(
        default=None,
        metadata={
            "help": "TOFU data: a Hub id (locuslab/TOFU) or a built mini-TOFU world folder (then its target and "
            "retain models are the defaults too). Default: the offline mini-TOFU world of --preset (built and "
            "cached on first use)."
        },
    )
    preset: str = field(
        default="default",
        metadata={"help": "Offline world preset when --dataset is not given: 'test' (seconds), 'default', 'tofu'."},
    )
    world_seed: int = field(default=0, metadata={"help": "Seed of the offline world."})
    forget_split: str = field(default="forget10", metadata={"help": "forget01, forget05 or forget10."})
    model: str | None = field(
        default=None,
        metadata={"help": "The model to unlearn from (Hub id or path). Default: the offline world's target model."},
    )
    retain_results: str | None = field(
        default=None,
        metadata={
            "help": "The retain model, for forget quality: its evaluation JSON (from `hf-unlearn eval tofu` or a "
            "previous run's eval_retain.json), or a model path / Hub id to evaluate. Default: the offline world's "
            "retain model. Without it (real data) forget quality is not computed."
        },
    )
    eval_points: int = field(
        default=4,
        metadata={
            "help": "How many times to evaluate on TOFU during training (evenly spaced, on the main process) for "
            "the trade-off plot; 0 disables (needed under DeepSpeed ZeRO-3 / FSDP)."
        },
    )
    eval_batch_size: int = field(default=32, metadata={"help": "Batch size of the TOFU evaluation."})
    eval_max_new_tokens: int = field(default=200, metadata={"help": "Greedy generation length for ROUGE."})
    eval_max_items: int | None = field(
        default=None, metadata={"help": "Evaluate only the first N items of each set (quick checks)."}
    )
    use_peft: bool = field(default=False, metadata={"help": "Unlearn with a LoRA adapter instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (with --use_peft)."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (with --use_peft)."})
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "LoRA target modules, comma-separated, or 'all-linear'."}
    )
    skip_reference_evals: bool = field(
        default=False, metadata={"help": "Do not evaluate the target model (only the retain and unlearned ones)."}
    )
    forget_set: str | None = field(
        default=None,
        metadata={
            "help": "A selection.json of authors (examples/worstcase_forget_set.py --world tofu) to forget instead "
            "of --forget_split's: the rest of the authors are the retain set, the forget evaluation uses the "
            "selected authors' items, and (unless --retain_results is given) a retain model that never saw them is "
            "trained with the world's recipe and cached. Offline mini-TOFU worlds only."
        },
    )
    salun_sparsity: float | None = field(
        default=None,
        metadata={
            "help": "SalUn: update only this fraction of the weights, those most salient for the forget set "
            "(e.g. 0.5); the rest stay bit-identical. The mask is computed at train begin and saved as "
            "salun_mask.safetensors. Default: off (all weights train)."
        },
    )


def make_parser(method: str = "simnpo"):
    """The `HfArgumentParser` over (`ScriptArguments`, the method's config class); its help lists every option."""
    from transformers import HfArgumentParser

    entry = get_method(method)
    _, config_cls = entry.classes()
    recipe = ", ".join(f"{k}={v}" for k, v in {**WORLD_COMMON, **entry.world_recipe}.items())
    return HfArgumentParser(
        (ScriptArguments, config_cls),
        description=f"Unlearn a TOFU forget split with {config_cls.__name__.removesuffix('Config')}, evaluate the "
        "target / retain / unlearned models, and report. On the offline world, options not given take the measured "
        f"recipe: {recipe}.",
    )


def parse_args(input_args: list[str] | None = None, method: str = "simnpo") -> tuple[ScriptArguments, Any]:
    """Parses the command line (or `input_args`, for tests) and applies the offline-world recipe.

    Args:
        input_args (`list[str]`, *optional*): Arguments instead of `sys.argv[1:]`.
        method (`str`, *optional*, defaults to `"simnpo"`): A registered method name.

    Returns:
        `tuple`: `(ScriptArguments, <method config>)`.
    """
    argv = with_defaults(sys.argv[1:] if input_args is None else list(input_args), f"{method}_tofu")
    script_args, training_args = make_parser(method).parse_args_into_dataclasses(args=argv)
    if is_world(script_args.dataset):
        apply_world_recipe(training_args, method, given_options(argv))
    return script_args, training_args


class TofuTrajectoryCallback(TrainerCallback):
    """Evaluates on TOFU at the given optimizer steps (main process only; the others wait) and records
    `(step, forget_quality, model_utility)` for the trade-off plot."""

    def __init__(self, evaluate, steps: list[int]) -> None:
        self.evaluate = evaluate
        self.steps = set(steps)
        self.points: list[dict[str, float]] = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step not in self.steps:
            return
        partial = PartialState()
        if partial.is_main_process:
            summary = self.evaluate(model)
            self.points.append(
                {
                    "step": state.global_step,
                    "epoch": state.epoch,
                    "forget_quality": summary.get("forget_quality"),
                    "model_utility": summary.get("model_utility"),
                }
            )
        partial.wait_for_everyone()


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    keys = ("forget_quality", "forget_quality_ks_statistic", "model_utility")
    summary = dict(results.get("summary", {}))
    return {k: summary.get(k) for k in keys} | summary


def main(script_args: ScriptArguments, training_args: Any, method: str = "simnpo") -> dict[str, Any]:
    """Runs the job; returns the results dict (also written to `results.json`).

    Args:
        script_args ([`ScriptArguments`]): Data, model and evaluation options.
        training_args ([`~hf_unlearn.UnlearnConfig`]): The method's config (from [`parse_args`]).
        method (`str`, *optional*, defaults to `"simnpo"`): A registered method name, matching `training_args`.
    """

    from ..data import (
        WORLD_MANIFEST,
        build_forget_retain_dataset,
        eval_split_for,
        load_tofu,
        model_max_length,
        retain_split_for,
    )
    from ..eval import TofuEvaluator, plot_tradeoff, save_json, tofu_table
    from ..eval.tofu import mark_as_retain
    from ..hub import push_to_hub, resolve_token
    from ..plotting import is_plotting_available
    from ..sources import check_unlearning_sources
    from ..trainer.safety import claim_output_dir

    trainer_cls, _ = get_method(method).classes()
    _ = training_args.device  # set up the (distributed) state from the arguments before anything else reads it
    state = PartialState()
    output_dir = Path(training_args.output_dir)
    # every path, id and the output folder are checked before minutes of world building and evaluation
    check_unlearning_sources(script_args.dataset, script_args.model, script_args.retain_results, WORLD_MANIFEST)
    resume, overwrite = training_args.resume_from_checkpoint, training_args.overwrite_output_dir
    if (output_dir / "results.json").exists() and not (resume or overwrite):
        raise ValueError(
            f"{output_dir} already holds results.json; choose a new --output_dir, or pass --overwrite_output_dir "
            "to replace it."
        )
    if state.is_main_process:  # the other ranks would see the main process's claim
        claim_output_dir(output_dir, overwrite, resume)
    push, training_args.push_to_hub = training_args.push_to_hub, False  # we push model/ ourselves, at the end
    if push:
        if not training_args.hub_model_id:
            raise ValueError("--push_to_hub needs --hub_model_id user/name.")
        resolve_token(training_args.hub_token)  # fail now, not after training

    # ---- data and models ------------------------------------------------------------------------------------
    retain_source: Any = script_args.retain_results
    if is_world(script_args.dataset):
        from ..synthetic import TofuWorld, build_tofu_world

        if script_args.dataset is None:
            with state.main_process_first():  # the cache is file-locked; this just avoids N progress bars
                world = build_tofu_world(
                    script_args.preset,
                    seed=script_args.world_seed,
                    progress=state.is_main_process,
                    num_workers=min(2, os.cpu_count() or 1),  # the weights do not depend on it
                )
        else:
            world = TofuWorld.from_path(script_args.dataset)
        data: Any = str(world.path)
        world_label = f"{world.path.name} (mini-TOFU preset {world.manifest['preset']}, seed {world.manifest['seed']})"
        model_path = script_args.model or str(world.model_path("target"))
        if script_args.forget_set is not None:  # checked here, before any model is loaded or trained
            from ..worstcase.tofu import author_set_data, load_tofu_selection

            chosen = load_tofu_selection(script_args.forget_set, world)
            forget_rows, retain_rows, eval_data = author_set_data(world, chosen["authors"])
            data = {
                eval_split_for(script_args.forget_split) if k == "forget10_perturbed" else k: v
                for k, v in eval_data.items()
            }
            if retain_source is None:
                from ..synthetic import author_retain_model

                with state.main_process_first():
                    retain_source = str(author_retain_model(world, chosen["authors"], progress=state.is_main_process))
        elif retain_source is None:
            retain_source = str(world.model_path(retain_split_for(script_args.forget_split)))
        template = world.template if training_args.qa_template == "auto" else training_args.qa_template
        training_args.qa_template = template  # recorded (results, card) as the template actually used
    else:
        if script_args.forget_set is not None:
            raise ValueError(
                "--forget_set needs an offline mini-TOFU world (omit --dataset, or pass a world folder): evaluating an "
                "arbitrary author set needs paraphrased and perturbed answers for those authors, which TOFU "
                "publishes only for its own forget splits."
            )
        data, world_label = script_args.dataset, None
        model_path = script_args.model  # required with such a --dataset: check_unlearning_sources says so
        template = training_args.qa_template

    model, tokenizer, dtype = load_model_and_tokenizer(model_path, training_args)

    if script_args.forget_set is not None:
        from datasets import Dataset

        forget, retain = Dataset.from_list(forget_rows), Dataset.from_list(retain_rows)
    else:
        forget = load_tofu(data, script_args.forget_split)
        retain = load_tofu(data, retain_split_for(script_args.forget_split))
    train_dataset = build_forget_retain_dataset(
        tokenizer,
        forget,
        retain,
        template=template,
        max_length=training_args.max_length or model_max_length(model),
        seed=training_args.pairing_seed,
    )

    evaluator = TofuEvaluator(  # the data is tokenised once for the retain, target, in-training and final evaluations
        tokenizer,
        data,
        forget_split=script_args.forget_split,
        template=template,
        batch_size=script_args.eval_batch_size,
        max_new_tokens=script_args.eval_max_new_tokens,
        max_items=script_args.eval_max_items,
    )

    def evaluate(m, retain_results=None) -> dict[str, Any]:
        return evaluator(m, retain_results=retain_results)

    # ---- retain and target evaluations (main process) --------------------------------------------------------
    results: dict[str, Any] = {}
    full: dict[str, Any] = {}
    retain_full: dict[str, Any] | None = None
    if state.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        if retain_source is not None:
            # FQ 1 and PrivLeak 0 by construction when the retain model is evaluated here
            retain_full = load_retain_results(retain_source, evaluate, mark_as_retain, dtype, state.device)
            full["retain"] = retain_full
            results["retain"] = _summary(retain_full)
        if not script_args.skip_reference_evals:
            full["target"] = evaluate(model.to(state.device), retain_full)
            results["target"] = _summary(full["target"])
    state.wait_for_everyone()

    # ---- unlearning -------------------------------------------------------------------------------------------
    peft_config = None
    if script_args.use_peft:
        from peft import LoraConfig

        targets = script_args.lora_target_modules
        peft_config = LoraConfig(
            r=script_args.lora_r,
            lora_alpha=script_args.lora_alpha,
            target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
            task_type="CAUSAL_LM",
        )
    callbacks = []
    trajectory = None
    sharded = bool(
        os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true" or os.environ.get("ACCELERATE_USE_FSDP") == "true"
    )
    if script_args.eval_points > 0 and not sharded:
        steps_per_epoch = math.ceil(
            len(train_dataset)
            / (training_args.per_device_train_batch_size * state.num_processes)
            / training_args.gradient_accumulation_steps
        )
        total = (
            training_args.max_steps
            if training_args.max_steps > 0
            else math.ceil(steps_per_epoch * training_args.num_train_epochs)
        )
        steps = sorted(
            {max(1, round(total * (i + 1) / (script_args.eval_points + 1))) for i in range(script_args.eval_points)}
        )
        trajectory = TofuTrajectoryCallback(lambda m: evaluate(m, retain_full)["summary"], steps)
        callbacks.append(trajectory)
    if script_args.salun_sparsity is not None:
        from functools import partial

        from ..data import pad_batch, require_pad_token
        from ..saliency import SalUnMask

        callbacks.append(
            SalUnMask(
                forget_dataset=train_dataset.forget,
                sparsity=script_args.salun_sparsity,
                data_collator=partial(pad_batch, pad_token_id=require_pad_token(tokenizer)),
                save_path=output_dir / "salun_mask.safetensors" if state.is_main_process else None,
            )
        )
    trainer = trainer_cls(
        model,
        training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    train_seconds = time.perf_counter() - start
    model_dir = output_dir / "model"
    trainer.save_model(str(model_dir))

    # ---- final evaluation, report, card, push (main process) ------------------------------------------------
    if state.is_main_process:
        unlearned = trainer.accelerator.unwrap_model(trainer.model)
        full["unlearned"] = evaluate(unlearned, retain_full)
        results["unlearned"] = _summary(full["unlearned"])
        points = (
            [{"step": 0, "epoch": 0.0, **{k: results["target"][k] for k in ("forget_quality", "model_utility")}}]
            if "target" in results
            else []
        )
        points += trajectory.points if trajectory is not None else []
        points.append(
            {
                "step": trainer.state.global_step,
                "epoch": trainer.state.epoch,
                **{k: results["unlearned"][k] for k in ("forget_quality", "model_utility")},
            }
        )
        results["trajectory"] = points
        results["settings"] = {
            "method": trainer._name,
            "model": model_path,
            "data": str(world.path) if script_args.forget_set is not None else data,
            "forget_split": script_args.forget_split,
            "forget_set": script_args.forget_set,
            "forget_authors": chosen["authors"] if script_args.forget_set is not None else None,
            "retain": str(retain_source) if retain_source is not None else None,
            "num_processes": state.num_processes,
            "salun_sparsity": script_args.salun_sparsity,
            "train_seconds": round(train_seconds, 2),
            "hyperparameters": {
                k: getattr(training_args, k)
                for k in (
                    "learning_rate",
                    "num_train_epochs",
                    "per_device_train_batch_size",
                    "gradient_accumulation_steps",
                    "weight_decay",
                    "warmup_steps",
                    "forget_weight",
                    "retain_weight",
                    "retain_loss_type",
                    "beta",
                    "gamma",
                    "seed",
                )
                if hasattr(training_args, k)
            },
        }
        for name, res in full.items():
            save_json(res, output_dir / f"eval_{name}.json")
        save_json(results, output_dir / "results.json")
        rows = {k: full[k] for k in ("target", "retain", "unlearned") if k in full}
        table = tofu_table(rows)
        (output_dir / "results.md").write_text(
            f"# {trainer._name} on TOFU {script_args.forget_split}\n\n{table}\n", encoding="utf-8"
        )
        plot_points = {
            f"step {p['step']}": (p["model_utility"], p["forget_quality"])
            for p in points
            if p.get("forget_quality") is not None
        }
        if "retain" in results:
            plot_points["retain"] = (results["retain"]["model_utility"], results["retain"]["forget_quality"])
        if plot_points and not is_plotting_available():
            print('tradeoff.png skipped: plots need matplotlib (pip install "hf-unlearn[plot]").')
        elif plot_points:
            plot_tradeoff(
                plot_points,
                output_dir / "tradeoff.png",
                title=f"{trainer._name} on {script_args.forget_split}: forget quality vs model utility",
                reference_lines={"p = 0.05": 0.05},
            )
        card_keys = ("forget_quality", "model_utility", "forget_truth_ratio", "privleak", "extraction_strength")
        card_metrics = {k: results["unlearned"].get(k) for k in card_keys}  # open-unlearning's names
        trainer.create_model_card(
            output_dir=model_dir,
            base_model=model_path,  # kept in the metadata only when it is a Hub id
            dataset_name=script_args.dataset,
            forget_split=script_args.forget_split
            if script_args.forget_set is None
            else f"authors {', '.join(chosen['authors'])} (selection file)",
            eval_results={k: v for k, v in card_metrics.items() if v is not None},
            world=world_label,
        )
        print(table)
        print(f"results written to {output_dir}")
        if push:
            url = push_to_hub(
                model_dir,
                training_args.hub_model_id,
                token=training_args.hub_token,
                private=bool(training_args.hub_private_repo),
                commit_message=f"{trainer._name} unlearning of {script_args.forget_split}",
            )
            results["hub_commit"] = url
            print(f"pushed to {url}")
    trainer.end_distributed()  # waits for every rank, then leaves the process group cleanly
    return results
