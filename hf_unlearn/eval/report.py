# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Writing results for people and programs: JSON files, Markdown tables, and trade-off plots.

Every benchmark in `hf_unlearn.eval` returns a plain dict; these helpers turn one or several of them into files.
They are benchmark-agnostic (pick columns with `(key, header)` pairs), with TOFU's usual columns as a preset.

Example:
    >>> from hf_unlearn.eval.report import markdown_table
    >>> print(markdown_table([{"name": "target", "fq": 1.2e-7}], [("name", "model"), ("fq", "FQ")]))
    | model | FQ |
    |---|---|
    | target | 1.20e-07 |
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


#: TOFU summary columns: (key in `results["summary"]`, header).
TOFU_COLUMNS: tuple[tuple[str, str], ...] = (
    ("forget_quality", "forget quality"),
    ("forget_quality_ks_statistic", "KS D"),
    ("model_utility", "model utility"),
    ("forget_rouge_l_recall", "forget ROUGE-L"),
    ("forget_probability", "forget prob"),
    ("forget_truth_ratio", "forget TR"),
    ("retain_rouge_l_recall", "retain ROUGE-L"),
    ("retain_probability", "retain prob"),
    ("retain_truth_ratio", "retain TR"),
    ("real_authors_utility", "real-authors utility"),
    ("world_facts_utility", "world-facts utility"),
)


def format_number(value: Any) -> str:
    """Formats a cell: small or large numbers in scientific notation (p-values), others with 4 decimals.

    Example:
        >>> format_number(3.2e-9), format_number(0.51234), format_number(None), format_number(40)
        ('3.20e-09', '0.5123', '-', '40')
    """
    if value is None:
        return "-"
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.4f}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table of `rows` (dicts) with the given `(key, header)` columns; missing keys show as `-`.

    Args:
        rows (`Sequence[Mapping]`): One dict per table row.
        columns (`Sequence[tuple[str, str]]`): `(key, header)` pairs, in order.

    Returns:
        `str`: The table (no trailing newline).
    """
    if not columns:
        raise ValueError("markdown_table needs at least one column.")
    lines = [
        "| " + " | ".join(header for _, header in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(format_number(row.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines)


def tofu_table(results: Mapping[str, Mapping[str, Any]], columns: Sequence[tuple[str, str]] = TOFU_COLUMNS) -> str:
    """A Markdown table of TOFU results, one row per model.

    Args:
        results (`Mapping[str, dict]`): Row label → the dict returned by
            [`~hf_unlearn.eval.evaluate_tofu`] (or its loaded JSON).
        columns (`Sequence[tuple[str, str]]`, *optional*): Columns from `results["summary"]`.

    Returns:
        `str`: The table.

    Example:
        >>> print(tofu_table({"target": {"summary": {"forget_quality": 2e-9, "model_utility": 0.5}}},
        ...                  [("forget_quality", "FQ"), ("model_utility", "MU")]))
        | model | FQ | MU |
        |---|---|---|
        | target | 2.00e-09 | 0.5000 |
    """
    rows = [{"model": label, **dict(res.get("summary", {}))} for label, res in results.items()]
    return markdown_table(rows, [("model", "model"), *columns])


def save_json(results: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Writes `results` as indented JSON (creating parent folders) and returns the path."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass a file name such as {path / 'results.json'}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def load_json(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a results JSON written by [`save_json`]."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"results file {path} does not exist.")
    return json.loads(path.read_text(encoding="utf-8"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy / torch
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def plot_tradeoff(
    points: Mapping[str, tuple[float, float]],
    path: str | os.PathLike,
    x_label: str = "model utility",
    y_label: str = "forget quality",
    log_y: bool = True,
    title: str | None = None,
    reference_lines: Mapping[str, float] | None = None,
) -> Path:
    """Scatter plot of labelled `(x, y)` points, e.g. forget quality against model utility for several methods.

    Args:
        points (`Mapping[str, tuple[float, float]]`): Label → `(x, y)`.
        path (`str` or `os.PathLike`): Output image (PNG, PDF, SVG, ... by extension).
        x_label (`str`, *optional*, defaults to `"model utility"`): The x-axis label.
        y_label (`str`, *optional*, defaults to `"forget quality"`): The y-axis label.
        log_y (`bool`, *optional*, defaults to `True`): Log-scale y axis (forget quality spans many decades).
        title (`str`, *optional*): The figure title.
        reference_lines (`Mapping[str, float]`, *optional*): Label → y value of horizontal dashed lines (e.g. the
            retain model's forget quality, or a threshold such as 0.05).

    Returns:
        `Path`: The written image.
    """
    from ..plotting import pyplot

    plt = pyplot()

    if not points:
        raise ValueError("plot_tradeoff needs at least one point.")
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for label, (x, y) in points.items():
        if x is None or y is None:
            continue
        y_plot = max(y, 1e-300) if log_y else y
        ax.scatter([x], [y_plot], s=40)
        ax.annotate(label, (x, y_plot), textcoords="offset points", xytext=(5, 4), fontsize=8)
    for label, y in (reference_lines or {}).items():
        ax.axhline(y, linestyle="--", linewidth=0.8, color="grey")
        ax.annotate(label, (ax.get_xlim()[0], y), textcoords="offset points", xytext=(2, 2), fontsize=7)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
