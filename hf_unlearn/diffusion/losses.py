# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The losses of ESD and AdvUnlearn, as pure functions of noise predictions.

- ESD (Gandikota et al., 2023): the erased model's conditional prediction is regressed onto the frozen model's
  negatively guided one, `eps_o(x_t|empty) - eta * (eps_o(x_t|c) - eps_o(x_t|empty))`.
- AdvUnlearn (Zhang et al., 2024): the same ESD loss on an adversarial prompt, plus a retain regulariser that keeps
  the erased encoder's predictions on retain prompts equal to the frozen model's; its inner attack minimises
  `MSE(eps_theta(x_t|c_adv), eps_o(x_t|c))`.
- UnlearnDiffAtk (Zhang et al., 2024): the attack's denoising loss on an image of the concept.

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
