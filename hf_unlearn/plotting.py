# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Plots are optional: matplotlib comes with the `plot` extra (`pip install "hf-unlearn[plot]"`, included in `dev`).

Example:
    >>> from hf_unlearn.plotting import is_plotting_available
    >>> isinstance(is_plotting_available(), bool)
    True
"""

from __future__ import annotations

import importlib.util
from typing import Any


__all__ = ["is_plotting_available", "pyplot"]


def is_plotting_available() -> bool:
    """Whether matplotlib is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def pyplot() -> Any:
    """`matplotlib.pyplot` with the non-interactive Agg backend; an `ImportError` says how to install it."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            'plots need matplotlib: pip install "hf-unlearn[plot]" (or pip install matplotlib).'
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
