# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The losses of ESD and AdvUnlearn, as pure functions of noise predictions.

- ESD (Gandikota et al., 2023): the erased model's conditional prediction is regressed onto the frozen model's
  negatively guided one, `eps_o(x_t|empty) - eta * (eps_o(x_t|c) - eps_o(x_t|empty))`.
- AdvUnlearn (Zhang et al., 2024): the same ESD loss on an adversarial prompt, plus a retain regulariser that keeps
  the erased encoder's predictions on retain prompts equal to the frozen model's; its inner attack minimises
  `MSE(eps_theta(x_t|c_adv), eps_o(x_t|c))`.
- UnlearnDiffAtk (Zhang et al., 2024): the attack's denoising loss on an image of the concept.
- SalUn for generation (Fan et al., ICLR 2024): random-label forgetting, `MSE(eps_theta(x_t|c_forget),
  stopgrad eps_theta(x_t|c_pseudo))` on a noisy forget image, plus `alpha` times the standard diffusion loss on retain
  images.

Example:
    >>> import torch
    >>> from hf_unlearn.diffusion import esd_target
    >>> esd_target(torch.tensor([1.0]), torch.tensor([3.0]), negative_guidance=1.0)
    tensor([-1.])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def esd_target(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, negative_guidance: float = 1.0) -> torch.Tensor:
    """ESD's regression target `eps_uncond - negative_guidance * (eps_cond - eps_uncond)` (no gradient)."""
    return (eps_uncond - negative_guidance * (eps_cond - eps_uncond)).detach()


def esd_loss(
    eps_pred: torch.Tensor, eps_uncond: torch.Tensor, eps_cond: torch.Tensor, negative_guidance: float = 1.0
) -> torch.Tensor:
    """ESD's loss: `MSE(eps_pred, esd_target(eps_uncond, eps_cond, negative_guidance))`.

    Args:
        eps_pred (`torch.Tensor`): The erased model's prediction on the (possibly adversarial) concept prompt.
        eps_uncond (`torch.Tensor`): The frozen model's prediction on the empty prompt.
        eps_cond (`torch.Tensor`): The frozen model's prediction on the concept prompt.
        negative_guidance (`float`, *optional*, defaults to `1.0`): eta (AdvUnlearn's `--negative_guidance`).
    """
    return F.mse_loss(eps_pred.float(), esd_target(eps_uncond, eps_cond, negative_guidance).float())


def retain_loss(eps_pred: torch.Tensor, eps_reference: torch.Tensor) -> torch.Tensor:
    """AdvUnlearn's retain regulariser: `MSE(eps_theta(x_r|c_r), eps_o(x_r|c_r))` on retain prompts."""
    return F.mse_loss(eps_pred.float(), eps_reference.detach().float())


def soft_attack_loss(eps_adv: torch.Tensor, eps_reference: torch.Tensor) -> torch.Tensor:
    """AdvUnlearn's inner attack loss (minimised by the attacker): `MSE(eps_theta(x_t|c_adv), eps_o(x_t|c))`."""
    return F.mse_loss(eps_adv.float(), eps_reference.detach().float())


def denoising_attack_loss(eps_pred: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """UnlearnDiffAtk's loss: `MSE(noise, eps_theta(sqrt(a_t) x_tgt + sqrt(1 - a_t) noise, t | c_adv))`."""
    return F.mse_loss(eps_pred.float(), noise.float())


def salun_random_label_loss(
    eps_forget: torch.Tensor,
    eps_pseudo: torch.Tensor,
    retain_pred: torch.Tensor,
    retain_target: torch.Tensor,
    alpha: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SalUn's random-label loss for diffusion models: `MSE(eps_forget, stopgrad eps_pseudo) + alpha * MSE(retain)`.

    The forget term trains the model's prediction for a noisy forget image `x_t` under the forget prompt toward its
    own (gradient-free) prediction for the *same* `x_t` under a pseudo prompt (another concept, SalUn's "random
    label"); the retain term is the ordinary diffusion loss on retain images with their own prompts.

    Args:
        eps_forget (`torch.Tensor`): `eps_theta(x_t | c_forget)`, the trained model's prediction on the forget prompt.
        eps_pseudo (`torch.Tensor`): `eps_theta(x_t | c_pseudo)` on the same `x_t` and `t` (detached here).
        retain_pred (`torch.Tensor`): The trained model's prediction on noisy retain images with their prompts.
        retain_target (`torch.Tensor`): What it should predict there (the noise, or the clean image / velocity,
            by the scheduler's `prediction_type`).
        alpha (`float`, *optional*, defaults to `0.5`): Weight of the retain term (the reference code's `--alpha`:
            0.5 for SD Imagenette classes, 0.1 for nudity, 1e-3 for DDPM on CIFAR-10).

    Returns:
        `(loss, forget_term, retain_term)`: scalar tensors; `loss = forget_term + alpha * retain_term`.

    Example:
        >>> import torch
        >>> loss, forget, retain = salun_random_label_loss(
        ...     torch.zeros(2), torch.ones(2), torch.zeros(2), torch.full((2,), 2.0), alpha=0.25
        ... )
        >>> float(forget), float(retain), float(loss)
        (1.0, 4.0, 2.0)
    """
    forget_term = F.mse_loss(eps_forget.float(), eps_pseudo.detach().float())
    retain_term = F.mse_loss(retain_pred.float(), retain_target.detach().float())
    return forget_term + alpha * retain_term, forget_term, retain_term
