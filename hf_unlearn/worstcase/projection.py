# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The constraint set of worst-case selection and its two roundings.

Selection weights live in the relaxed budget set `S = {w in [0, 1]^N : sum(w) = m}`. The Euclidean projection onto
`S` is `clip(v - tau, 0, 1)` for the unique shift `tau` that makes the sum equal `m`; `sum(clip(v - tau, 0, 1))` is
continuous and non-increasing in `tau`, so `tau` is found by bisection (as `utils.bisection` of the
Unlearn-WorstCase code does). The final selection is the top-`m` of `w`.

Example:
    >>> import torch
    >>> w = project_budget(torch.tensor([0.9, 0.5, -0.2, 2.0]), budget=2)
    >>> [round(x, 6) for x in w.tolist()], round(float(w.sum()), 6)
    ([0.7, 0.3, 0.0, 1.0], 2.0)
    >>> top_m(w, 2).tolist()
    [3, 0]
"""

from __future__ import annotations

import math

import torch


__all__ = ["project_budget", "resolve_budget", "top_m", "top_m_mask"]


def resolve_budget(budget: float, n_units: int, name: str = "budget") -> int:
    """The number of units `m` a budget means: an integer count, or a fraction of `n_units` in (0, 1).

    Args:
        budget (`int` or `float`): `m` itself (an integer in `[1, n_units - 1]`), or a fraction in (0, 1) of the units
            (rounded to the nearest integer, at least 1).
        n_units (`int`): How many units (examples, classes, authors) there are.
        name (`str`, *optional*, defaults to `"budget"`): The option name used in error messages.

    Returns:
        `int`: The budget `m`.

    Example:
        >>> resolve_budget(0.1, 1437), resolve_budget(4, 40)
        (144, 4)
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise TypeError(f"`{name}` must be an int (a count) or a float in (0, 1) (a fraction), got {budget!r}.")
    if n_units < 2:
        raise ValueError(f"Selection needs at least 2 units, got {n_units}.")
    if isinstance(budget, float) and not float(budget).is_integer():
        if not 0.0 < budget < 1.0 or not math.isfinite(budget):
            raise ValueError(
                f"`{name}`={budget} is neither a whole count nor a fraction in (0, 1); pass e.g. 0.1 or 144."
            )
        return max(1, round(budget * n_units))
    m = int(budget)
    if m <= 0:
        raise ValueError(f"`{name}` must be positive, got {budget}.")
    if m >= n_units:
        raise ValueError(
            f"`{name}`={m} is not smaller than the {n_units} units to choose from; nothing would be retained. "
            f"Pass a count below {n_units} or a fraction in (0, 1)."
        )
    return m


def project_budget(v: torch.Tensor, budget: float, tol: float = 1e-12, max_iter: int = 200) -> torch.Tensor:
    """Euclidean projection of `v` onto `{w in [0, 1]^N : sum(w) = budget}`, by bisection on the shift `tau`.

    Args:
        v (`torch.Tensor`): A 1-D tensor.
        budget (`float`): The sum `m`, in `[0, N]`.
        tol (`float`, *optional*, defaults to `1e-12`): Stop when the bracket of `tau` is this narrow.
        max_iter (`int`, *optional*, defaults to `200`): Bisection steps at most (each halves the bracket).

    Returns:
        `torch.Tensor`: `clip(v - tau, 0, 1)` in float64, with sum `budget` up to `N * tol`.

    Example:
        >>> [round(x, 6) for x in project_budget(torch.tensor([0.2, 0.2, 0.2]), 1.5).tolist()]
        [0.5, 0.5, 0.5]
    """
    if v.ndim != 1 or v.numel() == 0:
        raise ValueError(f"`v` must be a non-empty 1-D tensor, got shape {tuple(v.shape)}.")
    if not torch.isfinite(v).all():
        raise ValueError("`v` holds NaN or infinite values; the upper-level step diverged (lower `w_lr`).")
    n = v.numel()
    if not 0 <= budget <= n:
        raise ValueError(f"`budget` must be in [0, {n}], got {budget}.")
    v = v.detach().to(torch.float64)
    lo, hi = float(v.min()) - 1.0, float(v.max())  # sum(clip(v - lo)) = n >= budget >= 0 = sum(clip(v - hi))
    for _ in range(max_iter):
        if hi - lo <= tol:
            break
        mid = 0.5 * (lo + hi)
        if float((v - mid).clamp(0.0, 1.0).sum()) > budget:
            lo = mid
        else:
            hi = mid
    return (v - 0.5 * (lo + hi)).clamp(0.0, 1.0)


def top_m(w: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of the `m` largest weights, largest first; ties go to the lower index (deterministic).

    Example:
        >>> top_m(torch.tensor([0.5, 1.0, 0.5, 0.0]), 2).tolist()
        [1, 0]
    """
    if not 0 < m <= w.numel():
        raise ValueError(f"`m` must be in [1, {w.numel()}], got {m}.")
    order = torch.argsort(w.detach().to(torch.float64), descending=True, stable=True)
    return order[:m]


def top_m_mask(w: torch.Tensor, m: int) -> torch.Tensor:
    """The binary point of `S` nearest to `w`: 1.0 on the top-`m` weights, 0.0 elsewhere (float64).

    Example:
        >>> top_m_mask(torch.tensor([0.1, 0.7, 0.3]), 1).tolist()
        [0.0, 1.0, 0.0]
    """
    mask = torch.zeros(w.numel(), dtype=torch.float64)
    mask[top_m(w, m)] = 1.0
    return mask
