# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case forget sets of *authors* for LLM unlearning on TOFU (this project's extension of the paper).

Units are groups of QA items (TOFU authors: the `author` column of the mini-TOFU world; real `locuslab/TOFU` has no
such column, its `full` split is 200 authors x 20 items in order, so pass `group_size=20`). The lower level is a few
weighted steps of an LLM unlearning method from the target model, each on one forget batch and one retain batch:

- `"graddiff"`: `-NLL(forget batch) + NLL(retain batch)`;
- `"npo"`: `npo_loss(forget batch; beta, reference = target) + NLL(retain batch)`;

where the forget batch is drawn with probability proportional to the author weights `w` and the retain batch
proportional to `1 - w` (so each term estimates the `w`- or `(1 - w)`-weighted mean over all items). NLL is the
mean token negative log-likelihood of the answer. The per-unit loss is each author's mean answer NLL under the
unlearned model: "hardest" keeps the authors it still knows best.

Example:
    >>> record = select_tofu_forget_set(WorstCaseConfig(budget=4), preset="default")  # doctest: +SKIP
    >>> record["authors"]  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from .baselines import jaccard, lowest_loss_units, mean_pairwise_jaccard, random_units
from .projection import resolve_budget
from .selection import SelectionProblem, WorstCaseConfig, select_forget_set


__all__ = [
    "TOFU_LOWER_METHODS",
    "AuthorSelectionProblem",
    "author_groups",
    "author_set_data",
    "format_tofu_markdown",
    "load_tofu_selection",
    "plot_tofu_results",
    "run_worstcase_tofu",
    "select_author_forget_set",
    "select_tofu_forget_set",
]

TOFU_LOWER_METHODS = ("graddiff", "npo")


def author_groups(rows: Sequence[dict[str, Any]], group_column: str = "author", group_size: int | None = None):
    """The group (author) of each row: the `group_column` value, or `author_{i // group_size}` for data without one.

    Example:
        >>> author_groups([{"q": 1}, {"q": 2}, {"q": 3}], group_size=2)
        ['author_0', 'author_0', 'author_1']
    """
    if group_size is not None:
        if not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"`group_size` must be a positive integer, got {group_size!r}.")
        return [f"author_{i // group_size}" for i in range(len(rows))]
    missing = next((i for i, r in enumerate(rows) if group_column not in r), None)
    if missing is not None:
        raise ValueError(
            f"row {missing} has no {group_column!r} column (columns: {sorted(rows[missing])}); pass the column that "
            "names each row's group, or `group_size=20` for TOFU-ordered data (real locuslab/TOFU)."
        )
    return [str(r[group_column]) for r in rows]


class AuthorSelectionProblem(SelectionProblem):
    """A causal LM and TOFU-style QA rows grouped by author, as a [`SelectionProblem`] (see the module docstring).

    Args:
        model (`PreTrainedModel`): The target model (copied, never modified).
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token).
        rows (`Sequence[dict]`): QA rows with `question` and `answer` (e.g. TOFU's `full` split).
        groups (`Sequence[str]`): The author of each row (see [`author_groups`]).
        method (`str`, *optional*, defaults to `"graddiff"`): `"graddiff"` or `"npo"`.
        template (`str`, *optional*, defaults to `"auto"`): The QA template.
        batch_size (`int`, *optional*, defaults to `16`): Forget (and retain) items per lower step.
        beta (`float`, *optional*, defaults to `0.1`): NPO's beta.
        eval_batch_size (`int`, *optional*, defaults to `32`): Sequences per forward pass when scoring.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        rows: Sequence[dict[str, Any]],
        groups: Sequence[str],
        method: str = "graddiff",
        template: str = "auto",
        batch_size: int = 16,
        beta: float = 0.1,
        eval_batch_size: int = 32,
    ):
        from ..data.collate import require_pad_token
        from ..data.templates import get_template, model_max_length, tokenize_qa_pairs
        from ..eval.scoring import score_sequences

        if method not in TOFU_LOWER_METHODS:
            raise ValueError(f"`method` must be one of {TOFU_LOWER_METHODS}, got {method!r}.")
        if len(groups) != len(rows):
            raise ValueError(f"`groups` has {len(groups)} entries for {len(rows)} rows.")
        self.original, self.tokenizer, self.method = model, tokenizer, method
        self.batch_size, self.beta, self.eval_batch_size = batch_size, beta, eval_batch_size
        self.pad_id = require_pad_token(tokenizer)
        tpl = get_template(template, tokenizer)
        ctx = model_max_length(model)
        self.features = tokenize_qa_pairs(tokenizer, [(r["question"], r["answer"]) for r in rows], tpl, max_length=ctx)
        self.unit_names = list(dict.fromkeys(groups))
        index = {name: i for i, name in enumerate(self.unit_names)}
        self.row_unit = torch.tensor([index[g] for g in groups])
        self.n_units = len(self.unit_names)
        self._score = score_sequences
        self.ref_log_probs = None
        if method == "npo":  # summed answer log-probs under the target (NPO's reference), once
            scores = score_sequences(model.eval(), self.features, self.pad_id, batch_size=eval_batch_size)
            self.ref_log_probs = -(scores.nll * scores.num_tokens)

    def new_lower_model(self) -> nn.Module:
        return copy.deepcopy(self.original)

    def _batch(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        from ..data.collate import pad_batch

        return pad_batch([self.features[i] for i in rows.tolist()], self.pad_id)

    def lower_loss(self, model, weights, step, generator):
        from ..trainer.losses import mean_sequence_nll, npo_loss, sequence_log_probs

        w_rows = weights[self.row_unit].clamp(0.0, 1.0).double()
        draws = []
        for p in (w_rows, 1.0 - w_rows):
            p = p if float(p.sum()) > 0 else torch.ones_like(p)
            draws.append(torch.multinomial(p, self.batch_size, replacement=True, generator=generator))
        forget_rows, retain_rows = draws
        forget, retain = self._batch(forget_rows), self._batch(retain_rows)
        retain_term = mean_sequence_nll(model(**retain).logits, retain["labels"])
        forget_logits = model(**forget).logits
        if self.method == "graddiff":
            return -mean_sequence_nll(forget_logits, forget["labels"]) + retain_term
        log_probs, _ = sequence_log_probs(forget_logits, forget["labels"])
        return npo_loss(log_probs, self.ref_log_probs[forget_rows], beta=self.beta) + retain_term

    def item_losses(self, model: nn.Module) -> torch.Tensor:
        """Mean token answer NLL of every row under `model`."""
        model.eval()
        return self._score(model, self.features, self.pad_id, batch_size=self.eval_batch_size).nll.double()

    def unit_losses(self, model):
        nll = self.item_losses(model)
        sums = torch.zeros(self.n_units, dtype=torch.float64).index_add_(0, self.row_unit, nll)
        return sums / torch.bincount(self.row_unit, minlength=self.n_units).double()

    def make_optimizer(self, params, lr):
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)

    def rows_of(self, units: Sequence[int]) -> list[int]:
        """Rows (of the data given) of the selected units, sorted."""
        chosen = torch.isin(self.row_unit, torch.as_tensor(list(units)))
        return torch.nonzero(chosen).squeeze(1).tolist()


def select_author_forget_set(
    model: nn.Module,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    selection: WorstCaseConfig,
    group_column: str = "author",
    group_size: int | None = None,
    lower_method: str = "graddiff",
    template: str = "auto",
    batch_size: int = 16,
    progress: bool = True,
) -> dict[str, Any]:
    """Selects the worst-case (or easiest) authors of any TOFU-format data and model (mini-TOFU, `locuslab/TOFU`).

    Args:
        model (`PreTrainedModel`): The model to unlearn from (e.g. a TOFU target).
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer.
        rows (`Sequence[dict]`): The QA rows to choose from (TOFU's `full` split).
        selection ([`WorstCaseConfig`]): The selection settings (`budget` counts authors, or a fraction of them).
        group_column (`str`, *optional*, defaults to `"author"`): The column naming each row's author.
        group_size (`int`, *optional*): Instead of a column: consecutive rows per author (20 for real TOFU).
        lower_method (`str`, *optional*, defaults to `"graddiff"`): `"graddiff"` or `"npo"`.
        template (`str`, *optional*, defaults to `"auto"`): The QA template.
        batch_size (`int`, *optional*, defaults to `16`): Items per lower-level forget / retain batch.
        progress (`bool`, *optional*, defaults to `True`): A tqdm bar over upper iterations.

    Returns:
        `dict`: A selection record: `indices` (rows of `rows`), `n_rows`, `authors`, `budget`, `mode`, `settings`,
        `trace`, `seconds`, and `author_losses_original` (each author's mean answer NLL under `model`).
    """
    rows = list(rows)
    groups = author_groups(rows, group_column, group_size)
    resolve_budget(selection.budget, len(set(groups)))  # a bad budget fails before any model work
    problem = AuthorSelectionProblem(
        model, tokenizer, rows, groups, method=lower_method, template=template, batch_size=batch_size
    )
    result = select_forget_set(problem, selection, progress=progress)
    authors = [problem.unit_names[i] for i in result.selected]
    return {
        "unit": "author",
        "indices": problem.rows_of(result.selected),
        "n_rows": len(rows),
        "authors": sorted(authors),
        "budget": result.budget,
        "mode": selection.mode,
        "settings": {
            "lower_method": lower_method,
            "batch_size": batch_size,
            "group_column": None if group_size else group_column,
            "group_size": group_size,
            "selection": result.config,
        },
        "author_losses_original": dict(zip(problem.unit_names, result.unit_losses_original)),
        "trace": result.trace,
        "seconds": result.seconds,
    }


def _world(preset: str, world_seed: int):
    from ..synthetic import build_tofu_world

    return build_tofu_world(preset, seed=world_seed, num_workers=min(2, os.cpu_count() or 1), progress=True)


def select_tofu_forget_set(
    selection: WorstCaseConfig,
    preset: str = "default",
    world_seed: int = 0,
    lower_method: str = "graddiff",
    progress: bool = True,
) -> dict[str, Any]:
    """[`select_author_forget_set`] on the offline mini-TOFU world (built and cached on first use): authors of its
    `full` split, starting from its target model. The record's `indices` are rows of the world's `full` split."""
    world = _world(preset, world_seed)
    model, tokenizer = world.load_model("target"), world.load_tokenizer()
    record = select_author_forget_set(
        model,
        tokenizer,
        world.load_split("full").to_list(),
        selection,
        lower_method=lower_method,
        template=world.template,
        progress=progress,
    )
    record = {"world": "tofu", **record}
    record["settings"] = {**record["settings"], "preset": preset, "world_seed": world_seed, "world": str(world.path)}
    return record


def author_set_data(world: Any, forget_authors: Sequence[str], n_retain_eval: int | None = None, seed: int = 0):
    """Training and evaluation data for an arbitrary forget-author set of a mini-TOFU world.

    Args:
        world ([`~hf_unlearn.synthetic.TofuWorld`]): The world.
        forget_authors (`Sequence[str]`): The authors to forget.
        n_retain_eval (`int`, *optional*): Size of the retain evaluation sample (default: the world's
            `retain_perturbed` size), drawn (seeded) from the other authors only.
        seed (`int`, *optional*, defaults to `0`): Seed of that sample.

    Returns:
        `tuple[list, list, dict]`: forget rows, retain rows (QA columns), and the evaluation mapping for
        [`~hf_unlearn.eval.evaluate_tofu`] (`forget10_perturbed` = the forget authors' items, `retain_perturbed` =
        the sample, and the world's knowledge splits); evaluate with `forget_split="forget10"`.
    """
    from ..synthetic.tofu_retain import author_items

    forget = set(forget_authors)
    items = author_items(world)
    unknown = forget - {r["author"] for r in items}
    if unknown:
        raise ValueError(f"Unknown authors {sorted(unknown)[:5]} for the world at {world.path}.")
    qa = ("question", "answer", "author", "attribute")
    forget_rows = [{k: r[k] for k in qa} for r in items if r["author"] in forget]
    retain_rows = [{k: r[k] for k in qa} for r in items if r["author"] not in forget]
    others = [r for r in items if r["author"] not in forget]
    n = n_retain_eval or len(world.load_split("retain_perturbed"))
    order = torch.randperm(len(others), generator=torch.Generator().manual_seed(seed))[: min(n, len(others))]
    data = {
        "forget10_perturbed": [r for r in items if r["author"] in forget],
        "retain_perturbed": [others[i] for i in sorted(order.tolist())],
        "real_authors_perturbed": world.load_split("real_authors_perturbed").to_list(),
        "world_facts_perturbed": world.load_split("world_facts_perturbed").to_list(),
    }
    return forget_rows, retain_rows, data


def load_tofu_selection(path: str | os.PathLike, world: Any) -> dict[str, Any]:
    """Reads an author-level selection file for `world` and checks it before any training: rows in range and unique,
    the world's size, known authors, and `indices` equal to the rows of `authors` in the `full` split.

    Args:
        path (`str` or `os.PathLike`): The `selection.json` (or its folder).
        world ([`~hf_unlearn.synthetic.TofuWorld`]): The world the rows refer to.

    Returns:
        `dict`: The selection (`authors` sorted).
    """
    from .files import load_selection

    full = world.load_split("full")
    selection = load_selection(path, n_rows=len(full))
    authors = selection.get("authors")
    if not authors:
        raise ValueError(f"{path} has no `authors`: select authors with `worstcase_forget_set.py --world tofu`.")
    groups = author_groups(full.to_list())
    unknown = sorted(set(authors) - set(groups))
    if unknown:
        raise ValueError(f"{path} names authors {unknown[:5]} that this world does not have.")
    rows = [i for i, g in enumerate(groups) if g in set(authors)]
    if rows != selection["indices"]:
        raise ValueError(
            f"{path}: `indices` are not the `full` rows of its `authors`; the file was edited or is for another world."
        )
    return {**selection, "authors": sorted(authors)}


SET_KINDS_TOFU = ("worst", "random", "lowest_loss", "easiest")
_SELECTED_KINDS = {"worst": "hardest", "easiest": "easiest"}
_RESUME_KEYS = ("selection", "preset", "world_seed", "lower_method", "budget", "eval_max_new_tokens", "world")


def _resume_state(path: str, config: dict[str, Any]) -> dict[str, Any]:
    """The runs, sets and costs of an interrupted [`run_worstcase_tofu`] with the same settings (checked)."""
    with open(path) as f:
        previous = json.load(f)
    old = previous.get("config", {})
    old_selection = {**old.get("selection", {}), "seed": None}
    new_selection = {**config["selection"], "seed": None}
    differs = [k for k in _RESUME_KEYS if k != "selection" and old.get(k) != config[k]]
    if old_selection != new_selection:
        differs.insert(0, "selection")
    if differs:
        raise ValueError(
            f"{path} was written with other settings ({', '.join(differs)}); resume only with the same settings, "
            "or choose a new output_dir."
        )
    return previous


def run_worstcase_tofu(
    output_dir: str | os.PathLike,
    selection: WorstCaseConfig | None = None,
    preset: str = "default",
    world_seed: int = 0,
    lower_method: str = "graddiff",
    methods: Sequence[str] = ("ga", "graddiff", "npo", "simnpo"),
    seeds: Sequence[int] = (0, 1, 2),
    set_kinds: Sequence[str] = SET_KINDS_TOFU,
    eval_max_new_tokens: int = 64,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Worst-case vs random vs lowest-loss vs easiest author sets on mini-TOFU: for each seed and set, a retain model
    that never saw those authors (trained once per author set and cached, [`~hf_unlearn.synthetic.author_retain_model`]),
    then every method run by the same job as `examples/simnpo_tofu.py --forget_set` (its offline-world recipe, trainer
    seed = the seed), scored with forget quality against that retain model and model utility.

    Work is ordered so that an interrupted run keeps whole seeds: every seed's worst-case, random and lowest-loss sets
    first, the easiest sets last. `results.json` is rewritten after every unlearning run, and `resume=True` continues
    from it (same settings required), skipping the sets already selected and the runs already scored.

    Args:
        output_dir (`str` or `os.PathLike`): A new folder (or, with `resume`, the folder of an interrupted run):
            per-set `selection.json`, retain evaluations, runs, `results.json`.
        selection ([`WorstCaseConfig`], *optional*): Selection settings (default: budget 4 authors, 5 lower steps at
            lr 1e-4); its `seed` is replaced by each seed and its `mode` by the set kind.
        preset (`str`, *optional*, defaults to `"default"`): The world preset.
        world_seed (`int`, *optional*, defaults to `0`): The world seed.
        lower_method (`str`, *optional*, defaults to `"graddiff"`): Lower level of the selection.
        methods (`Sequence[str]`, *optional*): Registered unlearning methods to compare.
        seeds (`Sequence[int]`, *optional*, defaults to `(0, 1, 2)`): Seeds (selection, random set, trainer).
        set_kinds (`Sequence[str]`, *optional*): Among `worst`, `random`, `lowest_loss`, `easiest`. The lowest-loss
            set (the budget's lowest-NLL authors under the target) does not depend on the seed: it gets one retain
            model, and its seeds differ only by the trainer seed.
        eval_max_new_tokens (`int`, *optional*, defaults to `64`): Generation length of the ROUGE evaluation.
        resume (`bool`, *optional*, defaults to `False`): Continue an interrupted run in `output_dir`.
        progress (`bool`, *optional*, defaults to `True`): Progress bars.

    Returns:
        `dict`: `runs` (seed, kind, method, forget_quality, model_utility, forget_rouge, train_seconds), `sets`
        (authors per seed and kind, with the retain model and the target's forget quality against it), `summary`
        (median, min, max and mean log10 per method and kind), `overlap` (Jaccard across seeds), `author_histogram`,
        `cost` (each selection's seconds beside one run of its lower-level method on the selected set).
    """
    from ..eval import evaluate_tofu, forget_quality, save_json
    from ..scripts import get_method
    from ..scripts.unlearn_tofu import main as unlearn_main
    from ..scripts.unlearn_tofu import parse_args as unlearn_args
    from ..synthetic.tofu_retain import author_retain_model
    from .files import save_selection

    output_dir = os.fspath(output_dir)
    results_path = os.path.join(output_dir, "results.json")
    if resume and not os.path.isfile(results_path):
        raise FileNotFoundError(f"resume=True but {results_path} does not exist; run without resume first.")
    if not resume and os.path.isdir(output_dir) and os.listdir(output_dir):
        raise FileExistsError(f"{output_dir} is not empty; choose a new output_dir (or resume=True to continue).")
    bad = [k for k in set_kinds if k not in SET_KINDS_TOFU]
    if bad or not set_kinds:
        raise ValueError(f"`set_kinds` must be a non-empty subset of {SET_KINDS_TOFU}, got {list(set_kinds)}.")
    if not methods:
        raise ValueError("`methods` is empty: name at least one registered unlearning method (e.g. 'graddiff').")
    for method in methods:
        get_method(method)  # an unknown name fails here, before any model work
    selection = selection or WorstCaseConfig(budget=4, lower_steps=5, lower_lr=1e-4)
    world = _world(preset, world_seed)
    target, tokenizer = world.load_model("target"), world.load_tokenizer()
    rows = world.load_split("full").to_list()
    groups = author_groups(rows)
    names = list(dict.fromkeys(groups))
    m = resolve_budget(selection.budget, len(names))
    config = {
        "selection": {**asdict(selection), "seed": None, "mode": None},
        "preset": preset,
        "world_seed": world_seed,
        "lower_method": lower_method,
        "methods": list(methods),
        "seeds": list(seeds),
        "set_kinds": list(set_kinds),
        "budget": m,
        "eval_max_new_tokens": eval_max_new_tokens,
        "world": str(world.path),
    }
    previous = _resume_state(results_path, config) if resume else {}
    sets: dict[str, dict[str, Any]] = previous.get("sets", {})
    runs: list[dict[str, Any]] = previous.get("runs", [])
    cost: list[dict[str, Any]] = previous.get("cost", [])
    original: dict[str, float] = previous.get("author_losses_original", {})
    evals: dict[tuple[str, ...], dict[str, Any]] = {}

    def evaluate(model, authors, retain_results=None):
        _, _, data = author_set_data(world, authors)
        return evaluate_tofu(
            model, tokenizer, data, forget_split="forget10", retain_results=retain_results, template=world.template,
            batch_size=32, max_new_tokens=eval_max_new_tokens, progress=False,
        )  # fmt: skip

    def save() -> dict[str, Any]:
        done = [k for k in set_kinds if any(k in sets.get(str(s), {}) for s in seeds)]
        results = {
            "config": config,
            "runs": runs,
            "sets": sets,
            "summary": _summarise_tofu(runs),
            "overlap": _tofu_overlap(sets, seeds, done),
            "author_histogram": {
                kind: dict(
                    sorted(
                        Counter(
                            a for s in seeds for a in sets.get(str(s), {}).get(kind, {}).get("authors", [])
                        ).items()
                    )
                )
                for kind in done
            },
            "author_losses_original": original,
            "cost": cost,
        }
        save_json(results, results_path)
        return results

    def choose(seed: int, kind: str) -> tuple[list[str], dict[str, Any] | None]:
        if kind in _SELECTED_KINDS:
            cfg = WorstCaseConfig(**{**asdict(selection), "seed": seed, "mode": _SELECTED_KINDS[kind]})
            record = select_author_forget_set(
                target, tokenizer, rows, cfg, lower_method=lower_method, template=world.template, progress=progress
            )
            original.update(record["author_losses_original"])
            return record["authors"], record
        if kind == "random":
            return sorted(names[i] for i in random_units(len(names), m, seed=seed)), None
        if not original:  # lowest-loss: the budget's lowest-NLL authors under the target, whatever the seed
            problem = AuthorSelectionProblem(target, tokenizer, rows, groups, template=world.template)
            with torch.no_grad():
                original.update(zip(problem.unit_names, problem.unit_losses(target).tolist()))
        return sorted(names[i] for i in lowest_loss_units([original[a] for a in names], m)), None

    order = [(s, k) for k in set_kinds if k != "easiest" for s in seeds]
    order = sorted(order, key=lambda sk: list(seeds).index(sk[0])) + [
        (s, "easiest") for s in seeds if "easiest" in set_kinds
    ]
    for seed, kind in order:
        folder = os.path.join(output_dir, f"seed{seed}_{kind}")
        path = os.path.join(folder, "selection.json")
        entry = sets.get(str(seed), {}).get(kind)
        if entry is None:
            authors, record = choose(seed, kind)
            sel = {
                "world": "tofu",
                "unit": "author",
                "indices": [i for i, g in enumerate(groups) if g in set(authors)],
                "n_rows": len(rows),
                "authors": authors,
                "budget": m,
                "mode": _SELECTED_KINDS.get(kind, kind),
                "settings": {"preset": preset, "world_seed": world_seed, "world": str(world.path), "seed": seed},
                "trace": record["trace"] if record else [],
                "seconds": record["seconds"] if record else 0.0,
            }
            save_selection(path, sel)
            entry = {"authors": authors, "selection_seconds": sel["seconds"] if record else None}
            sets.setdefault(str(seed), {})[kind] = entry
        authors = entry["authors"]
        pending = [
            method
            for method in methods
            if not any(r["seed"] == seed and r["kind"] == kind and r["method"] == method for r in runs)
        ]
        if not pending:
            continue
        key = tuple(authors)
        if key not in evals:
            retain_path = author_retain_model(world, authors, progress=progress)
            from transformers import AutoModelForCausalLM

            retain_eval = evaluate(AutoModelForCausalLM.from_pretrained(retain_path), authors)
            tr = retain_eval["per_item"]["forget"]["truth_ratio"]
            retain_eval["summary"]["forget_quality"] = forget_quality(tr, tr)["forget_quality"]
            target_eval = evaluate(target, authors, retain_eval)
            evals[key] = {"retain": retain_eval, "target": target_eval, "retain_model": str(retain_path)}
        retain_json = os.path.join(folder, "eval_retain.json")
        save_json(evals[key]["retain"], retain_json)
        entry.update(
            {
                "retain_model": evals[key]["retain_model"],
                "target_forget_quality": evals[key]["target"]["summary"]["forget_quality"],
                "target_model_utility": evals[key]["target"]["summary"]["model_utility"],
                "retain_model_utility": evals[key]["retain"]["summary"]["model_utility"],
                "original_forget_nll": sum(original[a] for a in authors) / m if original else None,
            }
        )
        for method in pending:
            argv = [
                "--forget_set", path, "--retain_results", retain_json, "--preset", preset,
                "--world_seed", str(world_seed), "--output_dir", os.path.join(folder, method),
                "--seed", str(seed), "--eval_points", "0", "--skip_reference_evals", "true",
                "--eval_max_new_tokens", str(eval_max_new_tokens), "--report_to", "none",
                "--disable_tqdm", str(not progress).lower(),
            ]  # fmt: skip
            script_args, training_args = unlearn_args(argv, method=method)
            out = unlearn_main(script_args, training_args, method=method)
            summary = out["unlearned"]
            runs.append(
                {
                    "seed": seed,
                    "kind": kind,
                    "method": method,
                    "forget_quality": summary["forget_quality"],
                    "model_utility": summary["model_utility"],
                    "forget_rouge": summary.get("forget_rouge_l_recall"),
                    "train_seconds": out["settings"]["train_seconds"],
                }
            )
            if kind in _SELECTED_KINDS and method == lower_method and entry.get("selection_seconds"):
                cost.append(
                    {
                        "seed": seed,
                        "kind": kind,
                        "selection_s": entry["selection_seconds"],
                        "unlearn_s": out["settings"]["train_seconds"],
                    }
                )
            save()
    return save()


def _tofu_overlap(sets: dict[str, dict[str, Any]], seeds: Sequence[int], kinds: Sequence[str]) -> dict[str, Any]:
    """Mean pairwise Jaccard of each kind's author sets across seeds, and per seed worst-case vs lowest-loss / easiest."""
    overlap: dict[str, Any] = {}
    for kind in kinds:
        chosen = [sets[str(s)][kind]["authors"] for s in seeds if kind in sets.get(str(s), {})]
        overlap[kind] = mean_pairwise_jaccard(chosen)
    for other in ("lowest_loss", "easiest", "random"):
        pairs = [
            jaccard(sets[str(s)]["worst"]["authors"], sets[str(s)][other]["authors"])
            for s in seeds
            if {"worst", other} <= set(sets.get(str(s), {}))
        ]
        if pairs:
            overlap[f"worst_vs_{other}"] = pairs
    return overlap


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _summarise_tofu(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per method and set kind: median / min / max over seeds of forget quality, its log10, model utility and
    forget ROUGE-L, and the paired per-seed difference of log10 forget quality to the random set."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    log_fq = {(r["seed"], r["kind"], r["method"]): math.log10(max(r["forget_quality"], 1e-300)) for r in runs}
    for method in dict.fromkeys(r["method"] for r in runs):
        for kind in dict.fromkeys(r["kind"] for r in runs):
            sel = [r for r in runs if r["method"] == method and r["kind"] == kind]
            if not sel:
                continue
            entry = {
                "log10_forget_quality": _spread([log_fq[(r["seed"], kind, method)] for r in sel]),
                "forget_quality": _spread([r["forget_quality"] for r in sel]),
                "model_utility": _spread([r["model_utility"] for r in sel]),
                "forget_rouge": _spread([r["forget_rouge"] for r in sel]),
            }
            paired = [
                log_fq[(r["seed"], kind, method)] - log_fq[(r["seed"], "random", method)]
                for r in sel
                if (r["seed"], "random", method) in log_fq
            ]
            if kind != "random" and paired:
                entry["log10_fq_minus_random"] = _spread(paired)
            out.setdefault(method, {})[kind] = entry
    return out


_TITLES = {"worst": "worst-case", "random": "random", "lowest_loss": "lowest-loss", "easiest": "easiest"}


def _med_range(spread: dict[str, float], fmt: str = "{:.3f}") -> str:
    """`median [min, max]` of a [`_spread`] entry."""
    return f"{fmt.format(spread['median'])} [{fmt.format(spread['min'])}, {fmt.format(spread['max'])}]"


def format_tofu_markdown(results: dict[str, Any]) -> str:
    """Markdown of [`run_worstcase_tofu`] results: per method and author-set kind, the median [min, max] over seeds of
    log10 forget quality, its paired difference to the random set, model utility and forget ROUGE-L; then each set's
    authors with the target's and the retain model's numbers, the overlaps, the author histograms and the cost."""
    cfg = results["config"]
    sel = cfg["selection"]
    heading = (
        f"mini-TOFU `{cfg['preset']}` world, budget {cfg['budget']} authors, seeds {cfg['seeds']} (median [min, max]); "
        f"selection: lower level {cfg['lower_method']} x {sel['lower_steps']} {sel['lower_optimizer']} steps "
        f"(lr {sel['lower_lr']}), {sel['upper_steps']} upper steps, w_lr {sel['w_lr']} ({sel['step_normalization']})."
    )
    lines = [
        heading,
        "",
        "| Method | Author set | n | log10 forget quality ↑ | minus random (paired) | model utility ↑ | forget ROUGE-L |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, kinds in results["summary"].items():
        for kind, c in kinds.items():
            paired = _med_range(c["log10_fq_minus_random"], "{:+.2f}") if "log10_fq_minus_random" in c else "-"
            lines.append(
                f"| {method} | {_TITLES[kind]} | {c['model_utility']['n']} | "
                f"{_med_range(c['log10_forget_quality'], '{:.2f}')} | {paired} | {_med_range(c['model_utility'])} | "
                f"{_med_range(c['forget_rouge'])} |"
            )
    lines += [
        "",
        "| seed | set | authors | target FQ | target MU | retain MU | original forget NLL |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, kinds in results["sets"].items():
        for kind, s in kinds.items():
            if "target_forget_quality" not in s:
                continue
            nll = f"{s['original_forget_nll']:.4f}" if s.get("original_forget_nll") is not None else "-"
            lines.append(
                f"| {seed} | {_TITLES[kind]} | {', '.join(s['authors'])} | {s['target_forget_quality']:.2g} | "
                f"{s['target_model_utility']:.3f} | {s['retain_model_utility']:.3f} | {nll} |"
            )
    lines += ["", "Overlap (Jaccard of author sets; across seeds: mean over pairs; `worst_vs_*`: per seed):", ""]
    lines += [f"- {key}: {json.dumps(value)}" for key, value in results["overlap"].items()]
    lines += ["", "Author histogram (times each author was selected over the seeds):", ""]
    lines += [
        f"- {_TITLES[kind]}: " + ", ".join(f"{a} {n}" for a, n in sorted(h.items(), key=lambda x: (-x[1], x[0])))
        for kind, h in results["author_histogram"].items()
    ]
    if results["cost"]:
        lines += [
            "",
            "| seed | set | selection (s) | one unlearning run of the lower-level method on that set (s) | ratio |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['seed']} | {_TITLES[c['kind']]} | {c['selection_s']:.1f} | {c['unlearn_s']:.1f} | "
            f"{c['selection_s'] / c['unlearn_s']:.1f} |"
            for c in results["cost"]
        ]
    return "\n".join(lines) + "\n"


def plot_tofu_results(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Three panels per method and author-set kind (median, bars from min to max over seeds): log10 forget quality,
    its paired per-seed difference to the random set (the per-method gap: below 0 = harder to forget than a random
    set), and model utility."""
    from ..plotting import pyplot

    plt = pyplot()

    summary = results["summary"]
    methods = list(summary)
    kinds = [k for k in SET_KINDS_TOFU if any(k in summary[m] for m in methods)]
    width = 0.8 / len(kinds)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    panels = (
        (axes[0], "log10_forget_quality", "log10 forget quality (higher = closer to retain)"),
        (axes[1], "log10_fq_minus_random", "log10 FQ minus random set's (same seed)"),
        (axes[2], "model_utility", "model utility"),
    )
    for ax, key, label in panels:
        for j, kind in enumerate(kinds):
            xs, med, lo, hi = [], [], [], []
            for i, m in enumerate(methods):
                entry = summary[m].get(kind, {}).get(key)
                if entry is None:
                    continue
                xs.append(i + j * width)
                med.append(entry["median"])
                lo.append(entry["median"] - entry["min"])
                hi.append(entry["max"] - entry["median"])
            if xs:
                colour = f"C{SET_KINDS_TOFU.index(kind)}"  # one colour per kind in every panel
                ax.bar(xs, med, width, yerr=[lo, hi], capsize=2, label=_TITLES[kind], color=colour)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(methods))], methods)
        ax.set_ylabel(label, fontsize=8)
        ax.legend(fontsize=7)
    axes[1].axhline(0.0, color="black", linewidth=0.8)
    fig.suptitle(f"mini-TOFU worst-case author sets: median and range over seeds {results['config']['seeds']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
