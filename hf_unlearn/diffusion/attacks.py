# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Prompt attacks on (erased) text encoders.

- [`SoftPromptAttack`]: AdvUnlearn's inner maximisation. `k` continuous adversarial token embeddings (never
  projected to the vocabulary) are inserted into the concept prompt and fitted with Adam so that the *erased* encoder
  reproduces the *frozen* model's conditional noise prediction, `min MSE(eps_theta(x_t|c_adv), eps_o(x_t|c))`.
  `method="fast_at"` is the paper's fast variant: the gradient is `sign()`-ed before the Adam step.
- [`DiscretePromptAttack`]: an UnlearnDiffAtk-style evaluation attack. `k` per-token probability vectors over the
  vocabulary (projected onto the simplex), sampled to one-hot tokens with a straight-through gradient, are fitted to
  the denoising loss of images of the concept made by the *original* model; the result is a real token sequence.
- [`SoftPromptAttack.attack_images`]: the same denoising objective with continuous tokens (a stronger, white-box
  evaluation attack, as in the shapes-world pilot).

Example:
    >>> from hf_unlearn.diffusion import SoftPromptAttack
    >>> SoftPromptAttack(num_tokens=1, steps=30, method="fast_at").method
    'fast_at'
"""

from __future__ import annotations

import torch

from .losses import denoising_attack_loss, soft_attack_loss
from .text_encoding import ATTACK_TYPES, SoftPromptTextEncoder


ATTACK_METHODS = ("pgd", "fast_at")


def _unwrap(encoder):
    """The `SoftPromptTextEncoder` inside an accelerate/DDP wrapper (or builds one around a bare CLIPTextModel)."""
    encoder = getattr(encoder, "module", encoder)
    return encoder if isinstance(encoder, SoftPromptTextEncoder) else SoftPromptTextEncoder(encoder)


def random_token_embeddings(
    text_encoder, num_tokens: int, generator: torch.Generator | None = None, exclude: set[int] | None = None
) -> torch.Tensor:
    """Embeddings of `num_tokens` random vocabulary tokens (AdvUnlearn's `--attack_init random`)."""
    table = _unwrap(text_encoder).text_encoder.embeddings.token_embedding.weight
    allowed = torch.tensor([i for i in range(table.shape[0]) if i not in (exclude or set())])
    pick = allowed[torch.randint(0, len(allowed), (num_tokens,), generator=generator)]
    return table[pick.to(table.device)].detach().clone().float()


def _noisy_targets(scheduler, x_target: torch.Tensor, generator: torch.Generator | None, timesteps=None):
    n = x_target.shape[0]
    if timesteps is None:
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=generator)
    noise = torch.randn(x_target.shape, generator=generator)
    clean = x_target.cpu().float()
    noisy = scheduler.add_noise(clean, noise, timesteps)
    return noisy, denoising_target(scheduler, clean, noise, timesteps), timesteps


def denoising_target(scheduler, clean: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the UNet should output for `add_noise(clean, noise, t)`, by the scheduler's `prediction_type`."""
    prediction_type = scheduler.config.get("prediction_type", "epsilon")
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "sample":
        return clean
    if prediction_type == "v_prediction":
        return scheduler.get_velocity(clean, noise, timesteps)
    raise ValueError(f"Unsupported scheduler prediction_type {prediction_type!r}.")


class SoftPromptAttack:
    """A soft-prompt attack in token-embedding space (AdvUnlearn's inner maximisation, `attack_embd_type=word_embd`).

    Args:
        num_tokens (`int`, *optional*, defaults to `1`): `k`, AdvUnlearn's `--adv_prompt_num`.
        steps (`int`, *optional*, defaults to `30`): Adam steps per attack (`--attack_step`).
        lr (`float`, *optional*, defaults to `1e-3`): Adam learning rate (`--attack_lr`).
        method (`str`, *optional*, defaults to `"pgd"`): `"pgd"` or `"fast_at"` (sign of the gradient).
        attack_type (`str`, *optional*, defaults to `"prefix"`): Where the tokens go (`"prefix"` or `"suffix"`).

    Example:
        >>> import torch
        >>> from hf_unlearn.diffusion import SoftPromptAttack
        >>> attack = SoftPromptAttack(num_tokens=2, steps=5, lr=0.1)
        >>> attack.num_tokens, attack.attack_type
        (2, 'prefix')
    """

    def __init__(
        self,
        num_tokens: int = 1,
        steps: int = 30,
        lr: float = 1e-3,
        method: str = "pgd",
        attack_type: str = "prefix",
    ):
        if num_tokens < 1:
            raise ValueError(f"num_tokens (--adv_prompt_num) must be >= 1, got {num_tokens}.")
        if steps < 1:
            raise ValueError(f"steps (--attack_step) must be >= 1, got {steps}.")
        if method not in ATTACK_METHODS:
            raise ValueError(f"method (--attack_method) must be one of {ATTACK_METHODS}, got {method!r}.")
        if attack_type not in ATTACK_TYPES:
            raise ValueError(f"attack_type must be one of {ATTACK_TYPES}, got {attack_type!r}.")
        self.num_tokens, self.steps, self.lr, self.method, self.attack_type = (
            num_tokens,
            steps,
            lr,
            method,
            attack_type,
        )

    def _optimise(self, init: torch.Tensor, loss_fn) -> tuple[torch.Tensor, list[float]]:
        adv = init.detach().clone().float().requires_grad_(True)
        optimizer = torch.optim.Adam([adv], lr=self.lr)
        losses = []
        for _ in range(self.steps):
            optimizer.zero_grad()
            loss = loss_fn(adv)
            (grad,) = torch.autograd.grad(loss, [adv])
            adv.grad = grad.sign() if self.method == "fast_at" else grad
            optimizer.step()
            losses.append(loss.item())
        return adv.detach(), losses

    def _matching_loss(self, text_encoder, unet, input_ids, noisy_latents, timesteps, eps_reference):
        """`adv -> MSE(eps_theta(x_t | c_adv), eps_o(x_t | c))`, AdvUnlearn's attack loss on fixed states."""
        encoder = _unwrap(text_encoder)
        device, dtype = unet.device, unet.dtype
        ids = input_ids.to(device)
        x, t, ref = noisy_latents.to(device, dtype), timesteps.to(device), eps_reference.to(device)

        def loss_fn(adv):
            cond = encoder(ids, adv.to(device), self.attack_type).to(dtype)
            return soft_attack_loss(unet(x, t, cond).sample, ref)

        return loss_fn

    def attack(
        self,
        text_encoder,
        unet,
        input_ids: torch.Tensor,
        noisy_latents: torch.Tensor,
        timesteps: torch.Tensor,
        eps_reference: torch.Tensor,
        init: torch.Tensor,
    ) -> tuple[torch.Tensor, list[float]]:
        """AdvUnlearn's inner problem: embeddings minimising `MSE(eps_theta(x_t|c_adv), eps_o(x_t|c))`.

        Args:
            text_encoder (`CLIPTextModel` or [`SoftPromptTextEncoder`]): The encoder being erased (not updated here).
            unet (`UNet2DConditionModel`): The frozen denoiser.
            input_ids (`torch.Tensor`): `(n, seq)` concept-prompt ids.
            noisy_latents (`torch.Tensor`): `(n, C, H, W)` states `x_t`.
            timesteps (`torch.Tensor`): `(n,)` their timesteps.
            eps_reference (`torch.Tensor`): `(n, C, H, W)` frozen predictions `eps_o(x_t|c)`.
            init (`torch.Tensor`): `(k, hidden)` starting embeddings (random tokens, or the previous attack's).

        Returns:
            `(adv_embeds, losses)`: the `(k, hidden)` adversarial embeddings and the attack loss per step.
        """
        loss_fn = self._matching_loss(text_encoder, unet, input_ids, noisy_latents, timesteps, eps_reference)
        return self._optimise(init.to(unet.device), loss_fn)

    def best_start(
        self,
        text_encoder,
        unet,
        input_ids: torch.Tensor,
        noisy_latents: torch.Tensor,
        timesteps: torch.Tensor,
        eps_reference: torch.Tensor,
        candidates: list[torch.Tensor],
    ) -> tuple[torch.Tensor, list[float]]:
        """The candidate start with the lowest attack loss (a discrete screen before the soft steps).

        Args:
            text_encoder, unet, input_ids, noisy_latents, timesteps, eps_reference: As in [`attack`].
            candidates (`list[torch.Tensor]`): `(k, hidden)` starts, e.g. the previous attack and the embeddings of
                random vocabulary tokens.

        Returns:
            `(best, losses)`: the best candidate and every candidate's attack loss.
        """
        loss_fn = self._matching_loss(text_encoder, unet, input_ids, noisy_latents, timesteps, eps_reference)
        with torch.no_grad():
            losses = [loss_fn(adv).item() for adv in candidates]
        best = min(range(len(candidates)), key=losses.__getitem__)
        return candidates[best], losses

    def attack_images(
        self,
        text_encoder,
        unet,
        scheduler,
        input_ids: torch.Tensor,
        target_latents: torch.Tensor,
        init: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, list[float]]:
        """A continuous UnlearnDiffAtk-style attack: minimise the denoising loss of the concept's target images.

        Args:
            text_encoder (`CLIPTextModel`): The (erased) encoder under attack.
            unet (`UNet2DConditionModel`): The denoiser.
            scheduler: A scheduler with `add_noise` (the pipeline's).
            input_ids (`torch.Tensor`): `(1, seq)` ids of the concept prompt, or `(m, seq)`: one prompt per target.
            target_latents (`torch.Tensor`): `(m, C, H, W)` latents (or pixels) of images of the concept generated by
                the *original* model.
            init (`torch.Tensor`): `(k, hidden)` starting embeddings.
            generator (`torch.Generator`, *optional*): For timesteps and noise.
        """
        encoder = _unwrap(text_encoder)
        device, dtype = unet.device, unet.dtype
        ids = input_ids.to(device)

        def loss_fn(adv):
            noisy, target, t = _noisy_targets(scheduler, target_latents, generator)
            cond = encoder(ids.expand(noisy.shape[0], -1), adv.to(device), self.attack_type).to(dtype)
            return denoising_attack_loss(unet(noisy.to(device, dtype), t.to(device), cond).sample, target.to(device))

        return self._optimise(init.to(device), loss_fn)


def project_to_simplex(v: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of `v` onto the probability simplex (sort-based, exact).

    Example:
        >>> import torch
        >>> from hf_unlearn.diffusion.attacks import project_to_simplex
        >>> project_to_simplex(torch.tensor([[2.0, 0.0], [0.4, 0.4]]))
        tensor([[1.0000, 0.0000],
                [0.5000, 0.5000]])
    """
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = u.cumsum(dim=-1) - 1
    ind = torch.arange(1, v.shape[-1] + 1, device=v.device, dtype=v.dtype)
    cond = (u - css / ind) > 0
    rho = cond.to(v.dtype).cumsum(dim=-1).argmax(dim=-1, keepdim=True)
    theta = css.gather(-1, rho) / (rho + 1).to(v.dtype)
    return (v - theta).clamp_min(0)


class DiscretePromptAttack:
    """An UnlearnDiffAtk-style discrete prompt attack: `k` real vocabulary tokens prepended to the concept prompt.

    The variable is one probability vector over the vocabulary per adversarial token (projected onto the simplex);
    the forward pass samples one-hot tokens from it with a straight-through gradient and multiplies them by the
    token-embedding matrix; the loss is the denoising loss of images of the concept made by the original model
    (Zhang et al., ECCV 2024). The attack returns the argmax tokens, so the adversarial prompt is a real string.

    Args:
        num_tokens (`int`, *optional*, defaults to `3`): `k` (UnlearnDiffAtk: 3 for objects and styles, 5 for nudity).
        steps (`int`, *optional*, defaults to `40`): Adam steps (UnlearnDiffAtk: 40 per timestep).
        lr (`float`, *optional*, defaults to `0.01`): Adam learning rate (UnlearnDiffAtk: 0.01).
        weight_decay (`float`, *optional*, defaults to `0.1`): Adam weight decay (UnlearnDiffAtk: 0.1).
        attack_type (`str`, *optional*, defaults to `"prefix"`): `"prefix"` or `"suffix"`.

    Example:
        >>> from hf_unlearn.diffusion import DiscretePromptAttack
        >>> DiscretePromptAttack(num_tokens=3).steps
        40
    """

    def __init__(
        self,
        num_tokens: int = 3,
        steps: int = 40,
        lr: float = 0.01,
        weight_decay: float = 0.1,
        attack_type: str = "prefix",
    ):
        if num_tokens < 1 or steps < 1:
            raise ValueError("num_tokens and steps must be >= 1.")
        if attack_type not in ATTACK_TYPES:
            raise ValueError(f"attack_type must be one of {ATTACK_TYPES}, got {attack_type!r}.")
        self.num_tokens, self.steps, self.lr, self.weight_decay = num_tokens, steps, lr, weight_decay
        self.attack_type = attack_type

    def attack(
        self,
        text_encoder,
        unet,
        scheduler,
        tokenizer,
        input_ids: torch.Tensor,
        target_latents: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, list[float]]:
        """Finds `k` adversarial token ids for the concept prompt `input_ids` (`(1, seq)`).

        Returns:
            `(token_ids, losses)`: the `(k,)` adversarial token ids and the loss per step.
        """
        encoder = _unwrap(text_encoder)
        table = encoder.text_encoder.embeddings.token_embedding.weight.detach()
        vocab = table.shape[0]
        special = [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id]
        allowed = torch.ones(vocab, dtype=torch.bool)
        allowed[[i for i in special if i is not None and i < vocab]] = False
        device, dtype = unet.device, unet.dtype
        ids = input_ids.to(device)
        probs = torch.rand(self.num_tokens, vocab, generator=generator) * allowed
        probs = project_to_simplex(probs / probs.sum(-1, keepdim=True)).requires_grad_(True)
        optimizer = torch.optim.Adam([probs], lr=self.lr, weight_decay=self.weight_decay)
        losses = []
        for _ in range(self.steps):
            optimizer.zero_grad()
            p = probs * allowed
            p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)
            pick = torch.multinomial(p.detach(), 1, generator=generator).squeeze(-1)
            one_hot = torch.nn.functional.one_hot(pick, vocab).to(p.dtype)
            straight_through = one_hot + p - p.detach()
            adv = straight_through @ table.float()
            noisy, target, t = _noisy_targets(scheduler, target_latents, generator)
            cond = encoder(ids.expand(noisy.shape[0], -1), adv.to(device), self.attack_type).to(dtype)
            loss = denoising_attack_loss(unet(noisy.to(device, dtype), t.to(device), cond).sample, target.to(device))
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                probs.copy_(project_to_simplex(probs * allowed))
            losses.append(loss.item())
        return (probs.detach() * allowed).argmax(-1), losses
