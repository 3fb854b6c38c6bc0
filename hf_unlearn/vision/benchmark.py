# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The SalUn classification benchmark: every method against Retrain, over several seeds.

For each scenario (class-wise or random forgetting) and seed: split the data, train the original model, retrain on
the retain set (the reference), run each unlearning method from the original model, and score UA / RA / TA /
MIA-Efficacy, the average gap to Retrain and the runtime relative to Retrain (RTE). Learning rates are either given
or tuned once per scenario on separate tuning seeds (smallest mean average gap to Retrain over a small grid, the
protocol of the Unlearn-WorstCase maintainers), then kept fixed across the reported seeds.
"""

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .data import CIFAR10_HUB_ID, ClassificationData, ForgetSplit, load_cifar10, load_digits_data, make_forget_split
from .methods import UNLEARNING_METHODS, retrain, train_classifier
from .metrics import METRIC_NAMES, average_gap, evaluate_unlearning
from .models import SmallCNN


__all__ = [
    "ClassificationUnlearningConfig",
    "format_markdown",
    "load_data",
    "plot_results",
    "run_classification_benchmark",
    "save_results",
    "train_original",
    "unlearn_and_score",
]

DEFAULT_LEARNING_RATES = {"FT": 0.03, "GA": 1e-3, "RL": 0.01, "SalUn": 0.01, "l1-sparse": 0.03}
DEFAULT_LR_GRID = {
    "FT": [0.01, 0.03, 0.1],
    "GA": [3e-3, 1e-2, 3e-2, 5e-2, 0.1],
    "RL": [1e-3, 3e-3, 0.01, 0.03],
    "SalUn": [1e-3, 3e-3, 0.01, 0.03],
    "l1-sparse": [0.01, 0.03, 0.1],
}


@dataclass
class ClassificationUnlearningConfig:
    """Settings of [`run_classification_benchmark`].

    Parameters:
        dataset (`str`, *optional*, defaults to `"digits"`):
            `"digits"` (scikit-learn's bundled 8x8 digits) or `"cifar10"` (through `datasets`, see `data_source`).
        data_source (`str`, *optional*, defaults to `"uoft-cs/cifar10"`): CIFAR-10's Hub dataset id or a local copy
            (see [`~hf_unlearn.vision.load_cifar10`]); unused for digits.
        train_fraction (`float`, *optional*, defaults to `1.0`):
            Fraction of the (non-test) digits used for training; smaller values make random forgetting measurable.
        scenarios (`list[str]`, *optional*, defaults to `["class", "random"]`):
            Forgetting scenarios: `"class"`, `"random"`, or `"rows"` (the given `forget_rows`, e.g. a worst-case
            selection file).
        forget_fraction (`float`, *optional*, defaults to `0.1`): Forget fraction of random forgetting.
        forget_class (`int`, *optional*, defaults to `0`): Class forgotten in class-wise forgetting.
        seeds (`list[int]`, *optional*, defaults to `[0, 1, 2]`): Seeds (data split, forget set, training).
        methods (`list[str]`, *optional*, defaults to all): Among `FT`, `GA`, `RL`, `SalUn`, `l1-sparse`.
        train_epochs (`int`, *optional*, defaults to `40`): Epochs of the original model and of Retrain.
        train_lr (`float`, *optional*, defaults to `0.05`): Peak learning rate of the original model and Retrain.
        unlearn_epochs (`int`, *optional*, defaults to `10`): Epochs of FT, RL, SalUn and l1-sparse.
        ga_epochs (`int`, *optional*, defaults to `5`): Epochs of GA.
        batch_size (`int`, *optional*, defaults to `64`): Batch size everywhere.
        width (`int`, *optional*, defaults to `16`): Width of the [`SmallCNN`].
        sparsity (`float`, *optional*, defaults to `0.5`): Fraction of weights SalUn may update.
        l1_alpha (`float`, *optional*, defaults to `5e-4`): Initial ℓ1 weight of l1-sparse.
        learning_rates (`dict[str, float]`, *optional*): Learning rate per method when not tuning.
        tune (`bool`, *optional*, defaults to `False`): Tune each method's learning rate over `lr_grid` per scenario.
        lr_grid (`dict[str, list[float]]`, *optional*): Grid per method for tuning.
        tune_seeds (`list[int]`, *optional*, defaults to `[100, 101, 102]`):
            Seeds used only for tuning (not reported); the grid value with the smallest mean gap over them wins, ties
            going to the larger learning rate (the stronger unlearning among equally good ones).
        forget_rows (`list[int]`, *optional*): Rows of the full data set to forget in the `"rows"` scenario.
        forget_classes (`list[int]`, *optional*): Classes of a class-wise `"rows"` selection (left out of TA).
        data_seed (`int`, *optional*): Seed of the train/test split for every run (default: each run's seed). A
            `"rows"` forget set needs the split it was selected on.
    """

    dataset: str = "digits"
    data_source: str = CIFAR10_HUB_ID
    train_fraction: float = 1.0
    scenarios: list[str] = field(default_factory=lambda: ["class", "random"])
    forget_fraction: float = 0.1
    forget_class: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    methods: list[str] = field(default_factory=lambda: list(UNLEARNING_METHODS))
    train_epochs: int = 40
    train_lr: float = 0.05
    unlearn_epochs: int = 10
    ga_epochs: int = 5
    batch_size: int = 64
    width: int = 16
    sparsity: float = 0.5
    l1_alpha: float = 5e-4
    learning_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LEARNING_RATES))
    tune: bool = False
    lr_grid: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_LR_GRID.items()})
    tune_seeds: list[int] = field(default_factory=lambda: [100, 101, 102])
    forget_rows: list[int] | None = None
    forget_classes: list[int] | None = None
    data_seed: int | None = None

    def __post_init__(self):
        if self.dataset not in ("digits", "cifar10"):
            raise ValueError(f"`dataset` must be 'digits' or 'cifar10', got {self.dataset!r}.")
        if self.dataset == "cifar10" and not (isinstance(self.data_source, str) and self.data_source):
            raise ValueError(
                f"`data_source` must name CIFAR-10's Hub id ({CIFAR10_HUB_ID!r}) or a local copy, got {self.data_source!r}."
            )
        for scenario in self.scenarios:
            if scenario not in ("class", "random", "rows"):
                raise ValueError(f"`scenarios` entries must be 'class', 'random' or 'rows', got {scenario!r}.")
        if ("rows" in self.scenarios) != (self.forget_rows is not None):
            raise ValueError("The 'rows' scenario and `forget_rows` go together: pass both (or neither).")
        unknown = [m for m in self.methods if m not in UNLEARNING_METHODS]
        if unknown:
            raise ValueError(f"Unknown methods {unknown}; choose among {list(UNLEARNING_METHODS)}.")
        if not self.seeds:
            raise ValueError("`seeds` must list at least one seed.")
        if self.tune and not self.tune_seeds:
            raise ValueError("`tune_seeds` must list at least one seed when `tune=True`.")
        missing = [m for m in self.methods if m not in (self.lr_grid if self.tune else self.learning_rates)]
        if missing:
            raise ValueError(f"No learning rate (or grid when tuning) for methods {missing}.")
        if not 0.0 < self.sparsity <= 1.0:
            raise ValueError(f"`sparsity` must be in (0, 1], got {self.sparsity}.")


def load_data(config: ClassificationUnlearningConfig, seed: int) -> ClassificationData:
    """The data of one run: digits split with `config.data_seed` (or `seed`), or CIFAR-10."""
    if config.dataset == "digits":
        split_seed = seed if config.data_seed is None else config.data_seed
        return load_digits_data(seed=split_seed, train_fraction=config.train_fraction)
    return load_cifar10(config.data_source)


def _factory(config: ClassificationUnlearningConfig, data: ClassificationData):
    channels, size, _ = data.input_shape
    return lambda: SmallCNN(in_channels=channels, num_classes=data.num_classes, width=config.width, image_size=size)


def _method_kwargs(config: ClassificationUnlearningConfig, method: str, lr: float, seed: int) -> dict[str, Any]:
    kwargs = {"lr": lr, "batch_size": config.batch_size, "seed": seed}
    kwargs["epochs"] = config.ga_epochs if method == "GA" else config.unlearn_epochs
    if method == "SalUn":
        kwargs["sparsity"] = config.sparsity
    if method == "l1-sparse":
        kwargs["l1_alpha"] = config.l1_alpha
    return kwargs


def train_original(config: ClassificationUnlearningConfig, data: ClassificationData, seed: int) -> torch.nn.Module:
    """The original model of one run: a [`SmallCNN`] trained on the whole training set (seeded by `seed`)."""
    torch.manual_seed(seed)
    return train_classifier(
        _factory(config, data)(),
        data.x_train,
        data.y_train,
        config.train_epochs,
        config.train_lr,
        config.batch_size,
        seed=seed,
    )


def _prepare(config: ClassificationUnlearningConfig, scenario: str, seed: int):
    data = load_data(config, seed)
    split: ForgetSplit = make_forget_split(
        data,
        scenario,
        fraction=config.forget_fraction,
        forget_class=config.forget_class,
        seed=seed,
        rows=config.forget_rows,
        forget_classes=config.forget_classes,
    )
    original = train_original(config, data, seed)
    return data, split, original


def _tune(config: ClassificationUnlearningConfig, scenario: str) -> tuple[dict[str, float], dict[str, dict]]:
    gaps: dict[str, dict[float, list[float]]] = {m: {lr: [] for lr in config.lr_grid[m]} for m in config.methods}
    for seed in config.tune_seeds:
        data, split, original = _prepare(config, scenario, seed)
        gold = retrain(
            _factory(config, data), data, split, config.train_epochs, config.train_lr, config.batch_size, seed
        )
        reference = evaluate_unlearning(gold, data, split)
        for method in config.methods:
            for lr in config.lr_grid[method]:
                torch.manual_seed(seed)
                model = UNLEARNING_METHODS[method](original, data, split, **_method_kwargs(config, method, lr, seed))
                try:
                    gaps[method][lr].append(average_gap(evaluate_unlearning(model, data, split), reference))
                except ValueError:  # diverged at this learning rate
                    gaps[method][lr].append(math.inf)
    chosen, table = {}, {}
    for method, per_lr in gaps.items():
        mean = {lr: sum(v) / len(v) for lr, v in per_lr.items()}
        if all(math.isinf(g) for g in mean.values()):
            raise ValueError(f"{method} diverged at every learning rate of its grid {config.lr_grid[method]}.")
        chosen[method] = min(mean, key=lambda lr: (round(mean[lr], 9), -lr))
        # numbers only (trackers and plots cannot read formatted strings); a diverged grid value has gap None
        table[method] = [
            {"learning_rate": lr, "gap": g if math.isfinite(g) else None, "diverged": not math.isfinite(g)}
            for lr, g in mean.items()
        ]
    return chosen, table


def run_classification_benchmark(
    config: ClassificationUnlearningConfig | None = None, progress: bool = True
) -> dict[str, Any]:
    """Runs Original, Retrain and every unlearning method over the scenarios and seeds.

    Args:
        config ([`ClassificationUnlearningConfig`], *optional*): The settings (defaults: digits, 3 seeds).
        progress (`bool`, *optional*, defaults to `True`): Show a tqdm progress bar.

    Returns:
        `dict`: `config`, `learning_rates` (per scenario and method), `tuning` (grid gaps, when tuned), `runs` (one
        row per scenario, seed and method with UA/RA/TA/MIA, `gap`, `runtime_s`, `rte`) and `summary` (mean and std
        per scenario, method and column).

    Example:
        >>> config = ClassificationUnlearningConfig(
        ...     scenarios=["class"], seeds=[0], methods=["SalUn"], train_epochs=2, unlearn_epochs=1, width=4
        ... )
        >>> results = run_classification_benchmark(config, progress=False)
        >>> sorted(results["summary"]["class"])
        ['Original', 'Retrain', 'SalUn']
    """
    from tqdm.auto import tqdm

    config = config or ClassificationUnlearningConfig()
    learning_rates, tuning = {}, {}
    for scenario in config.scenarios:
        if config.tune:
            learning_rates[scenario], tuning[scenario] = _tune(config, scenario)
        else:
            learning_rates[scenario] = {m: config.learning_rates[m] for m in config.methods}

    runs = []
    jobs = [(scenario, seed) for scenario in config.scenarios for seed in config.seeds]
    for scenario, seed in tqdm(jobs, desc="scenario x seed", disable=not progress):
        data, split, original = _prepare(config, scenario, seed)
        runs += unlearn_and_score(config, data, split, original, learning_rates[scenario], seed, scenario)
    results = {
        "config": asdict(config),
        "learning_rates": learning_rates,
        "tuning": tuning,
        "runs": runs,
        "summary": _summarise(runs),
    }
    results["scalars"] = summary_scalars(results)
    return results


def unlearn_and_score(
    config: ClassificationUnlearningConfig,
    data: ClassificationData,
    split: ForgetSplit,
    original: torch.nn.Module,
    learning_rates: dict[str, float],
    seed: int,
    scenario: str,
) -> list[dict[str, Any]]:
    """Retrain, Original and every method of `config` on one forget split, scored against Retrain.

    Args:
        config ([`ClassificationUnlearningConfig`]): Methods and recipes.
        data ([`ClassificationData`]): The data.
        split ([`ForgetSplit`]): The forget split.
        original (`torch.nn.Module`): The original model (see [`train_original`]); it is not modified.
        learning_rates (`dict[str, float]`): Learning rate per method.
        seed (`int`): Seed of Retrain and of each method.
        scenario (`str`): Label written in each row.

    Returns:
        `list[dict]`: One row per model: `scenario`, `seed`, `method`, UA/RA/TA/MIA, `gap`, `runtime_s`, `rte`.
    """
    start = time.perf_counter()
    gold = retrain(_factory(config, data), data, split, config.train_epochs, config.train_lr, config.batch_size, seed)
    retrain_time = time.perf_counter() - start
    reference = evaluate_unlearning(gold, data, split)
    base = {"scenario": scenario, "seed": seed}
    runs = [{**base, "method": "Retrain", **reference, "gap": 0.0, "runtime_s": retrain_time, "rte": 1.0}]
    metrics = evaluate_unlearning(original, data, split)
    gap = average_gap(metrics, reference)
    runs.append({**base, "method": "Original", **metrics, "gap": gap, "runtime_s": 0.0, "rte": 0.0})
    for method in config.methods:
        torch.manual_seed(seed)
        start = time.perf_counter()
        kwargs = _method_kwargs(config, method, learning_rates[method], seed)
        model = UNLEARNING_METHODS[method](original, data, split, **kwargs)
        runtime = time.perf_counter() - start
        metrics = evaluate_unlearning(model, data, split)
        gap = average_gap(metrics, reference)
        runs.append(
            {**base, "method": method, **metrics, "gap": gap, "runtime_s": runtime, "rte": runtime / retrain_time}
        )
    return runs


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def _summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    summary: dict[str, dict[str, dict[str, list[float]]]] = {}
    columns = (*METRIC_NAMES, "gap", "rte", "runtime_s")
    for run in runs:
        summary.setdefault(run["scenario"], {}).setdefault(run["method"], {c: [] for c in columns})
        for c in columns:
            summary[run["scenario"]][run["method"]][c].append(run[c])
    return {
        s: {m: {c: list(_mean_std(v)) for c, v in cols.items()} for m, cols in methods.items()}
        for s, methods in summary.items()
    }


_SCENARIO_TITLES = {"class": "Class-wise forgetting", "random": "Random forgetting", "rows": "Given forget set"}


def format_markdown(results: dict[str, Any]) -> str:
    """Markdown tables (one per scenario): mean ± std over seeds of UA, RA, TA, MIA-Efficacy, Avg. Gap and RTE."""
    config = results["config"]
    lines = []
    for scenario, methods in results["summary"].items():
        title = _SCENARIO_TITLES[scenario]
        if scenario == "random":
            title += f" ({100 * config['forget_fraction']:.0f}%)"
        elif scenario == "class":
            title += f" (class {config['forget_class']})"
        else:
            title += f" ({len(config['forget_rows'])} rows)"
        heading = f"### {title}: {config['dataset']}, train fraction {config['train_fraction']}, "
        heading += f"{len(config['seeds'])} seeds (mean ± std)"
        lines += [
            heading,
            "",
            "| Method | lr | UA | RA | TA | MIA-Efficacy | Avg. Gap ↓ | RTE (× Retrain) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lrs = results["learning_rates"].get(scenario, {})
        for method, cols in methods.items():
            cells = [f"{cols[c][0]:.2f} ± {cols[c][1]:.2f}" for c in (*METRIC_NAMES, "gap")]
            rte = "-" if method == "Original" else f"{cols['rte'][0]:.3f}"
            lr = f"{lrs[method]:g}" if method in lrs else "-"
            lines.append(f"| {method} | {lr} | " + " | ".join(cells) + f" | {rte} |")
        lines.append("")
    return "\n".join(lines)


def summary_scalars(results: dict[str, Any]) -> dict[str, float]:
    """The summary as flat `{"<scenario>/<method>/<metric>_mean" or "_std": float}` scalars, for trackers.

    TensorBoard, W&B and similar plot scalars only: log these (e.g. `writer.add_scalar(k, v)` for each item).

    Example:
        >>> results = {"summary": {"class": {"SalUn": {"gap": [0.14, 0.13]}}}}
        >>> summary_scalars(results)
        {'class/SalUn/gap_mean': 0.14, 'class/SalUn/gap_std': 0.13}
    """
    return {
        f"{scenario}/{method}/{metric}_{stat}": float(value)
        for scenario, methods in results["summary"].items()
        for method, metrics in methods.items()
        for metric, (mean, std) in metrics.items()
        for stat, value in (("mean", mean), ("std", std))
    }


def plot_results(results: dict[str, Any], path: str | os.PathLike) -> dict[str, dict[str, tuple[float, float]]]:
    """Bar chart of the average gap to Retrain per method and scenario: mean over seeds, each seed as a dot, and a
    ± std bar clipped at 0 (a gap is never negative).

    Returns:
        `dict`: `{scenario: {method: (lower end, upper end)}}` of the drawn error bars.
    """
    from ..plotting import pyplot

    plt = pyplot()

    scenarios = list(results["summary"])
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5 * len(scenarios), 3.5), squeeze=False)
    drawn: dict[str, dict[str, tuple[float, float]]] = {}
    for ax, scenario in zip(axes[0], scenarios):
        methods = [m for m in results["summary"][scenario] if m != "Retrain"]
        means = [results["summary"][scenario][m]["gap"][0] for m in methods]
        stds = [results["summary"][scenario][m]["gap"][1] for m in methods]
        below = [min(std, mean) for mean, std in zip(means, stds)]  # the bar stops at 0
        colors = ["tab:red" if m == "SalUn" else "tab:gray" if m == "Original" else "tab:blue" for m in methods]
        ax.bar(methods, means, yerr=[below, stds], color=colors, capsize=3)
        for i, method in enumerate(methods):
            seeds = [r["gap"] for r in results.get("runs", []) if r["scenario"] == scenario and r["method"] == method]
            ax.plot([i] * len(seeds), seeds, "k.", markersize=4)
        drawn[scenario] = {m: (mean - lo, mean + hi) for m, mean, lo, hi in zip(methods, means, below, stds)}
        ax.set_ylim(bottom=0)
        ax.set_title(_SCENARIO_TITLES[scenario])
        ax.set_ylabel("Avg. Gap to Retrain (lower is better)")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return drawn


def save_results(results: dict[str, Any], output_dir: str | os.PathLike) -> dict[str, str]:
    """Writes `results.json`, `results.md` and `gap.png` into a new or empty `output_dir`; returns their paths."""
    output_dir = os.fspath(output_dir)
    paths = {
        k: os.path.join(output_dir, f)
        for k, f in (("json", "results.json"), ("md", "results.md"), ("plot", "gap.png"))
    }
    existing = [p for p in paths.values() if os.path.exists(p)]
    if existing:
        raise FileExistsError(
            f"{existing[0]} already exists; choose a new `output_dir` (results are never overwritten)."
        )
    os.makedirs(output_dir, exist_ok=True)
    with open(paths["json"], "w") as f:
        json.dump(results, f, indent=2)
    with open(paths["md"], "w") as f:
        f.write(format_markdown(results))
    plot_results(results, paths["plot"])
    return paths
