# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The shapes world: a tiny, offline text-to-image diffusion model in Stable Diffusion v1's exact layout.

Captions such as `"a red circle"` or `"a photo of a crimson triangle"` describe small synthetic images (a coloured
circle, square or triangle on a dark background). The world trains, from scratch and offline, the components of a
Stable Diffusion v1 pipeline at toy size:

- a `CLIPTokenizer` (a BPE with `end_of_word_suffix="</w>"`, as CLIP's) and a tiny `CLIPTextModel`,
- a tiny `AutoencoderKL` (the VAE) trained to reconstruct the world's images; its `scaling_factor` (1 / the standard
  deviation of its latents, as SD's 0.18215) is written into its config,
- a latent `UNet2DConditionModel` conditioned on the encoder's last hidden states, trained on VAE latents ×
  `scaling_factor` with SD's noise schedule (v-prediction by default), with 10% caption dropout for classifier-free
  guidance: first trained jointly with the encoder (which thereby learns the world's words, our stand-in for CLIP
  pretraining), then on against the frozen encoder,
- a second "transfer" UNet trained with another seed against the *frozen* first encoder and the same VAE (as SD v1.5
  and community fine-tunes share SD v1.4's frozen CLIP encoder and VAE), for plug-and-play tests of erased encoders,
- a concept detector: a pixel statistic for colours and a small CNN for shapes.

Both pipelines are saved as `StableDiffusionPipeline` folders (`model_index.json`, `vae/`, `unet/`, `text_encoder/`,
`tokenizer/`, `scheduler/` with SD v1's `PNDMScheduler` config; `safety_checker` and `feature_extractor` null with
`requires_safety_checker: false`), so `StableDiffusionPipeline.from_pretrained(path)`,
`DiffusionPipeline.from_pretrained(path)` and `CLIPTextModel.from_pretrained(path, subfolder="text_encoder")` load them
exactly as they load `CompVis/stable-diffusion-v1-4`. Everything is deterministic from the preset's seed and cached
with [`~hf_unlearn.synthetic.cache.cached_build`].

Example:
    >>> from hf_unlearn.synthetic.shapes import caption, render_shapes
    >>> caption("red", "circle")
    'a red circle'
    >>> render_shapes(["red"], ["circle"], seed=0).shape
    (1, 3, 16, 16)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .cache import cached_build, config_hash


WORLD_NAME = "shapes"
# 3: Stable Diffusion v1 layout (VAE + latent UNet on SD's noise schedule, PNDM scheduler config with `clip_sample:
# false`); 2: the same without `clip_sample` in the scheduler config (DDIM loaded from it clipped latents); 1: pixels.
WORLD_VERSION = 4

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.92, 0.12, 0.12),
    "green": (0.12, 0.82, 0.18),
    "blue": (0.15, 0.28, 0.95),
}
COLOR_SYNONYMS: dict[str, list[str]] = {
    "red": ["crimson", "scarlet"],
    "green": ["emerald", "lime"],
    "blue": ["azure", "navy"],
}
SHAPES: list[str] = ["circle", "square", "triangle"]
TEMPLATES: list[str] = ["a {color} {shape}", "a photo of a {color} {shape}"]
# Extra words in the tokenizer's vocabulary (never in captions): material for discrete prompt attacks.
FILLER_WORDS: list[str] = [
    "the",
    "an",
    "big",
    "small",
    "tiny",
    "large",
    "bright",
    "dark",
    "picture",
    "drawing",
    "painting",
    "image",
    "shape",
    "colour",
    "color",
    "object",
    "thing",
    "simple",
    "plain",
    "nice",
    "old",
    "new",
    "round",
    "sharp",
    "flat",
    "soft",
    "warm",
    "cold",
    "light",
    "heavy",
    "fire",
    "blood",
    "rose",
    "apple",
    "sky",
    "sea",
    "leaf",
    "grass",
    "tomato",
    "cherry",
    "ruby",
    "lemon",
    "gold",
    "silver",
    "black",
    "white",
    "grey",
    "pink",
    "orange",
    "purple",
    "yellow",
    "brown",
    "abcdefghijklmnopqrstuvwxyz",
]

PRESETS: dict[str, dict[str, Any]] = {
    # Tiny, for the test suite (see world.json's build_seconds); renders colours only roughly.
    "test": {
        "block_out_channels": [8, 16],
        "vae_block_out_channels": [8, 16],
        "text_hidden_size": 16,
        "text_layers": 1,
        "vae_steps": 300,
        "encoder_steps": 300,
        "train_steps": 300,
        "batch_size": 16,
        "transfer_train_steps": 300,
        "detector_steps": 60,
        "num_inference_steps": 10,
        "samples_per_prompt": 2,
    },
    # The demo world: renders the prompted colour (see world.json's detector accuracy on samples).
    "default": {
        "block_out_channels": [16, 32],
        "vae_block_out_channels": [8, 16],
        "text_hidden_size": 32,
        "text_layers": 2,
        "vae_steps": 300,
        "encoder_steps": 400,
        "train_steps": 500,
        "batch_size": 32,
        "transfer_train_steps": 500,
        "detector_steps": 300,
        "num_inference_steps": 25,
        "samples_per_prompt": 32,
    },
}


@dataclass
class ShapesWorldConfig:
    """Sizes and seeds of the shapes world (everything the build depends on; its hash names the cache folder).

    Args:
        image_size (`int`, *optional*, defaults to `16`): Side of the square RGB images.
        block_out_channels (`list[int]`, *optional*, defaults to `[16, 32]`): UNet channel widths.
        vae_block_out_channels (`list[int]`, *optional*, defaults to `[8, 16]`): VAE channel widths; the VAE
            downsamples `len - 1` times (SD v1: 4 blocks, 8x; here 2 blocks, 2x: 16x16 images, 8x8 latents).
        latent_channels (`int`, *optional*, defaults to `4`): Channels of the VAE latents (SD v1: 4).
        vae_steps (`int`, *optional*, defaults to `300`): Steps of the VAE's reconstruction training.
        vae_kl_weight (`float`, *optional*, defaults to `1e-6`): Weight of the VAE's KL term (SD v1's value).
        text_hidden_size (`int`, *optional*, defaults to `32`): Width of the CLIP text encoder (= the UNet's
            cross-attention dimension).
        text_layers (`int`, *optional*, defaults to `2`): Number of CLIP encoder layers.
        max_length (`int`, *optional*, defaults to `16`): Tokenizer `model_max_length` (room for attack tokens).
        encoder_steps (`int`, *optional*, defaults to `400`): Steps of the joint UNet + encoder training that teaches
            the CLIP encoder the world's words (our stand-in for CLIP pretraining); the encoder is frozen after it.
        train_steps (`int`, *optional*, defaults to `500`): Further steps of the main UNet against the frozen encoder.
        batch_size (`int`, *optional*, defaults to `32`): Training batch size.
        learning_rate (`float`, *optional*, defaults to `2e-3`): AdamW learning rate of the VAE, the UNets and the
            encoder (cosine decay, up to 100 warmup steps).
        caption_dropout (`float`, *optional*, defaults to `0.1`): Probability of an empty caption (for CFG).
        synonym_prob (`float`, *optional*, defaults to `0.25`): Probability that a caption uses a colour synonym.
        transfer_train_steps (`int`, *optional*, defaults to `500`): Steps of the second UNet (frozen encoder).
        detector_steps (`int`, *optional*, defaults to `300`): Steps of the shape classifier's training.
        num_inference_steps (`int`, *optional*, defaults to `25`): Sampling steps used by the world's evaluation.
        samples_per_prompt (`int`, *optional*, defaults to `32`): Samples per prompt of the build's accuracy check.
        guidance_scale (`float`, *optional*, defaults to `5.0`): CFG scale used by the world's evaluation.
        prediction_type (`str`, *optional*, defaults to `"v_prediction"`): What the UNet predicts (the scheduler
            config's `prediction_type`): `"v_prediction"` (as SD 2.x-v) or `"epsilon"` (as SD v1); both sample with SD
            v1's PNDM and DDIM schedulers. At this size epsilon prediction learns the colours far more slowly (test
            preset, 300 + 300 steps: sample colour accuracy 0.31 with epsilon, 1.0 with v), because at SD's high noise
            levels the epsilon target barely depends on the caption. ESD/AdvUnlearn work on either (for a fixed `x_t`
            the two are affine in each other).
        seed (`int`, *optional*, defaults to `0`): Seed of the main pipeline and the detector.
        transfer_seed (`int`, *optional*, defaults to `1`): Seed of the transfer UNet.
    """

    image_size: int = 16
    block_out_channels: list[int] = field(default_factory=lambda: [16, 32])
    vae_block_out_channels: list[int] = field(default_factory=lambda: [8, 16])
    latent_channels: int = 4
    vae_steps: int = 300
    vae_kl_weight: float = 1e-6
    text_hidden_size: int = 32
    text_layers: int = 2
    max_length: int = 16
    encoder_steps: int = 400
    train_steps: int = 500
    batch_size: int = 32
    learning_rate: float = 2e-3
    caption_dropout: float = 0.1
    synonym_prob: float = 0.25
    transfer_train_steps: int = 500
    detector_steps: int = 300
    num_inference_steps: int = 25
    samples_per_prompt: int = 32
    guidance_scale: float = 5.0
    prediction_type: str = "v_prediction"
    seed: int = 0
    transfer_seed: int = 1

    def __post_init__(self) -> None:
        if self.image_size < 8 or self.image_size % 8:
            raise ValueError(
                f"image_size must be a multiple of 8 (StableDiffusionPipeline's requirement), got {self.image_size}."
            )
        steps = (self.vae_steps, self.encoder_steps, self.train_steps, self.transfer_train_steps, self.detector_steps)
        if min(steps) < 1:
            raise ValueError(
                "vae_steps, encoder_steps, train_steps, transfer_train_steps and detector_steps must be >= 1."
            )
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(
                f"prediction_type must be 'epsilon' or 'v_prediction' (what SD v1's PNDM scheduler samples), got "
                f"{self.prediction_type!r}."
            )
        if not 0.0 <= self.caption_dropout < 1.0:
            raise ValueError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}.")

    @property
    def latent_size(self) -> int:
        """Side of the VAE latents (and of the UNet's input): `image_size / 2 ** (len(vae_block_out_channels) - 1)`."""
        return self.image_size // 2 ** (len(self.vae_block_out_channels) - 1)

    @classmethod
    def from_preset(cls, preset: str = "default", **overrides: Any) -> ShapesWorldConfig:
        """The config of a named preset (`"test"` or `"default"`), with optional field overrides."""
        if preset not in PRESETS:
            raise ValueError(f"Unknown shapes-world preset {preset!r}; choose one of {sorted(PRESETS)}.")
        return replace(cls(**PRESETS[preset]), **overrides)


# ----------------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------------


def caption(color: str, shape: str, template: str = TEMPLATES[0]) -> str:
    """The caption of a `color` `shape`, e.g. `caption("red", "circle") == "a red circle"`."""
    return template.format(color=color, shape=shape)


def _shape_mask(shape: str, size: int, cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if shape == "circle":
        return ((xx - cx) ** 2 + (yy - cy) ** 2) <= radius**2
    if shape == "square":
        half = radius * 0.85
        return (np.abs(xx - cx) <= half) & (np.abs(yy - cy) <= half)
    if shape == "triangle":
        top, bottom = cy - radius, cy + radius
        inside_y = (yy >= top) & (yy <= bottom)
        half_width = (yy - top) / (2 * radius) * radius * 1.1
        return inside_y & (np.abs(xx - cx) <= half_width)
    raise ValueError(f"Unknown shape {shape!r}; choose one of {SHAPES}.")


def render_shapes(
    colors: list[str] | list[tuple[float, float, float]],
    shapes: list[str],
    seed: int | None = None,
    image_size: int = 16,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Renders one image per (colour, shape) pair: a jittered shape of random size and position on a dark background.

    Args:
        colors (`list`): Colour names from [`COLORS`] or RGB triples in [0, 1].
        shapes (`list[str]`): Shape names from [`SHAPES`].
        seed (`int`, *optional*): Seed of the random placement (ignored when `rng` is given).
        image_size (`int`, *optional*, defaults to `16`): Side of the images.
        rng (`np.random.Generator`, *optional*): A generator to draw from.

    Returns:
        `np.ndarray`: Float32 images of shape `(n, 3, image_size, image_size)` in [0, 1].
    """
    rng = rng if rng is not None else np.random.default_rng(seed)
    out = np.zeros((len(shapes), 3, image_size, image_size), dtype=np.float32)
    for i, (color, shape) in enumerate(zip(colors, shapes)):
        rgb = np.asarray(COLORS[color] if isinstance(color, str) else color, dtype=np.float32)
        rgb = np.clip(rgb + rng.normal(0, 0.04, 3), 0, 1)
        radius = rng.uniform(0.22, 0.36) * image_size
        cx, cy = rng.uniform(radius, image_size - radius, 2)
        mask = _shape_mask(shape, image_size, cx, cy, radius)
        background = rng.uniform(0.0, 0.08)
        out[i] = background
        out[i][:, mask] = rgb[:, None]
    return np.clip(out, 0, 1)


def sample_training_batch(
    rng: np.random.Generator, batch_size: int, config: ShapesWorldConfig
) -> tuple[np.ndarray, list[str]]:
    """A random batch of (image, caption) pairs; a `caption_dropout` fraction of captions are empty."""
    color_names = list(COLORS)
    colors = [color_names[i] for i in rng.integers(0, len(color_names), batch_size)]
    shapes = [SHAPES[i] for i in rng.integers(0, len(SHAPES), batch_size)]
    images = render_shapes(colors, shapes, image_size=config.image_size, rng=rng)
    captions = []
    for color, shape in zip(colors, shapes):
        if rng.random() < config.caption_dropout:
            captions.append("")
            continue
        word = color
        if rng.random() < config.synonym_prob:
            word = COLOR_SYNONYMS[color][rng.integers(0, len(COLOR_SYNONYMS[color]))]
        captions.append(caption(word, shape, TEMPLATES[rng.integers(0, len(TEMPLATES))]))
    return images, captions


# ----------------------------------------------------------------------------------------------------------------
# Tokenizer, models, pipeline
# ----------------------------------------------------------------------------------------------------------------


def build_tokenizer(max_length: int = 16):
    """A `CLIPTokenizer` over the world's words, trained offline as a BPE with `end_of_word_suffix="</w>"`.

    Example:
        >>> from hf_unlearn.synthetic.shapes import build_tokenizer
        >>> tok = build_tokenizer()
        >>> tok.convert_ids_to_tokens(tok("a red circle").input_ids)
        ['<|startoftext|>', 'a</w>', 'red</w>', 'circle</w>', '<|endoftext|>']
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    words = list(COLORS) + [w for syn in COLOR_SYNONYMS.values() for w in syn] + SHAPES + FILLER_WORDS
    corpus = [t.format(color=c, shape=s) for t in TEMPLATES for c in words[:9] for s in SHAPES] * 3 + words * 3
    bpe = Tokenizer(models.BPE(unk_token="<|endoftext|>", end_of_word_suffix="</w>"))
    bpe.normalizer = normalizers.Lowercase()
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|startoftext|>", "<|endoftext|>"],
        end_of_word_suffix="</w>",
        min_frequency=1,
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer)
    # The trainer breaks ties between equally frequent symbols in hash-map order, which changes from one process to
    # the next: the same tokens come out under other ids, and so does every model trained on them. Number them
    # canonically (special tokens first, then shorter before longer, then alphabetically). The merges' order varies
    # too, but every world word still ends as one token (tests/test_diffusion.py checks both), so it is kept.
    special = trainer.special_tokens
    canonical = lambda token: (len(token), token)  # noqa: E731
    tokens = [t.content for t in special] + sorted(set(bpe.get_vocab()) - {t.content for t in special}, key=canonical)
    vocab = {token: i for i, token in enumerate(tokens)}
    merges = [tuple(m) if isinstance(m, (list, tuple)) else tuple(m.split()) for m in _bpe_merges(bpe)]
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)


def _bpe_merges(bpe) -> list:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        bpe.model.save(tmp)
        lines = Path(tmp, "merges.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def _make_text_encoder(config: ShapesWorldConfig, tokenizer):
    from transformers import CLIPTextConfig, CLIPTextModel

    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.text_hidden_size,
        intermediate_size=config.text_hidden_size * 4,
        num_attention_heads=4,
        num_hidden_layers=config.text_layers,
        max_position_embeddings=config.max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        projection_dim=config.text_hidden_size,
    )
    return CLIPTextModel(text_config)


def _make_unet(config: ShapesWorldConfig):
    from diffusers import UNet2DConditionModel

    channels = tuple(config.block_out_channels)
    return UNet2DConditionModel(
        sample_size=config.latent_size,
        in_channels=config.latent_channels,
        out_channels=config.latent_channels,
        block_out_channels=channels,
        layers_per_block=1,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (len(channels) - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (len(channels) - 1) + ("UpBlock2D",),
        cross_attention_dim=config.text_hidden_size,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def _make_vae(config: ShapesWorldConfig):
    from diffusers import AutoencoderKL

    channels = tuple(config.vae_block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * len(channels),
        up_block_types=("UpDecoderBlock2D",) * len(channels),
        block_out_channels=channels,
        layers_per_block=1,
        latent_channels=config.latent_channels,
        norm_num_groups=8,
        sample_size=config.image_size,
    )


def _make_schedulers(prediction_type: str = "epsilon"):
    """The training noise schedule and the pipeline's sampler, with Stable Diffusion v1's schedule and config keys."""
    from diffusers import DDPMScheduler, PNDMScheduler

    kwargs = {
        "num_train_timesteps": 1000,
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "prediction_type": prediction_type,
    }
    sampler = PNDMScheduler(**kwargs, skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1)
    # as SD v1's scheduler_config.json: `clip_sample: false` for the DDIM/DDPM samplers loaded from this config (their
    # default clips x_0 to [-1, 1], wrong for latents; StableDiffusionPipeline patches a config without the key)
    sampler.register_to_config(clip_sample=False)
    return DDPMScheduler(**kwargs, clip_sample=False), sampler


# ----------------------------------------------------------------------------------------------------------------
# Concept detector
# ----------------------------------------------------------------------------------------------------------------


def detect_colors(images: np.ndarray, threshold: float = 0.35, min_pixels: int = 4) -> list[str]:
    """The colour of each image by a pixel statistic: the dominant channel of the mean foreground pixel.

    Args:
        images (`np.ndarray`): `(n, 3, H, W)` (or `(n, H, W, 3)`) images in [0, 1].
        threshold (`float`, *optional*, defaults to `0.35`): A pixel is foreground if its brightest channel exceeds
            this.
        min_pixels (`int`, *optional*, defaults to `4`): Fewer foreground pixels than this gives `"none"`.

    Returns:
        `list[str]`: One of the [`COLORS`] names (or `"none"`) per image.

    Example:
        >>> from hf_unlearn.synthetic.shapes import detect_colors, render_shapes
        >>> detect_colors(render_shapes(["red", "blue"], ["circle", "square"], seed=0))
        ['red', 'blue']
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.transpose(0, 3, 1, 2)
    names = list(COLORS)
    palette = np.asarray([COLORS[c] for c in names], dtype=np.float32)
    out = []
    for image in images:
        mask = image.max(axis=0) > threshold
        if mask.sum() < min_pixels:
            out.append("none")
            continue
        mean = image[:, mask].mean(axis=1)
        mean = mean / (np.linalg.norm(mean) + 1e-8)
        out.append(names[int(np.argmax(palette @ mean / np.linalg.norm(palette, axis=1)))])
    return out


class ConceptDetector:
    """Recognises the colour (pixel statistic) and the shape (a small CNN) of shapes-world images.

    Args:
        shape_classifier (`torch.nn.Module`): Maps `(n, 1, H, W)` foreground maps to logits over [`SHAPES`].

    Example:
        >>> from hf_unlearn.synthetic.shapes import ConceptDetector, render_shapes
        >>> detector = ConceptDetector.train(steps=150, seed=0)
        >>> detector.predict(render_shapes(["red"], ["circle"], seed=3))["color"]
        ['red']
    """

    def __init__(self, shape_classifier):
        self.shape_classifier = shape_classifier.eval()

    @staticmethod
    def _make_classifier():
        from torch import nn

        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, len(SHAPES)),
        )

    @staticmethod
    def _foreground(images: np.ndarray):
        import torch

        x = torch.as_tensor(np.asarray(images, dtype=np.float32))
        if x.shape[-1] == 3 and x.shape[1] != 3:
            x = x.permute(0, 3, 1, 2)
        return x.max(dim=1, keepdim=True).values

    @classmethod
    def train(cls, steps: int = 300, seed: int = 0, image_size: int = 16, batch_size: int = 64) -> ConceptDetector:
        """Trains the shape classifier on freshly rendered images of random colours."""
        import torch

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed + 12345)
        model = cls._make_classifier()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(steps):
            shape_idx = rng.integers(0, len(SHAPES), batch_size)
            colors = [tuple(rng.uniform(0.3, 1.0, 3)) for _ in range(batch_size)]
            images = render_shapes(colors, [SHAPES[i] for i in shape_idx], image_size=image_size, rng=rng)
            images = np.clip(images + rng.normal(0, 0.05, images.shape).astype(np.float32), 0, 1)
            x = cls._foreground(images)
            # Generated images are soft-edged: blur half of the batch (a random-width Gaussian) so the classifier
            # judges the outline, not the pixel-sharp edges of the renders.
            sigma = float(rng.uniform(0.5, 1.2))
            kernel = torch.exp(-(torch.arange(-2, 3, dtype=torch.float32) ** 2) / (2 * sigma**2))
            kernel = (kernel[:, None] * kernel[None, :] / kernel.sum() ** 2)[None, None]
            half = batch_size // 2
            x = torch.cat([torch.nn.functional.conv2d(x[:half], kernel, padding=2), x[half:]])
            loss = torch.nn.functional.cross_entropy(model(x), torch.as_tensor(shape_idx))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return cls(model)

    def predict(self, images: np.ndarray) -> dict[str, list[str]]:
        """`{"color": [...], "shape": [...]}` for `(n, 3, H, W)` or `(n, H, W, 3)` images in [0, 1]."""
        import torch

        with torch.no_grad():
            shape_idx = self.shape_classifier(self._foreground(images)).argmax(-1).tolist()
        return {"color": detect_colors(images), "shape": [SHAPES[i] for i in shape_idx]}

    def save_pretrained(self, path: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in self.shape_classifier.state_dict().items()}, path / "model.safetensors"
        )
        (path / "config.json").write_text(json.dumps({"shapes": SHAPES, "colors": list(COLORS)}, indent=2))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> ConceptDetector:
        from safetensors.torch import load_file

        model = cls._make_classifier()
        model.load_state_dict(load_file(Path(path) / "model.safetensors"))
        return cls(model)


# ----------------------------------------------------------------------------------------------------------------
# Build and load
# ----------------------------------------------------------------------------------------------------------------


def _cosine_with_warmup(optimizer, steps: int):
    import torch

    warmup = min(100, steps // 10 + 1)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )


def _train_vae(vae, config: ShapesWorldConfig) -> float:
    """Trains the VAE to reconstruct rendered images (MSE + `vae_kl_weight` x KL); returns the final loss."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed + 500)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = _cosine_with_warmup(optimizer, config.vae_steps)
    vae.train()
    losses = []
    progress = tqdm(range(config.vae_steps), desc="shapes world: VAE", mininterval=5)
    for _ in progress:
        images, _ = sample_training_batch(rng, config.batch_size, config)
        x = torch.as_tensor(images) * 2 - 1
        posterior = vae.encode(x).latent_dist
        reconstruction = torch.nn.functional.mse_loss(vae.decode(posterior.sample()).sample, x)
        loss = reconstruction + config.vae_kl_weight * posterior.kl().mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(reconstruction.item())
        progress.set_postfix(mse=f"{losses[-1]:.4f}", refresh=False)
    vae.eval().requires_grad_(False)
    # SD v1's scaling_factor (0.18215) is 1 / the standard deviation of its latents: measured the same way here.
    with torch.no_grad():
        probe, _ = sample_training_batch(np.random.default_rng(config.seed + 501), 512, config)
        latents = vae.encode(torch.as_tensor(probe) * 2 - 1).latent_dist.sample()
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return float(np.mean(losses[-50:]))


def _train_unet(
    unet, text_encoder, tokenizer, vae, config: ShapesWorldConfig, steps: int, seed: int, train_encoder: bool
) -> float:
    """Trains the UNet as Stable Diffusion's: on VAE latents x `scaling_factor`, SD's noise schedule; final loss."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    noise_scheduler, _ = _make_schedulers(config.prediction_type)
    params = list(unet.parameters()) + (list(text_encoder.parameters()) if train_encoder else [])
    text_encoder.requires_grad_(train_encoder)
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    schedule = _cosine_with_warmup(optimizer, steps)
    unet.train()
    text_encoder.train(train_encoder)
    losses = []
    progress = tqdm(range(steps), desc=f"shapes world: UNet (seed {seed})", mininterval=5)
    for _ in progress:
        images, captions = sample_training_batch(rng, config.batch_size, config)
        with torch.no_grad():
            pixels = torch.as_tensor(images) * 2 - 1
            latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
        ids = tokenizer(
            captions, padding="max_length", max_length=config.max_length, truncation=True, return_tensors="pt"
        ).input_ids
        noise = torch.randn_like(latents)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],))
        noisy = noise_scheduler.add_noise(latents, noise, t)
        if train_encoder:
            cond = text_encoder(ids).last_hidden_state
        else:
            with torch.no_grad():
                cond = text_encoder(ids).last_hidden_state
        if config.prediction_type == "epsilon":
            target = noise
        else:
            target = noise_scheduler.get_velocity(latents, noise, t)
        loss = torch.nn.functional.mse_loss(unet(noisy, t, cond).sample, target)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        progress.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    unet.eval()
    text_encoder.eval()
    text_encoder.requires_grad_(False)
    return float(np.mean(losses[-50:]))


def _world_key(config: ShapesWorldConfig) -> dict[str, Any]:
    return {"version": WORLD_VERSION, **asdict(config)}


def _save_pipeline(path: Path, vae, text_encoder, tokenizer, unet, scheduler):
    """Saves a `StableDiffusionPipeline` folder (SD v1's components; no safety checker) and returns the pipeline."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return pipe


def build_shapes_world(output_dir: str | os.PathLike, config: ShapesWorldConfig) -> dict[str, Any]:
    """Trains and writes the shapes world into `output_dir` (use [`load_shapes_world`] for the cached version).

    Writes `pipeline/` and `pipeline_transfer/` (`StableDiffusionPipeline` folders sharing one VAE and one text
    encoder), `detector/` and `world.json` (the world's id and config hash, the config, the concept lists, the VAE's
    reconstruction error and the measured detector accuracy on each pipeline's samples).
    """
    import torch

    from ..diffusion.text_encoding import WORLD_CONFIG_KEY

    output_dir = Path(output_dir)
    start = time.time()
    seconds = {}
    world_hash = config_hash(_world_key(config))
    world_record = {"world_id": f"{WORLD_NAME}-{world_hash}", "config_hash": world_hash}
    tokenizer = build_tokenizer(config.max_length)
    torch.manual_seed(config.seed)
    text_encoder = _make_text_encoder(config, tokenizer)
    # the encoder records its world: every encoder trained from it keeps the record, and loading one into another
    # world's pipeline fails with both worlds named (`check_text_encoder_fits`)
    setattr(text_encoder.config, WORLD_CONFIG_KEY, world_record)
    vae = _make_vae(config)
    unet = _make_unet(config)
    _, sampler = _make_schedulers(config.prediction_type)
    # 1) The VAE, on the world's images (SD v1's VAE was trained before, and independently of, its UNet).
    vae_mse = _train_vae(vae, config)
    seconds["vae"] = round(time.time() - start, 1)
    # 2) Teach the encoder the world's words jointly with the UNet (as CLIP is pretrained elsewhere), then freeze it.
    _train_unet(unet, text_encoder, tokenizer, vae, config, config.encoder_steps, config.seed, train_encoder=True)
    # 3) Train the main UNet on against the frozen encoder (joint training alone leaves colours confused).
    loss = _train_unet(
        unet, text_encoder, tokenizer, vae, config, config.train_steps, config.seed + 1000, train_encoder=False
    )
    seconds["pipeline"] = round(time.time() - start - seconds["vae"], 1)
    pipe = _save_pipeline(output_dir / "pipeline", vae, text_encoder, tokenizer, unet, sampler)

    torch.manual_seed(config.transfer_seed)
    unet2 = _make_unet(config)
    loss2 = _train_unet(
        unet2,
        text_encoder,
        tokenizer,
        vae,
        config,
        config.transfer_train_steps,
        config.transfer_seed,
        train_encoder=False,
    )
    pipe2 = _save_pipeline(output_dir / "pipeline_transfer", vae, text_encoder, tokenizer, unet2, sampler)
    seconds["pipeline_transfer"] = round(time.time() - start - seconds["vae"] - seconds["pipeline"], 1)

    detector = ConceptDetector.train(config.detector_steps, seed=config.seed, image_size=config.image_size)
    detector.save_pretrained(output_dir / "detector")
    probe = render_shapes(
        [c for c in COLORS for _ in SHAPES] * 20,
        SHAPES * len(COLORS) * 20,
        seed=config.seed + 7,
        image_size=config.image_size,
    )
    truth = detector.predict(probe)
    detector_acc = {
        "color": float(np.mean([p == c for p, c in zip(truth["color"], [c for c in COLORS for _ in SHAPES] * 20)])),
        "shape": float(np.mean([p == s for p, s in zip(truth["shape"], SHAPES * len(COLORS) * 20)])),
    }
    with torch.no_grad():  # the detector on VAE reconstructions: what the VAE alone loses
        pixels = torch.as_tensor(probe) * 2 - 1
        decoded = vae.decode(vae.encode(pixels).latent_dist.mode()).sample
        reconstructed = (decoded / 2 + 0.5).clamp(0, 1).numpy()
    recon = detector.predict(reconstructed)
    world = ShapesWorld(output_dir)
    sample_acc = {
        "pipeline": world.sample_accuracy(pipe, detector, config.samples_per_prompt, seed=config.seed, config=config),
        "pipeline_transfer": world.sample_accuracy(pipe2, detector, config.samples_per_prompt, config.seed, config),
    }
    info = {
        "name": WORLD_NAME,
        "version": WORLD_VERSION,
        **world_record,
        "config": asdict(config),
        "colors": list(COLORS),
        "color_synonyms": COLOR_SYNONYMS,
        "shapes": SHAPES,
        "vae": {
            "scaling_factor": vae.config.scaling_factor,
            "reconstruction_mse": float(np.mean((reconstructed - probe) ** 2)),
            "final_train_mse": vae_mse,
            "detector_color_accuracy_on_reconstructions": float(
                np.mean([p == c for p, c in zip(recon["color"], [c for c in COLORS for _ in SHAPES] * 20)])
            ),
        },
        "final_train_loss": {"pipeline": loss, "pipeline_transfer": loss2},
        "detector_accuracy_on_rendered_images": detector_acc,
        "detector_accuracy_on_samples": sample_acc,
        "num_parameters": {
            "vae": sum(p.numel() for p in vae.parameters()),
            "unet": sum(p.numel() for p in unet.parameters()),
            "text_encoder": sum(p.numel() for p in text_encoder.parameters()),
        },
        "train_seconds": seconds,
        "build_seconds": round(time.time() - start, 1),
    }
    (output_dir / "world.json").write_text(json.dumps(info, indent=2))
    return info


class ShapesWorld:
    """A built shapes world on disk (see [`load_shapes_world`]).

    Args:
        root (`str` or `os.PathLike`): The world's folder.

    Example:
        >>> from hf_unlearn.synthetic.shapes import ShapesWorld
        >>> ShapesWorld("/tmp/none").concept_prompts("red")
        ['a red circle', 'a red square', 'a red triangle']
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @property
    def pipeline_path(self) -> Path:
        return self.root / "pipeline"

    @property
    def transfer_pipeline_path(self) -> Path:
        return self.root / "pipeline_transfer"

    @property
    def detector_path(self) -> Path:
        return self.root / "detector"

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.root / "world.json").read_text())

    @property
    def config(self) -> ShapesWorldConfig:
        return ShapesWorldConfig(**self.info["config"])

    @property
    def world_id(self) -> str:
        """The world's id, `shapes-<config hash>` (its cache folder's name; recorded in `world.json`)."""
        return self.info["world_id"]

    @property
    def config_hash(self) -> str:
        """The hash of the world's version and config (what every artifact trained on it records)."""
        return self.info["config_hash"]

    def load_pipeline(self, transfer: bool = False, **kwargs: Any):
        """The main (or, with `transfer=True`, the second) `StableDiffusionPipeline`; `kwargs` go to
        `StableDiffusionPipeline.from_pretrained` (e.g. `text_encoder=` an erased encoder)."""
        from diffusers import StableDiffusionPipeline

        return StableDiffusionPipeline.from_pretrained(
            self.transfer_pipeline_path if transfer else self.pipeline_path, **kwargs
        )

    def load_detector(self) -> ConceptDetector:
        return ConceptDetector.from_pretrained(self.detector_path)

    @staticmethod
    def concept_prompts(concept: str) -> list[str]:
        """The plain prompts of a colour (`"a red circle"`, ...) or of a shape (`"a red circle"`, `"a green ..."`)."""
        if concept in COLORS:
            return [caption(concept, s) for s in SHAPES]
        if concept in SHAPES:
            return [caption(c, concept) for c in COLORS]
        raise ValueError(
            f"Unknown shapes-world concept {concept!r}; choose a colour {list(COLORS)} or shape {SHAPES}."
        )

    @staticmethod
    def retain_prompts(concept: str) -> list[str]:
        """The prompts of every other concept of the same kind (the retain set)."""
        if concept in COLORS:
            return [caption(c, s) for c in COLORS if c != concept for s in SHAPES]
        if concept in SHAPES:
            return [caption(c, s) for c in COLORS for s in SHAPES if s != concept]
        raise ValueError(
            f"Unknown shapes-world concept {concept!r}; choose a colour {list(COLORS)} or shape {SHAPES}."
        )

    @staticmethod
    def concept_of(prompt: str) -> dict[str, str]:
        """The colour and shape a world prompt asks for (`{"color": "red", "shape": "circle"}`)."""
        words = prompt.lower().split()
        color = next((c for c in COLORS if c in words or any(s in words for s in COLOR_SYNONYMS[c])), "none")
        shape = next((s for s in SHAPES if s in words), "none")
        return {"color": color, "shape": shape}

    def sample_accuracy(
        self,
        pipe,
        detector: ConceptDetector,
        n_per_prompt: int = 16,
        seed: int = 0,
        config: ShapesWorldConfig | None = None,
    ) -> dict:
        """The detector's colour and shape accuracy on `n_per_prompt` samples of each of the 9 plain prompts."""
        import torch

        prompts = [caption(c, s) for c in COLORS for s in SHAPES]
        cfg = config or self.config
        pipe.set_progress_bar_config(disable=True)
        color_hits, shape_hits = [], []
        for i, prompt in enumerate(prompts):
            generator = torch.Generator().manual_seed(seed * 1000 + i)
            images = pipe(
                [prompt] * n_per_prompt,
                num_inference_steps=cfg.num_inference_steps,
                guidance_scale=cfg.guidance_scale,
                generator=generator,
                output_type="np",
            ).images
            pred = detector.predict(images)
            want = self.concept_of(prompt)
            color_hits += [p == want["color"] for p in pred["color"]]
            shape_hits += [p == want["shape"] for p in pred["shape"]]
        return {"color": float(np.mean(color_hits)), "shape": float(np.mean(shape_hits)), "n": len(color_hits)}


def load_shapes_world(
    preset: str = "default",
    cache_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
    force: bool = False,
    **overrides: Any,
) -> ShapesWorld:
    """Builds the shapes world once (file-locked, hash-keyed cache) and returns it.

    Args:
        preset (`str`, *optional*, defaults to `"default"`): `"test"` (tiny, for the test suite) or `"default"`.
        cache_dir (`str`, *optional*): Cache root (defaults to `$HF_UNLEARN_CACHE` or `~/.cache/hf_unlearn`).
        output_dir (`str`, *optional*): Build exactly here instead (never overwrites another folder).
        force (`bool`, *optional*, defaults to `False`): Rebuild even if cached.
        **overrides: Fields of [`ShapesWorldConfig`] to change.

    Returns:
        [`ShapesWorld`]: The world; `world.pipeline_path` is a `StableDiffusionPipeline` folder.

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> world = load_shapes_world("test")  # doctest: +SKIP
        >>> world.info["detector_accuracy_on_samples"]["pipeline"]["color"] > 0.8  # doctest: +SKIP
        True
    """
    config = ShapesWorldConfig.from_preset(preset, **overrides)
    path = cached_build(
        WORLD_NAME,
        _world_key(config),
        lambda d: build_shapes_world(d, config),
        cache_dir=cache_dir,
        output_dir=output_dir,
        force=force,
    )
    return ShapesWorld(path)


__all__ = [
    "COLORS",
    "COLOR_SYNONYMS",
    "PRESETS",
    "SHAPES",
    "ConceptDetector",
    "ShapesWorld",
    "ShapesWorldConfig",
    "add_build_world_parser",
    "build_shapes_world",
    "build_tokenizer",
    "caption",
    "detect_colors",
    "load_shapes_world",
    "render_shapes",
]


# ----------------------------------------------------------------------------------------------------------------
# `hf-unlearn build-world shapes`
# ----------------------------------------------------------------------------------------------------------------


def run_build_shapes(args) -> int:
    """Handler of `hf-unlearn build-world shapes`."""
    overrides = {k: getattr(args, k) for k in ("train_steps", "seed") if getattr(args, k, None) is not None}
    world = load_shapes_world(
        args.preset, cache_dir=args.cache_dir, output_dir=args.output_dir, force=args.force, **overrides
    )
    info = world.info
    acc = info["detector_accuracy_on_samples"]
    lines = [
        f"shapes world (preset `{args.preset}`) at {world.root}",
        "",
        "| pipeline | UNet params | detector colour acc. on samples | detector shape acc. on samples |",
        "|---|---|---|---|",
    ]
    for name in ("pipeline", "pipeline_transfer"):
        lines.append(
            f"| {name} | {info['num_parameters']['unet']} | {acc[name]['color']:.3f} | {acc[name]['shape']:.3f} |"
        )
    lines += [
        "",
        (
            f"World id {info['world_id']}. Built in {info['build_seconds']} s. Load with "
            f"`StableDiffusionPipeline.from_pretrained('{world.pipeline_path}')` "
            f"or `CLIPTextModel.from_pretrained('{world.pipeline_path}', subfolder='text_encoder')`."
        ),
    ]
    print("\n".join(lines))  # noqa: T201
    return 0


def add_build_world_parser(worlds) -> None:
    """Adds the `shapes` world to `hf-unlearn build-world`."""
    import argparse

    p = worlds.add_parser(
        "shapes",
        help="The shapes world: a tiny text-to-image diffusion model ('a red circle', ...) for concept erasure.",
        description=(
            "Build the offline shapes world, a tiny Stable Diffusion v1 pipeline: a CLIP tokenizer and text encoder, "
            "a VAE and a latent UNet2DConditionModel trained on captioned synthetic shapes (pipeline/), a second "
            "UNet trained against the frozen encoder and VAE (pipeline_transfer/, for plug-and-play tests), and a "
            "concept detector (detector/). Needs the [diffusion] extra."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--preset", default="default", choices=sorted(PRESETS), help="World size ('test' is tiny).")
    p.add_argument("--output_dir", default=None, help="Build here (new or empty folder) instead of in the cache.")
    p.add_argument("--train_steps", type=int, default=None, help="Override the preset's UNet training steps.")
    p.add_argument("--seed", type=int, default=None, help="Override the seed of the main pipeline.")
    p.add_argument("--cache_dir", default=None, help="Cache root used when --output_dir is not given.")
    p.add_argument("--force", action="store_true", help="Rebuild even if a finished world already exists.")
    p.set_defaults(func=run_build_shapes)
