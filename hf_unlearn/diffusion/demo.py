# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The generation behind the side-by-side demo (`examples/diffusion/app.py`): one prompt, several erased models.

[`ComparisonDemo`] loads a base Stable Diffusion 1.x-layout pipeline and, per named model, a replacement text
encoder (ESD, AdvUnlearn) and/or UNet (SalUn), from a `demo.json` manifest ([`write_demo_manifest`], written by
[`run_comparison`]) or from arguments. [`ComparisonDemo.generate`] renders the prompt with every model from the same
initial noise; with `attack=True` each model gets the adversarial prefix the discrete attack found *for that model*
(the prefix found for the typed prompt if it is a concept prompt, else the first concept prompt's).

Runs offline on the shapes world and, on a GPU, with Hub ids (`CompVis/stable-diffusion-v1-4` plus erased encoders
such as `OPTML-Group/AdvUnlearn`, subfolder `nudity_unlearned`).

Example:
    >>> from hf_unlearn.diffusion.demo import attacked_prompt
    >>> attacked_prompt("a red square", {"a red circle": "fire", "a red square": "rose"})
    'rose a red square'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .salun import encode_prompts
from .sampling import ddim_sample, decode_to_images, load_diffusion_components


def attacked_prompt(prompt: str, prefixes: dict[str, str]) -> str:
    """`prompt` with the adversarial prefix found for it (or for the first concept prompt) in front."""
    if not prefixes:
        return prompt
    prefix = prefixes.get(prompt, next(iter(prefixes.values())))
    return f"{prefix} {prompt}".strip()


def _resolve(root: Path, ref: str | dict) -> tuple[str, str | None]:
    """A manifest model reference -> (path or Hub id, subfolder)."""
    if isinstance(ref, dict):
        path, subfolder = ref["path"], ref.get("subfolder")
    else:
        path, subfolder = ref, None
    local = root / path
    return (str(local) if local.exists() else path), subfolder


class ComparisonDemo:
    """Side-by-side generation with an original pipeline and erased variants of it.

    Args:
        base (`str`): The base pipeline (local folder or Hub id).
        models (`dict[str, dict]`): Name -> `{"text_encoder": ref, "unet": ref}` where a ref is a path (relative to
            `root`), a Hub id, or `{"path": ..., "subfolder": ...}`; a missing key keeps the base's component.
        adversarial_prefixes (`dict[str, dict[str, str]]`, *optional*): Name -> {concept prompt -> adversarial prefix
            found for that model}.
        num_inference_steps (`int`, *optional*, defaults to `25`): DDIM steps.
        guidance_scale (`float`, *optional*, defaults to `7.5`): CFG scale.
        root (`str`, *optional*): Folder that relative paths in `models` are relative to.
        device (`str`, *optional*): Defaults to `cuda` when available (fp16 there), else `cpu`.
        example_prompts (`list[str]`, *optional*): Prompts to offer as examples.

    Example:
        >>> from hf_unlearn.diffusion.demo import ComparisonDemo
        >>> demo = ComparisonDemo.from_manifest("out/demo/demo.json")  # doctest: +SKIP
        >>> panels = demo.generate("a red circle", attack=True, seed=0)  # doctest: +SKIP
        >>> [caption for _, caption in panels]  # doctest: +SKIP
        ['original: fire a red circle', 'ESD: ruby a red circle', ...]
    """

    def __init__(
        self,
        base: str,
        models: dict[str, dict[str, Any]],
        adversarial_prefixes: dict[str, dict[str, str]] | None = None,
        num_inference_steps: int = 25,
        guidance_scale: float = 7.5,
        root: str | os.PathLike | None = None,
        device: str | None = None,
        example_prompts: list[str] | None = None,
    ):
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextModel

        if not models:
            raise ValueError("`models` is empty: name at least one model (e.g. {'original': {}}).")
        root = Path(root) if root is not None else Path.cwd()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.components = load_diffusion_components(base)
        for module in (self.components.unet, self.components.text_encoder, self.components.vae):
            if module is not None:
                self._place(module)
        self.models: dict[str, tuple[Any, Any]] = {}
        for name, parts in models.items():
            unknown = set(parts) - {"text_encoder", "unet"}
            if unknown:
                raise ValueError(
                    f"Model {name!r}: unknown component(s) {sorted(unknown)}; use 'text_encoder', 'unet'."
                )
            text_encoder, unet = self.components.text_encoder, self.components.unet
            if "text_encoder" in parts:
                path, subfolder = _resolve(root, parts["text_encoder"])
                text_encoder = self._place(CLIPTextModel.from_pretrained(path, subfolder=subfolder or ""))
            if "unet" in parts:
                path, subfolder = _resolve(root, parts["unet"])
                unet = self._place(UNet2DConditionModel.from_pretrained(path, subfolder=subfolder))
            self.models[name] = (text_encoder, unet)
        self.adversarial_prefixes = adversarial_prefixes or {}
        self.num_inference_steps, self.guidance_scale = num_inference_steps, guidance_scale
        self.example_prompts = list(example_prompts or [])

    def _place(self, module):
        module.requires_grad_(False).eval().to(self.device)
        return module.to(self.dtype) if self.dtype != torch.float32 else module

    @classmethod
    def from_manifest(cls, path: str | os.PathLike, **kwargs: Any) -> ComparisonDemo:
        """Loads a `demo.json` written by [`write_demo_manifest`] (paths relative to its folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / "demo.json"
        if not path.is_file():
            raise ValueError(
                f"No demo manifest at {path}: create one with `python benchmarks/bench_diffusion_methods.py "
                "--demo_dir DIR` (shapes world) or write it with hf_unlearn.diffusion.compare.write_demo_manifest."
            )
        manifest = json.loads(path.read_text())
        return cls(
            manifest["base"],
            manifest["models"],
            manifest.get("adversarial_prefixes"),
            manifest.get("num_inference_steps", 25),
            manifest.get("guidance_scale", 7.5),
            root=path.parent,
            example_prompts=manifest.get("example_prompts"),
            **kwargs,
        )

    @torch.no_grad()
    def generate(self, prompt: str, attack: bool = False, seed: int = 0) -> list[tuple[np.ndarray, str]]:
        """One image per model, all from the same initial noise.

        Args:
            prompt (`str`): The prompt.
            attack (`bool`, *optional*, defaults to `False`): Prepend each model's own adversarial prefix.
            seed (`int`, *optional*, defaults to `0`): Seed of the initial noise.

        Returns:
            `list[tuple[np.ndarray, str]]`: `(image (H, W, 3) in [0, 1], caption)` per model, captions naming the model
            and the prompt it was given.
        """
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("Type a prompt (e.g. 'a red circle').")
        c = self.components
        noise = torch.randn((1, *c.latent_shape), generator=torch.Generator().manual_seed(int(seed)))
        panels = []
        for name, (text_encoder, unet) in self.models.items():
            text = attacked_prompt(prompt, self.adversarial_prefixes.get(name, {})) if attack else prompt
            cond = encode_prompts(text_encoder, c.tokenizer, [text], self.device, self.dtype)
            uncond = encode_prompts(text_encoder, c.tokenizer, [""], self.device, self.dtype)
            x, _ = ddim_sample(
                unet, c.scheduler, cond, uncond, c.latent_shape, self.num_inference_steps, self.guidance_scale,
                latents=noise,
            )  # fmt: skip
            panels.append((decode_to_images(x, c.vae)[0], f"{name}: {text}"))
        return panels

    def gallery(self, prompt: str, attack: bool = False, seed: int = 0) -> list[tuple[np.ndarray, str]]:
        """[`generate`] as `(uint8 image, caption)` pairs, what the app's `gr.Gallery` shows (PNG, lossless)."""
        return [
            (np.round(image * 255).astype(np.uint8), caption) for image, caption in self.generate(prompt, attack, seed)
        ]
