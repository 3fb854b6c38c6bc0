# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Bi-level worst-case forget-set selection ("Challenging Forgets", Fan et al., ECCV 2024,
https://huggingface.co/papers/2403.07362), independent of the model family.

Selection weights `w in [0, 1]^N` over `N` units (examples, or groups such as classes or authors) with budget
`sum(w) = m`. Each upper iteration

1. **lower level**: starts from the original model and runs `lower_steps` steps of an unlearning method whose
   per-unit terms are weighted by `w` (e.g. weighted FT: `sum_i (1 - w_i) loss_i`; weighted GradDiff: forget term
   weighted by `w`, retain term by `1 - w`). The update is sign-SGD (`p -= lr * sign(grad)`, the paper's choice: it
   makes `d theta / d w = 0` almost everywhere, so no implicit gradient is needed) or the method's own optimiser;
2. **upper level**: computes the per-unit losses `l_i` of the unlearned model and steps
   `w <- Proj_S(w - eta * (l + 2 gamma w))` ("hardest": minimise the weighted loss, i.e. keep the units the unlearned
   model still fits best) or `w <- Proj_S(w + eta * (l - 2 gamma w))` ("easiest");
3. optionally snaps `w` to its top-`m` every `binarize_every` iterations.

The final set is the top-`m` of `w`.

**Step normalisation.** The paper's `eta` (`w_lr`, default 0.01) multiplies raw losses, so the step depends on the
loss scale: on digits (per-example losses ~1e-3 to 1e-1) 0.01 moves nothing and ~1000 was needed (reference pilot).
Here the step is divided by a scale of the step direction `g = l + 2 gamma w` (for "hardest"), so `w_lr` is in
units of selection weight and the same default works on digits, mini-TOFU and real data:

- `"mad"` (default): `eta = w_lr / MAD(g)`, the median absolute deviation from the median. A *typical* unit (one
  MAD from the median loss) gains or loses `w_lr` of weight per iteration before the projection, so with the
  default `w_lr=0.1` ten iterations can carry it across the whole `[0, 1]` range. Robust to heavy-tailed losses.
- `"budget"`: `eta = 2 * w_lr * m / ||g - mean(g)||_1`, the rising entries gain `w_lr * m` in total per iteration.
  Measured on digits (10% budget, random start, seed 0): the few high-loss outliers absorb almost all of that mass, and
  only 1-3 units per iteration entered the top-m (132 of 144 stayed from the random start), which is the pilot's
  "initialisation decides" symptom; with `"mad"` 50-66 stayed.
- `"none"`: the paper's raw `eta = w_lr`.

Subtracting a constant from `g` changes nothing (the projection absorbs constant shifts).

A model family plugs in through [`SelectionProblem`]: a fresh copy of the original model, the weighted lower-level
loss of one step, the per-unit losses, and (optionally) the method's own optimiser.

Example:
    >>> import torch
    >>> from hf_unlearn.worstcase import WorstCaseConfig, select_forget_set
    >>> from hf_unlearn.worstcase.selection import ToyRegressionProblem
    >>> problem = ToyRegressionProblem(torch.tensor([0.1, 2.0, 0.2, 3.0, 0.05]))
    >>> result = select_forget_set(problem, WorstCaseConfig(budget=2, upper_steps=5, lower_steps=2), progress=False)
    >>> sorted(result.selected)  # the two units with the smallest loss after weighted unlearning
    [0, 4]
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .projection import project_budget, resolve_budget, top_m, top_m_mask


__all__ = [
    "SelectionProblem",
    "SelectionResult",
    "WorstCaseConfig",
    "select_forget_set",
    "sign_sgd_step",
    "upper_step",
]

MODES = ("hardest", "easiest")
LOWER_OPTIMIZERS = ("sign_sgd", "native")
STEP_NORMALIZATIONS = ("mad", "budget", "none")
INITS = ("uniform", "random")


@dataclass
class WorstCaseConfig:
    """Settings of [`select_forget_set`].

    Parameters:
        budget (`int` or `float`, *optional*, defaults to `0.1`):
            Forget budget `m`: a count of units, or a fraction of them in (0, 1).
        mode (`str`, *optional*, defaults to `"hardest"`):
            `"hardest"` (the worst case: units the unlearned model still fits) or `"easiest"` (the paper's `re_optm`).
        upper_steps (`int`, *optional*, defaults to `10`): Upper iterations (the paper's `select_epochs`, 10).
        lower_steps (`int`, *optional*, defaults to `10`):
            Lower-level unlearning steps per upper iteration, each from the original model (the paper's
            `unlearn_steps`, 10; there one step is one epoch, here one step of the problem's lower loss).
        lower_lr (`float`, *optional*, defaults to `1e-3`): Learning rate of the lower level (paper: `theta_lr`).
        lower_optimizer (`str`, *optional*, defaults to `"sign_sgd"`):
            `"sign_sgd"` (`p -= lr * sign(grad)`, the paper) or `"native"` (the problem's own optimiser).
        w_lr (`float`, *optional*, defaults to `0.1`):
            Upper step, normalised by `step_normalization` (see the module docstring): with `"mad"` the weight a
            typical unit moves per iteration; with `"budget"` the fraction of the budget moved per iteration; with
            `"none"` the paper's raw step on the losses (its default is 0.01).
        step_normalization (`str`, *optional*, defaults to `"mad"`): `"mad"`, `"budget"` or `"none"`.
        gamma (`float`, *optional*, defaults to `0.0`): Weight of `||w||^2` in the upper objective (paper: 0).
        binarize_every (`int`, *optional*, defaults to `0`):
            Snap `w` to its top-`m` every this many iterations (the paper's `feq_to_bi`, 20); 0 never does.
        init (`str`, *optional*, defaults to `"uniform"`):
            `"uniform"` (`w = m / N`: the first step is decided by the losses alone) or `"random"` (a random binary
            top-`m` set, as the reference code starts; the pilot found most of the final set then stays from it).
        seed (`int`, *optional*, defaults to `0`): Seed of the initialisation and of the lower level's sampling.
    """

    budget: int | float = 0.1
    mode: str = "hardest"
    upper_steps: int = 10
    lower_steps: int = 10
    lower_lr: float = 1e-3
    lower_optimizer: str = "sign_sgd"
    w_lr: float = 0.1
    step_normalization: str = "mad"
    gamma: float = 0.0
    binarize_every: int = 0
    init: str = "uniform"
    seed: int = 0

    def __post_init__(self):
        choices = {
            "mode": MODES,
            "lower_optimizer": LOWER_OPTIMIZERS,
            "step_normalization": STEP_NORMALIZATIONS,
            "init": INITS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}, got {getattr(self, name)!r}.")
        for name in ("upper_steps", "lower_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        for name in ("lower_lr", "w_lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
        if not (math.isfinite(self.gamma) and self.gamma >= 0):
            raise ValueError(f"`gamma` must be >= 0, got {self.gamma!r}.")
        if not isinstance(self.binarize_every, int) or self.binarize_every < 0:
            raise ValueError(f"`binarize_every` must be an integer >= 0, got {self.binarize_every!r}.")
        if isinstance(self.budget, bool) or not isinstance(self.budget, (int, float)) or self.budget <= 0:
            raise ValueError(f"`budget` must be a positive count or a fraction in (0, 1), got {self.budget!r}.")


class SelectionProblem(ABC):
    """What a model family provides to worst-case selection (see the module docstring).

    Subclasses set `n_units` and implement [`new_lower_model`], [`lower_loss`] and [`unit_losses`]; [`make_optimizer`]
    is needed only for `lower_optimizer="native"`. `unit_names` labels the units in reports.
    """

    n_units: int
    unit_names: list[str] | None = None

    @abstractmethod
    def new_lower_model(self) -> nn.Module:
        """A fresh trainable copy of the original model (the lower level always starts from it)."""

    @abstractmethod
    def lower_loss(
        self, model: nn.Module, weights: torch.Tensor, step: int, generator: torch.Generator
    ) -> torch.Tensor:
        """The weighted unlearning objective of lower step `step` (a scalar to minimise), with per-unit `weights`."""

    @abstractmethod
    def unit_losses(self, model: nn.Module) -> torch.Tensor:
        """The per-unit losses `l_i` of a model, shape `(n_units,)` (no gradient needed)."""

    def make_optimizer(self, params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        """The unlearning method's own optimiser (for `lower_optimizer="native"`)."""
        raise NotImplementedError(f"{type(self).__name__} has no native optimiser; use lower_optimizer='sign_sgd'.")

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        """The parameters the lower level updates (default: every parameter that requires a gradient)."""
        return [p for p in model.parameters() if p.requires_grad]


@dataclass
class SelectionResult:
    """What [`select_forget_set`] returns.

    Args:
        selected (`list[int]`): The top-`m` units of the final `w`, largest weight first.
        weights (`list[float]`): The final relaxed weights.
        budget (`int`): `m`.
        trace (`list[dict]`): Per upper iteration: `objective` (`sum(w * l)` with the iteration's losses, plus
            `gamma * ||w||^2`), `topm_loss` (mean loss of the current top-`m` units), `mean_loss`, `eta` (the raw
            step used) and `changed` (units entering the top-`m` this iteration).
        initial_selected (`list[int]`): The top-`m` of the initial `w` (for `init="random"`, the random start).
        unit_losses_original (`list[float]`): Per-unit losses of the original model (for the lowest-loss baseline).
        seconds (`float`): Wall time of the selection.
        config (`dict`): The [`WorstCaseConfig`] as a dict.
    """

    selected: list[int]
    weights: list[float]
    budget: int
    trace: list[dict[str, float]]
    initial_selected: list[int]
    unit_losses_original: list[float]
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)


def sign_sgd_step(params: Iterable[nn.Parameter], lr: float) -> None:
    """One sign-SGD step, `p -= lr * sign(p.grad)` (no momentum, no weight decay: the paper's `SignSGD.sign_step`).

    Example:
        >>> p = nn.Parameter(torch.tensor([1.0, 1.0, 1.0]))
        >>> p.grad = torch.tensor([0.3, -2.0, 0.0])
        >>> sign_sgd_step([p], 0.1)
        >>> [round(x, 6) for x in p.detach().tolist()]
        [0.9, 1.1, 1.0]
    """
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.add_(torch.sign(p.grad), alpha=-lr)


def upper_step(
    w: torch.Tensor,
    losses: torch.Tensor,
    budget: int,
    w_lr: float,
    gamma: float = 0.0,
    mode: str = "hardest",
    step_normalization: str = "mad",
) -> tuple[torch.Tensor, float]:
    """One projected upper-level step on the selection weights (see the module docstring).

    Args:
        w (`torch.Tensor`): Current weights in the budget set, shape `(N,)`.
        losses (`torch.Tensor`): Per-unit losses of the unlearned model, shape `(N,)`.
        budget (`int`): `m`.
        w_lr (`float`): Step, in the units of `step_normalization` (see the module docstring).
        gamma (`float`, *optional*, defaults to `0.0`): Weight of `||w||^2`.
        mode (`str`, *optional*, defaults to `"hardest"`): `"hardest"` descends `sum(w * l)`, `"easiest"` ascends it.
        step_normalization (`str`, *optional*, defaults to `"mad"`): `"mad"`, `"budget"` or `"none"`.

    Returns:
        `tuple[torch.Tensor, float]`: The projected new weights (float64) and the raw step `eta` used.

    Example:
        >>> w, eta = upper_step(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 3.0]), budget=1, w_lr=0.2)
        >>> [round(x, 6) for x in w.tolist()], eta  # MAD = 1: each unit moves 0.2, the low-loss one up
        ([0.7, 0.3], 0.2)
    """
    w = w.to(torch.float64)
    losses = losses.detach().to(torch.float64)
    if losses.shape != w.shape:
        raise ValueError(f"`losses` has shape {tuple(losses.shape)} but `w` has {tuple(w.shape)}.")
    if not torch.isfinite(losses).all():
        raise ValueError("The per-unit losses hold NaN or infinite values: the lower level diverged (lower lower_lr).")
    if mode == "hardest":
        direction = losses + 2.0 * gamma * w  # gradient of sum(w*l) + gamma*||w||^2: descend it
    elif mode == "easiest":
        direction = -(losses - 2.0 * gamma * w)  # ascend sum(w*l) - gamma*||w||^2
    else:
        raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
    if step_normalization == "mad":
        centred = direction - direction.median()
        scale = float(centred.abs().median())
        if scale == 0.0:  # more than half the units tie: fall back to the mean absolute deviation
            scale = float(centred.abs().mean())
        eta = w_lr / scale if scale > 0 else 0.0
    elif step_normalization == "budget":
        spread = float((direction - direction.mean()).abs().sum())
        eta = 2.0 * w_lr * budget / spread if spread > 0 else 0.0
    elif step_normalization == "none":
        eta = w_lr
    else:
        raise ValueError(f"`step_normalization` must be one of {STEP_NORMALIZATIONS}, got {step_normalization!r}.")
    return project_budget(w - eta * direction, budget), eta


def _lower_level(problem: SelectionProblem, weights: torch.Tensor, config: WorstCaseConfig, generator) -> nn.Module:
    model = problem.new_lower_model()
    model.train()
    params = problem.parameters(model)
    optimizer = problem.make_optimizer(params, config.lower_lr) if config.lower_optimizer == "native" else None
    unit_w = weights.to(torch.float32)
    for step in range(config.lower_steps):
        for p in params:
            p.grad = None
        loss = problem.lower_loss(model, unit_w, step, generator)
        if not torch.isfinite(loss):
            raise ValueError(f"The lower-level loss is {loss.item()} at step {step}: lower `lower_lr`.")
        loss.backward()
        if optimizer is None:
            sign_sgd_step(params, config.lower_lr)
        else:
            optimizer.step()
    model.eval()
    return model


def select_forget_set(
    problem: SelectionProblem, config: WorstCaseConfig | None = None, progress: bool = True
) -> SelectionResult:
    """Selects the worst-case (or easiest) forget set of `problem` by bi-level optimisation.

    Args:
        problem ([`SelectionProblem`]): The model family's plug-in (original model, weighted lower loss, per-unit
            losses).
        config ([`WorstCaseConfig`], *optional*): The settings (defaults: 10% budget, 10 x 10 steps, sign-SGD).
        progress (`bool`, *optional*, defaults to `True`): A tqdm bar over the upper iterations.

    Returns:
        [`SelectionResult`]: The top-`m` units, the final weights and the objective trace.

    Example:
        >>> import torch
        >>> from hf_unlearn.worstcase.selection import ToyRegressionProblem
        >>> problem = ToyRegressionProblem(torch.tensor([0.1, 2.0, 0.2, 3.0, 0.05]))
        >>> cfg = WorstCaseConfig(budget=2, mode="easiest", upper_steps=5, lower_steps=2)
        >>> sorted(select_forget_set(problem, cfg, progress=False).selected)
        [1, 3]
    """
    from tqdm.auto import tqdm

    config = config or WorstCaseConfig()
    n = problem.n_units
    m = resolve_budget(config.budget, n)
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        original_losses = problem.unit_losses(problem.new_lower_model().eval()).detach().to(torch.float64)
    if original_losses.shape != (n,):
        raise ValueError(f"unit_losses returned shape {tuple(original_losses.shape)}, expected ({n},).")
    if config.init == "uniform":
        w = torch.full((n,), m / n, dtype=torch.float64)
    else:
        w = top_m_mask(torch.rand(n, generator=generator, dtype=torch.float64), m)
    initial = top_m(w, m).tolist() if config.init == "random" else []
    current = set(top_m(w, m).tolist())
    trace: list[dict[str, float]] = []
    bar = tqdm(range(config.upper_steps), desc=f"worst-case selection ({config.mode})", disable=not progress)
    for it in bar:
        model = _lower_level(problem, w, config, generator)
        with torch.no_grad():
            losses = problem.unit_losses(model).detach().to(torch.float64)
        objective = float((w * losses).sum()) + config.gamma * float((w * w).sum())
        w, eta = upper_step(w, losses, m, config.w_lr, config.gamma, config.mode, config.step_normalization)
        if config.binarize_every and (it + 1) % config.binarize_every == 0:
            w = top_m_mask(w, m)
        chosen = top_m(w, m)
        new = set(chosen.tolist())
        trace.append(
            {
                "iteration": it + 1,
                "objective": objective,
                "topm_loss": float(losses[chosen].mean()),
                "mean_loss": float(losses.mean()),
                "eta": eta,
                "changed": len(new - current),
            }
        )
        current = new
        bar.set_postfix(objective=f"{objective:.4g}", changed=trace[-1]["changed"])
    return SelectionResult(
        selected=top_m(w, m).tolist(),
        weights=w.tolist(),
        budget=m,
        trace=trace,
        initial_selected=initial,
        unit_losses_original=original_losses.tolist(),
        seconds=time.perf_counter() - start,
        config=asdict(config),
    )


class ToyRegressionProblem(SelectionProblem):
    """A one-parameter-per-unit toy for tests and docstrings: unit `i` has loss `scale_i * (theta_i - 1)^2`, and the
    lower level is weighted gradient ascent from `theta = 0` (forget term `-sum w_i l_i`, retain `sum (1-w_i) l_i`).

    With sign-SGD every `theta_i` moves by the same amount whatever `scale_i`, so the unit losses keep the order of
    `scale`: the hardest set is the `m` smallest scales, the easiest the `m` largest.

    Args:
        scale (`torch.Tensor`): Positive per-unit loss scales, shape `(N,)`.
    """

    def __init__(self, scale: torch.Tensor):
        self.scale = scale.to(torch.float32)
        self.n_units = len(scale)

    def new_lower_model(self) -> nn.Module:
        model = nn.Module()
        model.theta = nn.Parameter(torch.zeros(self.n_units))
        return model

    def lower_loss(self, model, weights, step, generator):
        per_unit = self.scale * (model.theta - 1.0) ** 2
        return (-(weights * per_unit) + (1.0 - weights) * per_unit).mean()

    def unit_losses(self, model):
        return self.scale * (model.theta.detach() - 1.0) ** 2

    def make_optimizer(self, params, lr):
        return torch.optim.SGD(params, lr=lr)
