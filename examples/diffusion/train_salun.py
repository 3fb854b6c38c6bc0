#!/usr/bin/env python
# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SalUn for text-to-image diffusion: saliency-masked random-label unlearning of a Stable Diffusion 1.x UNet.

SalUn (Fan et al., ICLR 2024, https://arxiv.org/abs/2310.12508) first ranks every UNet weight by the magnitude of the
gradient of a forget loss (classifier-free-guided prediction on images of the concept) and keeps the top half
trainable; the rest stay bit-identical. It then trains the forget prompts' predictions toward the model's own
prediction under a pseudo prompt (SalUn's "random label", e.g. nudity -> "a person wearing clothes") on the same noisy
forget images, plus `--alpha` times the ordinary diffusion loss on retain images. The result is a diffusers pipeline
folder whose `unet/` is the unlearned UNet.

Usage (no model flag: the offline shapes world, forgetting "red" toward "green"):

    accelerate launch --cpu --num_cpu_threads_per_process 1 examples/diffusion/train_salun.py \
        --output_dir salun-red --max_train_steps 200 --learning_rate 1e-3

Real Stable Diffusion (GPU, Hub), SalUn's nudity setting:

    accelerate launch examples/diffusion/train_salun.py \
        --pretrained_model_name_or_path CompVis/stable-diffusion-v1-4 \
        --concept_prompts "a photo of a nude person" --pseudo_prompts "a photo of a person wearing clothes" \
        --retain_prompts "a photo of a person wearing clothes" --num_forget_images 800 --num_retain_images 800 \
        --alpha 0.1 --learning_rate 1e-5 --max_train_steps 100 --mixed_precision fp16 --output_dir salun-nudity
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from accelerate.logging import get_logger

from hf_unlearn.diffusion import training_utils


logger = get_logger(__name__)

MASK_FILE = "saliency_mask.safetensors"


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SalUn: saliency-masked random-label unlearning of the UNet of a Stable Diffusion 1.x pipeline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # Model and concept
    training_utils.add_model_arguments(parser)  # the pipeline (default: the offline shapes world), revision, variant
    parser.add_argument(
        "--concept",
        type=str,
        default=None,
        help="Shapes world: the colour to forget (default 'red'). Elsewhere a name for the card (default: the first "
        "concept prompt).",
    )
    parser.add_argument(
        "--concept_prompts",
        type=str,
        nargs="+",
        default=None,
        help="Prompts of the concept to forget; forget images are generated from them by the original model. "
        "Shapes world default: 'a red circle', 'a red square', 'a red triangle'.",
    )
    parser.add_argument(
        "--pseudo_prompts",
        type=str,
        nargs="+",
        default=None,
        help="SalUn's 'random label': one prompt per concept prompt (or one for all) whose prediction the forget "
        "prompts are trained toward. Shapes world default: the same prompts with the next colour ('a green circle').",
    )
    parser.add_argument(
        "--retain_prompts",
        type=str,
        nargs="*",
        default=None,
        help="Prompts of the retain images (shapes world default: the other colours' prompts).",
    )
    parser.add_argument(
        "--retain_prompts_file", type=str, default=None, help="A text file with one retain prompt per line."
    )
    # Method
    parser.add_argument("--alpha", type=float, default=0.5, help="Weight of the retain diffusion loss (nudity: 0.1).")
    parser.add_argument(
        "--sparsity", type=float, default=0.5, help="Fraction of UNet weights the saliency mask leaves trainable."
    )
    parser.add_argument(
        "--mask_guidance_scale", type=float, default=7.5, help="w of the CFG prediction in the mask's forget loss."
    )
    parser.add_argument(
        "--mask_path",
        type=str,
        default=None,
        help="Reuse a saliency mask (safetensors, from an earlier run's saliency_mask.safetensors) instead of "
        "computing it; it must have been computed for this UNet.",
    )
    parser.add_argument("--mask_batch_size", type=int, default=8, help="Batch size of the mask's gradient pass.")
    parser.add_argument(
        "--num_forget_images", type=int, default=8, help="Forget images generated per concept prompt (nudity: 800)."
    )
    parser.add_argument(
        "--num_retain_images", type=int, default=8, help="Retain images generated per retain prompt (nudity: 800)."
    )
    parser.add_argument("--generation_steps", type=int, default=50, help="DDIM steps used to generate them.")
    parser.add_argument(
        "--generation_guidance_scale",
        type=float,
        default=None,
        help="CFG scale used to generate them (default 7.5; shapes world: its own guidance scale).",
    )
    # Training
    parser.add_argument("--output_dir", type=str, default="salun-unet", help="Where the pipeline folder goes.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of everything.")
    parser.add_argument("--train_batch_size", type=int, default=8, help="Forget images per step (reference: 8).")
    parser.add_argument("--retain_batch_size", type=int, default=8, help="Retain images per step.")
    parser.add_argument("--max_train_steps", type=int, default=1000, help="Optimizer steps.")
    parser.add_argument("--learning_rate", type=float, default=1e-5, help="Adam learning rate (SalUn SD: 1e-5).")
    parser.add_argument(
        "--adam_weight_decay",
        type=float,
        default=0.0,
        help="Adam weight decay (non-salient weights stay fixed anyway: the mask is a hard constraint).",
    )
    # Mixed precision, accumulation, schedule, Adam, clipping (of the masked gradients), trackers, checkpoints,
    # validation grids and the evaluation attacks: the options both diffusion scripts share
    training_utils.add_training_arguments(parser, trained="trained UNet")
    # Evaluation (shapes world: concept detector available)
    parser.add_argument(
        "--eval_num_images",
        type=int,
        default=32,
        help="Shapes world: images per prompt of the final evaluation of the original and the unlearned UNet (0 "
        "skips it). The same evaluation as train_advunlearn.py (concept rate, ASR under a discrete and a soft "
        "attack, retain accuracy).",
    )
    # Hub
    training_utils.add_hub_arguments(parser, "pipeline + card")

    args = training_utils.check_training_args(parser.parse_args(input_args))
    if args.mask_path is not None and not Path(args.mask_path).is_file():
        raise ValueError(f"--mask_path {args.mask_path!r}: no such file (omit it to compute the mask).")
    return args


def _prompts(args: argparse.Namespace, world) -> tuple[str, list[str], list[str], list[str]]:
    """The concept name, concept prompts, pseudo prompts and retain prompts (shapes-world defaults)."""
    if world is not None:
        from hf_unlearn.synthetic.shapes import COLORS

        concept = args.concept or "red"
        if concept not in COLORS and not (args.concept_prompts and args.pseudo_prompts):
            raise ValueError(
                f"--concept {concept!r}: the shapes world forgets a colour {list(COLORS)} by default; for another "
                "concept pass --concept_prompts and --pseudo_prompts."
            )
        concept_prompts = args.concept_prompts or world.concept_prompts(concept)
        if args.pseudo_prompts:
            pseudo = list(args.pseudo_prompts)
        else:  # SalUn's deterministic pseudo class, (c + 1) mod C: the next colour, same shapes
            names = list(COLORS)
            pseudo = world.concept_prompts(names[(names.index(concept) + 1) % len(names)])
        retain = world.retain_prompts(concept)
    else:
        if not args.concept_prompts or not args.pseudo_prompts:
            raise ValueError(
                "Pass --concept_prompts and --pseudo_prompts for a pretrained pipeline (e.g. 'a photo of a nude "
                "person' and 'a photo of a person wearing clothes')."
            )
        concept = args.concept or args.concept_prompts[0]
        concept_prompts, pseudo = args.concept_prompts, list(args.pseudo_prompts)
        retain = list(args.pseudo_prompts)
    return concept, list(concept_prompts), pseudo, training_utils.read_retain_prompts(args, retain)


@torch.no_grad()
def log_validation(unet, components, prompts, args, accelerator, step, guidance_scale):
    """Samples `num_validation_images` per validation prompt with the current UNet; saves and logs a grid."""
    from hf_unlearn.diffusion import ddim_sample, decode_to_images, encode_prompts

    unet.eval()
    device = accelerator.device
    uncond = encode_prompts(components.text_encoder, components.tokenizer, [""], device, unet.dtype)
    rows = {}
    for i, prompt in enumerate(prompts):
        cond = encode_prompts(components.text_encoder, components.tokenizer, [prompt], device, unet.dtype)
        x, _ = ddim_sample(
            unet,
            components.scheduler,
            cond.expand(args.num_validation_images, -1, -1),
            uncond,
            components.latent_shape,
            25,
            guidance_scale,
            torch.Generator().manual_seed(args.seed + i),
        )
        rows[prompt] = decode_to_images(x, components.vae)
    unet.train()
    return training_utils.log_validation_grid(accelerator, rows, args.output_dir, step)


def evaluate_shapes(world, concept, original_unet, unet, args) -> tuple[dict, Path, str, list[str]]:
    """The AdvUnlearn evaluation on the shapes world for the original and the unlearned UNet.

    Returns the results, the sample grid's path, the Markdown table and the reasons the table says little (logged).
    """
    from hf_unlearn.diffusion import (
        DiscretePromptAttack,
        SoftPromptAttack,
        evaluate_models,
        load_diffusion_components,
        results_table,
        save_comparison_grid,
        shapes_world_evaluator,
        uninformative_table_warnings,
    )

    evaluator = shapes_world_evaluator(
        world,
        concept,
        num_images=args.eval_num_images,
        seed=args.seed,
        discrete_attack=DiscretePromptAttack(num_tokens=args.eval_attack_tokens, steps=args.eval_attack_steps),
        soft_attack=SoftPromptAttack(num_tokens=args.eval_attack_tokens, steps=args.eval_attack_steps, lr=1e-2),
    )
    text_encoder = load_diffusion_components(world.pipeline_path).text_encoder
    results, rows = evaluate_models(
        evaluator, {"original": (text_encoder, original_unet), "salun": (text_encoder, unet)}
    )
    out = {"concept": concept, "num_images_per_prompt": args.eval_num_images, "attack_steps": args.eval_attack_steps}
    out["pipeline"] = results
    warnings = uninformative_table_warnings(results, "the pipeline")
    for warning in warnings:
        logger.warning(f"Uninformative results table: {warning}.", main_process_only=False)
    out["warnings"] = warnings
    grid = save_comparison_grid(
        rows, Path(args.output_dir) / "samples.png", title=f"SalUn forgetting '{concept}': plain vs discrete attack"
    )
    return out, grid, results_table(results), warnings


def main(args: argparse.Namespace) -> dict:
    from diffusers import UNet2DConditionModel

    from hf_unlearn.diffusion import SalUnDiffusion, SalUnDiffusionConfig, load_diffusion_components
    from hf_unlearn.hub import save_model_card
    from hf_unlearn.saliency import (
        apply_saliency_mask,
        frozen_weights_fingerprint,
        load_saliency_mask,
        mask_density,
        save_saliency_mask,
    )
    from hf_unlearn.saliency.mask import FINGERPRINT_KEY

    # Fail fast, before any training or writing: the Hub token, the output folder, the model, the prompts, the mask.
    output_dir = training_utils.check_run_outputs(args, "unet")
    world, model_path = training_utils.load_world_or_model(args)  # the shapes world without a model
    components = load_diffusion_components(model_path, revision=args.revision, variant=args.variant)
    concept, concept_prompts, pseudo_prompts, retain_prompts = _prompts(args, world)
    guidance = args.generation_guidance_scale
    if guidance is None:
        guidance = world.config.guidance_scale if world is not None else 7.5
    config = SalUnDiffusionConfig(
        concept_prompts=concept_prompts,
        pseudo_prompts=pseudo_prompts,
        retain_prompts=retain_prompts,
        alpha=args.alpha,
        sparsity=args.sparsity,
        mask_guidance_scale=args.mask_guidance_scale,
        num_forget_images=args.num_forget_images,
        num_retain_images=args.num_retain_images,
        generation_steps=args.generation_steps,
        generation_guidance_scale=guidance,
        train_batch_size=args.train_batch_size,
        retain_batch_size=args.retain_batch_size,
        mask_batch_size=args.mask_batch_size,
        seed=args.seed,
    )
    unet = components.unet
    mask_file = args.mask_path
    if mask_file is None and args.resume_from_checkpoint and (output_dir / MASK_FILE).is_file():
        mask_file = output_dir / MASK_FILE  # the run's own mask: a recomputed one could differ
    mask = load_saliency_mask(mask_file, unet) if mask_file is not None else None  # names the mismatch

    accelerator = training_utils.create_accelerator(args)
    weight_dtype = training_utils.weight_dtype(accelerator)
    components.text_encoder.requires_grad_(False).eval().to(accelerator.device, weight_dtype)
    if components.vae is not None:
        components.vae.requires_grad_(False).eval().to(accelerator.device, weight_dtype)
    unet.to(accelerator.device).requires_grad_(True)
    logger.info(f"Generating {args.num_forget_images} forget / {args.num_retain_images} retain images per prompt.")
    salun = SalUnDiffusion(
        unet, components.text_encoder, components.tokenizer, components.scheduler, config, components.latent_shape
    )
    if mask is None:
        logger.info(f"Computing the saliency mask (top {args.sparsity:.0%} of |gradient| over the whole UNet).")
        mask = salun.compute_mask(unet)
    fingerprint = frozen_weights_fingerprint(mask, unet)
    if accelerator.is_main_process and not (output_dir / MASK_FILE).is_file():
        save_saliency_mask(mask, output_dir / MASK_FILE, metadata={FINGERPRINT_KEY: fingerprint, "base": model_path})
    original_unet = None
    if world is not None and args.eval_num_images > 0:  # the evaluation compares against the original UNet
        original_unet = UNet2DConditionModel.from_pretrained(model_path, subfolder="unet").requires_grad_(False)

    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer, lr_scheduler = training_utils.create_optimizer_and_scheduler(params, args, accelerator.num_processes)
    unet.train()
    prepared_unet, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
    salun.unet = prepared_unet
    accelerator.register_for_checkpointing(salun)
    # Non-salient weights: gradients masked as computed, values and optimizer state restored after every step.
    guard = apply_saliency_mask(unet, mask, optimizer)

    if accelerator.is_main_process:
        tracker_config = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers("salun", config=tracker_config)
    global_step = training_utils.resume_from_checkpoint(accelerator, output_dir, args.resume_from_checkpoint)

    validation_prompts = args.validation_prompts or (concept_prompts[:2] + retain_prompts[:2])
    logger.info(f"***** Running SalUn on '{concept}' for {args.max_train_steps} steps (mask density "
                f"{mask_density(mask):.3f}) *****")  # fmt: skip
    global_step, history, train_seconds = training_utils.train_loop(
        accelerator,
        prepared_unet,
        salun.compute_loss,
        params,
        optimizer,
        lr_scheduler,
        args,
        global_step,
        validate=lambda step: log_validation(unet, components, validation_prompts, args, accelerator, step, guidance),
    )
    accelerator.wait_for_everyone()
    frozen_ok = guard.frozen_unchanged()
    guard.remove()
    if not frozen_ok:  # the guard's promise; never expected
        raise RuntimeError("Non-salient UNet weights moved during training: the saliency mask was not enforced.")

    results = {}
    if accelerator.is_main_process:
        unet = accelerator.unwrap_model(prepared_unet).eval()
        loader_kwargs = {"unet": unet}
        if world is not None:
            pipe = world.load_pipeline(**loader_kwargs)
        else:
            from diffusers import DiffusionPipeline

            pipe = DiffusionPipeline.from_pretrained(
                model_path, revision=args.revision, variant=args.variant, **loader_kwargs
            )
        pipe.save_pretrained(output_dir, safe_serialization=True)
        run_info = training_utils.run_info(
            "salun",
            concept,
            model_path,
            world,
            config.to_dict(),
            accelerator.num_processes,
            train_seconds,
            history,
            mask_density=mask_density(mask),
            mask_fingerprint=fingerprint,
            frozen_weights_bit_identical=frozen_ok,
        )
        (output_dir / "salun_config.json").write_text(json.dumps(run_info, indent=2))
        sample_grid, table, warnings = None, None, []
        if original_unet is not None:
            unet.requires_grad_(False)
            results, grid, table, warnings = evaluate_shapes(world, concept, original_unet, unet, args)
            results["train_seconds"] = run_info["train_seconds"]
            training_utils.write_eval_results(output_dir, results, table, warnings)
            sample_grid = grid.name
        else:
            log_validation(unet, components, validation_prompts, args, accelerator, global_step, guidance)
        repo_id = args.hub_model_id or output_dir.name
        # standard Hub metadata: the base model is the Hub id trained from, or the world's recorded id
        card_data = training_utils.card_metadata(
            "diffusers",
            ["hf_unlearn", "unlearning", "salun", "concept-erasure", "stable-diffusion", "stable-diffusion-diffusers"],
            model_path,
            world,
            results["pipeline"]["salun"] if results else None,
            model_name=f"salun-{concept}",
            concept=concept,
        )
        save_model_card(
            output_dir,
            "salun_unet",
            card_data,
            model_name=f"SalUn UNet: '{concept}' forgotten",
            repo_id=repo_id,
            base_model=model_path,
            world=world.world_id if world is not None else None,
            world_hash=world.config_hash if world is not None else None,
            world_preset=args.world_preset,
            concept=concept,
            concept_prompts=concept_prompts,
            pseudo_prompts=pseudo_prompts,
            retain_prompts=retain_prompts,
            config=config.to_dict(),
            mask_density=mask_density(mask),
            max_train_steps=args.max_train_steps,
            learning_rate=args.learning_rate,
            results_table=table,
            table_warnings=warnings,
            sample_grid=sample_grid,
        )
        if args.push_to_hub:
            url = training_utils.push_output_dir(args, output_dir, repo_id)
            logger.info(f"Pushed to {url}")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results


if __name__ == "__main__":
    main(parse_args())
