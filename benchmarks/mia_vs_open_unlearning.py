# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Membership-inference AUCs and extraction strength, hf_unlearn against open-unlearning's own metric code, on the
offline mini-TOFU and mini-MUSE worlds.

open-unlearning is not a dependency of hf_unlearn: clone it first and pass its folder.

    git clone https://github.com/locuslab/open-unlearning /path/to/open-unlearning
    python benchmarks/mia_vs_open_unlearning.py --open_unlearning_dir /path/to/open-unlearning \\
        --output benchmarks/results/mia_vs_open_unlearning.json

For each model the script computes, on open-unlearning's side, with its own source files: the tokenisation
(`preprocess_chat_instance` for a TOFU question and answer, with the world's chat template; `preprocess_pretraining_
instance` for a MUSE text, and for a MUSE VerbMem prompt + " " + continuation), its collator
(`DataCollatorForSupervisedDataset`, right padding), its attacks (`LOSSAttack`, `ZLIBAttack`, `MinKProbAttack`,
`MinKPlusPlusAttack`, k = 0.4) through its `mia_auc`, and its `extraction_strength` metric; and on hf_unlearn's side
[`~hf_unlearn.eval.tofu.tofu_privacy_metrics`] (TOFU: forget vs holdout answers) or
[`~hf_unlearn.eval.evaluate_muse`] (MUSE: privleak forget vs holdout texts, VerbMem extraction strength). Only the
metric modules are loaded (`src/evals/metrics/{utils,memorization}.py`, `src/evals/metrics/mia/*.py`,
`src/data/{utils,collators}.py`), not open-unlearning's packages, so neither hydra nor its training dependencies are
needed: the packages' `__init__` files are skipped, `omegaconf` (imported but unused by these functions) and the
metric registry decorator are replaced by stand-ins, and the tokenizer's `apply_chat_template(tokenize=True)` is
asked for a plain list (transformers >= 5 returns a `BatchEncoding`). Everything runs on CPU with one torch thread.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any


ATTACKS = {
    "mia_loss": ("loss", "LOSSAttack"),
    "mia_zlib": ("zlib", "ZLIBAttack"),
    "mia_min_k": ("min_k", "MinKProbAttack"),
    "mia_min_k_plus_plus": ("min_k_plus_plus", "MinKPlusPlusAttack"),
}
METRICS = (*ATTACKS, "extraction_strength")
K = 0.4  # the Min-K% fraction of open-unlearning's TOFU and MUSE configs


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--open_unlearning_dir", required=True, help="A clone of https://github.com/locuslab/open-unlearning."
    )
    parser.add_argument("--preset", default="default", help="Offline world preset of both worlds ('test', 'default').")
    parser.add_argument(
        "--tofu_models", nargs="+", default=["target", "retain90", "retain90_seed1"], help="mini-TOFU models."
    )
    parser.add_argument(
        "--muse_models", nargs="+", default=["target", "retain", "retain_seed1"], help="mini-MUSE models."
    )
    parser.add_argument("--forget_split", default="forget10", help="TOFU forget split (its holdout is the other set).")
    parser.add_argument("--batch_size", type=int, default=8, help="Sequences per forward pass, on both sides.")
    parser.add_argument("--output", default=None, help="Write the JSON here (else only print the table).")
    return parser.parse_args(input_args)


def load_open_unlearning(root: Path) -> dict[str, Any]:
    """open-unlearning's tokenisation, collator and metric modules, loaded from its `src/` without its packages'
    `__init__` files (which import hydra, the trainers and every benchmark)."""
    src = root / "src"
    if not (src / "evals" / "metrics" / "mia" / "min_k.py").is_file():
        raise ValueError(f"--open_unlearning_dir {root} is not an open-unlearning clone (no src/evals/metrics/mia).")
    for package in ("evals", "evals.metrics", "evals.metrics.mia", "data"):
        module = types.ModuleType(package)
        module.__path__ = [str(src / package.replace(".", "/"))]
        sys.modules[package] = module
    omegaconf = types.ModuleType("omegaconf")
    omegaconf.OmegaConf, omegaconf.DictConfig = None, dict
    sys.modules.setdefault("omegaconf", omegaconf)
    base = types.ModuleType("evals.metrics.base")
    base.unlearning_metric = lambda name: lambda fn: fn  # the registry decorator: keep the plain function
    sys.modules["evals.metrics.base"] = base
    return {
        "utils": importlib.import_module("data.utils"),
        "collators": importlib.import_module("data.collators"),
        "memorization": importlib.import_module("evals.metrics.memorization"),
        "mia": importlib.import_module("evals.metrics.mia.utils"),
        **{key: importlib.import_module(f"evals.metrics.mia.{module}") for key, (module, _) in ATTACKS.items()},
    }


class _ListChatTemplate:
    """The tokenizer, with `apply_chat_template(tokenize=True)` returning a list of ids as in transformers 4."""

    def __init__(self, tokenizer: Any):
        self._tokenizer = tokenizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._tokenizer(*args, **kwargs)

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("tokenize"):
            kwargs["return_dict"] = False
        return self._tokenizer.apply_chat_template(*args, **kwargs)


def open_unlearning_metrics(ou: dict, model: Any, tokenizer: Any, member: list, nonmember: list, es: list, bs: int):
    """Its AUCs of `member` vs `nonmember` items and its extraction strength of `es` items (tokenised items)."""
    import torch

    def dataset(items: list) -> list[dict]:
        return [{**{k: torch.tensor(v) for k, v in item.items()}, "index": i} for i, item in enumerate(items)]

    collator = ou["collators"].DataCollatorForSupervisedDataset(tokenizer, padding_side="right", index="index")
    model.tokenizer = tokenizer  # what ZLIBAttack decodes with when given no tokenizer
    data = {"forget": dataset(member), "holdout": dataset(nonmember)}
    out = {}
    for key, (_, cls) in ATTACKS.items():
        attack = getattr(ou[key], cls)
        out[key] = ou["mia"].mia_auc(attack, model, data, collator, bs, k=K, tokenizer=tokenizer)["auc"]
    es_result = ou["memorization"].extraction_strength(model, data=dataset(es), collators=collator, batch_size=bs)
    out["extraction_strength"] = float(es_result["agg_value"])
    return out


def _strip(item: dict) -> dict:
    return {"input_ids": item["input_ids"].tolist(), "labels": item["labels"].tolist()}


def compare_tofu(ou: dict, args: argparse.Namespace) -> list[dict]:
    from hf_unlearn.data import holdout_split_for
    from hf_unlearn.eval.tofu import tofu_privacy_metrics
    from hf_unlearn.synthetic import build_tofu_world

    world = build_tofu_world(args.preset)
    tok = world.load_tokenizer()
    forget = world.load_split(args.forget_split).to_list()
    holdout = world.load_split(holdout_split_for(args.forget_split)).to_list()
    config = {"apply_chat_template": True}  # the world's chat template, no system prompt, no date

    def tokenise(rows: list[dict]) -> list[dict]:
        return [
            _strip(
                ou["utils"].preprocess_chat_instance(
                    _ListChatTemplate(tok), config, [r["question"]], [r["answer"]], 512
                )
            )
            for r in rows
        ]

    member, nonmember = tokenise(forget), tokenise(holdout)
    rows = []
    for name in args.tofu_models:
        model = world.load_model(name).eval()
        start = time.perf_counter()
        ours = tofu_privacy_metrics(
            model, tok, forget, holdout, template=world.template, k=K, batch_size=args.batch_size
        )
        theirs = open_unlearning_metrics(ou, model, tok, member, nonmember, member, args.batch_size)
        rows.append(_row("mini-TOFU", name, ours["summary"], theirs, time.perf_counter() - start))
    return rows


def compare_muse(ou: dict, args: argparse.Namespace) -> list[dict]:
    from hf_unlearn.eval import evaluate_muse
    from hf_unlearn.synthetic import build_muse_world

    world = build_muse_world(args.preset)
    tok = world.load_tokenizer()

    def texts(split: str) -> list[dict]:  # open-unlearning's MUSE_MIA datasets: no prefix, the whole text
        rows = world.load("privleak", split).to_list()
        return [_strip(ou["utils"].preprocess_pretraining_instance(tok, "", r["text"], 2048)) for r in rows]

    verbmem = [  # its MUSE_forget_verbmem dataset: prefix "prompt", text "gt", insert_space
        _strip(ou["utils"].preprocess_pretraining_instance(tok, r["prompt"], r["gt"], 2048, insert_space=True))
        for r in world.load("verbmem", "forget").to_list()
    ]
    member, nonmember = texts("forget"), texts("holdout")
    rows = []
    for name in args.muse_models:
        model = world.load_model(name).eval()
        start = time.perf_counter()
        ours = evaluate_muse(model, tok, world.path, privleak_k=K, batch_size=args.batch_size, progress=False)
        theirs = open_unlearning_metrics(ou, model, tok, member, nonmember, verbmem, args.batch_size)
        rows.append(_row("mini-MUSE", name, ours["summary"], theirs, time.perf_counter() - start))
    return rows


def _row(world: str, model: str, ours: dict, theirs: dict, seconds: float) -> dict:
    metrics = {
        m: {"hf_unlearn": ours[m], "open_unlearning": theirs[m], "abs_diff": abs(ours[m] - theirs[m])} for m in METRICS
    }
    return {"world": world, "model": model, "metrics": metrics, "seconds": round(seconds, 1)}


def main(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(1)
    ou = load_open_unlearning(Path(args.open_unlearning_dir))
    rows = compare_tofu(ou, args) + compare_muse(ou, args)
    lines = ["| world | model | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
    for r in rows:
        cells = [f"{r['metrics'][m]['hf_unlearn']:.6f} / {r['metrics'][m]['open_unlearning']:.6f}" for m in METRICS]
        lines.append(f"| {r['world']} | {r['model']} | " + " | ".join(cells) + " |")
    print("hf_unlearn / open-unlearning:\n" + "\n".join(lines))
    worst = max(m["abs_diff"] for r in rows for m in r["metrics"].values())
    print(f"largest absolute difference: {worst:.3g}")
    git = ["git", "-C", str(Path(args.open_unlearning_dir)), "rev-parse", "HEAD"]
    commit = subprocess.run(git, check=False, capture_output=True, text=True).stdout.strip()  # None if not a clone
    command = " ".join(["python", *sys.argv]).replace(args.open_unlearning_dir, "OPEN_UNLEARNING")
    result = {
        "benchmark": "MIA AUCs and extraction strength, hf_unlearn vs open-unlearning's metric code",
        "settings": {
            **vars(args),
            "k": K,
            "open_unlearning_dir": "OPEN_UNLEARNING",
            "open_unlearning_commit": commit or None,
            "command": command,
        },
        "largest_abs_diff": worst,
        "rows": rows,
    }
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(parse_args())
