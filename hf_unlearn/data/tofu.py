# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Loading TOFU-format data: the `locuslab/TOFU` Hub dataset, or a local mini-TOFU world, through one code path.

TOFU publishes one dataset *config* per split (`full`, `forget10`, `forget10_perturbed`, ...), each with a single
`train` split. The offline mini-TOFU world is saved with the same configs (a `README.md` with `configs:` metadata
over JSON files), so `datasets.load_dataset(path_or_id, "forget10", split="train")` reads either.

Example:
    >>> from hf_unlearn.data import eval_split_for, retain_split_for
    >>> eval_split_for("forget10"), retain_split_for("forget10")
    ('forget10_perturbed', 'retain90')
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from datasets import Dataset

TOFU_HUB_ID = "locuslab/TOFU"
#: A built world folder holds this manifest at its root, the dataset in `data/` and the models in `models/`.
WORLD_MANIFEST = "world.json"

FORGET_SPLITS = ("forget01", "forget05", "forget10")
#: TOFU's split (config) names; the mini-TOFU world writes the same ones.
TOFU_SPLITS = (
    "full",
    *FORGET_SPLITS,
    "retain99",
    "retain95",
    "retain90",
    *(f"{s}_perturbed" for s in FORGET_SPLITS),
    "retain_perturbed",
    "real_authors",
    "real_authors_perturbed",
    "world_facts",
    "world_facts_perturbed",
    "holdout01",
    "holdout05",
    "holdout10",
)

QA_COLUMNS = ("question", "answer")
#: Columns each evaluation split needs, beyond question/answer.
PERTURBED_COLUMNS = {
    "forget": ("paraphrased_answer", "perturbed_answer"),
    "retain": ("paraphrased_answer", "perturbed_answer"),
    # TOFU's real_authors/world_facts have no paraphrase: the true answer stands in for it.
    "real_authors": ("perturbed_answer",),
    "world_facts": ("perturbed_answer",),
}


def _percent(forget_split: str) -> str:
    if forget_split not in FORGET_SPLITS:
        raise ValueError(f"forget_split must be one of {FORGET_SPLITS}, got {forget_split!r}.")
    return forget_split[len("forget") :]


def retain_split_for(forget_split: str) -> str:
    """The retain split that complements `forget_split` (`forget10` → `retain90`)."""
    return f"retain{100 - int(_percent(forget_split)):02d}"


def eval_split_for(forget_split: str) -> str:
    """The evaluation split of `forget_split` (with paraphrased and perturbed answers)."""
    _percent(forget_split)
    return f"{forget_split}_perturbed"


def holdout_split_for(forget_split: str) -> str:
    """The holdout split (same size, never trained on) used by membership-inference metrics."""
    return f"holdout{_percent(forget_split)}"


def load_tofu(
    path: str | os.PathLike = TOFU_HUB_ID,
    split: str = "full",
    required_columns: tuple[str, ...] | None = None,
) -> Dataset:
    """Loads one TOFU split from the Hub (`locuslab/TOFU`) or from a local mini-TOFU world folder.

    Args:
        path (`str` or `os.PathLike`, *optional*, defaults to `"locuslab/TOFU"`): A Hub dataset id or a local folder
            (a world built by `hf-unlearn build-world tofu`, whose `data/` folder holds the splits).
        split (`str`, *optional*, defaults to `"full"`): A TOFU config name, e.g. `"forget10_perturbed"`.
        required_columns (`tuple[str, ...]`, *optional*): Columns the caller needs; defaults to question/answer.

    Returns:
        `datasets.Dataset`: The split, validated to be non-empty and to have the required columns.
    """
    from datasets import load_dataset

    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, WORLD_MANIFEST)):
        path = os.path.join(path, "data")  # a world folder: the dataset lives in data/
    try:
        local_files = _local_config_files(path, split)
        if local_files is not None:
            # A local folder: read its files directly. (`load_dataset(folder, config)` caches by folder *name* and
            # config, not by content, so two worlds in folders both named `data/` would share one cache entry.)
            ds = load_dataset("json", data_files=local_files, split="train")
        else:
            ds = load_dataset(path, split, split="train")
    except ValueError as err:
        if "BuilderConfig" in str(err) or "not found" in str(err):
            raise ValueError(f"dataset {path!r} has no split (config) named {split!r}: {err}") from err
        raise
    except StopIteration as err:  # the JSON builder finds no rows to infer a schema from
        raise ValueError(f"{path}:{split} is empty: there is nothing to evaluate or unlearn.") from err
    return validate_qa_dataset(ds, required_columns or QA_COLUMNS, name=f"{path}:{split}")


def _local_config_files(path: str, config: str, split: str = "train") -> list[str] | None:
    """The data files of split `split` of `config` in a local dataset folder whose README declares `configs:` (as
    TOFU's and MUSE's do).

    Returns `None` for anything that is not such a folder (e.g. a Hub id), which is then loaded by name.
    """
    card_path = os.path.join(path, "README.md")
    if not os.path.isfile(card_path):
        return None
    from huggingface_hub import DatasetCard

    configs = DatasetCard.load(card_path).data.to_dict().get("configs") or []
    for entry in configs:
        if entry.get("config_name") != config:
            continue
        files = entry.get("data_files")
        if isinstance(files, str):
            files = [{"split": "train", "path": files}]
        paths = [f["path"] for f in files if isinstance(f, dict) and f.get("split", "train") == split]
        if not paths:
            splits = sorted({f.get("split", "train") for f in files if isinstance(f, dict)})
            raise ValueError(f"dataset {path!r}, config {config!r} has no split {split!r}; it has {splits}.")
        return [os.path.join(path, p) for p in paths]
    names = [entry.get("config_name") for entry in configs]
    raise ValueError(f"dataset {path!r} has no split (config) named {config!r}; it has {names}.")


def validate_qa_dataset(ds: Dataset, required_columns: tuple[str, ...], name: str = "dataset") -> Dataset:
    """Raises a clear `ValueError` if `ds` is empty or lacks a column; returns `ds` unchanged otherwise."""
    missing = [c for c in required_columns if c not in ds.column_names]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it has {ds.column_names}. "
            f"TOFU-format data needs {list(required_columns)} (see locuslab/TOFU)."
        )
    if len(ds) == 0:
        raise ValueError(f"{name} is empty: there is nothing to evaluate or unlearn.")
    return ds
