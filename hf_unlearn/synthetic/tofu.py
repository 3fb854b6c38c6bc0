# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The offline mini-TOFU world: fictitious authors, a model that memorised them, and retain models that never saw the
forget authors, built on a CPU in minutes and cached on disk.

The pipeline follows TOFU. A tiny Llama is trained from scratch on real knowledge (`world_facts`, `real_authors`):
the *base* model. The base is fine-tuned on all fictitious authors (plus the knowledge, so it is not forgotten): the
*target* model that unlearning starts from. The base is also fine-tuned on `retainXX` (plus the knowledge): the
*retain* model, the gold standard an unlearned model should look like. A second retain model for each retain split
(`retain90_seed1`, ...) starts from a second base trained from a different initialisation, with a different data
order, so that "two retrained models" can be compared to measure seed noise. All training is plain fine-tuning with
answer-only labels (`hf_unlearn.data.tokenize_qa(..., template="chat")`), never hf_unlearn's unlearning code.

A built world is an ordinary folder:

```
world.json                 manifest: preset, config, models, splits and sizes, timings (`hf_unlearn.data.WORLD_MANIFEST`)
data/README.md             `configs:` metadata, so `datasets.load_dataset(world / "data", "forget10", split="train")`
data/<split>-<sha>.jsonl   works like `load_dataset("locuslab/TOFU", "forget10", split="train")`
models/base                `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained` folders
models/target
models/retain90
models/base_seed1, models/retain90_seed1
```

Example:
    >>> from hf_unlearn.synthetic import TOFU_PRESETS
    >>> p = TOFU_PRESETS["default"]
    >>> p.n_authors, p.model, p.epochs
    (40, 'tiny', 25)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.tofu import WORLD_MANIFEST
from .cache import WorldFolder, cached_build
from .tofu_data import FORGET_PERCENTS, all_texts, generate_tofu_data, n_forget_authors
from .tofu_models import TINY_LLAMA_PRESETS


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

#: Bumped whenever the generator or the training recipe changes what a given config builds.
TOFU_WORLD_VERSION = 2
TEMPLATE = "chat"
KNOWLEDGE_SPLITS = ("world_facts", "real_authors")
RETAIN_SPLITS = ("retain90", "retain95", "retain99")


@dataclass(frozen=True)
class TofuPreset:
    """Sizes and training recipe of a mini-TOFU world.

    Args:
        n_authors (`int`): Fictitious authors the target learns (20 QA each).
        n_countries (`int`): Countries in `world_facts` (2 facts each).
        n_real_authors (`int`): Famous writers in `real_authors` (2 facts each).
        n_retain_perturbed (`int`): Retain items in `retain_perturbed`.
        vocab_size (`int`): Tokenizer vocabulary.
        model (`str`): A [`TINY_LLAMA_PRESETS`] name.
        base_epochs (`int`): Epochs of base training on the knowledge splits.
        base_lr (`float`): Peak learning rate of base training.
        epochs (`int`): Epochs of the target / retain fine-tunes.
        lr (`float`): Peak learning rate of the fine-tunes.
        batch_size (`int`): Batch size of every training run.
    """

    n_authors: int
    n_countries: int
    n_real_authors: int
    n_retain_perturbed: int
    vocab_size: int
    model: str
    base_epochs: int
    base_lr: float
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.1


#: `test`: the test suite's world (seconds). `default`: the measured pilot's 40-author world (minutes), where forget01
#: is 1 author and forget05 is 2. `tofu`: TOFU's 200 authors, where forget01/05/10 are exactly 2/10/20 authors.
TOFU_PRESETS: dict[str, TofuPreset] = {
    "test": TofuPreset(
        n_authors=10, n_countries=6, n_real_authors=4, n_retain_perturbed=40, vocab_size=512, model="micro",
        base_epochs=60, base_lr=3e-3, epochs=20, lr=3e-3, batch_size=16,
    ),
    "default": TofuPreset(
        n_authors=40, n_countries=30, n_real_authors=20, n_retain_perturbed=100, vocab_size=1000, model="tiny",
        base_epochs=60, base_lr=3e-3, epochs=25, lr=2e-3, batch_size=32,
    ),
    "tofu": TofuPreset(
        n_authors=200, n_countries=40, n_real_authors=30, n_retain_perturbed=400, vocab_size=1000, model="tiny",
        base_epochs=60, base_lr=3e-3, epochs=25, lr=2e-3, batch_size=32,
    ),
}  # fmt: skip


class TofuWorld(WorldFolder):
    """A built mini-TOFU world folder.

    Args:
        path (`Path`): The world's root (holds `world.json`).
        manifest (`dict`): The parsed `world.json`.

    Example:
        >>> world = TofuWorld.from_path(path)  # doctest: +SKIP
        >>> model = AutoModelForCausalLM.from_pretrained(world.model_path("target"))  # doctest: +SKIP
    """

    world = "tofu"
    title = "mini-TOFU"

    @property
    def template(self) -> str:
        """The prompt template the models were trained with (`"chat"`)."""
        return self.manifest["template"]

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Loads the world's tokenizer (every model folder holds the same one)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.model_path("base"))

    def load_split(self, split: str) -> Dataset:
        """Loads one split through `hf_unlearn.data.load_tofu` (the same code path as `locuslab/TOFU`)."""
        from ..data.tofu import load_tofu

        return load_tofu(self.path, split)


def _derive_seed(*keys: Any) -> int:
    return int(hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:8], 16)


def tofu_world_config(
    preset: str = "default",
    seed: int = 0,
    retain_splits: Sequence[str] = ("retain90",),
    n_retain_seeds: int = 2,
    **overrides: Any,
) -> dict[str, Any]:
    """The full config of a world (what its cache key hashes): the preset's fields, any overrides, seeds, models.

    Example:
        >>> cfg = tofu_world_config("default", epochs=30)
        >>> cfg["epochs"], cfg["n_authors"], cfg["retain_splits"]
        (30, 40, ['retain90'])
    """
    if preset not in TOFU_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(TOFU_PRESETS)}.")
    fields = {f.name for f in dataclasses.fields(TofuPreset)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown world option(s) {unknown}; valid overrides are {sorted(fields)}.")
    retain_splits = list(dict.fromkeys(retain_splits))
    bad = [s for s in retain_splits if s not in RETAIN_SPLITS]
    if bad or not retain_splits:
        raise ValueError(f"retain_splits must be a non-empty subset of {RETAIN_SPLITS}, got {retain_splits}.")
    if not isinstance(n_retain_seeds, int) or n_retain_seeds < 1:
        raise ValueError(f"n_retain_seeds must be a positive integer, got {n_retain_seeds!r}.")
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    values = {**dataclasses.asdict(TOFU_PRESETS[preset]), **overrides}
    for key in ("n_authors", "epochs", "base_epochs", "batch_size", "vocab_size"):
        if not isinstance(values[key], int) or values[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {values[key]!r}.")
    if values["model"] not in TINY_LLAMA_PRESETS:
        raise ValueError(f"model must be one of {sorted(TINY_LLAMA_PRESETS)}, got {values['model']!r}.")
    for key in ("lr", "base_lr"):
        if not values[key] > 0:
            raise ValueError(f"{key} must be positive, got {values[key]!r}.")
    return {
        "world": "tofu",
        "version": TOFU_WORLD_VERSION,
        "preset": preset,
        "seed": seed,
        "retain_splits": retain_splits,
        "n_retain_seeds": n_retain_seeds,
        **values,
    }


# ----------------------------------------------------------------------------------------------------------------
# Training (plain fine-tuning; one job = one model)
# ----------------------------------------------------------------------------------------------------------------


def _lr_lambda(total: int, warmup_ratio: float, min_ratio: float) -> Callable[[int], float]:
    warmup = max(1, round(warmup_ratio * total))

    def fn(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return fn


def _job_steps(job: dict[str, Any], n_rows: int) -> int:
    return job["epochs"] * math.ceil(n_rows / job["batch_size"])


def _read_rows(data_dir: Path, files: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for name in files:
        with open(data_dir / name) as f:
            rows.extend(json.loads(line) for line in f)
    return rows


def _training_features(tok: Any, row: dict[str, Any], max_len: int | None) -> dict[str, list[int]]:
    """A QA row (`question`, `answer`: answer-only labels, chat template) or a text row (`text`: every token + EOS)."""
    from ..data.templates import tokenize_qa

    if "text" in row:
        ids = [*tok(row["text"])["input_ids"], tok.eos_token_id]
        if max_len is not None and len(ids) > max_len:
            raise ValueError(f"a training text is {len(ids)} tokens, longer than the model's context ({max_len}).")
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)}
    return tokenize_qa(tok, row["question"], row["answer"], template=TEMPLATE, max_length=max_len)


def _run_job(job: dict[str, Any], on_step: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Trains one model as described by `job` and saves it; returns its training record."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    from ..data.collate import pad_batch
    from ..data.templates import model_max_length
    from .tofu_models import tiny_llama_config

    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # one progress bar for the whole build, not one per load/save
    try:
        tok = AutoTokenizer.from_pretrained(job["tokenizer"])
        if job.get("init") is not None:
            config = tiny_llama_config(
                job["init"]["model"],
                vocab_size=len(tok),
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
            )
            with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
                torch.manual_seed(job["init"]["seed"])
                model = LlamaForCausalLM(config)
        else:
            model = LlamaForCausalLM.from_pretrained(job["from"])
        rows = _read_rows(Path(job["data_dir"]), job["files"])
        max_len = model_max_length(model)
        features = [_training_features(tok, r, max_len) for r in rows]
        bs = job["batch_size"]
        total = _job_steps(job, len(features))
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=job["lr"], betas=(0.9, 0.98), weight_decay=job["weight_decay"]
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, _lr_lambda(total, job["warmup_ratio"], job["min_lr_ratio"])
        )
        gen = torch.Generator().manual_seed(job["data_seed"])
        model.train()
        epoch_losses: list[float] = []
        for _ in range(job["epochs"]):
            order = torch.randperm(len(features), generator=gen).tolist()
            losses = []
            for i in range(0, len(order), bs):
                batch = pad_batch([features[j] for j in order[i : i + bs]], tok.pad_token_id)
                loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                if on_step is not None:
                    on_step(losses[-1])
            epoch_losses.append(sum(losses) / len(losses))
        model.eval()
        model.generation_config = GenerationConfig(
            do_sample=False,
            max_new_tokens=64,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        model.save_pretrained(job["output"])
        tok.save_pretrained(job["output"])
        return {
            "name": job["name"],
            "seconds": round(time.perf_counter() - start, 2),
            "final_loss": round(epoch_losses[-1], 5),
            "steps": total,
            "n_train": len(features),
            "n_parameters": sum(p.numel() for p in model.parameters()),
        }
    finally:
        torch.set_num_threads(threads)
        if bars:
            hf_logging.enable_progress_bar()


def _child_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)


def train_jobs(
    jobs: Sequence[dict[str, Any]], steps: dict[str, int], num_workers: int, progress: bool, desc: str
) -> dict[str, dict[str, Any]]:
    """Runs training jobs (each trains and saves one model) stage by stage, in one process or a spawn pool.

    Jobs of stage 1 may start from the models of stage 0; within a stage, the longest jobs start first. Returns each
    job's training record by name. The weights do not depend on `num_workers`.
    """
    from tqdm.auto import tqdm

    records: dict[str, dict[str, Any]] = {}
    if num_workers <= 1:
        bar = tqdm(total=sum(steps.values()), desc=desc, unit="step", disable=not progress)
        current = ""

        def on_step(loss: float) -> None:
            bar.update(1)
            bar.set_postfix(model=current, loss=f"{loss:.3f}", refresh=False)

        for job in sorted(jobs, key=lambda j: j["stage"]):
            current = job["name"]
            records[job["name"]] = _run_job(job, on_step=on_step)
        bar.close()
        return records
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    bar = tqdm(total=len(jobs), desc=f"{desc} models", unit="model", disable=not progress)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=num_workers, mp_context=ctx, initializer=_child_init) as pool:
        for stage in sorted({j["stage"] for j in jobs}):
            stage_jobs = sorted((j for j in jobs if j["stage"] == stage), key=lambda j: -steps[j["name"]])
            for future in [pool.submit(_run_job, j) for j in stage_jobs]:
                rec = future.result()
                records[rec["name"]] = rec
                bar.update(1)
                bar.set_postfix_str(rec["name"])
    bar.close()
    return records


# ----------------------------------------------------------------------------------------------------------------
# The build
# ----------------------------------------------------------------------------------------------------------------


def _write_dataset(data_dir: Path, splits: dict[str, list[dict[str, Any]]], cfg: dict[str, Any]) -> dict[str, str]:
    """Writes one JSONL file per split plus a README with `configs:` metadata; returns split -> file name.

    File names carry a hash of their content: `datasets` caches a local folder's configs under the folder's *name*
    and a hash of its README metadata only, so two worlds with identical metadata would otherwise share (and
    silently return) one cache entry.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = ["---", "configs:"]
    files = {}
    for name, rows in splits.items():
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        files[name] = f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.jsonl"
        (data_dir / files[name]).write_text(text)
        lines += [f"- config_name: {name}", "  data_files:", "  - split: train", f"    path: {files[name]}"]
        if name == "full":
            lines.append("  default: true")
    lines += ["---", ""]
    sizes = "\n".join(f"| `{name}` | {len(rows)} |" for name, rows in splits.items())
    body = f"""# mini-TOFU (preset `{cfg["preset"]}`, seed {cfg["seed"]})

A synthetic, offline stand-in for [locuslab/TOFU](https://huggingface.co/datasets/locuslab/TOFU), generated by
`hf_unlearn` (`hf-unlearn build-world tofu`): {cfg["n_authors"]} fictitious authors with 20 QA pairs each, with the
same configs and columns as TOFU. Load a config with `datasets.load_dataset(this_folder, "forget10", split="train")`.

| config | rows |
|---|---|
{sizes}
"""
    (data_dir / "README.md").write_text("\n".join(lines) + body)
    return files


def _plan_jobs(world_dir: Path, cfg: dict[str, Any], files: dict[str, str]) -> list[dict[str, Any]]:
    common = {
        "tokenizer": str(world_dir / "tokenizer"),
        "data_dir": str(world_dir / "data"),
        "batch_size": cfg["batch_size"],
        "weight_decay": cfg["weight_decay"],
        "warmup_ratio": cfg["warmup_ratio"],
        "min_lr_ratio": cfg["min_lr_ratio"],
    }
    seed = cfg["seed"]
    jobs = []

    def base(i: int) -> str:
        return "base" if i == 0 else f"base_seed{i}"

    for i in range(cfg["n_retain_seeds"]):
        jobs.append(
            {
                **common,
                "name": base(i),
                "stage": 0,
                "init": {"model": cfg["model"], "seed": _derive_seed(seed, "init", i)},
                "splits": list(KNOWLEDGE_SPLITS),
                "files": [files[k] for k in KNOWLEDGE_SPLITS],
                "epochs": cfg["base_epochs"],
                "lr": cfg["base_lr"],
                "data_seed": _derive_seed(seed, "base", i),
                "output": str(world_dir / "models" / base(i)),
            }
        )
    finetunes = [("target", "full", 0)]
    finetunes += [
        (split if i == 0 else f"{split}_seed{i}", split, i)
        for split in cfg["retain_splits"]
        for i in range(cfg["n_retain_seeds"])
    ]
    for name, split, i in finetunes:
        jobs.append(
            {
                **common,
                "name": name,
                "stage": 1,
                "from": str(world_dir / "models" / base(i)),
                "base": base(i),
                "splits": [split, *KNOWLEDGE_SPLITS],
                "files": [files[k] for k in (split, *KNOWLEDGE_SPLITS)],
                "epochs": cfg["epochs"],
                "lr": cfg["lr"],
                "data_seed": _derive_seed(seed, "finetune", name),
                "output": str(world_dir / "models" / name),
            }
        )
    return jobs


def generate_world_splits(cfg: dict[str, Any], with_full_perturbed: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The data splits of a world config ([`tofu_world_config`]), as the build writes them (see
    [`~hf_unlearn.synthetic.tofu_data.generate_tofu_data`] for `with_full_perturbed`)."""
    return generate_tofu_data(
        n_authors=cfg["n_authors"],
        seed=cfg["seed"],
        n_countries=cfg["n_countries"],
        n_real_authors=cfg["n_real_authors"],
        n_retain_perturbed=cfg["n_retain_perturbed"],
        with_full_perturbed=with_full_perturbed,
    )


#: Measured build times (training only) on a 2-core CPU, quoted in the message printed while a world builds.
TYPICAL_BUILD_TIMES = {
    "default": "4 min 50 s with 2 workers on an idle 2-core CPU (README, fresh clone), and 21 min 40 s on a 2-core "
    "CPU shared with four other jobs (a build's world.json timings)",
}


def build_message(cfg: dict[str, Any], model_names: Sequence[str], total_steps: int, num_workers: int) -> str:
    """What a world build is about to do and how long it usually takes (printed once, before training starts).

    Example:
        >>> msg = build_message({"preset": "default", "n_authors": 40}, ["base", "target"], 900, 2)
        >>> msg.split(":")[0]
        "Building the mini-TOFU world 'default' once (cached; later runs reuse it)"
        >>> "900 optimizer steps" in msg and "4 min 50 s" in msg
        True
    """
    typical = TYPICAL_BUILD_TIMES.get(cfg.get("preset", ""))
    when = f"Usually takes {typical}." if typical else "No measured time for this preset yet."
    unit = "The bar counts finished models." if num_workers > 1 else "The bar counts optimizer steps."
    return (
        f"Building the mini-TOFU world {cfg.get('preset')!r} once (cached; later runs reuse it): {cfg['n_authors']} "
        f"fictitious authors, then {len(model_names)} tiny Llamas trained by plain fine-tuning "
        f"({', '.join(model_names)}), {total_steps} optimizer steps, {num_workers} model"
        f"{'s' if num_workers > 1 else ''} at a time. {when} {unit}"
    )


def _build(world_dir: Path, cfg: dict[str, Any], num_workers: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    from .tofu_models import build_tokenizer

    t0 = time.perf_counter()
    splits = generate_world_splits(cfg)
    files = _write_dataset(world_dir / "data", splits, cfg)
    tok = build_tokenizer(all_texts(splits), vocab_size=cfg["vocab_size"])
    tok.save_pretrained(world_dir / "tokenizer")
    timings: dict[str, float] = {"data_and_tokenizer": round(time.perf_counter() - t0, 2)}

    jobs = _plan_jobs(world_dir, cfg, files)
    n_rows = {name: len(rows) for name, rows in splits.items()}
    steps = {j["name"]: _job_steps(j, sum(n_rows[s] for s in j["splits"])) for j in jobs}
    if progress:
        tqdm.write(build_message(cfg, [j["name"] for j in jobs], sum(steps.values()), num_workers), file=sys.stderr)
    t_train = time.perf_counter()
    records = train_jobs(jobs, steps, num_workers=num_workers, progress=progress, desc="mini-TOFU")
    timings["training"] = round(time.perf_counter() - t_train, 2)
    timings["total"] = round(time.perf_counter() - t0, 2)

    models = {}
    for job in jobs:
        models[job["name"]] = {
            "path": f"models/{job['name']}",
            "base": job.get("base"),
            "train_splits": job["splits"],
            "epochs": job["epochs"],
            "lr": job["lr"],
            "init_seed": job["init"]["seed"] if job.get("init") else None,
            "data_seed": job["data_seed"],
            **{k: v for k, v in records[job["name"]].items() if k != "name"},
        }
    n_authors = {f"forget{p}": n_forget_authors(cfg["n_authors"], p) for p in FORGET_PERCENTS}
    for p in FORGET_PERCENTS:
        n_authors[f"retain{100 - int(p):02d}"] = cfg["n_authors"] - n_authors[f"forget{p}"]
        n_authors[f"holdout{p}"] = n_authors[f"forget{p}_perturbed"] = n_authors[f"forget{p}"]
    n_authors["full"] = cfg["n_authors"]
    manifest = {
        "world": "tofu",
        "version": TOFU_WORLD_VERSION,
        "preset": cfg["preset"],
        "seed": cfg["seed"],
        "config": cfg,
        "template": TEMPLATE,
        "data_dir": "data",
        "data_files": files,
        "tokenizer": "tokenizer",
        "vocab_size": len(tok),
        "models": models,
        "splits": {name: {"rows": len(rows), "authors": n_authors.get(name)} for name, rows in splits.items()},
        "timings_s": timings,
        "num_workers": num_workers,
    }
    (world_dir / WORLD_MANIFEST).write_text(json.dumps(manifest, indent=2))


def build_tofu_world(
    preset: str = "default",
    output_dir: str | os.PathLike | None = None,
    seed: int = 0,
    retain_splits: Sequence[str] = ("retain90",),
    n_retain_seeds: int = 2,
    num_workers: int = 1,
    cache_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    **overrides: Any,
) -> TofuWorld:
    """Builds (or reuses from the cache) a mini-TOFU world: data, tokenizer, base, target and retain models.

    Args:
        preset (`str`, *optional*, defaults to `"default"`): `"test"`, `"default"` or `"tofu"` (see
            [`TOFU_PRESETS`]).
        output_dir (`str`, *optional*): Build here instead of in the cache (a finished world with the same config
            is reused; anything else there is never overwritten).
        seed (`int`, *optional*, defaults to `0`): Seeds the data, the initialisations and the data orders.
        retain_splits (`Sequence[str]`, *optional*, defaults to `("retain90",)`): Which retain models to train
            (`"retain90"`, `"retain95"`, `"retain99"`).
        n_retain_seeds (`int`, *optional*, defaults to `2`): Retain models per retain split. Seed `i > 0` gives
            `retainXX_seed{i}`, fine-tuned from its own base `base_seed{i}` (another initialisation) with another
            data order.
        num_workers (`int`, *optional*, defaults to `1`): Models trained in parallel (one process and one torch
            thread each); the result is the same for any value.
        cache_dir (`str`, *optional*): The cache root (defaults to `$HF_UNLEARN_CACHE` or `~/.cache/hf_unlearn`).
        force (`bool`, *optional*, defaults to `False`): Rebuild even if a finished world exists.
        progress (`bool`, *optional*, defaults to `True`): Show a tqdm progress bar.
        **overrides: Any [`TofuPreset`] field, e.g. `epochs=30` or `n_authors=60`.

    Returns:
        [`TofuWorld`]: The built world.

    Example:
        >>> world = build_tofu_world("test", progress=False)  # doctest: +SKIP
        >>> world.model_names  # doctest: +SKIP
        ['base', 'base_seed1', 'target', 'retain90', 'retain90_seed1']
    """
    cfg = tofu_world_config(preset, seed=seed, retain_splits=retain_splits, n_retain_seeds=n_retain_seeds, **overrides)
    if not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}.")
    path = cached_build(
        "tofu",
        cfg,
        lambda d: _build(d, cfg, num_workers=num_workers, progress=progress),
        cache_dir=cache_dir,
        output_dir=output_dir,
        force=force,
    )
    return TofuWorld.from_path(path)
