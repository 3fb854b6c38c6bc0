# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Worst-case forget sets for image classification (the paper's data-wise and class-wise settings), on the data,
models, methods and metrics of `hf_unlearn.vision`.

[`ClassificationSelectionProblem`] plugs a classifier into [`select_forget_set`]: units are training examples
(`unit="example"`) or classes (`unit="class"`); the lower level is a weighted unlearning method from the original
model (per-example weight `w_i`, or the weight of the example's class):

- `"FT"` (the paper's `w_FT`, default): `mean((1 - w_i) * CE_i)`, fine-tuning on the weighted retain set;
- `"GA"`: `-mean(w_i * CE_i)`, gradient ascent on the weighted forget set;
- `"GradDiff"`: `mean((1 - w_i) * CE_i - w_i * CE_i)`;
- `"RL"`: `mean(w_i * CE(x_i, random label) + (1 - w_i) * CE_i)`, random labelling.

The per-unit loss is the unlearned model's cross-entropy per example (per class: its mean).

[`run_worstcase_classification`] compares, per seed, the worst-case set with a random set, the lowest-loss set and
the easiest set: Retrain, FT, GA, RL, l1-sparse and SalUn are run on each (via
[`~hf_unlearn.vision.benchmark.unlearn_and_score`]) and scored with UA / RA / TA / MIA-Efficacy and the average gap to
Retrain; selection time is measured beside one FT run on the same machine.

Example:
    >>> from hf_unlearn.vision import ClassificationUnlearningConfig
    >>> from hf_unlearn.vision.benchmark import load_data, train_original
    >>> from hf_unlearn.worstcase import WorstCaseConfig, select_forget_set
    >>> base = ClassificationUnlearningConfig(train_epochs=2, width=4)
    >>> data = load_data(base, seed=0)
    >>> problem = ClassificationSelectionProblem(train_original(base, data, seed=0), data)
    >>> result = select_forget_set(problem, WorstCaseConfig(budget=0.1, upper_steps=2, lower_steps=2), progress=False)
    >>> len(result.selected), len(problem.rows(result.selected))
    (144, 144)
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..vision.benchmark import (
    ClassificationUnlearningConfig,
    load_data,
    train_original,
    unlearn_and_score,
)
from ..vision.data import CIFAR10_HUB_ID, ClassificationData, make_forget_split
from ..vision.methods import UNLEARNING_METHODS
from ..vision.metrics import METRIC_NAMES
from .baselines import group_histogram, jaccard, lowest_loss_units, mean_pairwise_jaccard, mean_std, random_units
from .projection import resolve_budget
from .selection import SelectionProblem, WorstCaseConfig, select_forget_set


__all__ = [
    "LOWER_METHODS",
    "ClassificationSelectionProblem",
    "WorstCaseClassificationConfig",
    "forget_set_options",
    "format_worstcase_markdown",
    "plot_worstcase",
    "run_worstcase_classification",
    "select_classification_forget_set",
    "selection_record",
]

LOWER_METHODS = ("FT", "GA", "GradDiff", "RL")
SET_KINDS = ("worst", "random", "lowest_loss", "easiest")


class ClassificationSelectionProblem(SelectionProblem):
    """A classifier as a [`SelectionProblem`] (see the module docstring).

    Args:
        original (`torch.nn.Module`): The original classifier (copied, never modified).
        data ([`~hf_unlearn.vision.ClassificationData`]): Its training data.
        unit (`str`, *optional*, defaults to `"example"`): `"example"` or `"class"`.
        method (`str`, *optional*, defaults to `"FT"`): The lower-level method, one of [`LOWER_METHODS`].
        batch_size (`int`, *optional*): Examples per lower step, drawn at random; `None` uses the whole training set
            (a full-batch step: digits has 1,437 training images).
        momentum (`float`, *optional*, defaults to `0.9`): SGD momentum of the native optimiser.
        weight_decay (`float`, *optional*, defaults to `5e-4`): SGD weight decay of the native optimiser.
    """

    def __init__(
        self,
        original: nn.Module,
        data: ClassificationData,
        unit: str = "example",
        method: str = "FT",
        batch_size: int | None = None,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
    ):
        if unit not in ("example", "class"):
            raise ValueError(f"`unit` must be 'example' or 'class', got {unit!r}.")
        if method not in LOWER_METHODS:
            raise ValueError(f"`method` must be one of {LOWER_METHODS}, got {method!r}.")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"`batch_size` must be positive or None, got {batch_size}.")
        self.original, self.data, self.unit, self.method = original, data, unit, method
        self.batch_size, self.momentum, self.weight_decay = batch_size, momentum, weight_decay
        self.n_units = len(data.y_train) if unit == "example" else data.num_classes
        self.unit_names = [str(c) for c in range(data.num_classes)] if unit == "class" else None

    def new_lower_model(self) -> nn.Module:
        return copy.deepcopy(self.original)

    def _example_weights(self, weights: torch.Tensor) -> torch.Tensor:
        return weights if self.unit == "example" else weights[self.data.y_train]

    def lower_loss(self, model, weights, step, generator):
        n = len(self.data.y_train)
        idx = torch.randperm(n, generator=generator)[: self.batch_size] if self.batch_size else torch.arange(n)
        x, y, w = self.data.x_train[idx], self.data.y_train[idx], self._example_weights(weights)[idx]
        logits = model(x)
        ce = nn.functional.cross_entropy(logits, y, reduction="none")
        if self.method == "FT":
            return ((1.0 - w) * ce).mean()
        if self.method == "GA":
            return -(w * ce).mean()
        if self.method == "GradDiff":
            return ((1.0 - w) * ce - w * ce).mean()
        random = torch.randint(0, self.data.num_classes, (len(idx),), generator=generator)
        return (w * nn.functional.cross_entropy(logits, random, reduction="none") + (1.0 - w) * ce).mean()

    @torch.no_grad()
    def example_losses(self, model: nn.Module) -> torch.Tensor:
        """Cross-entropy of every training example under `model` (eval mode)."""
        model.eval()
        x, y = self.data.x_train, self.data.y_train
        return torch.cat(
            [
                nn.functional.cross_entropy(model(x[i : i + 512]), y[i : i + 512], reduction="none")
                for i in range(0, len(y), 512)
            ]
        )

    def unit_losses(self, model):
        ce = self.example_losses(model)
        if self.unit == "example":
            return ce
        sums = torch.zeros(self.data.num_classes).index_add_(0, self.data.y_train, ce)
        counts = torch.bincount(self.data.y_train, minlength=self.data.num_classes).clamp(min=1)
        return sums / counts

    def make_optimizer(self, params, lr):
        return torch.optim.SGD(params, lr=lr, momentum=self.momentum, weight_decay=self.weight_decay)

    def rows(self, units: list[int]) -> list[int]:
        """Full-data-set rows of the selected units (for classes: every training example of those classes)."""
        if self.unit == "example":
            positions = torch.as_tensor(units, dtype=torch.long)
        else:
            positions = torch.nonzero(torch.isin(self.data.y_train, torch.as_tensor(units))).squeeze(1)
        train_rows = self.data.train_rows if self.data.train_rows is not None else torch.arange(len(self.data.y_train))
        return sorted(train_rows[positions].tolist())

    def classes_of(self, units: list[int]) -> list[int]:
        """The label of every selected training example (for class units: every example of those classes)."""
        if self.unit == "class":
            return self.data.y_train[torch.isin(self.data.y_train, torch.as_tensor(units))].tolist()
        return self.data.y_train[torch.as_tensor(units)].tolist()


def _class_histogram(problem: ClassificationSelectionProblem, units: list[int]) -> dict[str, int]:
    labels = problem.classes_of(units)
    return group_histogram(range(len(labels)), labels)


def selection_record(
    problem: ClassificationSelectionProblem, units: list[int], world: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """A selection-file dict ([`~hf_unlearn.worstcase.save_selection`]) for classification units."""
    record: dict[str, Any] = {
        "world": world,
        "unit": problem.unit,
        "indices": problem.rows(units),
        "n_rows": problem.data.n_rows,
        "class_histogram": _class_histogram(problem, units),
        **settings,
    }
    if problem.unit == "class":
        record["groups"] = sorted(units)
    return record


def select_classification_forget_set(
    benchmark: ClassificationUnlearningConfig,
    selection: WorstCaseConfig,
    seed: int = 0,
    unit: str = "example",
    lower_method: str = "FT",
    lower_batch_size: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains the original model of `benchmark` for `seed` and selects its worst-case (or easiest) forget set.

    Args:
        benchmark ([`~hf_unlearn.vision.ClassificationUnlearningConfig`]): Data and original-model recipe.
        selection ([`WorstCaseConfig`]): The selection settings.
        seed (`int`, *optional*, defaults to `0`): Seed of the train/test split and the original model.
        unit (`str`, *optional*, defaults to `"example"`): `"example"` or `"class"`.
        lower_method (`str`, *optional*, defaults to `"FT"`): The lower-level method.
        lower_batch_size (`int`, *optional*): Examples per lower step (`None`: full batch).
        progress (`bool`, *optional*, defaults to `True`): A tqdm bar over upper iterations.

    Returns:
        `dict`: A selection record for [`~hf_unlearn.worstcase.save_selection`]: `indices` (rows of the full data
        set, e.g. of `sklearn.datasets.load_digits()`), `n_rows`, `groups` (class-wise), the class histogram, the
        `settings` (data split seed, train fraction, recipes, selection config), `trace` and `seconds`.

    Example:
        >>> from hf_unlearn.vision import ClassificationUnlearningConfig
        >>> record = select_classification_forget_set(
        ...     ClassificationUnlearningConfig(train_epochs=1, width=4),
        ...     WorstCaseConfig(budget=1, upper_steps=1, lower_steps=1),
        ...     unit="class",
        ...     progress=False,
        ... )
        >>> len(record["groups"]), record["n_rows"]
        (1, 1797)
    """
    data = load_data(benchmark, seed)
    if unit not in ("example", "class"):
        raise ValueError(f"`unit` must be 'example' or 'class', got {unit!r}.")
    resolve_budget(selection.budget, len(data.y_train) if unit == "example" else data.num_classes)  # before training
    original = train_original(benchmark, data, seed)
    problem = ClassificationSelectionProblem(
        original, data, unit=unit, method=lower_method, batch_size=lower_batch_size
    )
    result = select_forget_set(problem, WorstCaseConfig(**{**asdict(selection), "seed": seed}), progress=progress)
    settings = {
        "budget": result.budget,
        "mode": selection.mode,
        "settings": {
            "dataset": benchmark.dataset,
            "data_seed": seed if benchmark.data_seed is None else benchmark.data_seed,
            "train_fraction": benchmark.train_fraction,
            "original_model": {k: getattr(benchmark, k) for k in ("train_epochs", "train_lr", "batch_size", "width")},
            "lower_method": lower_method,
            "lower_batch_size": lower_batch_size,
            "selection": result.config,
        },
        "trace": result.trace,
        "seconds": result.seconds,
    }
    return selection_record(problem, result.selected, benchmark.dataset, settings)


def forget_set_options(path: str | os.PathLike, dataset: str = "digits", data_source: str = CIFAR10_HUB_ID) -> dict:
    """Reads a classification selection file and returns the [`~hf_unlearn.vision.ClassificationUnlearningConfig`]
    options that reproduce its forget set: scenario `"rows"`, the rows, the selected classes, and the train/test split
    seed and train fraction it was selected on. Every check (rows in range, no duplicates, the data set's size, the
    world) runs here, before any training.

    Args:
        path (`str` or `os.PathLike`): The `selection.json` (or its folder).
        dataset (`str`, *optional*, defaults to `"digits"`): The dataset the caller will load.
        data_source (`str`, *optional*, defaults to `"uoft-cs/cifar10"`): CIFAR-10's Hub id or a local copy.

    Returns:
        `dict`: `scenarios`, `forget_rows`, `forget_classes`, `data_seed`, `train_fraction`.

    Example:
        >>> options = forget_set_options("wc_digits/selection.json")  # doctest: +SKIP
        >>> config = ClassificationUnlearningConfig(**options)  # doctest: +SKIP
    """
    from .files import load_selection

    n_rows = load_data(ClassificationUnlearningConfig(dataset=dataset, data_source=data_source), seed=0).n_rows
    selection = load_selection(path, n_rows=n_rows)
    world = selection.get("world")
    if world is not None and world != dataset:
        raise ValueError(f"{path} selects from {world!r}, but the dataset here is {dataset!r}.")
    settings = selection.get("settings", {})
    options: dict[str, Any] = {
        "scenarios": ["rows"],
        "forget_rows": selection["indices"],
        "forget_classes": selection.get("groups"),
    }
    if "data_seed" in settings:
        options["data_seed"] = settings["data_seed"]
    if "train_fraction" in settings:
        options["train_fraction"] = settings["train_fraction"]
    data = load_data(ClassificationUnlearningConfig(dataset=dataset, data_source=data_source, **options), seed=0)
    data.train_positions(selection["indices"])  # every row must be a training example of that split
    return options


@dataclass
class WorstCaseClassificationConfig:
    """Settings of [`run_worstcase_classification`].

    Parameters:
        benchmark ([`~hf_unlearn.vision.ClassificationUnlearningConfig`], *optional*):
            Data, original-model recipe, unlearning methods and their learning rates (its `scenarios` are ignored).
        selection ([`WorstCaseConfig`], *optional*): The bi-level selection (its `seed` is replaced by each seed).
        unit (`str`, *optional*, defaults to `"example"`): `"example"` (data-wise) or `"class"` (class-wise).
        lower_method (`str`, *optional*, defaults to `"FT"`): The lower-level method (one of `LOWER_METHODS`).
        lower_batch_size (`int`, *optional*): Examples per lower step (`None`: full batch).
        set_kinds (`list[str]`, *optional*, defaults to all): Among `worst`, `random`, `lowest_loss`, `easiest`.
        seeds (`list[int]`, *optional*, defaults to `[0, 1, 2]`): Seeds (data split, original model, selection).
    """

    benchmark: ClassificationUnlearningConfig = field(default_factory=ClassificationUnlearningConfig)
    selection: WorstCaseConfig = field(default_factory=WorstCaseConfig)
    unit: str = "example"
    lower_method: str = "FT"
    lower_batch_size: int | None = None
    set_kinds: list[str] = field(default_factory=lambda: list(SET_KINDS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])

    def __post_init__(self):
        bad = [k for k in self.set_kinds if k not in SET_KINDS]
        if bad or not self.set_kinds:
            raise ValueError(f"`set_kinds` must be a non-empty subset of {SET_KINDS}, got {self.set_kinds}.")
        if self.unit not in ("example", "class"):
            raise ValueError(f"`unit` must be 'example' or 'class', got {self.unit!r}.")
        if self.lower_method not in LOWER_METHODS:
            raise ValueError(f"`lower_method` must be one of {LOWER_METHODS}, got {self.lower_method!r}.")
        if not self.seeds:
            raise ValueError("`seeds` must list at least one seed.")


def _select(problem, config: WorstCaseClassificationConfig, kind: str, seed: int, m: int) -> dict[str, Any]:
    start = time.perf_counter()
    trace, initial = [], []
    if kind in ("worst", "easiest"):
        mode = "hardest" if kind == "worst" else "easiest"
        cfg = WorstCaseConfig(**{**asdict(config.selection), "mode": mode, "seed": seed})
        result = select_forget_set(problem, cfg, progress=False)
        units, trace, initial = result.selected, result.trace, result.initial_selected
    elif kind == "random":
        units = random_units(problem.n_units, m, seed=seed)
    else:
        units = lowest_loss_units(problem.unit_losses(problem.new_lower_model()), m)
    return {"units": sorted(units), "trace": trace, "initial": initial, "seconds": time.perf_counter() - start}


def run_worstcase_classification(
    config: WorstCaseClassificationConfig | None = None, progress: bool = True
) -> dict[str, Any]:
    """Worst-case vs random vs lowest-loss vs easiest forget sets, for every unlearning method, over seeds.

    Args:
        config ([`WorstCaseClassificationConfig`], *optional*): The settings.
        progress (`bool`, *optional*, defaults to `True`): A tqdm bar over seeds x set kinds.

    Returns:
        `dict`: `config`; `runs` (one row per seed, set kind and method: UA/RA/TA/MIA, `gap`, `runtime_s`, plus the
        set's mean original-model loss `set_loss`); `selections` (per seed and kind: units, rows, class histogram,
        seconds, trace); `summary` (mean and std per kind, method and column); `overlap` (mean pairwise Jaccard of
        each kind's sets across seeds, and of worst-case vs its random initialisation / the lowest-loss set);
        `cost` (selection seconds vs one FT run, per seed). Overlaps compare full-data-set rows, so sets selected on
        different train/test splits are comparable.

    Example:
        >>> from hf_unlearn.vision import ClassificationUnlearningConfig
        >>> config = WorstCaseClassificationConfig(
        ...     benchmark=ClassificationUnlearningConfig(train_epochs=1, width=4, unlearn_epochs=1, methods=["FT"]),
        ...     selection=WorstCaseConfig(budget=1, upper_steps=1, lower_steps=1),
        ...     unit="class",
        ...     set_kinds=["worst", "random"],
        ...     seeds=[0],
        ... )
        >>> results = run_worstcase_classification(config, progress=False)
        >>> sorted(results["summary"]["FT"])
        ['random', 'worst']
    """
    from tqdm.auto import tqdm

    config = config or WorstCaseClassificationConfig()
    bench = config.benchmark
    methods = [m for m in bench.methods if m in UNLEARNING_METHODS]
    runs: list[dict[str, Any]] = []
    selections: dict[str, dict[str, Any]] = {}
    cost: list[dict[str, float]] = []
    jobs = [(seed, kind) for seed in config.seeds for kind in config.set_kinds]
    bar = tqdm(total=len(jobs), desc="seed x forget set", disable=not progress)
    for seed in config.seeds:
        data = load_data(bench, seed)
        n_units = len(data.y_train) if config.unit == "example" else data.num_classes
        m = resolve_budget(config.selection.budget, n_units)  # a bad budget fails before any training
        original = train_original(bench, data, seed)
        problem = ClassificationSelectionProblem(
            original, data, unit=config.unit, method=config.lower_method, batch_size=config.lower_batch_size
        )
        original_loss = problem.example_losses(problem.new_lower_model())
        for kind in config.set_kinds:
            picked = _select(problem, config, kind, seed, m)
            rows = problem.rows(picked["units"])
            split = make_forget_split(
                data, "rows", rows=rows, forget_classes=picked["units"] if config.unit == "class" else None
            )
            set_loss = float(original_loss[split.forget].mean())
            for row in unlearn_and_score(bench, data, split, original, bench.learning_rates, seed, kind):
                runs.append({**row, "set_loss": set_loss})
            selections.setdefault(str(seed), {})[kind] = {
                **picked,
                "rows": rows,
                "class_histogram": _class_histogram(problem, picked["units"]),
            }
            if kind == "worst":
                ft = next(r for r in runs[::-1] if r["method"] == "FT") if "FT" in methods else None
                cost.append(
                    {
                        "seed": seed,
                        "selection_s": picked["seconds"],
                        "ft_s": ft["runtime_s"] if ft else None,
                        "retrain_s": next(r for r in runs[::-1] if r["method"] == "Retrain")["runtime_s"],
                    }
                )
            bar.update(1)
    bar.close()
    overlap: dict[str, Any] = {
        kind: mean_pairwise_jaccard([selections[str(s)][kind]["rows"] for s in config.seeds])
        for kind in config.set_kinds
    }
    if "worst" in config.set_kinds:
        if "lowest_loss" in config.set_kinds:
            overlap["worst_vs_lowest_loss"] = [
                jaccard(selections[str(s)]["worst"]["units"], selections[str(s)]["lowest_loss"]["units"])
                for s in config.seeds
            ]
        if config.selection.init == "random":
            overlap["worst_kept_from_init"] = [
                len(set(selections[str(s)]["worst"]["units"]) & set(selections[str(s)]["worst"]["initial"]))
                for s in config.seeds
            ]
    config_dict = asdict(config)
    return {
        "config": config_dict,
        "budget": m,
        "runs": runs,
        "selections": selections,
        "summary": _summarise(runs),
        "overlap": overlap,
        "cost": cost,
    }


def _summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    columns = (*METRIC_NAMES, "gap", "runtime_s", "set_loss")
    grouped: dict[str, dict[str, dict[str, list[float]]]] = {}
    for run in runs:
        cols = grouped.setdefault(run["method"], {}).setdefault(run["scenario"], {c: [] for c in columns})
        for c in columns:
            cols[c].append(run[c])
    return {
        m: {k: {c: mean_std(v) for c, v in cols.items()} for k, cols in kinds.items()} for m, kinds in grouped.items()
    }


_KIND_TITLES = {"worst": "worst-case", "random": "random", "lowest_loss": "lowest-loss", "easiest": "easiest"}


def format_worstcase_markdown(results: dict[str, Any]) -> str:
    """Markdown: per method, one row per forget-set kind (mean ± std over seeds), then overlap and cost."""
    cfg = results["config"]
    unit = cfg["unit"]
    sel = cfg["selection"]
    heading = (
        f"Budget {results['budget']} {unit}{'es' if unit == 'class' else 's'}, {len(cfg['seeds'])} seeds "
        f"(mean ± std); selection: lower level {cfg['lower_method']} x {sel['lower_steps']} "
        f"{sel['lower_optimizer']} steps (lr {sel['lower_lr']}), {sel['upper_steps']} upper steps, "
        f"w_lr {sel['w_lr']} ({sel['step_normalization']}), init {sel['init']}."
    )
    lines = [
        heading,
        "",
        "| Method | Forget set | UA | RA | TA | MIA-Efficacy | Avg. Gap ↓ | set loss (original) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, kinds in results["summary"].items():
        for kind, cols in kinds.items():
            cells = [f"{cols[c][0]:.2f} ± {cols[c][1]:.2f}" for c in (*METRIC_NAMES, "gap")]
            loss = f"{cols['set_loss'][0]:.4f}"
            lines.append(f"| {method} | {_KIND_TITLES[kind]} | " + " | ".join(cells) + f" | {loss} |")
    lines += ["", "Overlap (Jaccard of the selected rows; across seeds: mean over pairs):", ""]
    for key, value in results["overlap"].items():
        shown = f"{value:.3f}" if isinstance(value, float) else json.dumps(value if value is not None else "n/a")
        lines.append(f"- {key}: {shown}")
    if results["cost"]:
        lines += [
            "",
            "| seed | selection (s) | one FT run (s) | selection / FT | Retrain (s) |",
            "|---|---|---|---|---|",
        ]
        for c in results["cost"]:
            ratio = f"{c['selection_s'] / c['ft_s']:.1f}" if c["ft_s"] else "-"
            ft = f"{c['ft_s']:.2f}" if c["ft_s"] else "-"
            lines.append(f"| {c['seed']} | {c['selection_s']:.2f} | {ft} | {ratio} | {c['retrain_s']:.2f} |")
    lines += ["", "Class histograms of the selected sets (seed: kind: {class: count}):", ""]
    for seed, kinds in results["selections"].items():
        for kind, sel in kinds.items():
            lines.append(f"- seed {seed}, {_KIND_TITLES[kind]}: {sel['class_histogram']}")
    return "\n".join(lines) + "\n"


def plot_worstcase(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Two panels: the upper objective over iterations (one line per seed and mode), and the average gap to Retrain
    per method and forget-set kind (mean ± std over seeds)."""
    from ..plotting import pyplot

    plt = pyplot()

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for seed, kinds in results["selections"].items():
        for kind, sel in kinds.items():
            if sel["trace"]:
                its = [t["iteration"] for t in sel["trace"]]
                ax1.plot(its, [t["topm_loss"] for t in sel["trace"]], label=f"{_KIND_TITLES[kind]} seed {seed}")
    ax1.set_xlabel("upper iteration")
    ax1.set_ylabel("mean loss of current top-m after unlearning")
    ax1.set_yscale("symlog", linthresh=1e-6)  # the worst-case sets reach losses of exactly 0 in float32
    ax1.legend(fontsize=7)
    methods = [m for m in results["summary"] if m != "Retrain"]
    kinds = list(next(iter(results["summary"].values())))
    width = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        means = [results["summary"][m][kind]["gap"][0] for m in methods]
        stds = [results["summary"][m][kind]["gap"][1] for m in methods]
        xs = [i + j * width for i in range(len(methods))]
        ax2.bar(xs, means, width, yerr=stds, capsize=2, label=_KIND_TITLES[kind])
    ax2.set_xticks([i + 0.4 - width / 2 for i in range(len(methods))], methods, rotation=30)
    ax2.set_ylabel("Avg. Gap to Retrain")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
