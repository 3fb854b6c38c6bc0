# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""A plot of the selection's upper-level objective over iterations."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


__all__ = ["plot_objective"]


def plot_objective(trace: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "") -> None:
    """Plots `objective` (the weighted loss `sum(w * l)`) and `topm_loss` (mean loss of the current top-m units after
    the lower level) of a [`~hf_unlearn.worstcase.SelectionResult`] trace, and the units entering the top-m.

    Args:
        trace (`Sequence[dict]`): `SelectionResult.trace`.
        path (`str` or `os.PathLike`): The PNG to write.
        title (`str`, *optional*): A title.
    """
    from ..plotting import pyplot

    plt = pyplot()

    if not trace:
        raise ValueError("The trace is empty: nothing to plot.")
    its = [t["iteration"] for t in trace]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(its, [t["objective"] for t in trace], marker="o", label="sum(w * loss)")
    ax1.plot(its, [t["topm_loss"] for t in trace], marker="s", label="mean loss of top-m")
    ax1.set_xlabel("upper iteration")
    ax1.set_ylabel("loss after the lower level")
    ax1.legend(fontsize=8)
    ax2.bar(its, [t["changed"] for t in trace])
    ax2.set_xlabel("upper iteration")
    ax2.set_ylabel("units entering the top-m")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
