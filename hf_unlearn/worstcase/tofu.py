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
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from .baselines import group_histogram, jaccard, lowest_loss_units, mean_pairwise_jaccard, random_units
from .projection import resolve_budget
from .selection import SelectionProblem, WorstCaseConfig, select_forget_set


__all__ = [
    "TOFU_LOWER_METHODS",
    "AuthorSelectionProblem",
    "author_groups",
    "author_set_data",
    "format_tofu_markdown",
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
        from ..data.templates import get_template, model_max_length, tokenize_qa
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
        self.features = [tokenize_qa(tokenizer, r["question"], r["answer"], tpl, max_length=ctx) for r in rows]
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
        from ..trainer.losses import npo_loss, sequence_log_probs, sequence_nll

        w_rows = weights[self.row_unit].clamp(0.0, 1.0).double()
        draws = []
        for p in (w_rows, 1.0 - w_rows):
            p = p if float(p.sum()) > 0 else torch.ones_like(p)
            draws.append(torch.multinomial(p, self.batch_size, replacement=True, generator=generator))
        forget_rows, retain_rows = draws
        forget, retain = self._batch(forget_rows), self._batch(retain_rows)
        retain_term = sequence_nll(model(**retain).logits, retain["labels"])
        forget_logits = model(**forget).logits
        if self.method == "graddiff":
            return -sequence_nll(forget_logits, forget["labels"]) + retain_term
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
