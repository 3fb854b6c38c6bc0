# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Retain models of a mini-TOFU world for *any* set of forget authors, trained and cached on demand.

A world ships retain models for TOFU's fixed splits (`retain90`: the last 10 % of authors are forgotten). A forget set
chosen otherwise (e.g. the worst-case authors of `hf_unlearn.worstcase`) needs its own gold standard for forget
quality to be honest: a model fine-tuned from the world's base on every author *except* those, plus the knowledge
splits, with the world's own recipe (plain fine-tuning, as for `retain90`). It is cached under the world cache,
keyed by the world's config, the sorted author set and the base seed, so each set is trained once.

[`author_items`] regenerates every author item with its paraphrase and perturbed answers (the world writes them only
for TOFU's forget splits and a retain sample), so any author set can be evaluated with the TOFU metrics.

Example:
    >>> world = build_tofu_world("test")  # doctest: +SKIP
    >>> path = author_retain_model(world, ["Aldric Ashcombe", "Brenna Blackmere"])  # doctest: +SKIP
    >>> json.loads((path.parent / "retain.json").read_text())["forget_authors"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cache import cached_build
from .tofu import KNOWLEDGE_SPLITS, TofuWorld, _derive_seed, _run_job, generate_world_splits


__all__ = ["RETAIN_MANIFEST", "author_items", "author_retain_model", "world_authors"]

RETAIN_MANIFEST = "retain.json"
_RETAIN_VERSION = 1


def author_items(world: TofuWorld) -> list[dict[str, Any]]:
    """Every author item of `world` (the rows of its `full` split, in order) with `paraphrased_answer` and
    `perturbed_answer`, regenerated from the world's config and checked against the stored `full` split.

    Args:
        world ([`TofuWorld`]): A built mini-TOFU world.

    Returns:
        `list[dict]`: Rows with TOFU's `*_perturbed` columns plus `author` and `attribute`.
    """
    splits = generate_world_splits(world.manifest["config"], with_full_perturbed=True)
    stored = world.load_split("full")
    items = splits["full_perturbed"]
    if len(stored) != len(items) or any(
        s["question"] != r["question"] or s["answer"] != r["answer"] for s, r in zip(stored, items)
    ):
        raise ValueError(
            f"The world at {world.path} was built by another version of the generator: its `full` split differs "
            "from the regenerated one. Rebuild the world."
        )
    return items


def world_authors(world: TofuWorld) -> list[str]:
    """The world's fictitious authors, in the order of its `full` split."""
    return list(dict.fromkeys(world.load_split("full")["author"]))


def _check_authors(forget_authors: Sequence[str], known: list[str]) -> list[str]:
    if isinstance(forget_authors, str):
        raise TypeError("`forget_authors` must be a list of author names, not one string.")
    authors = list(forget_authors)
    if not authors:
        raise ValueError("`forget_authors` is empty: name at least one author to forget.")
    dupes = sorted({a for a in authors if authors.count(a) > 1})
    if dupes:
        raise ValueError(f"`forget_authors` lists {dupes} more than once.")
    unknown = [a for a in authors if a not in known]
    if unknown:
        raise ValueError(f"Unknown authors {unknown[:5]}; this world's authors are e.g. {known[:3]}.")
    if len(authors) >= len(known):
        raise ValueError(f"All {len(known)} authors would be forgotten; nothing would be retained.")
    return sorted(authors)


def author_retain_model(
    world: TofuWorld,
    forget_authors: Sequence[str],
    seed_index: int = 0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> Path:
    """The folder of a retain model that never saw `forget_authors` (trained on first use, then cached).

    The model is the world's base `base` (or `base_seed{seed_index}`) fine-tuned on every other author plus the
    knowledge splits with the world's recipe (epochs, learning rate, batch size, schedule), exactly as `retain90` is.
    Next to the model folder, `retain.json` records the forget authors, the authors trained on and the training run,
    and `data/` holds the training rows.

    Args:
        world ([`TofuWorld`]): A built mini-TOFU world.
        forget_authors (`Sequence[str]`): Author names to leave out.
        seed_index (`int`, *optional*, defaults to `0`): Which of the world's bases to start from (`0` = `base`; `i`
            needs `base_seed{i}`, i.e. a world built with `n_retain_seeds > i`).
        cache_dir (`str`, *optional*): The cache root (defaults to `$HF_UNLEARN_CACHE` or `~/.cache/hf_unlearn`).
        progress (`bool`, *optional*, defaults to `False`): Log a tqdm bar over training steps.

    Returns:
        `Path`: The model folder (`AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`).
    """
    authors = _check_authors(forget_authors, world_authors(world))
    base = "base" if seed_index == 0 else f"base_seed{seed_index}"
    if not isinstance(seed_index, int) or seed_index < 0 or base not in world.model_names:
        raise ValueError(
            f"`seed_index`={seed_index!r} needs the world model {base!r}; this world has {world.model_names}."
        )
    cfg = world.manifest["config"]
    key = {"version": _RETAIN_VERSION, "world": cfg, "forget_authors": authors, "seed_index": seed_index}

    def build(tmp: Path) -> None:
        from tqdm.auto import tqdm

        data_dir = tmp / "data"
        data_dir.mkdir()
        forget = set(authors)
        rows = [r for r in world.load_split("full").to_list() if r["author"] not in forget]
        (data_dir / "retain.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        files = ["retain.jsonl"]
        for split in KNOWLEDGE_SPLITS:
            name = world.manifest["data_files"][split]
            shutil.copy(world.data_dir / name, data_dir / name)
            files.append(name)
        name = f"retain_{'|'.join(authors)}_seed{seed_index}"
        job = {
            "name": name,
            "tokenizer": str(world.path / world.manifest["tokenizer"]),
            "data_dir": str(data_dir),
            "files": files,
            "from": str(world.model_path(base)),
            "epochs": cfg["epochs"],
            "lr": cfg["lr"],
            "batch_size": cfg["batch_size"],
            "weight_decay": cfg["weight_decay"],
            "warmup_ratio": cfg["warmup_ratio"],
            "min_lr_ratio": cfg["min_lr_ratio"],
            "data_seed": _derive_seed(cfg["seed"], "finetune", name),
            "output": str(tmp / "model"),
        }
        bar = tqdm(desc="retain model", unit="step", disable=not progress)
        record = _run_job(job, on_step=lambda loss: bar.update(1))
        bar.close()
        manifest = {
            "world": str(world.path),
            "base": base,
            "forget_authors": authors,
            "train_authors": list(dict.fromkeys(r["author"] for r in rows)),
            "train_splits": ["full minus forget_authors", *KNOWLEDGE_SPLITS],
            "data_seed": job["data_seed"],
            **{k: v for k, v in record.items() if k != "name"},
        }
        (tmp / RETAIN_MANIFEST).write_text(json.dumps(manifest, indent=2))

    return cached_build("tofu-retain", key, build, cache_dir=cache_dir) / "model"
