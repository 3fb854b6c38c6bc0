# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Checks that a model or dataset argument (a folder or a Hub id) can be loaded, before any work starts.

A missing local folder is otherwise taken for a Hub id and fails minutes later with "Repo id must be in the form
...", or, offline, with a cache miss. [`check_model_source`] and [`check_dataset_source`] say "no such folder" for a
path, check a folder's content, and check a Hub id against the Hub (online) or the local cache (offline).
"""

from __future__ import annotations

import os
from pathlib import Path


__all__ = ["check_dataset_source", "check_model_source", "check_unlearning_sources"]

_MODEL_FILES = ("config.json", "adapter_config.json")


def _looks_like_path(value: str) -> bool:
    """A value that can only be meant as a local path (not an `owner/name` Hub id)."""
    if value.startswith(("/", "./", "../", "~", ".\\")) or "\\" in value or value.endswith("/"):
        return True
    parts = value.split("/")
    return len(parts) > 2 or (len(parts) == 2 and os.path.isdir(parts[0]))


def _offline() -> bool:
    return any(
        os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE")
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _in_hub_cache(repo_id: str, repo_type: str) -> bool:
    from huggingface_hub import constants

    folder = f"{repo_type}s--{repo_id.replace('/', '--')}"
    if (Path(constants.HF_HUB_CACHE) / folder).is_dir():
        return True
    if repo_type == "dataset":
        from datasets import config

        return (Path(config.HF_DATASETS_CACHE) / repo_id.replace("/", "___")).is_dir()
    return False


def _check_hub_id(value: str, option: str, repo_type: str, hint: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError as err:
        raise ValueError(f"{option} {value!r}: no such folder, and not a valid Hub id ({err}). {hint}") from None
    if _offline():
        if not _in_hub_cache(value, repo_type):
            raise ValueError(
                f"{option} {value!r}: no such folder, and the Hub {repo_type} {value!r} is not in the local cache "
                f"while HF_HUB_OFFLINE=1. {hint} Or go online once (unset HF_HUB_OFFLINE) to download it."
            )
        return
    from huggingface_hub import HfApi

    try:
        exists = HfApi().repo_exists(value, repo_type=repo_type)
    except Exception:  # noqa: BLE001 - no network: loading will say more; do not block a run on a flaky check
        return
    if not exists:
        raise ValueError(
            f"{option} {value!r}: no such folder, and no Hub {repo_type} {value!r} (or it is private / gated: log in "
            f"with `hf auth login` or set HF_TOKEN). {hint}"
        )


def _check_source(
    value: str | os.PathLike, option: str, repo_type: str, hint: str, required_files: tuple[str, ...] = ()
) -> str:
    value = os.fspath(value)
    path = Path(value).expanduser()
    if path.is_dir():
        if required_files and not any((path / name).is_file() for name in required_files):
            raise ValueError(
                f"{option} {value!r} is a folder but holds no {' or '.join(required_files)}, so it is not a saved "
                f"{repo_type}. {hint}"
            )
        return value
    if path.exists():
        raise ValueError(f"{option} {value!r} is a file; a {repo_type} is a folder or a Hub id. {hint}")
    if _looks_like_path(value):
        raise ValueError(f"{option} {value!r}: no such folder. {hint}")
    _check_hub_id(value, option, repo_type, hint)
    return value


def check_model_source(value: str | os.PathLike, option: str = "model") -> str:
    """Checks that a model argument is a saved-model folder or a reachable Hub model id.

    Args:
        value (`str` or `os.PathLike`): A folder written by `save_pretrained`, or a Hub model id.
        option (`str`, *optional*, defaults to `"model"`): The option's name, used in the error (e.g. `"--model"`).

    Returns:
        `str`: `value` as a string.

    Raises:
        `ValueError`: "no such folder" for a missing path; a folder without `config.json` / `adapter_config.json`;
            a Hub id that does not exist (online) or is not cached (offline).

    Example:
        >>> import tempfile
        >>> check_model_source("./no/such/model", "--model")
        Traceback (most recent call last):
        ...
        ValueError: --model './no/such/model': no such folder. ...
    """
    hint = "Pass the folder written by save_pretrained / trainer.save_model, or an existing Hub model id."
    return _check_source(value, option, "model", hint, required_files=_MODEL_FILES)


def check_dataset_source(value: str | os.PathLike, option: str = "dataset", hint: str = "") -> str:
    """Checks that a dataset argument is an existing folder or a reachable Hub dataset id.

    Args:
        value (`str` or `os.PathLike`): A local folder (e.g. a mini-TOFU world) or a Hub dataset id.
        option (`str`, *optional*, defaults to `"dataset"`): The option's name, used in the error.
        hint (`str`, *optional*): How to fix it, appended to the error (e.g. how to build a world).

    Returns:
        `str`: `value` as a string.

    Raises:
        `ValueError`: "no such folder" for a missing path; a Hub id that does not exist (online) or is not cached
            (offline).

    Example:
        >>> check_dataset_source("./worlds/tofu", "--dataset")
        Traceback (most recent call last):
        ...
        ValueError: --dataset './worlds/tofu': no such folder. ...
    """
    hint = hint or "Pass an existing folder or a Hub dataset id (e.g. locuslab/TOFU)."
    return _check_source(value, option, "dataset", hint)


def check_unlearning_sources(
    dataset: str | None, model: str | None, retain: str | None, world_manifest: str = "world.json"
) -> None:
    """Checks the data / model / retain arguments of an unlearning job (e.g. `examples/simnpo_tofu.py`) up front.

    Args:
        dataset (`str`, *optional*): `--dataset`: None (the offline world), a world folder, a data folder or a Hub id.
        model (`str`, *optional*): `--model`: required unless `dataset` is None or a world folder.
        retain (`str`, *optional*): `--retain_results`: an evaluation JSON file, or a retain model (folder / Hub id).
        world_manifest (`str`, *optional*, defaults to `"world.json"`): The file that marks a world folder.

    Raises:
        `ValueError`: Names the option and the fix ("no such folder", "no such file", "--model is required ...").

    Example:
        >>> check_unlearning_sources("./worlds/tofu", None, None)
        Traceback (most recent call last):
        ...
        ValueError: --dataset './worlds/tofu': no such folder. ...
    """
    is_world = dataset is None or (Path(dataset) / world_manifest).is_file()
    if dataset is not None and not is_world:
        check_dataset_source(
            dataset,
            "--dataset",
            hint="Pass a mini-TOFU world folder (build one with `hf-unlearn build-world tofu --output_dir "
            f"{dataset}`), leave --dataset out to use the cached offline world, or pass a Hub dataset id "
            "(e.g. locuslab/TOFU) together with --model.",
        )
        if model is None:
            raise ValueError(
                f"--model is required with --dataset {dataset!r} (not a mini-TOFU world folder: it has no "
                f"{world_manifest}): pass the fine-tuned model to unlearn from."
            )
    if model is not None:
        check_model_source(model, "--model")
    if retain is not None:
        if str(retain).endswith(".json"):
            if not Path(retain).is_file():
                raise ValueError(
                    f"--retain_results {retain!r}: no such file. Pass an evaluation JSON (from `hf-unlearn eval tofu` "
                    "or a previous run's eval_retain.json) or a retain model folder / Hub id."
                )
        else:
            check_model_source(retain, "--retain_results")
