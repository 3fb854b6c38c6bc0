# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Baselines to report beside every worst-case set, and descriptive statistics of selected sets.

- **random**: `m` units drawn uniformly (the usual evaluation protocol);
- **lowest-loss**: the `m` units with the lowest loss under the *original* model (no unlearning at all). The
  reference pilot found it as hard as the bi-level selection on digits, so it is the baseline to beat;
- **easiest**: the bi-level selection with `mode="easiest"` (see [`select_forget_set`]).

Example:
    >>> import torch
    >>> lowest_loss_units(torch.tensor([0.3, 0.1, 0.9, 0.2]), 2)
    [1, 3]
    >>> jaccard([1, 2, 3], [2, 3, 4])
    0.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import combinations

import torch

from .projection import top_m


__all__ = ["group_histogram", "jaccard", "lowest_loss_units", "mean_pairwise_jaccard", "mean_std", "random_units"]


def random_units(n_units: int, m: int, seed: int = 0) -> list[int]:
    """`m` distinct units drawn uniformly from `range(n_units)` (sorted).

    Example:
        >>> len(set(random_units(100, 10, seed=3)))
        10
    """
    if not 0 < m < n_units:
        raise ValueError(f"`m` must be in [1, {n_units - 1}], got {m}.")
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(n_units, generator=g)[:m].tolist())


def lowest_loss_units(losses: torch.Tensor | Sequence[float], m: int) -> list[int]:
    """The `m` units with the lowest loss, lowest first (ties to the lower index)."""
    losses = torch.as_tensor(losses, dtype=torch.float64)
    return top_m(-losses, m).tolist()


def jaccard(a: Iterable[int], b: Iterable[int]) -> float:
    """`|A & B| / |A | B|` (1.0 for two empty sets)."""
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 1.0


def mean_pairwise_jaccard(sets: Sequence[Iterable[int]]) -> float | None:
    """Mean Jaccard overlap over all pairs of `sets` (`None` for fewer than two sets).

    Example:
        >>> mean_pairwise_jaccard([[1, 2], [1, 2], [3, 4]])  # pairs: 1.0, 0.0, 0.0
        0.3333333333333333
    """
    pairs = [jaccard(a, b) for a, b in combinations([list(s) for s in sets], 2)]
    return sum(pairs) / len(pairs) if pairs else None


def group_histogram(selected: Iterable[int], groups: Sequence) -> dict[str, int]:
    """How many selected units fall in each group (e.g. class or author), sorted by group.

    Example:
        >>> group_histogram([0, 1, 3], ["a", "b", "a", "a"])
        {'a': 2, 'b': 1}
    """
    counts = Counter(str(groups[i]) for i in selected)
    return dict(sorted(counts.items()))


def mean_std(values: Sequence[float]) -> list[float]:
    """`[mean, sample standard deviation]` (std 0 for one value), the spread reported over seeds.

    Example:
        >>> mean_std([1.0, 2.0, 3.0])
        [2.0, 1.0]
    """
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return [mean, std]
