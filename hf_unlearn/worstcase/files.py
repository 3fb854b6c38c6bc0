# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Selection files: a forget set that other tools (with or without hf_unlearn) can read.

`selection.json` holds

- `indices`: the selected rows of the *full data set as loaded* (for digits, the row order of
  `sklearn.datasets.load_digits()`; for mini-TOFU / TOFU, the rows of the `full` split), sorted;
- `n_rows`: how many rows that data set has (so a reader can check it loaded the same data);
- `authors` (author-level selections) or `groups` (class-wise selections): the selected group names;
- `world`, `unit`, `budget`, `mode`, the selection `settings` and the objective `trace`.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "selection.json")
    >>> _ = save_selection(path, {"world": "digits", "unit": "example", "indices": [5, 2], "n_rows": 10})
    >>> load_selection(path, n_rows=10)["indices"]
    [2, 5]
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any


__all__ = ["SELECTION_FILE", "load_selection", "save_selection", "validate_selection"]

SELECTION_FILE = "selection.json"


def validate_selection(selection: dict[str, Any], n_rows: int | None = None, source: str = "selection") -> dict:
    """Checks a selection dict; returns it with `indices` as a sorted list of ints.

    Args:
        selection (`dict`): The parsed selection file.
        n_rows (`int`, *optional*): Rows of the data set the caller loaded; indices must lie in `[0, n_rows)` and, if
            the file records `n_rows`, the two must agree.
        source (`str`, *optional*): Where the selection came from (for error messages).

    Returns:
        `dict`: The selection.
    """
    if not isinstance(selection, dict):
        raise TypeError(f"{source}: a selection file holds a JSON object, got {type(selection).__name__}.")
    if "indices" not in selection:
        raise ValueError(f"{source}: no `indices` field; write it with examples/worstcase_forget_set.py.")
    indices = selection["indices"]
    if not isinstance(indices, Sequence) or isinstance(indices, str) or len(indices) == 0:
        raise ValueError(f"{source}: `indices` must be a non-empty list of row numbers, got {indices!r}.")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in indices):
        bad = next(i for i in indices if isinstance(i, bool) or not isinstance(i, int))
        raise ValueError(f"{source}: `indices` must hold integers, got {bad!r}.")
    dupes = sorted(i for i, c in Counter(indices).items() if c > 1)
    if dupes:
        raise ValueError(f"{source}: duplicate indices {dupes[:10]}; each row may be selected once.")
    stored = selection.get("n_rows")
    if n_rows is not None and stored is not None and stored != n_rows:
        raise ValueError(
            f"{source} was made for a data set of {stored} rows, but the data loaded here has {n_rows}: "
            "select again on this data."
        )
    limit = n_rows if n_rows is not None else stored
    if limit is not None:
        bad = [i for i in indices if not 0 <= i < limit]
        if bad:
            raise ValueError(f"{source}: indices {bad[:10]} are outside the data set's rows [0, {limit}).")
    if limit is not None and len(indices) >= limit:
        raise ValueError(f"{source}: all {limit} rows are selected; nothing would be retained.")
    return {**selection, "indices": sorted(indices)}


def save_selection(path: str | os.PathLike, selection: dict[str, Any]) -> str:
    """Validates and writes a selection file (refuses to overwrite one); returns its path."""
    path = os.fspath(path)
    selection = validate_selection(selection, source=path)
    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; choose a new --output_dir (nothing was overwritten).")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(selection, f, indent=2)
    return path


def load_selection(path: str | os.PathLike, n_rows: int | None = None) -> dict[str, Any]:
    """Reads and validates a selection file (a folder means its `selection.json`).

    Args:
        path (`str` or `os.PathLike`): The file, or the folder holding `selection.json`.
        n_rows (`int`, *optional*): Rows of the data set the caller loaded (checked against the indices).

    Returns:
        `dict`: The selection, `indices` sorted.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, SELECTION_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"--forget_set {path!r} does not exist; pass the selection.json of worstcase_forget_set.py.")
    try:
        with open(path, encoding="utf-8") as f:
            selection = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    return validate_selection(selection, n_rows=n_rows, source=path)
