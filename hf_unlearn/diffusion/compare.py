# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Original vs ESD vs SalUn vs AdvUnlearn on one pipeline, with one evaluation.

[`run_comparison`] erases a concept three ways from the same Stable Diffusion 1.x-layout pipeline (the shapes world by
default) and evaluates the four models with one [`ConceptEvaluator`] (same seeds, prompts and attack budgets):

- **ESD** and **AdvUnlearn** train the CLIP text encoder ([`erase_text_encoder`], `attack_method="none"` for ESD);
- **SalUn** trains the UNet under its saliency mask ([`SalUnDiffusion`] + [`~hf_unlearn.saliency.SaliencyMaskGuard`]).

With `output_dir` the trained models are saved (`esd/text_encoder`, `advunlearn/text_encoder`, `salun/unet`, diffusers
and transformers folders) together with `demo.json`, which the Gradio demo (`examples/diffusion/app.py`,
[`ComparisonDemo`]) reads: the base pipeline, the models and the adversarial prompt the discrete attack found for each.

Example:
    >>> from hf_unlearn.diffusion.compare import ComparisonSettings
    >>> ComparisonSettings(salun_steps=50).salun_steps
    50
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .advunlearn import AdvUnlearnConfig, erase_text_encoder
from .attacks import DiscretePromptAttack, SoftPromptAttack
from .evaluation import evaluate_models, shapes_world_evaluator
from .salun import SalUnDiffusion, SalUnDiffusionConfig
from .sampling import load_diffusion_components


#: The four rows of the comparison, in table order.
METHODS = ("original", "ESD", "SalUn", "AdvUnlearn")


@dataclass
class ComparisonSettings:
    """Sizes of the comparison runs (shapes-world defaults: the README's AdvUnlearn commands for ESD/AdvUnlearn).

    Args:
        concept (`str`, *optional*, defaults to `"red"`): The colour to erase.
        text_encoder_steps (`int`, *optional*, defaults to `200`): ESD / AdvUnlearn iterations.
        text_encoder_lr (`float`, *optional*, defaults to `1e-3`): Their Adam learning rate.
        train_batch_size (`int`, *optional*, defaults to `8`): Concept states per ESD / AdvUnlearn iteration.
        retain_batch (`int`, *optional*, defaults to `8`): Retain states per iteration.
        ddim_steps (`int`, *optional*, defaults to `25`): DDIM steps of their trajectory banks.
        trajectories_per_prompt (`int`, *optional*, defaults to `8`): Trajectories per prompt in the banks.
        warmup_iter (`int`, *optional*, defaults to `20`): AdvUnlearn's plain-ESD iterations before attacks.
        attack_step (`int`, *optional*, defaults to `5`): AdvUnlearn's inner attack steps.
        attack_lr (`float`, *optional*, defaults to `1e-2`): AdvUnlearn's inner attack learning rate.
        attack_loss (`str`, *optional*, defaults to `"denoise"`): AdvUnlearn's inner attack objective (see
            [`AdvUnlearnConfig`]; `"match"` is the reference code's). `"denoise"` with `plain_prompt_weight=1` is the
            setting chosen for the shapes world on a held-out split (README, AdvUnlearn robustness).
        plain_prompt_weight (`float`, *optional*, defaults to `1.0`): AdvUnlearn's ESD weight on the plain concept
            prompt beside the adversarial one (0 is the reference code's).
        salun_steps (`int`, *optional*, defaults to `200`): SalUn steps.
        salun_lr (`float`, *optional*, defaults to `1e-3`): SalUn's Adam learning rate.
        salun_alpha (`float`, *optional*, defaults to `0.5`): SalUn's retain-loss weight.
        salun_sparsity (`float`, *optional*, defaults to `0.5`): Fraction of UNet weights SalUn may change.
        num_forget_images (`int`, *optional*, defaults to `16`): SalUn's generated images per concept prompt.
        num_retain_images (`int`, *optional*, defaults to `8`): SalUn's generated images per retain prompt.
        eval_num_images (`int`, *optional*, defaults to `32`): Evaluation images per prompt.
        eval_attack_steps (`int`, *optional*, defaults to `40`): Steps of the evaluation attacks.
        eval_attack_tokens (`int`, *optional*, defaults to `1`): Tokens of the evaluation attacks.
    """

    concept: str = "red"
    text_encoder_steps: int = 200
    text_encoder_lr: float = 1e-3
    train_batch_size: int = 8
    retain_batch: int = 8
    ddim_steps: int = 25
    trajectories_per_prompt: int = 8
    warmup_iter: int = 20
    attack_step: int = 5
    attack_lr: float = 1e-2
    attack_loss: str = "denoise"
    plain_prompt_weight: float = 1.0
    salun_steps: int = 200
    salun_lr: float = 1e-3
    salun_alpha: float = 0.5
    salun_sparsity: float = 0.5
    num_forget_images: int = 16
    num_retain_images: int = 8
    eval_num_images: int = 32
    eval_attack_steps: int = 40
    eval_attack_tokens: int = 1


def _adam_steps(params: list[torch.nn.Parameter], compute_loss, steps: int, desc: str, optimizer):
    """`steps` steps of `optimizer` on `compute_loss(step) -> (loss, logs)`, gradients clipped at norm 1 (SalUn's
    loop; the text-encoder erasers train with [`erase_text_encoder`]); returns the logs of every step."""
    from tqdm.auto import tqdm

    history: list[dict[str, float]] = []
    progress = tqdm(range(steps), desc=desc, mininterval=5)
    for step in progress:
        loss, logs = compute_loss(step)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        history.append(logs)
        progress.set_postfix({k: round(v, 4) for k, v in logs.items() if k.startswith("loss")}, refresh=False)
    return history


def text_encoder_config(
    concept_prompts: list[str], retain_prompts: list[str], method: str, settings: ComparisonSettings, seed: int
) -> AdvUnlearnConfig:
    """The [`AdvUnlearnConfig`] of the comparison's ESD (`method="esd"`) or AdvUnlearn (`"advunlearn"`) run.

    Example:
        >>> config = text_encoder_config(["a red circle"], ["a green circle"], "esd", ComparisonSettings(), seed=0)
        >>> config.attack_method, config.train_batch_size
        ('none', 8)
    """
    if method not in ("esd", "advunlearn"):
        raise ValueError(f"method must be 'esd' or 'advunlearn', got {method!r}.")
    s = settings
    return AdvUnlearnConfig(
        concept_prompts,
        retain_prompts,
        attack_method="none" if method == "esd" else "pgd",
        attack_steps=s.attack_step,
        attack_lr=s.attack_lr,
        attack_loss=s.attack_loss,
        plain_prompt_weight=s.plain_prompt_weight,
        warmup_steps=s.warmup_iter,
        retain_batch=s.retain_batch,
        train_batch_size=s.train_batch_size,
        ddim_steps=s.ddim_steps,
        trajectories_per_prompt=s.trajectories_per_prompt,
        seed=seed,
    )


def train_salun_unet(
    components, concept_prompts, pseudo_prompts, retain_prompts, settings, seed: int, guidance: float
):
    """SalUn on a copy of the components' UNet; returns `(unet, mask, frozen_weights_bit_identical, history)`, the
    last the `{"loss", "loss/forget", "loss/retain"}` logs of every step.

    Example:
        >>> c = load_diffusion_components(load_shapes_world("test").pipeline_path)  # doctest: +SKIP
        >>> unet, mask, frozen_ok, history = train_salun_unet(c, ["a red circle"], ["a green circle"], ["a blue circle"],
        ...                                                ComparisonSettings(salun_steps=10), 0, 5.0)  # doctest: +SKIP
        >>> frozen_ok  # doctest: +SKIP
        True
    """
    from ..saliency import apply_saliency_mask

    s = settings
    unet = copy.deepcopy(components.unet).requires_grad_(True)
    config = SalUnDiffusionConfig(
        concept_prompts,
        pseudo_prompts,
        retain_prompts,
        alpha=s.salun_alpha,
        sparsity=s.salun_sparsity,
        num_forget_images=s.num_forget_images,
        num_retain_images=s.num_retain_images,
        generation_steps=s.ddim_steps,
        generation_guidance_scale=guidance,
        seed=seed,
    )
    salun = SalUnDiffusion(
        unet, components.text_encoder, components.tokenizer, components.scheduler, config, components.latent_shape
    )
    mask = salun.compute_mask()
    params = list(unet.parameters())
    optimizer = torch.optim.Adam(params, lr=s.salun_lr)
    unet.train()
    with apply_saliency_mask(unet, mask, optimizer) as guard:
        history = _adam_steps(params, salun.compute_loss, s.salun_steps, "salun", optimizer)
        frozen_ok = guard.frozen_unchanged()
    return unet.eval().requires_grad_(False), mask, frozen_ok, history


def adversarial_prefixes(result: dict, concept_prompts: list[str]) -> dict[str, str]:
    """Concept prompt -> the tokens the discrete (prefix) attack found for it, from [`ConceptEvaluator.evaluate`].

    Example:
        >>> adversarial_prefixes({"adversarial_prompts": ["ruby a red circle"]}, ["a red circle"])
        {'a red circle': 'ruby'}
    """
    out = {}
    for prompt, adversarial in zip(concept_prompts, result.get("adversarial_prompts", [])):
        out[prompt] = adversarial[: -len(prompt)].strip() if adversarial.endswith(prompt) else adversarial
    return out


def comparison_inputs(world, settings: ComparisonSettings, seed: int):
    """The world's frozen pipeline components and the comparison's prompts, after seeding torch with `seed`.

    Returns:
        `(components, concept_prompts, pseudo_prompts, retain_prompts)`: the pseudo prompts (SalUn's random labels)
        are the same shapes in the next colour of [`~hf_unlearn.synthetic.shapes.COLORS`].

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> _, concept, pseudo, _ = comparison_inputs(load_shapes_world("test"), ComparisonSettings(), 0)  # doctest: +SKIP
        >>> concept[0], pseudo[0]  # doctest: +SKIP
        ('a red circle', 'a green circle')
    """
    from ..synthetic.shapes import COLORS

    torch.manual_seed(seed)
    components = load_diffusion_components(world.pipeline_path)
    components.unet.requires_grad_(False).eval()
    components.text_encoder.requires_grad_(False).eval()
    concept_prompts, retain_prompts = world.concept_prompts(settings.concept), world.retain_prompts(settings.concept)
    names = list(COLORS)
    pseudo = world.concept_prompts(names[(names.index(settings.concept) + 1) % len(names)])
    return components, concept_prompts, pseudo, retain_prompts


def comparison_evaluator(world, settings: ComparisonSettings, seed: int):
    """The comparison's [`ConceptEvaluator`]: the world's detector, `eval_num_images` per prompt, and a discrete and a
    soft attack of `eval_attack_tokens` tokens and `eval_attack_steps` steps, seeded with `seed`.

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> evaluator = comparison_evaluator(load_shapes_world("test"), ComparisonSettings(), 0)  # doctest: +SKIP
        >>> evaluator.num_images, evaluator.soft_attack.steps  # doctest: +SKIP
        (32, 40)
    """
    s = settings
    return shapes_world_evaluator(
        world,
        s.concept,
        num_images=s.eval_num_images,
        seed=seed,
        discrete_attack=DiscretePromptAttack(num_tokens=s.eval_attack_tokens, steps=s.eval_attack_steps),
        soft_attack=SoftPromptAttack(num_tokens=s.eval_attack_tokens, steps=s.eval_attack_steps, lr=1e-2),
    )


def run_comparison(
    world, settings: ComparisonSettings, seed: int, output_dir: str | Path | None = None, keep_images: int = 8
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Trains ESD, AdvUnlearn and SalUn from the world's pipeline and evaluates the four models with one evaluator.

    Args:
        world ([`~hf_unlearn.synthetic.shapes.ShapesWorld`]): A built shapes world.
        settings ([`ComparisonSettings`]): Sizes.
        seed (`int`): Seed of training and evaluation.
        output_dir (`str`, *optional*): Save the models and `demo.json` here.
        keep_images (`int`, *optional*, defaults to `8`): Images per grid row.

    Returns:
        `(result, grid_rows)`: `result["models"]` maps each of [`METHODS`] to its metrics, `result["train_seconds"]`
        and `result["salun"]` (mask density, whether the frozen weights stayed bit-identical); `grid_rows` are
        images for [`save_comparison_grid`].

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> result, rows = run_comparison(load_shapes_world("test"), ComparisonSettings(), seed=0)  # doctest: +SKIP
        >>> sorted(result["models"])  # doctest: +SKIP
        ['AdvUnlearn', 'ESD', 'SalUn', 'original']
    """
    from ..saliency import mask_density

    s = settings
    components, concept_prompts, pseudo, retain_prompts = comparison_inputs(world, s, seed)
    guidance = world.config.guidance_scale
    seconds: dict[str, float] = {}
    encoders = {}
    for name, method in (("ESD", "esd"), ("AdvUnlearn", "advunlearn")):
        start = time.time()
        encoders[name] = erase_text_encoder(
            components.text_encoder,
            components.unet,
            components.tokenizer,
            components.scheduler,
            text_encoder_config(concept_prompts, retain_prompts, method, s, seed),
            s.text_encoder_steps,
            s.text_encoder_lr,
            latent_shape=components.latent_shape,
        )
        seconds[name] = time.time() - start
    esd, adv = encoders["ESD"], encoders["AdvUnlearn"]
    start = time.time()
    salun_unet, mask, frozen_ok, _ = train_salun_unet(
        components, concept_prompts, pseudo, retain_prompts, s, seed, guidance
    )
    seconds["SalUn"] = time.time() - start

    evaluator = comparison_evaluator(world, s, seed)
    original_te = components.text_encoder
    models = {
        "original": (original_te, None),
        "ESD": (esd, None),
        "SalUn": (original_te, salun_unet),
        "AdvUnlearn": (adv, None),
    }
    results, rows = evaluate_models(evaluator, models, keep_images, desc=f"evaluating (seed {seed})")
    result = {
        "seed": seed,
        "models": results,
        "train_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "salun": {"mask_density": mask_density(mask), "frozen_weights_bit_identical": frozen_ok},
    }
    if output_dir is not None:
        out = Path(output_dir)
        esd.save_pretrained(out / "esd" / "text_encoder")
        adv.save_pretrained(out / "advunlearn" / "text_encoder")
        salun_unet.save_pretrained(out / "salun" / "unet")
        write_demo_manifest(
            out,
            base=str(world.pipeline_path),
            models={
                "original": {},
                "ESD": {"text_encoder": "esd/text_encoder"},
                "SalUn": {"unet": "salun/unet"},
                "AdvUnlearn": {"text_encoder": "advunlearn/text_encoder"},
            },
            adversarial={name: adversarial_prefixes(r, concept_prompts) for name, r in results.items()},
            num_inference_steps=world.config.num_inference_steps,
            guidance_scale=guidance,
            example_prompts=concept_prompts + retain_prompts[:3],
        )
    return result, rows


def write_demo_manifest(
    output_dir: str | Path,
    base: str,
    models: dict[str, dict[str, str]],
    adversarial: dict[str, dict[str, str]],
    num_inference_steps: int = 25,
    guidance_scale: float = 7.5,
    example_prompts: list[str] | None = None,
) -> Path:
    """Writes `demo.json` for [`ComparisonDemo`].

    Args:
        output_dir (`str`): The folder (model paths in `models` are relative to it, or Hub ids).
        base (`str`): The base pipeline (a local folder or a Hub id such as `CompVis/stable-diffusion-v1-4`).
        models (`dict`): Name -> `{"text_encoder": path, "unet": path}` (a missing entry keeps the base's).
        adversarial (`dict`): Name -> {concept prompt -> adversarial prefix found for that model}.
        num_inference_steps (`int`, *optional*, defaults to `25`): DDIM steps of the demo.
        guidance_scale (`float`, *optional*, defaults to `7.5`): CFG scale of the demo.
        example_prompts (`list[str]`, *optional*): Prompts the app offers as examples.

    Example:
        >>> import json, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> path = write_demo_manifest(folder, "CompVis/stable-diffusion-v1-4",
        ...     {"original": {}, "AdvUnlearn": {"text_encoder": {"path": "OPTML-Group/AdvUnlearn",
        ...                                                        "subfolder": "nudity_unlearned"}}},
        ...     adversarial={}, guidance_scale=7.5)
        >>> sorted(json.loads(path.read_text())["models"])
        ['AdvUnlearn', 'original']
    """
    path = Path(output_dir) / "demo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {
        "base": base,
        "models": models,
        "adversarial_prefixes": adversarial,
        "num_inference_steps": num_inference_steps,
        "guidance_scale": guidance_scale,
        "example_prompts": example_prompts or [],
    }
    path.write_text(json.dumps(manifest, indent=2))
    return path
