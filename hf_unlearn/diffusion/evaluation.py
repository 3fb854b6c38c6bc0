# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Concept-erasure evaluation: concept rate, attack success rate (ASR) and retain utility.

For a text encoder plugged into a (frozen) UNet, [`ConceptEvaluator.evaluate`] measures

- **concept rate** (UnlearnDiffAtk's Pre-ASR): the fraction of images of the plain concept prompts in which the
  detector finds the concept;
- **ASR** under an attack (UnlearnDiffAtk's Post-ASR, the number AdvUnlearn reports): per (prompt, seed) unit,
  success if the plain image *or* the attacked image (same seed) shows the concept, i.e. `(pre + attack successes)/N`;
  attacks are a discrete UnlearnDiffAtk-style token attack and a continuous soft-prompt attack, each fitted to images of
  the concept made by the *original* model;
- **retain utility**: the detector's accuracy on retain prompts, and a Fréchet distance between simple image
  statistics of the retain images and the original model's (an FID stand-in; use real FID / CLIP score with real
  models).

Example:
    >>> import numpy as np
    >>> from hf_unlearn.diffusion import attack_success_rate
    >>> attack_success_rate(np.array([True, False, False, False]), np.array([False, True, False, True]))
    0.75
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .attacks import DiscretePromptAttack, SoftPromptAttack, random_token_embeddings
from .sampling import ddim_sample, decode_to_images
from .text_encoding import SoftPromptTextEncoder, check_prompts, check_text_encoder_fits, tokenize_prompts


def attack_success_rate(pre_attack: np.ndarray, post_attack: np.ndarray) -> float:
    """UnlearnDiffAtk's ASR: the fraction of units where the concept shows with or without the attack."""
    pre, post = np.asarray(pre_attack, dtype=bool), np.asarray(post_attack, dtype=bool)
    if pre.shape != post.shape or pre.size == 0:
        raise ValueError(
            f"pre_attack and post_attack must be non-empty and of one shape, got {pre.shape}, {post.shape}."
        )
    return float(np.mean(pre | post))


def image_features(images: np.ndarray, grid: int = 4) -> np.ndarray:
    """Mean colour of each cell of a `grid` x `grid` partition plus the global colour std (`(n, 3*grid*grid + 3)`)."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w, c = images.shape
    pooled = images[:, : h - h % grid, : w - w % grid].reshape(n, grid, h // grid, grid, w // grid, c).mean((2, 4))
    return np.concatenate([pooled.reshape(n, -1), images.reshape(n, -1, c).std(1)], axis=1)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """The Fréchet distance between Gaussian fits of two feature sets (the formula of FID)."""
    from scipy import linalg

    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def image_statistics_distance(images_a: np.ndarray, images_b: np.ndarray) -> float:
    """An FID stand-in for tiny worlds: the Fréchet distance of [`image_features`] of two image sets `(n, H, W, 3)`."""
    return frechet_distance(image_features(images_a), image_features(images_b))


@torch.no_grad()
def encode_images(images: np.ndarray, vae) -> torch.Tensor:
    """`(n, H, W, 3)` images in [0, 1] to UNet inputs: the VAE posterior's mean x `scaling_factor` (as SD encodes).

    Args:
        images (`np.ndarray`): `(n, H, W, 3)` float images in [0, 1].
        vae (`AutoencoderKL`): The pipeline's VAE.

    Example:
        >>> import numpy as np
        >>> from diffusers import AutoencoderKL
        >>> from hf_unlearn.diffusion import encode_images
        >>> vae = AutoencoderKL(block_out_channels=[8, 8], norm_num_groups=4, latent_channels=4,
        ...                     down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2)
        >>> tuple(encode_images(np.zeros((2, 16, 16, 3)), vae).shape)
        (2, 4, 8, 8)
    """
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2) * 2 - 1
    return vae.encode(x.to(vae.device, vae.dtype)).latent_dist.mean.float() * vae.config.scaling_factor


class ConceptEvaluator:
    """Measures concept rate, ASR and retain utility of text encoders plugged into one frozen UNet.

    Args:
        unet (`UNet2DConditionModel`): The frozen denoiser.
        tokenizer (`CLIPTokenizer`): The tokenizer.
        scheduler (`DDIMScheduler`): The sampler.
        original_text_encoder (`CLIPTextModel`): The original encoder (for the attacks' target images and the
            retain reference images).
        concept_prompts (`list[str]`): Plain prompts of the erased concept.
        retain_prompts (`list[str]`): Prompts of concepts to keep.
        is_concept (`Callable[[np.ndarray], np.ndarray]`): `(n, H, W, 3)` images -> `(n,)` bools, "the concept shows".
        retain_correct (`Callable[[np.ndarray, str], np.ndarray]`): `(images, prompt)` -> `(n,)` bools, "the image
            shows what the retain prompt asks for".
        vae (`AutoencoderKL`): The pipeline's VAE (images are decoded for the detector, attack targets encoded).
        num_images (`int`, *optional*, defaults to `32`): Images per prompt (seeds are shared across encoders).
        num_inference_steps (`int`, *optional*, defaults to `25`): DDIM steps.
        guidance_scale (`float`, *optional*, defaults to `3.0`): CFG scale.
        discrete_attack ([`DiscretePromptAttack`], *optional*): The token attack (`None` skips it).
        soft_attack ([`SoftPromptAttack`], *optional*): The continuous attack (`None` skips it).
        num_target_images (`int`, *optional*, defaults to `8`): Original-model images of the concept the attacks fit.
        seed (`int`, *optional*, defaults to `0`): Seed of sampling and attacks.

    Example:
        >>> from hf_unlearn.diffusion import ConceptEvaluator
        >>> sorted(ConceptEvaluator.metric_names)
        ['asr_discrete', 'asr_soft', 'concept_rate', 'retain_accuracy', 'retain_image_distance']
    """

    metric_names = ("concept_rate", "asr_discrete", "asr_soft", "retain_accuracy", "retain_image_distance")

    def __init__(
        self,
        unet,
        tokenizer,
        scheduler,
        original_text_encoder,
        concept_prompts: Sequence[str],
        retain_prompts: Sequence[str],
        is_concept: Callable[[np.ndarray], np.ndarray],
        retain_correct: Callable[[np.ndarray, str], np.ndarray],
        vae,
        num_images: int = 32,
        num_inference_steps: int = 25,
        guidance_scale: float = 3.0,
        discrete_attack: DiscretePromptAttack | None = None,
        soft_attack: SoftPromptAttack | None = None,
        num_target_images: int = 8,
        seed: int = 0,
    ):
        check_prompts(tokenizer, list(concept_prompts), "concept")
        if retain_prompts:
            check_prompts(tokenizer, list(retain_prompts), "retain")
        self.unet, self.tokenizer, self.scheduler, self.vae = unet, tokenizer, scheduler, vae
        self.concept_prompts, self.retain_prompts = list(concept_prompts), list(retain_prompts)
        self.is_concept, self.retain_correct = is_concept, retain_correct
        self.num_images, self.num_inference_steps, self.guidance_scale = (
            num_images,
            num_inference_steps,
            guidance_scale,
        )
        self.discrete_attack, self.soft_attack = discrete_attack, soft_attack
        self.seed = seed
        size = unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        self.latent_shape = (unet.config.in_channels, size, size)
        self.original_config = original_text_encoder.config
        original = SoftPromptTextEncoder(original_text_encoder)
        # Attack targets: original-model images of each concept prompt (showing the concept when possible).
        self.targets = []
        for i, prompt in enumerate(self.concept_prompts):
            images = self._generate(original, prompt, None, 4 * num_target_images, seed=10_000 + 100 * seed + i)
            shows = np.asarray(is_concept(images), dtype=bool)
            order = np.argsort(~shows, kind="stable")[:num_target_images]
            self.targets.append(encode_images(images[order], vae))
        # Retain reference: original-model images of the retain prompts (other seeds than the evaluation's).
        self.retain_reference = (
            np.concatenate(
                [
                    self._generate(original, p, None, num_images, seed=20_000 + 100 * seed + i)
                    for i, p in enumerate(self.retain_prompts)
                ]
            )
            if self.retain_prompts
            else None
        )

    @torch.no_grad()
    def _generate(
        self, encoder, prompt: str, adv: torch.Tensor | None, n: int, seed: int, attack_type: str = "prefix"
    ):
        ids = tokenize_prompts(self.tokenizer, [prompt]).to(self.unet.device)
        cond = encoder(ids, adv, attack_type) if adv is not None else encoder(ids)
        uncond = encoder(tokenize_prompts(self.tokenizer, [""]).to(self.unet.device))
        generator = torch.Generator().manual_seed(seed)
        x, _ = ddim_sample(
            self.unet,
            self.scheduler,
            cond.expand(n, -1, -1),
            uncond,
            self.latent_shape,
            self.num_inference_steps,
            self.guidance_scale,
            generator,
        )
        return decode_to_images(x, self.vae)

    def evaluate(self, text_encoder, keep_images: int = 8) -> dict:
        """Evaluates one encoder (plugged into this evaluator's UNet).

        Args:
            text_encoder (`CLIPTextModel`): The encoder to evaluate (e.g. the original, ESD or AdvUnlearn).
            keep_images (`int`, *optional*, defaults to `8`): Images per row kept in `result["images"]` for grids.

        Returns:
            `dict`: the metrics in `metric_names`, `per_prompt` details, the discrete `adversarial_prompts`, and
            `images` (`{"plain": array, "attacked": array}`, not JSON-serialisable; pop it before saving).
        """
        check_text_encoder_fits(text_encoder, self.unet, self.tokenizer, pipeline_text_encoder=self.original_config)
        encoder = SoftPromptTextEncoder(text_encoder)
        encoder.eval()
        pre_all, disc_all, soft_all, per_prompt, adversarial_prompts = [], [], [], {}, []
        keep_plain, keep_attacked = [], []
        for i, prompt in enumerate(self.concept_prompts):
            seed = 100 * self.seed + i
            ids = tokenize_prompts(self.tokenizer, [prompt]).to(self.unet.device)
            plain = self._generate(encoder, prompt, None, self.num_images, seed)
            pre = np.asarray(self.is_concept(plain), dtype=bool)
            row = {"concept_rate": float(pre.mean())}
            pre_all.append(pre)
            keep_plain.append(plain[:keep_images])
            attacked_images = None
            if self.discrete_attack is not None:
                generator = torch.Generator().manual_seed(30_000 + seed)
                tokens, _ = self.discrete_attack.attack(
                    encoder, self.unet, self.scheduler, self.tokenizer, ids, self.targets[i], generator
                )
                table = encoder.text_encoder.embeddings.token_embedding.weight
                attacked_images = self._generate(
                    encoder, prompt, table[tokens], self.num_images, seed, self.discrete_attack.attack_type
                )
                post = np.asarray(self.is_concept(attacked_images), dtype=bool)
                adv_text = self.tokenizer.decode(tokens.tolist())
                adversarial_prompts.append(
                    f"{adv_text} {prompt}" if self.discrete_attack.attack_type == "prefix" else f"{prompt} {adv_text}"
                )
                row.update(asr_discrete=attack_success_rate(pre, post), adversarial_prompt=adversarial_prompts[-1])
                disc_all.append(pre | post)
            if self.soft_attack is not None:
                generator = torch.Generator().manual_seed(40_000 + seed)
                init = random_token_embeddings(encoder, self.soft_attack.num_tokens, generator)
                with torch.enable_grad():
                    adv, _ = self.soft_attack.attack_images(
                        encoder, self.unet, self.scheduler, ids, self.targets[i], init, generator
                    )
                soft_images = self._generate(encoder, prompt, adv, self.num_images, seed, self.soft_attack.attack_type)
                post = np.asarray(self.is_concept(soft_images), dtype=bool)
                row.update(asr_soft=attack_success_rate(pre, post), concept_rate_soft=float(post.mean()))
                soft_all.append(pre | post)
                if attacked_images is None:
                    attacked_images = soft_images
            if attacked_images is not None:
                keep_attacked.append(attacked_images[:keep_images])
            per_prompt[prompt] = row
        result = {"concept_rate": float(np.concatenate(pre_all).mean())}
        result["asr_discrete"] = float(np.concatenate(disc_all).mean()) if disc_all else None
        result["asr_soft"] = float(np.concatenate(soft_all).mean()) if soft_all else None
        retain_hits, retain_images = [], []
        for i, prompt in enumerate(self.retain_prompts):
            images = self._generate(encoder, prompt, None, self.num_images, 50_000 + 100 * self.seed + i)
            hits = np.asarray(self.retain_correct(images, prompt), dtype=bool)
            per_prompt[prompt] = {"retain_accuracy": float(hits.mean())}
            retain_hits.append(hits)
            retain_images.append(images)
        if retain_images:
            result["retain_accuracy"] = float(np.concatenate(retain_hits).mean())
            result["retain_image_distance"] = image_statistics_distance(
                np.concatenate(retain_images), self.retain_reference
            )
        else:
            result["retain_accuracy"] = result["retain_image_distance"] = None
        result["num_images_per_prompt"] = self.num_images
        result["adversarial_prompts"] = adversarial_prompts
        result["per_prompt"] = per_prompt
        result["images"] = {
            "plain": np.concatenate(keep_plain),
            "attacked": np.concatenate(keep_attacked) if keep_attacked else None,
        }
        return result


def shapes_world_evaluator(
    world, concept: str, transfer: bool = False, concept_prompts: Sequence[str] | None = None, **kwargs
) -> ConceptEvaluator:
    """A [`ConceptEvaluator`] for the shapes world: the world's detector judges colours (pixel statistic) or shapes.

    Args:
        world ([`~hf_unlearn.synthetic.shapes.ShapesWorld`]): A built world.
        concept (`str`): The erased colour (`"red"`, ...) or shape (`"circle"`, ...).
        transfer (`bool`, *optional*, defaults to `False`): Evaluate on the world's second pipeline (another UNet
            trained against the same frozen original encoder) instead of the main one.
        concept_prompts (`list[str]`, *optional*): The concept's prompts to evaluate (default: the world's plain
            ones, `world.concept_prompts(concept)`; e.g. every synonym and template variant for prompt sets).
        **kwargs: Other [`ConceptEvaluator`] arguments (`num_images`, attacks, `seed`, ...).
    """
    from transformers import CLIPTextModel

    from ..synthetic.shapes import COLORS, ShapesWorld
    from .sampling import load_diffusion_components

    detector = world.load_detector()
    kind = "color" if concept in COLORS else "shape"
    # loaded as any Stable Diffusion 1.x pipeline is (DDIM sampler from the pipeline's scheduler config)
    pipe = load_diffusion_components(world.transfer_pipeline_path if transfer else world.pipeline_path)
    # the encoder both pipelines were trained against
    original = CLIPTextModel.from_pretrained(world.pipeline_path, subfolder="text_encoder")

    def is_concept(images):
        return np.array([p == concept for p in detector.predict(images)[kind]])

    def retain_correct(images, prompt):
        want = ShapesWorld.concept_of(prompt)[kind]
        return np.array([p == want for p in detector.predict(images)[kind]])

    cfg = world.config
    kwargs.setdefault("num_inference_steps", cfg.num_inference_steps)
    kwargs.setdefault("guidance_scale", cfg.guidance_scale)
    return ConceptEvaluator(
        pipe.unet,
        pipe.tokenizer,
        pipe.scheduler,
        original,
        list(concept_prompts) if concept_prompts is not None else world.concept_prompts(concept),
        world.retain_prompts(concept),
        is_concept,
        retain_correct,
        pipe.vae,
        **kwargs,
    )


def results_table(results: dict[str, dict]) -> str:
    """A Markdown table of [`ConceptEvaluator.evaluate`] results keyed by encoder name."""
    header = "| text encoder | concept rate | ASR (discrete attack) | ASR (soft attack) | retain accuracy | image distance |"
    lines = [header, "|---|---|---|---|---|---|"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for name, r in results.items():
        lines.append(
            f"| {name} | {fmt(r['concept_rate'])} | {fmt(r['asr_discrete'])} | {fmt(r['asr_soft'])} | "
            f"{fmt(r['retain_accuracy'])} | {fmt(r['retain_image_distance'])} |"
        )
    return "\n".join(lines)


def uninformative_table_warnings(results: dict[str, dict], label: str = "this pipeline") -> list[str]:
    """Why a [`results_table`] of one pipeline says little, in words (an empty list when nothing stands out).

    Flags: the original encoder never shows the concept (nothing to erase, every rate is 0 by construction); every
    attack success rate is 0 (the attacks never succeed, so robust and non-robust erasure look alike); every encoder
    has the same concept rate and ASRs (the table does not separate them).

    Args:
        results (`dict[str, dict]`): [`ConceptEvaluator.evaluate`] results keyed by encoder name.
        label (`str`, *optional*, defaults to `"this pipeline"`): How to call the pipeline in the messages.

    Example:
        >>> from hf_unlearn.diffusion import uninformative_table_warnings
        >>> r = {"concept_rate": 0.0, "asr_discrete": 0.0, "asr_soft": 0.0}
        >>> [w.split(":")[0] for w in uninformative_table_warnings({"original": r, "esd": r}, "transfer")]
        ['the original encoder never shows the concept on transfer', 'every ASR on transfer is 0', 'every encoder scores the same on transfer']
    """
    out = []
    original = results.get("original")
    if original is not None and original.get("concept_rate") == 0:
        out.append(
            f"the original encoder never shows the concept on {label}: there is nothing to erase, so every concept "
            "rate is 0 by construction (a test-size world renders colours only roughly; use a bigger world)"
        )
    asrs = [r.get(k) for r in results.values() for k in ("asr_discrete", "asr_soft") if r.get(k) is not None]
    if asrs and all(a == 0 for a in asrs):
        out.append(
            f"every ASR on {label} is 0: the attacks never succeed (not even on the original), so the table cannot "
            "tell robust from non-robust erasure"
        )
    keys = ("concept_rate", "asr_discrete", "asr_soft")
    if len(results) > 1 and len({tuple(r.get(k) for k in keys) for r in results.values()}) == 1:
        out.append(
            f"every encoder scores the same on {label}: concept rate and ASRs do not separate the encoders (too few "
            "images, or a world too small to render the concept)"
        )
    return out


def save_comparison_grid(
    rows: dict[str, np.ndarray], path: str | Path, max_columns: int = 8, title: str | None = None
) -> Path:
    """Saves a labelled image grid (one row per entry, e.g. `"ESD / attacked"`) as a PNG with matplotlib.

    Args:
        rows (`dict[str, np.ndarray]`): Row label -> `(n, H, W, 3)` images in [0, 1].
        path (`str` or `Path`): Output PNG.
        max_columns (`int`, *optional*, defaults to `8`): Images per row.
        title (`str`, *optional*): Figure title.
    """
    from ..plotting import pyplot

    plt = pyplot()

    rows = {k: v for k, v in rows.items() if v is not None}
    cols = min(max_columns, max(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.1 * cols + 1.8, 1.15 * len(rows) + 0.4), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(np.clip(images[c], 0, 1), interpolation="nearest")
            else:
                ax.axis("off")
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
