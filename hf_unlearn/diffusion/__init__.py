# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Concept erasure for text-to-image diffusion models: AdvUnlearn and ESD on the CLIP text encoder.

Needs the `[diffusion]` extra (`pip install "hf-unlearn[diffusion]"`): this package imports torch, transformers and,
for loading pipelines and sampling, diffusers. Public pieces:

- losses: [`esd_target`], [`esd_loss`], [`retain_loss`], [`soft_attack_loss`], [`denoising_attack_loss`];
- text encoder: [`SoftPromptTextEncoder`], [`encode_embeddings`], [`insert_adversarial_embeddings`],
  [`set_trainable_layers`], [`check_prompts`], [`check_clip_text_encoder`], [`check_text_encoder_fits`], [`tokenize_prompts`];
- attacks: [`SoftPromptAttack`] (AdvUnlearn's inner maximisation, `pgd` / `fast_at`), [`DiscretePromptAttack`]
  (UnlearnDiffAtk-style evaluation attack);
- training: [`AdvUnlearnConfig`], [`AdvUnlearn`] (one iteration at a time; `attack_method="none"` is ESD),
  [`erase_text_encoder`] (a whole run); [`SalUnDiffusionConfig`], [`SalUnDiffusion`] (SalUn's saliency-masked
  random-label unlearning of the UNet) and its loss [`salun_random_label_loss`];
- sampling: [`load_diffusion_components`], [`ddim_sample`], [`decode_to_images`], [`TrajectoryBank`];
- evaluation: [`ConceptEvaluator`], [`evaluate_models`], [`attack_success_rate`], [`image_statistics_distance`],
  [`save_comparison_grid`], [`uninformative_table_warnings`];
- example scripts: the submodule `hf_unlearn.diffusion.training_utils` (like `diffusers.training_utils`) holds what
  `train_advunlearn.py` and `train_salun.py` share: options, `Accelerator`, training loop, checkpoint rotation and
  resume, card metadata, Hub upload.

Example:
    >>> from hf_unlearn.diffusion import esd_loss
    >>> import torch
    >>> float(esd_loss(torch.zeros(2), torch.zeros(2), torch.ones(2), negative_guidance=1.0))
    1.0
"""

from .advunlearn import AdvUnlearn, AdvUnlearnConfig, erase_text_encoder
from .attacks import DiscretePromptAttack, SoftPromptAttack, project_to_simplex, random_token_embeddings
from .evaluation import (
    ConceptEvaluator,
    attack_success_rate,
    encode_images,
    evaluate_models,
    frechet_distance,
    image_statistics_distance,
    results_table,
    save_comparison_grid,
    shapes_world_evaluator,
    uninformative_table_warnings,
)
from .losses import denoising_attack_loss, esd_loss, esd_target, retain_loss, salun_random_label_loss, soft_attack_loss
from .salun import SalUnDiffusion, SalUnDiffusionConfig, encode_prompts, generate_latents
from .sampling import DiffusionComponents, TrajectoryBank, ddim_sample, decode_to_images, load_diffusion_components
from .text_encoding import (
    SoftPromptTextEncoder,
    check_clip_text_encoder,
    check_prompts,
    check_text_encoder_fits,
    content_token_ids,
    encode_embeddings,
    insert_adversarial_embeddings,
    set_trainable_layers,
    tokenize_prompts,
)


__all__ = [
    "AdvUnlearn",
    "AdvUnlearnConfig",
    "ConceptEvaluator",
    "DiffusionComponents",
    "DiscretePromptAttack",
    "SalUnDiffusion",
    "SalUnDiffusionConfig",
    "SoftPromptAttack",
    "SoftPromptTextEncoder",
    "TrajectoryBank",
    "attack_success_rate",
    "check_clip_text_encoder",
    "check_prompts",
    "check_text_encoder_fits",
    "content_token_ids",
    "ddim_sample",
    "decode_to_images",
    "denoising_attack_loss",
    "encode_embeddings",
    "encode_images",
    "encode_prompts",
    "erase_text_encoder",
    "esd_loss",
    "esd_target",
    "evaluate_models",
    "frechet_distance",
    "generate_latents",
    "image_statistics_distance",
    "insert_adversarial_embeddings",
    "load_diffusion_components",
    "project_to_simplex",
    "random_token_embeddings",
    "results_table",
    "retain_loss",
    "salun_random_label_loss",
    "save_comparison_grid",
    "set_trainable_layers",
    "shapes_world_evaluator",
    "soft_attack_loss",
    "tokenize_prompts",
    "uninformative_table_warnings",
]
