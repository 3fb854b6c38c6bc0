# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""AdvUnlearn (Zhang et al., NeurIPS 2024, https://arxiv.org/abs/2405.15234) and ESD on the text encoder.

The defender's problem, solved by alternating one attack and one defender step per iteration:

    min_theta  ESD(theta, c*) + gamma * retain(theta; C_retain),   c* = argmin_{c'} MSE(eps_theta(x_t|c'), eps_o(x_t|c))

`x_t` comes from the frozen model's own guided trajectories for the concept prompts (a [`TrajectoryBank`]); only the
text encoder trains (its `--train_method` layers), so the result is a plug-and-play `CLIPTextModel`. With
`attack_method="none"` the same objective without the inner attack is the ESD text-encoder baseline.

Example:
    >>> from hf_unlearn.diffusion import AdvUnlearnConfig
    >>> AdvUnlearnConfig(concept_prompts=["a red circle"], retain_prompts=["a green circle"]).attack_steps
    30
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .attacks import ATTACK_METHODS, SoftPromptAttack, random_token_embeddings
from .losses import esd_loss, retain_loss
from .sampling import TrajectoryBank
from .text_encoding import (
    ATTACK_TYPES,
    SoftPromptTextEncoder,
    check_clip_text_encoder,
    check_prompts,
    tokenize_prompts,
)


#: The inner attack's objectives (`AdvUnlearnConfig.attack_loss`).
ATTACK_LOSSES = ("match", "denoise")


@dataclass
class AdvUnlearnConfig:
    """Hyperparameters of AdvUnlearn (defaults from the authors' code: `train-scripts/AdvUnlearn.py` of the
    OPTML-Group/AdvUnlearn repository).

    Args:
        concept_prompts (`list[str]`): Prompts of the concept to erase (e.g. `["nudity"]` or `["a red circle", ...]`).
        retain_prompts (`list[str]`): Prompts whose generations must not change (AdvUnlearn: "a photo of <object>").
        negative_guidance (`float`, *optional*, defaults to `1.0`): ESD's eta.
        start_guidance (`float`, *optional*, defaults to `3.0`): CFG scale of the frozen model's trajectories.
        ddim_steps (`int`, *optional*, defaults to `50`): DDIM steps of those trajectories.
        attack_method (`str`, *optional*, defaults to `"pgd"`): `"pgd"`, `"fast_at"` (sign gradient) or `"none"`
            (the ESD baseline: no inner attack).
        attack_steps (`int`, *optional*, defaults to `30`): Inner Adam steps per attack.
        attack_lr (`float`, *optional*, defaults to `1e-3`): Inner Adam learning rate.
        adv_prompt_num (`int`, *optional*, defaults to `1`): Adversarial tokens `k`.
        attack_type (`str`, *optional*, defaults to `"prefix"`): Where they go (`"prefix"` or `"suffix"`).
        attack_init (`str`, *optional*, defaults to `"latest"`): `"latest"` (warm start from the previous attack) or
            `"random"` (random vocabulary tokens each time).
        attack_candidates (`int`, *optional*, defaults to `0`): Before each attack, also score this many starts made
            of random vocabulary tokens by the attack loss (one forward pass each, no gradient) and run the soft steps
            from the best of them and the `attack_init` start: a discrete token screen before the continuous attack,
            so the defender also sees real-token attacks. 0 is the reference code (not in the paper).
        attack_loss (`str`, *optional*, defaults to `"match"`): The inner attack's objective. `"match"` is the
            reference code's: make the erased encoder reproduce the frozen model's conditional prediction on the
            training states, `MSE(eps_theta(x_t|c_adv), eps_o(x_t|c))`. `"denoise"` is UnlearnDiffAtk's (the
            objective of the evaluation attacks, not in the AdvUnlearn paper): the denoising loss of the frozen
            model's own samples of the concept (the trajectory bank's end points), re-noised at a fresh random
            timestep and noise at every attack step.
        plain_prompt_weight (`float`, *optional*, defaults to `0.0`): In iterations that train on the adversarial
            prompt, also add the ESD loss on the plain concept prompt with this weight (0 is the reference code,
            which trains on the adversarial prompt only after warmup).
        adv_prompt_update_step (`int`, *optional*, defaults to `1`): Run the attack every this many iterations.
        warmup_steps (`int`, *optional*, defaults to `200`): Iterations of plain ESD before attacks start.
        retain_loss_weight (`float`, *optional*, defaults to `1.0`): gamma (the README's nudity run uses 0.3).
        retain_batch (`int`, *optional*, defaults to `5`): Retain states per iteration.
        train_batch_size (`int`, *optional*, defaults to `1`): Concept states per iteration.
        train_method (`str`, *optional*, defaults to `"text_encoder_full"`): See [`set_trainable_layers`].
        trajectories_per_prompt (`int`, *optional*, defaults to `4`): Size of the trajectory banks.
        seed (`int`, *optional*, defaults to `0`): Seed of banks, attack inits and sampling.
    """

    concept_prompts: list[str]
    retain_prompts: list[str] = field(default_factory=list)
    negative_guidance: float = 1.0
    start_guidance: float = 3.0
    ddim_steps: int = 50
    attack_method: str = "pgd"
    attack_steps: int = 30
    attack_lr: float = 1e-3
    adv_prompt_num: int = 1
    attack_type: str = "prefix"
    attack_init: str = "latest"
    attack_candidates: int = 0
    attack_loss: str = "match"
    plain_prompt_weight: float = 0.0
    adv_prompt_update_step: int = 1
    warmup_steps: int = 200
    retain_loss_weight: float = 1.0
    retain_batch: int = 5
    train_batch_size: int = 1
    train_method: str = "text_encoder_full"
    trajectories_per_prompt: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.concept_prompts, str) or isinstance(self.retain_prompts, str):
            raise TypeError("concept_prompts and retain_prompts must be lists of strings.")
        if not self.concept_prompts:
            raise ValueError("concept_prompts is empty: pass the prompt(s) of the concept to erase.")
        if self.attack_method not in (*ATTACK_METHODS, "none"):
            raise ValueError(f"attack_method must be one of {(*ATTACK_METHODS, 'none')}, got {self.attack_method!r}.")
        if self.attack_type not in ATTACK_TYPES:
            raise ValueError(f"attack_type must be one of {ATTACK_TYPES}, got {self.attack_type!r}.")
        if self.attack_init not in ("latest", "random"):
            raise ValueError(f"attack_init must be 'latest' or 'random', got {self.attack_init!r}.")
        if self.attack_loss not in ATTACK_LOSSES:
            raise ValueError(f"attack_loss must be one of {ATTACK_LOSSES}, got {self.attack_loss!r}.")
        if self.attack_loss == "denoise" and self.attack_candidates:
            raise ValueError(
                "attack_candidates screens starts by the 'match' attack loss; use attack_loss='match' with it, or set "
                "attack_candidates=0."
            )
        if not self.plain_prompt_weight >= 0:
            raise ValueError(f"plain_prompt_weight must be >= 0, got {self.plain_prompt_weight}.")
        for name in ("attack_steps", "adv_prompt_num", "adv_prompt_update_step", "train_batch_size", "ddim_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.warmup_steps < 0 or self.retain_loss_weight < 0 or self.attack_candidates < 0:
            raise ValueError("warmup_steps, retain_loss_weight and attack_candidates must be >= 0.")
        if self.retain_loss_weight > 0 and not self.retain_prompts:
            raise ValueError(
                "retain_loss_weight > 0 needs retain_prompts (AdvUnlearn's utility regulariser); pass some, or set "
                "retain_loss_weight=0."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AdvUnlearn:
    """One AdvUnlearn (or ESD) iteration at a time, for hand-written training loops (the example script uses it).

    Args:
        text_encoder (`CLIPTextModel` or a prepared [`SoftPromptTextEncoder`]): The encoder to erase (trained).
        unet (`UNet2DConditionModel`): The frozen denoiser.
        tokenizer (`CLIPTokenizer`): The pipeline's tokenizer.
        scheduler (`DDIMScheduler`): The pipeline's scheduler.
        config ([`AdvUnlearnConfig`]): Hyperparameters.
        original_text_encoder (`CLIPTextModel`, *optional*): The frozen original encoder (a copy is made if omitted).
        latent_shape (`tuple`, *optional*): `(C, H, W)` of the UNet input (read from the UNet config if omitted).

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> from hf_unlearn.diffusion import AdvUnlearn, AdvUnlearnConfig, load_diffusion_components
        >>> pipe = load_diffusion_components(load_shapes_world("test").pipeline_path)  # doctest: +SKIP
        >>> config = AdvUnlearnConfig(["a red circle"], ["a green circle"], warmup_steps=0, attack_steps=2)
        >>> erase = AdvUnlearn(pipe.text_encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, config)  # doctest: +SKIP
        >>> loss, logs = erase.compute_loss(step=0)  # doctest: +SKIP
        >>> loss.backward()  # doctest: +SKIP
    """

    def __init__(
        self,
        text_encoder,
        unet,
        tokenizer,
        scheduler,
        config: AdvUnlearnConfig,
        original_text_encoder=None,
        latent_shape: tuple[int, int, int] | None = None,
    ):
        self.encoder = (
            text_encoder
            if isinstance(getattr(text_encoder, "module", text_encoder), SoftPromptTextEncoder)
            else SoftPromptTextEncoder(text_encoder)
        )
        base = getattr(self.encoder, "module", self.encoder).text_encoder
        check_clip_text_encoder(base)
        check_prompts(tokenizer, config.concept_prompts, "concept")
        if config.retain_prompts:
            check_prompts(tokenizer, config.retain_prompts, "retain")
        self.unet, self.tokenizer, self.scheduler, self.config = unet, tokenizer, scheduler, config
        self.unet.requires_grad_(False)
        self.original = original_text_encoder if original_text_encoder is not None else copy.deepcopy(base)
        self.original.requires_grad_(False).eval()
        self.device = unet.device
        if latent_shape is None:
            size = unet.config.sample_size
            size = size if isinstance(size, int) else size[0]
            latent_shape = (unet.config.in_channels, size, size)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.attacker = (
            None
            if config.attack_method == "none"
            else SoftPromptAttack(
                config.adv_prompt_num, config.attack_steps, config.attack_lr, config.attack_method, config.attack_type
            )
        )
        self.concept_ids = tokenize_prompts(tokenizer, config.concept_prompts).to(self.device)
        self.retain_ids = (
            tokenize_prompts(tokenizer, config.retain_prompts).to(self.device) if config.retain_prompts else None
        )
        with torch.no_grad():
            enc = lambda ids: self.original(ids.to(self.original.device)).last_hidden_state.to(self.device, unet.dtype)  # noqa: E731
            self.uncond = enc(tokenize_prompts(tokenizer, [""]))
            self.concept_embeds = enc(self.concept_ids)
            self.retain_embeds = enc(self.retain_ids) if self.retain_ids is not None else None
        bank_args = {
            "latent_shape": latent_shape,
            "trajectories_per_prompt": config.trajectories_per_prompt,
            "num_inference_steps": config.ddim_steps,
            "guidance_scale": config.start_guidance,
        }
        self.concept_bank = TrajectoryBank(
            unet, scheduler, self.concept_embeds, self.uncond, seed=config.seed, **bank_args
        )
        self.retain_bank = (
            TrajectoryBank(unet, scheduler, self.retain_embeds, self.uncond, seed=config.seed + 1, **bank_args)
            if self.retain_embeds is not None and config.retain_loss_weight > 0
            else None
        )
        exclude = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}
        self._exclude = exclude
        self.adv_embeds: torch.Tensor | None = None

    def state_dict(self) -> dict[str, Any]:
        """The attack's warm-start embedding and the sampling RNG states (for `accelerator.register_for_checkpointing`)."""
        return {
            "adv_embeds": self.adv_embeds,
            "generator": self.generator.get_state(),
            "concept_bank_generator": self.concept_bank.generator.get_state(),
            "retain_bank_generator": self.retain_bank.generator.get_state() if self.retain_bank is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.adv_embeds = state["adv_embeds"]
        self.generator.set_state(state["generator"])
        self.concept_bank.generator.set_state(state["concept_bank_generator"])
        if self.retain_bank is not None and state.get("retain_bank_generator") is not None:
            self.retain_bank.generator.set_state(state["retain_bank_generator"])

    def _frozen_eps(self, x, t, embeds):
        with torch.no_grad():
            return self.unet(x, t, embeds).sample.float()

    def attack_active(self, step: int) -> bool:
        """Whether iteration `step` trains on an adversarial prompt (after warmup; ESD never)."""
        return self.attacker is not None and step >= self.config.warmup_steps

    def compute_loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The defender's loss at iteration `step` (runs the inner attack first when due); call `.backward()` on it.

        Returns:
            `(loss, logs)`: the scalar loss and `{"loss/esd", "loss/retain", "loss/attack"}` floats for logging.
        """
        cfg = self.config
        dtype = self.unet.dtype
        x, t, idx = self.concept_bank.sample(cfg.train_batch_size)
        x, t = x.to(self.device, dtype), t.to(self.device)
        eps_uncond = self._frozen_eps(x, t, self.uncond.expand(x.shape[0], -1, -1))
        eps_cond = self._frozen_eps(x, t, self.concept_embeds[idx.to(self.device)])
        ids = self.concept_ids[idx.to(self.device)]
        logs: dict[str, float] = {}
        adv = None
        if self.attack_active(step):
            if (step - cfg.warmup_steps) % cfg.adv_prompt_update_step == 0 or self.adv_embeds is None:
                if cfg.attack_init == "random" or self.adv_embeds is None:
                    init = random_token_embeddings(self.encoder, cfg.adv_prompt_num, self.generator, self._exclude)
                else:
                    init = self.adv_embeds
                if cfg.attack_candidates:
                    candidates = [init] + [
                        random_token_embeddings(self.encoder, cfg.adv_prompt_num, self.generator, self._exclude)
                        for _ in range(cfg.attack_candidates)
                    ]
                    init, _ = self.attacker.best_start(self.encoder, self.unet, ids, x, t, eps_cond, candidates)
                if cfg.attack_loss == "denoise":
                    targets = self.concept_bank.final_samples(idx, self.generator)
                    self.adv_embeds, attack_losses = self.attacker.attack_images(
                        self.encoder, self.unet, self.scheduler, ids, targets, init, self.generator
                    )
                else:
                    self.adv_embeds, attack_losses = self.attacker.attack(
                        self.encoder, self.unet, ids, x, t, eps_cond, init
                    )
                logs["loss/attack"] = attack_losses[-1]
            adv = self.adv_embeds
        cond = self.encoder(ids, adv, cfg.attack_type) if adv is not None else self.encoder(ids)
        loss_esd = esd_loss(self.unet(x, t, cond.to(dtype)).sample, eps_uncond, eps_cond, cfg.negative_guidance)
        loss = loss_esd
        logs["loss/esd"] = loss_esd.item()
        if adv is not None and cfg.plain_prompt_weight > 0:
            plain = esd_loss(
                self.unet(x, t, self.encoder(ids).to(dtype)).sample, eps_uncond, eps_cond, cfg.negative_guidance
            )
            loss = loss + cfg.plain_prompt_weight * plain
            logs["loss/esd_plain"] = plain.item()
        if self.retain_bank is not None:
            xr, tr, ridx = self.retain_bank.sample(cfg.retain_batch)
            xr, tr, ridx = xr.to(self.device, dtype), tr.to(self.device), ridx.to(self.device)
            eps_ref = self._frozen_eps(xr, tr, self.retain_embeds[ridx])
            cond_r = self.encoder(self.retain_ids[ridx])
            loss_r = retain_loss(self.unet(xr, tr, cond_r.to(dtype)).sample, eps_ref)
            loss = loss + cfg.retain_loss_weight * loss_r
            logs["loss/retain"] = loss_r.item()
        logs["loss"] = loss.item()
        return loss, logs


def erase_text_encoder(
    text_encoder,
    unet,
    tokenizer,
    scheduler,
    config: AdvUnlearnConfig,
    steps: int,
    learning_rate: float,
    original_text_encoder=None,
    max_grad_norm: float = 1.0,
    progress: bool = True,
    latent_shape: tuple[int, int, int] | None = None,
):
    """Trains a copy of `text_encoder` with AdvUnlearn (or ESD) for `steps` Adam steps, as the example script does
    on one process (Adam, constant learning rate, gradient clipping); returns the erased copy, frozen, in eval mode.

    The one training loop of the library's text-encoder erasers (the robustness benchmark, the four-way comparison
    [`~hf_unlearn.diffusion.compare.run_comparison`], the worst-case prompt sets and the demo's models all call it).
    The global torch RNG is seeded with `config.seed` first, so a run does not depend on what ran before it.

    Args:
        text_encoder (`CLIPTextModel`): The original encoder (left untouched).
        unet, tokenizer, scheduler: The pipeline's components.
        config ([`AdvUnlearnConfig`]): Hyperparameters (`attack_method="none"` is ESD).
        steps (`int`): Optimizer steps.
        learning_rate (`float`): Adam learning rate.
        original_text_encoder (`CLIPTextModel`, *optional*): The frozen original (default: `text_encoder` itself).
        max_grad_norm (`float`, *optional*, defaults to `1.0`): Gradient clipping norm (the script's default).
        progress (`bool`, *optional*, defaults to `True`): A tqdm bar with the losses.
        latent_shape (`tuple`, *optional*): `(C, H, W)` of the UNet input (read from the UNet config if omitted).

    Example:
        >>> from hf_unlearn.synthetic.shapes import load_shapes_world
        >>> pipe = load_shapes_world("test").load_pipeline()  # doctest: +SKIP
        >>> config = AdvUnlearnConfig(["a red circle"], ["a green circle"], attack_method="none", ddim_steps=5)
        >>> erased = erase_text_encoder(pipe.text_encoder, pipe.unet, pipe.tokenizer, pipe.scheduler, config, 10, 1e-3)  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from .text_encoding import set_trainable_layers

    if steps < 1 or not learning_rate > 0 or not max_grad_norm > 0:
        raise ValueError(
            f"steps must be >= 1 and learning_rate, max_grad_norm > 0, got {steps}, {learning_rate}, {max_grad_norm}."
        )
    original = copy.deepcopy(original_text_encoder if original_text_encoder is not None else text_encoder)
    encoder = copy.deepcopy(text_encoder)
    set_trainable_layers(encoder, config.train_method)
    torch.manual_seed(config.seed)
    eraser = AdvUnlearn(encoder, unet, tokenizer, scheduler, config, original, latent_shape)
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    encoder.train()
    bar = tqdm(range(steps), desc=f"erase ({config.attack_method})", leave=False, disable=not progress, mininterval=5)
    for step in bar:
        loss, logs = eraser.compute_loss(step)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
    return encoder.eval().requires_grad_(False)
