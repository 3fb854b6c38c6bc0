# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Sampling helpers shared by erasure training and evaluation, for Stable Diffusion 1.x-family (latent) pipelines.

- [`load_diffusion_components`] loads `tokenizer`, `text_encoder`, `unet`, `scheduler` and `vae` from a Hub id (e.g.
  `CompVis/stable-diffusion-v1-4`) or a local `StableDiffusionPipeline` folder (e.g. the shapes world's), checking
  that the text encoder is CLIP.
- [`ddim_sample`] runs classifier-free-guided DDIM from given prompt embeddings, optionally returning the trajectory.
- [`TrajectoryBank`] holds `(x_t, t)` states from the frozen model's own guided trajectories: ESD and AdvUnlearn draw
  their `x_t` as "partial DDIM sampling with the concept prompt, stopped at a random step"; the bank runs the full
  trajectories once and serves every step of them, which is the same distribution at a fraction of the cost.

Example:
    >>> from hf_unlearn.diffusion import TrajectoryBank
    >>> TrajectoryBank.__name__
    'TrajectoryBank'
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass
class DiffusionComponents:
    """The parts of a Stable Diffusion 1.x-style pipeline that concept erasure needs; the UNet works on VAE latents."""

    tokenizer: Any
    text_encoder: Any
    unet: Any
    scheduler: Any
    vae: Any

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        size = self.unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        return (self.unet.config.in_channels, size, size)


def _read_model_index(path: str) -> dict[str, Any] | None:
    local = Path(path) / "model_index.json"
    if local.is_file():
        return json.loads(local.read_text())
    if os.path.isdir(path):
        return None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return json.loads(Path(hf_hub_download(path, "model_index.json")).read_text())
    except (OSError, ValueError, HfHubHTTPError):  # offline / not a pipeline repo: the loaders below say precisely
        return None


def load_diffusion_components(
    pretrained_model_name_or_path: str | os.PathLike,
    revision: str | None = None,
    variant: str | None = None,
    torch_dtype: torch.dtype | None = None,
) -> DiffusionComponents:
    """Loads the components of a Stable Diffusion 1.x-family pipeline (Hub id or local folder).

    Args:
        pretrained_model_name_or_path (`str`): e.g. `"CompVis/stable-diffusion-v1-4"` or a local diffusers folder
            (a `StableDiffusionPipeline` folder such as the shapes world's `pipeline/`).
        revision (`str`, *optional*): Hub revision.
        variant (`str`, *optional*): Weight variant (e.g. `"fp16"`).
        torch_dtype (`torch.dtype`, *optional*): dtype of the frozen `unet`/`vae`.

    Raises:
        `TypeError`: if the pipeline's text encoder is not a `CLIPTextModel` (SD 2.x-OpenCLIP projections, T5, ...).
        `ValueError`: if the folder is not a diffusers pipeline with `tokenizer`, `text_encoder`, `unet`, `scheduler`
            and `vae`.

    Example:
        >>> from hf_unlearn.diffusion import load_diffusion_components
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> components = load_diffusion_components(load_shapes_world("test").pipeline_path)  # doctest: +SKIP
        >>> components.latent_shape, type(components.vae).__name__  # doctest: +SKIP
        ((4, 8, 8), 'AutoencoderKL')
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import AutoConfig, CLIPTextModel, CLIPTokenizer

    path = str(pretrained_model_name_or_path)
    index = _read_model_index(path)
    if index is not None:
        te_entry = index.get("text_encoder")
        te_class = te_entry[1] if isinstance(te_entry, list) else None
        if te_class is not None and te_class != "CLIPTextModel":
            raise TypeError(
                f"The text encoder of {path} is a {te_class}, not a CLIPTextModel: AdvUnlearn's plug-and-play encoders "
                "are for Stable Diffusion 1.x-family pipelines (CLIP ViT-L/14). SDXL, SD 2.x-style projections, SD3 "
                "and Flux are not supported."
            )
        missing = [k for k in ("tokenizer", "text_encoder", "unet", "scheduler", "vae") if not index.get(k)]
        if missing:
            raise ValueError(
                f"{path} is not a Stable Diffusion 1.x-style pipeline: model_index.json lacks {missing}. Concept "
                "erasure needs a pipeline with a CLIP `text_encoder`, a `tokenizer`, a `unet`, a `scheduler` and a "
                "`vae` (the layout of CompVis/stable-diffusion-v1-4)."
            )
    kwargs = {"revision": revision}
    te_config = AutoConfig.from_pretrained(path, subfolder="text_encoder", **kwargs)
    if te_config.model_type != "clip_text_model":
        raise TypeError(
            f"The text encoder of {path} has model_type {te_config.model_type!r}, not 'clip_text_model': AdvUnlearn "
            "erases concepts from the CLIP text encoder of Stable Diffusion 1.x-family pipelines."
        )
    tokenizer = CLIPTokenizer.from_pretrained(path, subfolder="tokenizer", **kwargs)
    text_encoder = CLIPTextModel.from_pretrained(path, subfolder="text_encoder", variant=variant, **kwargs)
    unet = UNet2DConditionModel.from_pretrained(
        path, subfolder="unet", variant=variant, torch_dtype=torch_dtype, **kwargs
    )
    scheduler = DDIMScheduler.from_pretrained(path, subfolder="scheduler", **kwargs)
    vae = AutoencoderKL.from_pretrained(path, subfolder="vae", variant=variant, torch_dtype=torch_dtype, **kwargs)
    return DiffusionComponents(tokenizer, text_encoder, unet, scheduler, vae)


@torch.no_grad()
def ddim_sample(
    unet,
    scheduler,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    latent_shape: tuple[int, ...],
    num_inference_steps: int = 25,
    guidance_scale: float = 3.0,
    generator: torch.Generator | None = None,
    latents: torch.Tensor | None = None,
    return_trajectory: bool = False,
) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """Classifier-free-guided DDIM sampling from prompt embeddings.

    Args:
        unet (`UNet2DConditionModel`): The denoiser.
        scheduler (`DDIMScheduler`): A scheduler (copied, so the caller's is left untouched).
        cond (`torch.Tensor`): `(n, seq, hidden)` prompt embeddings.
        uncond (`torch.Tensor`): `(1 or n, seq, hidden)` empty-prompt embeddings.
        latent_shape (`tuple`): `(channels, height, width)` of the UNet's input.
        num_inference_steps (`int`, *optional*, defaults to `25`): DDIM steps.
        guidance_scale (`float`, *optional*, defaults to `3.0`): CFG scale.
        generator (`torch.Generator`, *optional*): For the initial noise (CPU generator).
        latents (`torch.Tensor`, *optional*): Initial noise to use instead.
        return_trajectory (`bool`, *optional*, defaults to `False`): Also return `[(t, x_t), ...]` for each step.

    Returns:
        `(x_0, trajectory)`: the final latents and the (possibly empty) trajectory.
    """
    scheduler = copy.deepcopy(scheduler)
    n = cond.shape[0]
    device, dtype = unet.device, unet.dtype
    if latents is None:
        latents = torch.randn((n, *latent_shape), generator=generator, device="cpu")
    x = latents.to(device=device, dtype=torch.float32) * scheduler.init_noise_sigma
    uncond = uncond.expand(n, -1, -1) if uncond.shape[0] == 1 else uncond
    embeds = torch.cat([uncond, cond]).to(device=device, dtype=dtype)
    scheduler.set_timesteps(num_inference_steps)
    trajectory = []
    for t in scheduler.timesteps:
        if return_trajectory:
            trajectory.append((int(t), x.clone()))
        model_in = scheduler.scale_model_input(torch.cat([x, x]), t).to(dtype)
        eps_u, eps_c = unet(model_in, t, embeds).sample.float().chunk(2)
        x = scheduler.step(eps_u + guidance_scale * (eps_c - eps_u), t, x).prev_sample
    return x, trajectory


@torch.no_grad()
def decode_to_images(latents: torch.Tensor, vae) -> np.ndarray:
    """`(n, H, W, 3)` float images in [0, 1] from UNet latents, as `StableDiffusionPipeline` decodes them.

    Args:
        latents (`torch.Tensor`): `(n, C, h, w)` latents in the UNet's scale (VAE latents x `scaling_factor`).
        vae (`AutoencoderKL`): The pipeline's VAE.

    Example:
        >>> import torch
        >>> from diffusers import AutoencoderKL
        >>> from hf_unlearn.diffusion import decode_to_images
        >>> vae = AutoencoderKL(block_out_channels=[8], norm_num_groups=4, latent_channels=4)
        >>> decode_to_images(torch.zeros(2, 4, 8, 8), vae).shape
        (2, 8, 8, 3)
    """
    pixels = vae.decode(latents.to(vae.device, vae.dtype) / vae.config.scaling_factor).sample
    return (pixels.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


class TrajectoryBank:
    """`(x_t, t)` states from the frozen model's guided DDIM trajectories for a list of prompts.

    Args:
        unet (`UNet2DConditionModel`): The frozen denoiser.
        scheduler (`DDIMScheduler`): The sampler.
        prompt_embeds (`torch.Tensor`): `(p, seq, hidden)` frozen-encoder embeddings of the prompts.
        uncond_embeds (`torch.Tensor`): `(1, seq, hidden)` frozen-encoder embedding of the empty prompt.
        latent_shape (`tuple`): `(channels, height, width)`.
        trajectories_per_prompt (`int`, *optional*, defaults to `4`): Trajectories sampled per prompt.
        num_inference_steps (`int`, *optional*, defaults to `50`): DDIM steps (AdvUnlearn: 50).
        guidance_scale (`float`, *optional*, defaults to `3.0`): AdvUnlearn's `--start_guidance`.
        seed (`int`, *optional*, defaults to `0`): Seed of the initial noise.
    """

    def __init__(
        self,
        unet,
        scheduler,
        prompt_embeds: torch.Tensor,
        uncond_embeds: torch.Tensor,
        latent_shape: tuple[int, int, int],
        trajectories_per_prompt: int = 4,
        num_inference_steps: int = 50,
        guidance_scale: float = 3.0,
        seed: int = 0,
    ):
        generator = torch.Generator().manual_seed(seed)
        p = prompt_embeds.shape[0]
        cond = prompt_embeds.repeat_interleave(trajectories_per_prompt, dim=0)
        samples, trajectory = ddim_sample(
            unet,
            scheduler,
            cond,
            uncond_embeds,
            latent_shape,
            num_inference_steps,
            guidance_scale,
            generator,
            return_trajectory=True,
        )
        self.timesteps = torch.tensor([t for t, _ in trajectory])
        self.states = torch.stack([x for _, x in trajectory], dim=1).cpu()  # (n, steps, C, H, W)
        self.samples = samples.detach().cpu()  # (n, C, H, W): where each trajectory ends, the frozen model's sample
        self.prompt_index = torch.arange(p).repeat_interleave(trajectories_per_prompt)
        self.trajectories_per_prompt = trajectories_per_prompt
        self.generator = torch.Generator().manual_seed(seed + 1)

    def __len__(self) -> int:
        return self.states.shape[0] * self.states.shape[1]

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`(x_t, t, prompt_index)` for `batch_size` random (trajectory, step) pairs."""
        rows = torch.randint(0, self.states.shape[0], (batch_size,), generator=self.generator)
        steps = torch.randint(0, self.states.shape[1], (batch_size,), generator=self.generator)
        return self.states[rows, steps], self.timesteps[steps], self.prompt_index[rows]

    def final_samples(self, prompt_index: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """For each prompt in `prompt_index`, the final sample of one of its trajectories drawn at random.

        Args:
            prompt_index (`torch.Tensor`): `(n,)` prompt indices (rows of `prompt_embeds`).
            generator (`torch.Generator`, *optional*): Which trajectory (default: the bank's own generator).

        Returns:
            `torch.Tensor`: `(n, C, H, W)` latents the frozen model generated for those prompts.
        """
        k = self.trajectories_per_prompt
        offset = torch.randint(0, k, (len(prompt_index),), generator=generator or self.generator)
        return self.samples[prompt_index.cpu() * k + offset]
