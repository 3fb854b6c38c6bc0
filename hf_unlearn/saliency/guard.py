# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Applying a saliency mask during training: the functional form for hand-written loops.

Zeroing the gradients of non-salient weights is not enough to keep them fixed: coupled weight decay (SGD), decoupled
weight decay (AdamW) and momentum still move them, which is the bug of the original SalUn code (issue #32, fixed in
PR #33). [`SaliencyMaskGuard`] therefore enforces the hard constraint of the paper, θ_u = m ⊙ θ + (1 - m) ⊙ θ_o:

1. at attach time it snapshots the non-salient values θ_o;
2. a gradient hook on every masked parameter zeroes the non-salient gradient entries *as they are computed*, so
   gradient clipping, gradient accumulation and DDP all-reduce only ever see masked gradients;
3. after every optimizer step, [`~SaliencyMaskGuard.restore`] writes θ_o back (bit-identical) and zeroes the
   optimizer state (momentum, Adam moments) of those entries.
"""

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from typing_extensions import Self

from .mask import check_saliency_mask


__all__ = ["SaliencyMaskGuard", "apply_saliency_mask"]


def _inner_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    # accelerate's AcceleratedOptimizer (and similar wrappers) keep the torch optimizer in `.optimizer`. Unwrap even
    # when the wrapper itself subclasses `torch.optim.Optimizer` (AcceleratedOptimizer does, without initialising it,
    # so hooks registered on the wrapper fail or never run).
    while isinstance(getattr(optimizer, "optimizer", None), torch.optim.Optimizer) or (
        not isinstance(optimizer, torch.optim.Optimizer) and hasattr(optimizer, "optimizer")
    ):
        optimizer = optimizer.optimizer
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` must be a torch optimizer (or wrap one), got {type(optimizer).__name__}.")
    return optimizer


class SaliencyMaskGuard:
    """Keeps the non-salient weights of a model exactly fixed while it trains.

    Use it in a hand-written loop (the diffusers-style scripts do); inside a `transformers.Trainer`, use the
    [`SalUnMask`] callback, which wraps this class. If `optimizer` is given, the restore runs automatically after each
    `optimizer.step()` (through a step post-hook); otherwise call [`~SaliencyMaskGuard.restore`] yourself after each
    step.

    Args:
        model (`torch.nn.Module`):
            The model being trained; mask names are those of `model.named_parameters()`.
        mask (`dict[str, torch.Tensor]`):
            Parameter name -> 0/1 or boolean tensor (`True` = salient = may be updated), checked with
            [`check_saliency_mask`]. Parameters without an entry must be frozen (`requires_grad=False`).
        optimizer (`torch.optim.Optimizer`, *optional*):
            The optimizer (an accelerate-wrapped one works). When given, the restore is hooked to its `step()` and its
            state for non-salient entries is zeroed.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 1)
        >>> mask = {"weight": torch.tensor([[1, 0, 0]]), "bias": torch.tensor([0])}
        >>> opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
        >>> frozen_before = model.weight[0, 1:].clone()
        >>> with apply_saliency_mask(model, mask, opt):
        ...     model(torch.ones(2, 3)).sum().backward()
        ...     opt.step()
        >>> torch.equal(model.weight[0, 1:], frozen_before)
        True
    """

    def __init__(self, model: nn.Module, mask: Mapping[str, torch.Tensor], optimizer: Any | None = None):
        self.model = model
        self.mask = check_saliency_mask(mask, model)
        self.optimizer = _inner_optimizer(optimizer) if optimizer is not None else None
        self._entries: list[tuple[str, nn.Parameter, torch.Tensor, torch.Tensor]] = []
        self._handles: list[Any] = []
        self.attached = False

    def attach(self) -> "SaliencyMaskGuard":
        """Snapshots the non-salient values and registers the gradient (and optimizer) hooks."""
        if self.attached:
            return self
        params = dict(self.model.named_parameters())
        for name, keep in self.mask.items():
            param = params[name]
            if bool(keep.all()):
                continue  # fully salient: nothing to guard
            frozen = (~keep).to(param.device)
            with torch.no_grad():
                original = param.detach()[frozen].clone()
            self._entries.append((name, param, frozen, original))
            if param.requires_grad:
                self._handles.append(param.register_hook(lambda grad, frozen=frozen: grad.masked_fill(frozen, 0)))
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_post_hook(lambda *_: self.restore()))
        self.attached = True
        self.restore()  # zero pre-existing optimizer state of frozen entries
        return self

    def mask_gradients(self) -> None:
        """Zeroes the non-salient entries of `.grad` (the hooks already do it; this catches gradients set directly)."""
        for _, param, frozen, _ in self._entries:
            if param.grad is not None:
                param.grad.masked_fill_(frozen, 0)

    @torch.no_grad()
    def restore(self, optimizer: Any | None = None) -> None:
        """Writes the snapshot back into the non-salient entries and zeroes their optimizer state.

        Args:
            optimizer (`torch.optim.Optimizer`, *optional*):
                An optimizer whose state to clean, if not the one given at construction.
        """
        optimizer = _inner_optimizer(optimizer) if optimizer is not None else self.optimizer
        for _, param, frozen, original in self._entries:
            param.masked_scatter_(frozen, original)
            if optimizer is not None:
                for value in optimizer.state.get(param, {}).values():
                    if isinstance(value, torch.Tensor) and value.shape == param.shape:
                        value.masked_fill_(frozen, 0)

    def frozen_unchanged(self) -> bool:
        """Whether every non-salient weight still equals its snapshot exactly."""
        return all(torch.equal(param.detach()[frozen], original) for _, param, frozen, original in self._entries)

    def remove(self) -> None:
        """Removes the hooks and drops the snapshot (weights are left as they are)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._entries.clear()
        self.attached = False

    def __enter__(self) -> Self:
        return self.attach()

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def apply_saliency_mask(
    model: nn.Module, mask: Mapping[str, torch.Tensor], optimizer: Any | None = None
) -> SaliencyMaskGuard:
    """Attaches a [`SaliencyMaskGuard`] to `model` and returns it (usable as a context manager).

    Args:
        model (`torch.nn.Module`): The model being trained.
        mask (`dict[str, torch.Tensor]`): Parameter name -> 0/1 or boolean tensor (`True` = may be updated).
        optimizer (`torch.optim.Optimizer`, *optional*): If given, the restore runs after each `optimizer.step()`.

    Returns:
        [`SaliencyMaskGuard`]: The attached guard; call `.remove()` (or leave the `with` block) when done.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9, weight_decay=0.1)
        >>> guard = apply_saliency_mask(model, {"weight": torch.tensor([[1, 0]]), "bias": torch.tensor([1])}, opt)
        >>> model(torch.ones(1, 2)).sum().backward()
        >>> model.weight.grad[0, 1].item()  # masked as it was computed
        0.0
        >>> opt.step(); guard.frozen_unchanged()
        True
        >>> guard.remove()
    """
    return SaliencyMaskGuard(model, mask, optimizer).attach()
