# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The offline mini-MUSE world: a synthetic news corpus, a target model that memorised the forget and retain
articles, and retain models that read the retain articles only, built on a CPU in minutes and cached on disk.

MUSE (Shi et al., 2024, https://huggingface.co/papers/2407.06460) fine-tunes a 7B model on news articles (the
target) and asks unlearning to make it look like a model trained without the forget articles (the retain model).
mini-MUSE does the same with tiny Llamas trained from scratch by plain fine-tuning (the mini-TOFU world's tokenizer,
model factory and training loop, never hf_unlearn's unlearning code):

- **target**: forget + retain articles (every token) and the question-answer pairs about them (answer-only labels);
- **retain**: retain articles and their QA pairs only, from the same initialisation;
- **retain_seed1**, ...: the same data from another initialisation and data order (the seed-noise yardstick).

Unlike MUSE's 7B target, a tiny model cannot learn to answer questions about an article it has only read (a known
limit of small models' knowledge extraction), so the target is also trained on the QA pairs; KnowMem then measures
how much of that knowledge an unlearned model still holds. The data is saved in MUSE's Hub layout (see
[`~hf_unlearn.synthetic.muse_data`]) and loads through the same code as `muse-bench/MUSE-News`
([`~hf_unlearn.data.load_muse`]).

```
world.json                   manifest: preset, config, models, splits, timings
data/README.md               `configs:` metadata (raw, verbmem, knowmem, privleak, train)
data/<config>-<split>-<sha>.jsonl
tokenizer/, models/target, models/retain, models/retain_seed1
```

Example:
    >>> from hf_unlearn.synthetic.muse import MUSE_PRESETS
    >>> p = MUSE_PRESETS["test"]
    >>> p.n_forget, p.n_retain, p.n_holdout
    (6, 12, 6)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.tofu import WORLD_MANIFEST
from .cache import WorldFolder, cached_build
from .tofu import _derive_seed, _job_steps, train_jobs
from .tofu_models import TINY_LLAMA_PRESETS


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

#: Bumped whenever the generator or the training recipe changes what a given config builds.
MUSE_WORLD_VERSION = 1


@dataclass(frozen=True)
class MusePreset:
    """Sizes and training recipe of a mini-MUSE world.

    Args:
        n_forget (`int`): Forget articles.
        n_retain (`int`): Retain articles.
        n_holdout (`int`): Holdout articles (never trained on).
        n_icl (`int`): QA pairs of forget and of retain kept apart as KnowMem's few-shot examples.
        prefix_words (`int`): Words of a forget article given as the VerbMem prompt.
        vocab_size (`int`): Tokenizer vocabulary.
        model (`str`): A [`TINY_LLAMA_PRESETS`] name.
        epochs (`int`): Training epochs of every model.
        lr (`float`): Peak learning rate.
        batch_size (`int`): Batch size.
        qa_repeats (`int`): Few-shot training blocks each QA pair ends.
    """

    n_forget: int
    n_retain: int
    n_holdout: int
    n_icl: int
    prefix_words: int
    vocab_size: int
    model: str
    epochs: int
    lr: float
    batch_size: int
    qa_repeats: int = 2
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.1


#: `test`: the test suite's world (about a minute on one core). `default`: the demo world (a few minutes on two cores).
MUSE_PRESETS: dict[str, MusePreset] = {
    "test": MusePreset(
        n_forget=6, n_retain=12, n_holdout=6, n_icl=2, prefix_words=16, vocab_size=512, model="micro",
        epochs=50, lr=3e-3, batch_size=16,
    ),
    "default": MusePreset(
        n_forget=16, n_retain=32, n_holdout=16, n_icl=3, prefix_words=16, vocab_size=768, model="micro",
        epochs=50, lr=3e-3, batch_size=16,
    ),
}  # fmt: skip


class MuseWorld(WorldFolder):
    """A built mini-MUSE world folder (models `target`, `retain`, `retain_seed1`, ...; data in MUSE's layout).

    Args:
        path (`Path`): The world's root (holds `world.json`).
        manifest (`dict`): The parsed `world.json`.

    Example:
        >>> world = build_muse_world("test", progress=False)  # doctest: +SKIP
        >>> world.load("verbmem", "forget")[0]["prompt"]  # doctest: +SKIP
    """

    world = "muse"
    title = "mini-MUSE"

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Loads the world's tokenizer."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.path / "tokenizer")

    def load(self, config: str, split: str) -> Dataset:
        """Loads one split through [`~hf_unlearn.data.load_muse`] (the same code path as `muse-bench/MUSE-News`)."""
        from ..data.muse import load_muse

        return load_muse(self.path, config, split)


def muse_world_config(preset: str = "default", seed: int = 0, n_retain_seeds: int = 2, **overrides: Any) -> dict:
    """The full config of a world (what its cache key hashes).

    Example:
        >>> muse_world_config("test", epochs=10)["epochs"]
        10
    """
    if preset not in MUSE_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(MUSE_PRESETS)}.")
    fields = {f.name for f in dataclasses.fields(MusePreset)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown world option(s) {unknown}; valid overrides are {sorted(fields)}.")
    if not isinstance(n_retain_seeds, int) or n_retain_seeds < 1:
        raise ValueError(f"n_retain_seeds must be a positive integer, got {n_retain_seeds!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    values = {**dataclasses.asdict(MUSE_PRESETS[preset]), **overrides}
    for key in (
        "n_forget",
        "n_retain",
        "n_holdout",
        "prefix_words",
        "qa_repeats",
        "epochs",
        "batch_size",
        "vocab_size",
    ):
        if isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {values[key]!r}.")
    if values["model"] not in TINY_LLAMA_PRESETS:
        raise ValueError(f"model must be one of {sorted(TINY_LLAMA_PRESETS)}, got {values['model']!r}.")
    if not values["lr"] > 0:
        raise ValueError(f"lr must be positive, got {values['lr']!r}.")
    return {
        "world": "muse",
        "version": MUSE_WORLD_VERSION,
        "preset": preset,
        "seed": seed,
        "n_retain_seeds": n_retain_seeds,
        **values,
    }


def _write_dataset(data_dir: Path, data: dict[str, dict[str, list[dict[str, Any]]]], cfg: dict) -> dict[str, str]:
    """One JSONL file per (config, split) with a content hash in its name, and a README with `configs:` metadata."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = ["---", "configs:"]
    files: dict[str, str] = {}
    for config, splits in data.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split, rows in splits.items():
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            name = f"{config}-{split}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.jsonl"
            (data_dir / name).write_text(text)
            files[f"{config}/{split}"] = name
            lines += [f"  - split: {split}", f"    path: {name}"]
    lines += ["---", ""]
    sizes = "\n".join(f"| `{c}` | `{s}` | {len(rows)} |" for c, splits in data.items() for s, rows in splits.items())
    body = f"""# mini-MUSE (preset `{cfg["preset"]}`, seed {cfg["seed"]})

A synthetic, offline stand-in for [muse-bench/MUSE-News](https://huggingface.co/datasets/muse-bench/MUSE-News),
generated by `hf_unlearn` (`hf-unlearn build-world muse`), with MUSE's configs, splits and columns. Load a split with
`hf_unlearn.data.load_muse(world_folder, "knowmem", "forget_qa")`.

| config | split | rows |
|---|---|---|
{sizes}
"""
    (data_dir / "README.md").write_text("\n".join(lines) + body)
    return files


def _build(world_dir: Path, cfg: dict[str, Any], num_workers: int, progress: bool) -> None:
    from .muse_data import generate_muse_data
    from .tofu_models import build_tokenizer

    t0 = time.perf_counter()
    data = generate_muse_data(
        cfg["n_forget"],
        cfg["n_retain"],
        cfg["n_holdout"],
        seed=cfg["seed"],
        n_icl=cfg["n_icl"],
        prefix_words=cfg["prefix_words"],
        qa_repeats=cfg["qa_repeats"],
    )
    files = _write_dataset(world_dir / "data", data, cfg)
    texts = [r["text"] for split in ("raw", "train") for rows in data[split].values() for r in rows]
    tok = build_tokenizer(texts, vocab_size=cfg["vocab_size"])
    tok.save_pretrained(world_dir / "tokenizer")
    timings: dict[str, float] = {"data_and_tokenizer": round(time.perf_counter() - t0, 2)}

    training = {
        "target": ["raw/forget", "raw/retain1", "train/forget_qa", "train/retain_qa"],
        "retain": ["raw/retain1", "train/retain_qa"],
    }
    n_rows = {key: len(data[key.split("/")[0]][key.split("/")[1]]) for key in files}
    common = {
        "tokenizer": str(world_dir / "tokenizer"),
        "data_dir": str(world_dir / "data"),
        "stage": 0,
        **{k: cfg[k] for k in ("batch_size", "weight_decay", "warmup_ratio", "min_lr_ratio", "epochs", "lr")},
    }
    plan = [
        ("target", "target", 0),
        *((f"retain_seed{i}" if i else "retain", "retain", i) for i in range(cfg["n_retain_seeds"])),
    ]
    jobs = [
        {
            **common,
            "name": name,
            "init": {"model": cfg["model"], "seed": _derive_seed(cfg["seed"], "muse-init", i)},
            "splits": training[kind],
            "files": [files[k] for k in training[kind]],
            "data_seed": _derive_seed(cfg["seed"], "muse-data", name),
            "output": str(world_dir / "models" / name),
        }
        for name, kind, i in plan
    ]
    steps = {j["name"]: _job_steps(j, sum(n_rows[k] for k in j["splits"])) for j in jobs}
    t_train = time.perf_counter()
    records = train_jobs(jobs, steps, num_workers=num_workers, progress=progress, desc="mini-MUSE")
    timings["training"] = round(time.perf_counter() - t_train, 2)
    timings["total"] = round(time.perf_counter() - t0, 2)
    models = {
        j["name"]: {
            "path": f"models/{j['name']}",
            "train_splits": j["splits"],
            "epochs": j["epochs"],
            "lr": j["lr"],
            "init_seed": j["init"]["seed"],
            "data_seed": j["data_seed"],
            **{k: v for k, v in records[j["name"]].items() if k != "name"},
        }
        for j in jobs
    }
    manifest = {
        "world": "muse",
        "version": MUSE_WORLD_VERSION,
        "preset": cfg["preset"],
        "seed": cfg["seed"],
        "config": cfg,
        "data_dir": "data",
        "data_files": files,
        "tokenizer": "tokenizer",
        "vocab_size": len(tok),
        # The QA blocks were trained as "Question: q\nAnswer: a": this tokenizer keeps the space with the answer.
        "knowmem_answer_prefix": "Answer:",
        "models": models,
        "splits": {key: {"rows": n} for key, n in n_rows.items()},
        "timings_s": timings,
        "num_workers": num_workers,
    }
    (world_dir / WORLD_MANIFEST).write_text(json.dumps(manifest, indent=2))


def build_muse_world(
    preset: str = "default",
    output_dir: str | os.PathLike | None = None,
    seed: int = 0,
    n_retain_seeds: int = 2,
    num_workers: int = 1,
    cache_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    **overrides: Any,
) -> MuseWorld:
    """Builds (or reuses from the cache) a mini-MUSE world: news corpus, tokenizer, target and retain models.

    Args:
        preset (`str`, *optional*, defaults to `"default"`): `"test"` or `"default"` (see [`MUSE_PRESETS`]).
        output_dir (`str`, *optional*): Build here instead of in the cache (a finished world with the same config
            is reused; anything else there is never overwritten).
        seed (`int`, *optional*, defaults to `0`): Seeds the corpus, the initialisations and the data orders.
        n_retain_seeds (`int`, *optional*, defaults to `2`): Retain models; seed `i > 0` gives `retain_seed{i}`
            (another initialisation and data order).
        num_workers (`int`, *optional*, defaults to `1`): Models trained in parallel (one process and one torch
            thread each); the result is the same for any value.
        cache_dir (`str`, *optional*): The cache root (defaults to `$HF_UNLEARN_CACHE` or `~/.cache/hf_unlearn`).
        force (`bool`, *optional*, defaults to `False`): Rebuild even if a finished world exists.
        progress (`bool`, *optional*, defaults to `True`): Show a tqdm progress bar.
        **overrides: Any [`MusePreset`] field, e.g. `epochs=100`.

    Returns:
        [`MuseWorld`]: The built world.

    Example:
        >>> world = build_muse_world("test", progress=False)  # doctest: +SKIP
        >>> world.model_names  # doctest: +SKIP
        ['target', 'retain', 'retain_seed1']
    """
    cfg = muse_world_config(preset, seed=seed, n_retain_seeds=n_retain_seeds, **overrides)
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}.")
    path = cached_build(
        "muse",
        cfg,
        lambda d: _build(d, cfg, num_workers=num_workers, progress=progress),
        cache_dir=cache_dir,
        output_dir=output_dir,
        force=force,
    )
    return MuseWorld.from_path(path)
