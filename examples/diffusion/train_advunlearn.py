#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""AdvUnlearn: train a robust, concept-erased CLIP text encoder for a Stable Diffusion 1.x-family pipeline.

AdvUnlearn (Zhang et al., NeurIPS 2024, https://arxiv.org/abs/2405.15234) erases a concept from the *text encoder*
with ESD's negative-guidance loss computed on an adversarial prompt (a soft-prompt attack in token-embedding space,
re-fitted every iteration), plus a regulariser that keeps predictions on retain prompts unchanged. The result is a
plain `CLIPTextModel` folder that plugs into any pipeline sharing the original encoder. `--method esd` trains the
ESD text-encoder baseline (same loss, no attack) with the same script.

Usage (no model flag: the offline shapes world, erasing "red"):

    accelerate launch --cpu --num_cpu_threads_per_process 1 examples/diffusion/train_advunlearn.py \
        --output_dir advunlearn-red --max_train_steps 400

Real Stable Diffusion (GPU, Hub):

    accelerate launch examples/diffusion/train_advunlearn.py \
        --pretrained_model_name_or_path CompVis/stable-diffusion-v1-4 --concept nudity \
        --retain_loss_w 0.3 --mixed_precision fp16 --output_dir advunlearn-nudity \
        --push_to_hub --hub_model_id my-user/advunlearn-nudity
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
from pathlib import Path

import torch
from accelerate.logging import get_logger
from tqdm.auto import tqdm

from hf_unlearn.diffusion import training_utils


logger = get_logger(__name__)

# AdvUnlearn's default retain set is "a photo of <COCO object>"; a short built-in list for real pipelines.
COCO_RETAIN_OBJECTS = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "suitcase",
    "frisbee",
    "skis",
    "kite",
    "surfboard",
    "bottle",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "bed",
    "toilet",
    "laptop",
    "keyboard",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
]


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="AdvUnlearn / ESD concept erasure on the CLIP text encoder of a Stable Diffusion 1.x pipeline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # Model and concept
    training_utils.add_model_arguments(parser)  # the pipeline (default: the offline shapes world), revision, variant
    parser.add_argument(
        "--concept", type=str, default=None, help="The concept to erase (e.g. 'nudity'; shapes world: 'red')."
    )
    parser.add_argument(
        "--concept_prompts",
        type=str,
        nargs="+",
        default=None,
        help="Prompts of the concept used for erasure. Default: the concept itself (shapes world: 'a red circle', ...).",
    )
    parser.add_argument(
        "--retain_prompts",
        type=str,
        nargs="*",
        default=None,
        help="Retain prompts for the utility regulariser. Default: 'a photo of a <COCO object>' (shapes world: the "
        "other colours' prompts).",
    )
    parser.add_argument(
        "--retain_prompts_file", type=str, default=None, help="A text file with one retain prompt per line."
    )
    # Method
    parser.add_argument(
        "--method",
        type=str,
        default="advunlearn",
        choices=["advunlearn", "esd"],
        help="'advunlearn' (attack in the loop) or 'esd' (the ESD text-encoder baseline: the same loss, no attack).",
    )
    parser.add_argument(
        "--train_method",
        type=str,
        default="text_encoder_full",
        help="Trained layers: text_encoder_full (all layers + final norm), text_encoder_layer{i}, text_encoder_layer{i}-{j}.",
    )
    parser.add_argument("--negative_guidance", type=float, default=1.0, help="ESD's negative guidance eta.")
    parser.add_argument("--start_guidance", type=float, default=3.0, help="CFG scale of the frozen trajectories.")
    parser.add_argument("--ddim_steps", type=int, default=50, help="DDIM steps of the frozen trajectories.")
    parser.add_argument(
        "--trajectories_per_prompt", type=int, default=4, help="Frozen-model trajectories sampled per prompt."
    )
    parser.add_argument(
        "--attack_method", type=str, default="pgd", choices=["pgd", "fast_at"], help="Inner attack: pgd or fast_at."
    )
    parser.add_argument("--attack_step", type=int, default=30, help="Inner attack steps per iteration.")
    parser.add_argument("--attack_lr", type=float, default=1e-3, help="Inner attack learning rate.")
    parser.add_argument("--adv_prompt_num", type=int, default=1, help="Adversarial soft tokens k.")
    parser.add_argument("--attack_type", type=str, default="prefix", choices=["prefix", "suffix"], help="Insertion.")
    parser.add_argument(
        "--attack_init", type=str, default="latest", choices=["latest", "random"], help="Attack initialisation."
    )
    parser.add_argument(
        "--attack_candidates",
        type=int,
        default=0,
        help="Random vocabulary-token starts screened by the attack loss before each attack (0: reference code).",
    )
    parser.add_argument(
        "--attack_loss",
        type=str,
        default="match",
        choices=["match", "denoise"],
        help="Inner attack objective: 'match' (reference code: reproduce the frozen model's prediction on the training "
        "states) or 'denoise' (UnlearnDiffAtk's denoising loss of the frozen model's own concept samples).",
    )
    parser.add_argument(
        "--plain_prompt_weight",
        type=float,
        default=0.0,
        help="After warmup, also train ESD on the plain concept prompt with this weight (0: reference code).",
    )
    parser.add_argument(
        "--adv_prompt_update_step", type=int, default=1, help="Re-run the attack every this many iterations."
    )
    parser.add_argument("--warmup_iter", type=int, default=200, help="Plain-ESD iterations before attacks start.")
    parser.add_argument("--retain_loss_w", type=float, default=1.0, help="Weight of the retain regulariser.")
    parser.add_argument("--retain_batch", type=int, default=5, help="Retain states per iteration.")
    # Training
    parser.add_argument("--output_dir", type=str, default="advunlearn-text-encoder", help="Where outputs go.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of everything.")
    parser.add_argument("--train_batch_size", type=int, default=1, help="Concept states per iteration.")
    parser.add_argument("--max_train_steps", type=int, default=1000, help="Optimizer steps (AdvUnlearn: 1000).")
    parser.add_argument("--learning_rate", type=float, default=1e-5, help="Adam learning rate (AdvUnlearn: 1e-5).")
    parser.add_argument("--adam_weight_decay", type=float, default=0.0, help="Adam weight decay.")
    # Mixed precision, accumulation, schedule, Adam, clipping, trackers, checkpoints, validation grids and the
    # evaluation attacks: the options both diffusion scripts share
    training_utils.add_training_arguments(parser, trained="trained encoder")
    # Evaluation (shapes world: concept detector available)
    parser.add_argument(
        "--eval_num_images",
        type=int,
        default=32,
        help="Shapes world: images per prompt of the final evaluation (0 skips it). Needs the world's detector.",
    )
    parser.add_argument(
        "--compare_text_encoders",
        type=str,
        nargs="*",
        default=[],
        help="Other erased encoders to evaluate side by side, as NAME=PATH (e.g. esd=out-esd/text_encoder).",
    )
    parser.add_argument(
        "--no_eval_transfer",
        action="store_true",
        help="Shapes world: skip the evaluation on the second pipeline (plug-and-play transfer).",
    )
    # Hub
    training_utils.add_hub_arguments(parser, "encoder + card")

    args = training_utils.check_training_args(parser.parse_args(input_args))
    for spec in args.compare_text_encoders:
        if "=" not in spec:
            raise ValueError(f"--compare_text_encoders entries look like NAME=PATH, got {spec!r}.")
    return args


def _default_prompts(args: argparse.Namespace, world) -> tuple[str, list[str], list[str]]:
    concept = args.concept
    if world is not None:
        concept = concept or "red"
        concept_prompts = args.concept_prompts or world.concept_prompts(concept)
        retain = world.retain_prompts(concept)
    else:
        if concept is None and not args.concept_prompts:
            raise ValueError("Pass --concept (e.g. 'nudity') or --concept_prompts for a pretrained pipeline.")
        concept = concept or args.concept_prompts[0]
        concept_prompts = args.concept_prompts or [concept]
        retain = [f"a photo of a {obj}" for obj in COCO_RETAIN_OBJECTS]
    return concept, list(concept_prompts), training_utils.read_retain_prompts(args, retain)


@torch.no_grad()
def log_validation(encoder, components, prompts, args, accelerator, step, weight_dtype):
    """Samples `num_validation_images` per validation prompt with the current encoder; saves and logs a grid."""
    from hf_unlearn.diffusion import ddim_sample, decode_to_images
    from hf_unlearn.diffusion.text_encoding import tokenize_prompts

    logger.info(f"Running validation at step {step}: {prompts}")
    device = accelerator.device
    rows = {}
    uncond = encoder(tokenize_prompts(components.tokenizer, [""]).to(device)).to(weight_dtype)
    for i, prompt in enumerate(prompts):
        cond = encoder(tokenize_prompts(components.tokenizer, [prompt]).to(device)).to(weight_dtype)
        generator = torch.Generator().manual_seed(args.seed + i)
        x, _ = ddim_sample(
            components.unet,
            components.scheduler,
            cond.expand(args.num_validation_images, -1, -1),
            uncond,
            components.latent_shape,
            25,
            args.start_guidance,
            generator,
        )
        rows[prompt] = decode_to_images(x, components.vae)
    return training_utils.log_validation_grid(accelerator, rows, args.output_dir, step)


def evaluate_shapes(world, concept, encoders: dict, args) -> tuple[dict, Path, str, list[str]]:
    """Evaluates encoders on the shapes world (main pipeline and, unless disabled, the transfer pipeline).

    Returns the results, the sample grid's path, the Markdown tables and the reasons a table says little (printed).
    """
    from hf_unlearn.diffusion import (
        DiscretePromptAttack,
        SoftPromptAttack,
        results_table,
        save_comparison_grid,
        shapes_world_evaluator,
        uninformative_table_warnings,
    )

    attacks = {
        "discrete_attack": DiscretePromptAttack(num_tokens=args.eval_attack_tokens, steps=args.eval_attack_steps),
        "soft_attack": SoftPromptAttack(num_tokens=args.eval_attack_tokens, steps=args.eval_attack_steps, lr=1e-2),
    }
    out = {"concept": concept, "num_images_per_prompt": args.eval_num_images, "attack_steps": args.eval_attack_steps}
    grid_rows, tables, warnings = {}, [], []
    targets = [("pipeline", False)] + ([] if args.no_eval_transfer else [("pipeline_transfer", True)])
    for label, transfer in targets:
        evaluator = shapes_world_evaluator(
            world, concept, transfer=transfer, num_images=args.eval_num_images, seed=args.seed, **attacks
        )
        out[label] = {}
        for name, encoder in tqdm(encoders.items(), desc=f"evaluating on {label}"):
            result = evaluator.evaluate(encoder)
            images = result.pop("images")
            out[label][name] = result
            if not transfer:
                grid_rows[f"{name} / plain"] = images["plain"]
                grid_rows[f"{name} / attacked"] = images["attacked"]
        tables.append(
            f"**{label}**" + (" (plug-and-play transfer)" if transfer else "") + "\n\n" + results_table(out[label])
        )
        warnings += uninformative_table_warnings(out[label], label)
    for warning in warnings:
        logger.warning(f"Uninformative results table: {warning}.", main_process_only=False)
    out["warnings"] = warnings
    grid = save_comparison_grid(
        grid_rows, Path(args.output_dir) / "samples.png", title=f"erasing '{concept}': plain vs discrete attack"
    )
    return out, grid, "\n\n".join(tables), warnings


def main(args: argparse.Namespace) -> dict:
    from hf_unlearn.diffusion import (
        AdvUnlearn,
        AdvUnlearnConfig,
        SoftPromptTextEncoder,
        check_clip_text_encoder,
        check_prompts,
        check_text_encoder_fits,
        load_diffusion_components,
        set_trainable_layers,
    )
    from hf_unlearn.hub import save_model_card

    # Fail fast, before any training or writing: the Hub token, the output folder.
    output_dir = training_utils.check_run_outputs(args, "text_encoder")

    # Model (the shapes world by default) and prompts: all checks before anything is written.
    world, model_path = training_utils.load_world_or_model(args)
    components = load_diffusion_components(model_path, revision=args.revision, variant=args.variant)
    check_clip_text_encoder(components.text_encoder)
    for spec in args.compare_text_encoders:  # checked now, not after training
        from transformers import CLIPTextConfig

        path = spec.split("=", 1)[1]
        if not Path(path).is_dir():
            raise ValueError(f"--compare_text_encoders {spec!r}: no such folder {path!r}.")
        check_text_encoder_fits(
            CLIPTextConfig.from_pretrained(path), components.unet, components.tokenizer, path, components.text_encoder
        )
    concept, concept_prompts, retain_prompts = _default_prompts(args, world)
    check_prompts(components.tokenizer, concept_prompts, "concept")
    if args.retain_loss_w > 0:
        check_prompts(components.tokenizer, retain_prompts, "retain")
    config = AdvUnlearnConfig(
        concept_prompts=concept_prompts,
        retain_prompts=retain_prompts,
        negative_guidance=args.negative_guidance,
        start_guidance=args.start_guidance,
        ddim_steps=args.ddim_steps,
        attack_method="none" if args.method == "esd" else args.attack_method,
        attack_steps=args.attack_step,
        attack_lr=args.attack_lr,
        adv_prompt_num=args.adv_prompt_num,
        attack_type=args.attack_type,
        attack_init=args.attack_init,
        attack_candidates=args.attack_candidates,
        attack_loss=args.attack_loss,
        plain_prompt_weight=args.plain_prompt_weight,
        adv_prompt_update_step=args.adv_prompt_update_step,
        warmup_steps=args.warmup_iter,
        retain_loss_weight=args.retain_loss_w,
        retain_batch=args.retain_batch,
        train_batch_size=args.train_batch_size,
        train_method=args.train_method,
        trajectories_per_prompt=args.trajectories_per_prompt,
        seed=args.seed,
    )

    accelerator = training_utils.create_accelerator(args)
    weight_dtype = training_utils.weight_dtype(accelerator)
    text_encoder = components.text_encoder
    original = copy.deepcopy(text_encoder).requires_grad_(False).eval().to(accelerator.device, weight_dtype)
    components.unet.requires_grad_(False).eval().to(accelerator.device, weight_dtype)
    components.vae.requires_grad_(False).eval().to(accelerator.device, weight_dtype)
    trainable = set_trainable_layers(text_encoder, args.train_method)
    logger.info(f"Training {len(trainable)} text-encoder tensors ({args.train_method}).")
    encoder = SoftPromptTextEncoder(text_encoder).train()
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer, lr_scheduler = training_utils.create_optimizer_and_scheduler(params, args, accelerator.num_processes)
    encoder, optimizer, lr_scheduler = accelerator.prepare(encoder, optimizer, lr_scheduler)
    eraser = AdvUnlearn(
        encoder,
        components.unet,
        components.tokenizer,
        components.scheduler,
        config,
        original_text_encoder=original,
        latent_shape=components.latent_shape,
    )
    accelerator.register_for_checkpointing(eraser)

    if accelerator.is_main_process:
        tracker_config = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers("advunlearn", config=tracker_config)

    global_step = training_utils.resume_from_checkpoint(accelerator, output_dir, args.resume_from_checkpoint)

    validation_prompts = args.validation_prompts or (concept_prompts[:2] + retain_prompts[:2])
    logger.info(f"***** Running {args.method} on '{concept}' for {args.max_train_steps} steps *****")

    def validate(step: int):
        unwrapped = accelerator.unwrap_model(encoder)
        return log_validation(unwrapped, components, validation_prompts, args, accelerator, step, weight_dtype)

    global_step, history, train_seconds = training_utils.train_loop(
        accelerator, encoder, eraser.compute_loss, params, optimizer, lr_scheduler, args, global_step, validate
    )
    accelerator.wait_for_everyone()

    results = {}
    if accelerator.is_main_process:
        erased = accelerator.unwrap_model(encoder).text_encoder.eval()
        tmp = output_dir / "text_encoder.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        erased.save_pretrained(tmp, safe_serialization=True)
        final = output_dir / "text_encoder"
        if final.exists():
            shutil.rmtree(final)  # only when resuming the same run
        os.replace(tmp, final)
        run_info = training_utils.run_info(
            args.method,
            concept,
            model_path,
            world,
            config.to_dict(),
            accelerator.num_processes,
            train_seconds,
            history,
        )
        (output_dir / "advunlearn_config.json").write_text(json.dumps(run_info, indent=2))
        sample_grid, table, warnings = None, None, []
        if world is not None and args.eval_num_images > 0:
            from transformers import CLIPTextModel

            encoders = {"original": CLIPTextModel.from_pretrained(model_path, subfolder="text_encoder")}
            for spec in args.compare_text_encoders:
                name, path = spec.split("=", 1)
                encoders[name] = CLIPTextModel.from_pretrained(path)
            encoders[args.method] = CLIPTextModel.from_pretrained(final)
            results, grid, table, warnings = evaluate_shapes(world, concept, encoders, args)
            results["train_seconds"] = run_info["train_seconds"]
            training_utils.write_eval_results(output_dir, results, table, warnings)
            sample_grid = grid.name
        else:
            validate(global_step)
        repo_id = args.hub_model_id or output_dir.name
        # standard Hub metadata: the base model is the Hub id trained from, or the world's recorded id (the world's
        # folder hash and preset are in the card's text too)
        tags = ["hf_unlearn", "unlearning", "advunlearn" if args.method == "advunlearn" else "esd", "concept-erasure"]
        card_data = training_utils.card_metadata(
            "transformers",
            [*tags, "clip-text-encoder", "stable-diffusion", "stable-diffusion-diffusers"],
            model_path,
            world,
            results["pipeline"][args.method] if results else None,
            model_name=f"{args.method}-{concept}",
            concept=concept,
        )
        save_model_card(
            output_dir,
            "advunlearn_text_encoder",
            card_data,
            model_name=f"{'AdvUnlearn' if args.method == 'advunlearn' else 'ESD'} text encoder: '{concept}' erased",
            repo_id=repo_id,
            base_model=model_path,
            world=world.world_id if world is not None else None,
            world_hash=world.config_hash if world is not None else None,
            world_preset=args.world_preset,
            method=args.method,
            concept=concept,
            concept_prompts=concept_prompts,
            retain_prompts=retain_prompts,
            train_method=args.train_method,
            max_train_steps=args.max_train_steps,
            learning_rate=args.learning_rate,
            negative_guidance=args.negative_guidance,
            start_guidance=args.start_guidance,
            retain_loss_w=args.retain_loss_w,
            attack_method=args.attack_method,
            adv_prompt_num=args.adv_prompt_num,
            attack_type=args.attack_type,
            attack_step=args.attack_step,
            attack_lr=args.attack_lr,
            attack_init=args.attack_init,
            warmup_iter=args.warmup_iter,
            seed=args.seed,
            results_table=table,
            table_warnings=warnings,
            sample_grid=sample_grid,
        )
        if args.push_to_hub:
            url = training_utils.push_output_dir(args, output_dir, repo_id, extra_ignore=["*.tmp/**"])
            logger.info(f"Pushed to {url}")
    accelerator.wait_for_everyone()  # then leave the process group together (end_training destroys it)
    accelerator.end_training()
    return results


if __name__ == "__main__":
    main(parse_args())
