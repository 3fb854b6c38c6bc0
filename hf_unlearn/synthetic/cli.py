# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""`hf-unlearn build-world WORLD ...`: build an offline world (data, tokenizer, models) into a folder or the cache.

Each world is a sub-command of `build-world` (`tofu`, ...), added by a `_add_<world>_parser(worlds)` function below.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> register_cli(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["build-world", "tofu", "--preset", "test", "--output_dir", "w"])
    >>> args.preset, args.output_dir, args.retain_splits, args.n_retain_seeds
    ('test', 'w', ['retain90'], 2)
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def _tofu_summary(world: Any) -> str:
    """A Markdown summary of a built mini-TOFU world: models and splits."""
    m = world.manifest
    lines = [
        f"mini-TOFU world (preset `{m['preset']}`, seed {m['seed']}) at {world.path}",
        "",
        "| model | trained on | from | epochs | final loss | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, info in m["models"].items():
        lines.append(
            f"| {name} | {' + '.join(info['train_splits'])} | {info['base'] or 'scratch'} | {info['epochs']} "
            f"| {info['final_loss']:.4f} | {info['seconds']:.1f} |"
        )
    lines += ["", "| split | rows | authors |", "|---|---|---|"]
    for name, info in m["splits"].items():
        lines.append(f"| {name} | {info['rows']} | {info['authors'] if info['authors'] is not None else '-'} |")
    t = m["timings_s"]
    lines += [
        "",
        (
            f"Built in {t['total']:.1f} s (training {t['training']:.1f} s, {m['num_workers']} worker(s)). "
            f"Template: `{m['template']}`. Load data with `datasets.load_dataset('{world.data_dir}', 'forget10', "
            "split='train')` and models with `AutoModelForCausalLM.from_pretrained(...)`."
        ),
    ]
    return "\n".join(lines)


def run_build_tofu(args: argparse.Namespace) -> int:
    """Handler of `hf-unlearn build-world tofu`."""
    from .tofu import build_tofu_world

    overrides = {k: getattr(args, k) for k in ("n_authors", "epochs") if getattr(args, k, None) is not None}
    world = build_tofu_world(
        preset=args.preset,
        output_dir=args.output_dir,
        seed=args.seed,
        retain_splits=args.retain_splits,
        n_retain_seeds=args.n_retain_seeds,
        num_workers=args.num_workers,
        cache_dir=args.cache_dir,
        force=args.force,
        progress=not args.no_progress,
        **overrides,
    )
    print(_tofu_summary(world))  # noqa: T201
    return 0


def _add_tofu_parser(worlds: Any) -> None:
    from .tofu import RETAIN_SPLITS, TOFU_PRESETS

    p = worlds.add_parser(
        "tofu",
        help="The mini-TOFU world: fictitious authors, base/target/retain tiny Llamas.",
        description=(
            "Build the offline mini-TOFU world: a TOFU-format dataset of fictitious authors (all TOFU splits), a "
            "tokenizer, and tiny Llama models trained by plain fine-tuning: base (world facts + real authors), "
            "target (all authors) and retain models (never saw the forget authors). The output folder holds "
            "world.json, data/ (loadable with datasets.load_dataset(DIR/'data', 'forget10', split='train')) and "
            "models/<name> (from_pretrained folders)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--preset",
        default="default",
        choices=sorted(TOFU_PRESETS),
        help="World size: 'test' (10 authors, ~1 min), 'default' (40 authors, a few minutes on 2 cores), "
        "'tofu' (200 authors as in TOFU; forget01/05/10 = 2/10/20 authors; tens of minutes).",
    )
    p.add_argument(
        "--output_dir",
        default=None,
        help="Folder to build into (must be new or empty; a finished world with the same options is reused). "
        "Default: the cache ($HF_UNLEARN_CACHE or ~/.cache/hf_unlearn).",
    )
    p.add_argument("--seed", type=int, default=0, help="Seed of the data, the initialisations and the data orders.")
    p.add_argument(
        "--retain_splits",
        nargs="+",
        default=["retain90"],
        choices=RETAIN_SPLITS,
        help="Retain splits to train retain models on.",
    )
    p.add_argument(
        "--n_retain_seeds",
        type=int,
        default=2,
        help="Retain models per retain split; seed i>0 gives retainXX_seed{i} from its own base (another init).",
    )
    p.add_argument(
        "--num_workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="Models trained in parallel, one process and one torch thread each (default: 2, or 1 on a 1-core "
        "machine). The weights do not depend on it.",
    )
    p.add_argument("--n_authors", type=int, default=None, help="Override the preset's number of authors.")
    p.add_argument("--epochs", type=int, default=None, help="Override the preset's fine-tuning epochs.")
    p.add_argument("--cache_dir", default=None, help="Cache root used when --output_dir is not given.")
    p.add_argument("--force", action="store_true", help="Rebuild even if a finished world already exists.")
    p.add_argument("--no_progress", action="store_true", help="Hide the progress bar.")
    p.set_defaults(func=run_build_tofu)


def run_build_muse(args: argparse.Namespace) -> int:
    """Handler of `hf-unlearn build-world muse`."""
    from .muse import build_muse_world

    overrides = {k: getattr(args, k) for k in ("n_forget", "epochs") if getattr(args, k, None) is not None}
    world = build_muse_world(
        preset=args.preset,
        output_dir=args.output_dir,
        seed=args.seed,
        n_retain_seeds=args.n_retain_seeds,
        num_workers=args.num_workers,
        cache_dir=args.cache_dir,
        force=args.force,
        progress=not args.no_progress,
        **overrides,
    )
    m = world.manifest
    lines = [
        f"mini-MUSE world (preset `{m['preset']}`, seed {m['seed']}) at {world.path}",
        "",
        "| model | trained on | epochs | final loss | seconds |",
        "|---|---|---|---|---|",
    ]
    for name, info in m["models"].items():
        lines.append(
            f"| {name} | {' + '.join(info['train_splits'])} | {info['epochs']} | {info['final_loss']:.4f} "
            f"| {info['seconds']:.1f} |"
        )
    lines += [
        "",
        f"Built in {m['timings_s']['total']:.1f} s. Evaluate with `hf-unlearn eval muse --data {world.path}`.",
    ]
    print("\n".join(lines))  # noqa: T201
    return 0


def _add_muse_parser(worlds: Any) -> None:
    from .muse import MUSE_PRESETS

    p = worlds.add_parser(
        "muse",
        help="The mini-MUSE world: a synthetic news corpus, target and retain tiny Llamas.",
        description=(
            "Build the offline mini-MUSE world: synthetic news articles split forget / retain / holdout with "
            "question-answer pairs, in MUSE's Hub layout (configs raw, verbmem, knowmem, privleak), a tokenizer, "
            "and tiny Llamas trained by plain fine-tuning: target (forget + retain) and retain models (retain only, "
            "two seeds). Evaluate with `hf-unlearn eval muse --data DIR`."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--preset",
        default="default",
        choices=sorted(MUSE_PRESETS),
        help="World size: 'test' (6 forget / 12 retain / 6 holdout articles, micro model, about a minute) or "
        "'default' (16 / 32 / 16 articles, micro model, a few minutes on 2 cores).",
    )
    p.add_argument(
        "--output_dir",
        default=None,
        help="Folder to build into (must be new or empty; a finished world with the same options is reused). "
        "Default: the cache ($HF_UNLEARN_CACHE or ~/.cache/hf_unlearn).",
    )
    p.add_argument("--seed", type=int, default=0, help="Seed of the corpus, the initialisations and the data orders.")
    p.add_argument(
        "--n_retain_seeds", type=int, default=2, help="Retain models; seed i>0 gives retain_seed{i} (another init)."
    )
    p.add_argument(
        "--num_workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="Models trained in parallel, one process and one torch thread each. The weights do not depend on it.",
    )
    p.add_argument("--n_forget", type=int, default=None, help="Override the preset's number of forget articles.")
    p.add_argument("--epochs", type=int, default=None, help="Override the preset's training epochs.")
    p.add_argument("--cache_dir", default=None, help="Cache root used when --output_dir is not given.")
    p.add_argument("--force", action="store_true", help="Rebuild even if a finished world already exists.")
    p.add_argument("--no_progress", action="store_true", help="Hide the progress bar.")
    p.set_defaults(func=run_build_muse)


def register_cli(subparsers: Any) -> None:
    """Adds `build-world` (with one sub-command per world) to the `hf-unlearn` parser."""
    parser = subparsers.add_parser(
        "build-world",
        help="Build an offline world (dataset, tokenizer, models) for tests, demos and first runs.",
        description="Build an offline world. Run `hf-unlearn build-world WORLD --help` for a world's options.",
    )
    worlds = parser.add_subparsers(dest="world", metavar="WORLD")
    _add_tofu_parser(worlds)
    _add_muse_parser(worlds)
    from .shapes import add_build_world_parser as _add_shapes_parser

    _add_shapes_parser(worlds)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
