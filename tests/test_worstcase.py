"""Worst-case forget sets: the projection and rounding (against independent solutions), the upper step (by hand),
the bi-level loop on a toy with a known answer, baselines, selection files and their bad inputs, the digits plug-in
(full-data rows), the selection file round trip into the examples, and per-author-set retain models on mini-TOFU."""

import itertools
import json
import os
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hf_unlearn.worstcase import (
    WorstCaseConfig,
    group_histogram,
    jaccard,
    load_selection,
    lowest_loss_units,
    mean_pairwise_jaccard,
    project_budget,
    random_units,
    resolve_budget,
    save_selection,
    select_forget_set,
    sign_sgd_step,
    top_m,
    top_m_mask,
    upper_step,
)
from hf_unlearn.worstcase.selection import ToyRegressionProblem


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str) -> SimpleNamespace:
    # the script's own functions, loaded from its file as a user runs it (examples are not importable modules)
    return SimpleNamespace(**runpy.run_path(str(EXAMPLES / name)))


def _exact_projection(v: list[float], m: float) -> list[float]:
    """Projection onto {0 <= w <= 1, sum w = m} from the breakpoints of s(tau) = sum clip(v - tau, 0, 1): s is
    piecewise linear and non-increasing, with kinks at v_i and v_i - 1, so tau is found by linear interpolation on
    the segment where s crosses m (no bisection)."""

    def s(tau):
        return sum(min(max(x - tau, 0.0), 1.0) for x in v)

    kinks = sorted(set(v) | {x - 1.0 for x in v})
    for lo, hi in itertools.pairwise(kinks):
        s_lo, s_hi = s(lo), s(hi)
        if s_hi <= m <= s_lo:
            tau = lo if s_lo == s_hi else lo + (s_lo - m) * (hi - lo) / (s_lo - s_hi)
            return [min(max(x - tau, 0.0), 1.0) for x in v]
    raise AssertionError("no segment found")


# ----------------------------------------------------------------------------------------------------------------
# projection and rounding
# ----------------------------------------------------------------------------------------------------------------


def test_projection_by_hand():
    w = project_budget(torch.tensor([0.9, 0.5, -0.2, 2.0], dtype=torch.float64), 2)  # tau = 0.2
    assert w.tolist() == pytest.approx([0.7, 0.3, 0.0, 1.0], abs=1e-10)


@pytest.mark.parametrize("m", [0.5, 1.0, 2.0, 3.7, 6.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_sum_bounds_idempotent_and_exact(m, seed):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(7, generator=g, dtype=torch.float64) * 2
    w = project_budget(v, m)
    assert float(w.sum()) == pytest.approx(m, abs=1e-9)
    assert float(w.min()) >= 0.0 and float(w.max()) <= 1.0
    assert project_budget(w, m).tolist() == pytest.approx(w.tolist(), abs=1e-9)  # idempotent
    assert w.tolist() == pytest.approx(_exact_projection(v.tolist(), m), abs=1e-9)


def test_projection_is_the_nearest_feasible_point():
    # against a general-purpose constrained optimiser (independent of both implementations above)
    from scipy.optimize import minimize

    v = torch.tensor([0.3, 1.7, -0.4, 0.8, 0.1], dtype=torch.float64)
    m = 2.0
    res = minimize(
        lambda w: float(((w - v.numpy()) ** 2).sum()),
        x0=[m / 5] * 5,
        bounds=[(0, 1)] * 5,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - m}],
        method="SLSQP",
        options={"ftol": 1e-12},
    )
    assert project_budget(v, m).tolist() == pytest.approx(res.x.tolist(), abs=1e-5)


@pytest.mark.parametrize(("v", "m"), [([0.9, 0.2, -0.3], 1.3), ([2.0, 1.5, 0.4], 2.2), ([0.1, 0.1, 0.7], 0.5)])
def test_projection_equals_a_brute_force_grid_search(v, m):
    # every feasible point on a 0.005 lattice of {0 <= w <= 1, sum w = m} in 3-D, the nearest to v by enumeration
    step = 0.005
    grid = [i * step for i in range(int(1 / step) + 1)]
    best = min(
        ((a, b, m - a - b) for a in grid for b in grid if 0.0 <= m - a - b <= 1.0),
        key=lambda w: sum((wi - vi) ** 2 for wi, vi in zip(w, v)),
    )
    assert project_budget(torch.tensor(v, dtype=torch.float64), m).tolist() == pytest.approx(list(best), abs=step)


def test_top_m_rounding_is_the_nearest_binary_point_and_ties_go_to_lower_index():
    w = torch.tensor([0.31, 0.9, 0.05, 0.62, 0.47, 0.2], dtype=torch.float64)
    for m in (1, 2, 3, 5):
        best = min(
            itertools.combinations(range(6), m),
            key=lambda c: sum((w[i] - (1.0 if i in c else 0.0)) ** 2 for i in range(6)),
        )
        assert sorted(top_m(w, m).tolist()) == sorted(best)
        assert top_m_mask(w, m).tolist() == [1.0 if i in best else 0.0 for i in range(6)]
    assert top_m(torch.tensor([0.5, 1.0, 0.5, 0.5]), 2).tolist() == [1, 0]


def test_resolve_budget_and_bad_budgets():
    assert resolve_budget(0.1, 1437) == 144 and resolve_budget(4, 40) == 4 and resolve_budget(4.0, 40) == 4
    with pytest.raises(ValueError, match="not smaller than the 10 units"):
        resolve_budget(10, 10)
    with pytest.raises(ValueError, match="not smaller"):
        resolve_budget(25, 10)
    with pytest.raises(ValueError, match="positive"):
        resolve_budget(0, 10)
    with pytest.raises(ValueError, match="positive"):
        resolve_budget(-3, 10)
    with pytest.raises(ValueError, match="fraction in"):
        resolve_budget(1.5, 10)
    with pytest.raises(TypeError, match="budget"):
        resolve_budget(True, 10)


# ----------------------------------------------------------------------------------------------------------------
# upper step, lower step, the loop
# ----------------------------------------------------------------------------------------------------------------


def test_upper_step_mad_by_hand():
    # losses [1,2,3,4,10]: median 3, MAD 1 -> eta = 0.1; v = 0.2 - 0.1*l = [.1,0,-.1,-.2,-.8]; tau = -0.3
    w, eta = upper_step(torch.full((5,), 0.2), torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0]), budget=1, w_lr=0.1)
    assert eta == pytest.approx(0.1)
    assert w.tolist() == pytest.approx([0.4, 0.3, 0.2, 0.1, 0.0], abs=1e-9)


def test_upper_step_budget_normalisation_by_hand():
    # ||g - mean g||_1 = 12 -> eta = 2*0.1*1/12; the rising entries gain 0.1 = w_lr * m in total
    w, eta = upper_step(
        torch.full((5,), 0.2), torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0]), 1, 0.1, step_normalization="budget"
    )
    assert eta == pytest.approx(1 / 60)
    assert w.tolist() == pytest.approx([0.25, 0.7 / 3, 0.65 / 3, 0.2, 0.1], abs=1e-9)


def test_upper_step_easiest_with_gamma_raw_step_by_hand():
    # direction = -(l - 2*gamma*w) = [-0.75, -2.75]; v = w - 0.1*direction = [0.575, 0.775]; tau = 0.175
    w, eta = upper_step(
        torch.tensor([0.5, 0.5]), torch.tensor([1.0, 3.0]), 1, 0.1, gamma=0.25, mode="easiest",
        step_normalization="none",
    )  # fmt: skip
    assert eta == 0.1
    assert w.tolist() == pytest.approx([0.4, 0.6], abs=1e-9)


def test_upper_step_rejects_non_finite_losses():
    with pytest.raises(ValueError, match="diverged"):
        upper_step(torch.tensor([0.5, 0.5]), torch.tensor([1.0, float("nan")]), 1, 0.1)


def test_sign_sgd_step_ignores_gradient_magnitude():
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0, 1.0]))
    p.grad = torch.tensor([1e-6, -50.0, 0.0])
    sign_sgd_step([p], 0.25)
    assert p.detach().tolist() == [0.75, 1.25, 1.0]


@pytest.mark.parametrize("lower_optimizer", ["sign_sgd", "native"])
def test_selection_on_a_toy_with_a_known_answer(lower_optimizer):
    # unit losses keep the order of `scale`: hardest = the 2 smallest scales, easiest = the 2 largest
    scale = torch.tensor([0.5, 2.0, 0.2, 3.0, 0.05, 1.0])
    problem = ToyRegressionProblem(scale)
    cfg = WorstCaseConfig(budget=2, upper_steps=6, lower_steps=2, lower_lr=1e-2, lower_optimizer=lower_optimizer)
    hard = select_forget_set(problem, cfg, progress=False)
    assert sorted(hard.selected) == [2, 4] and hard.budget == 2
    assert len(hard.trace) == 6 and sum(hard.weights) == pytest.approx(2.0)
    assert hard.unit_losses_original == pytest.approx(scale.tolist())  # theta = 0: loss = scale
    easy = select_forget_set(problem, WorstCaseConfig(**{**cfg.__dict__, "mode": "easiest"}), progress=False)
    assert sorted(easy.selected) == [1, 3]


def test_binarize_and_random_init():
    problem = ToyRegressionProblem(torch.tensor([0.5, 2.0, 0.2, 3.0, 0.05, 1.0]))
    cfg = WorstCaseConfig(budget=0.5, upper_steps=4, lower_steps=1, binarize_every=2, init="random", seed=3)
    result = select_forget_set(problem, cfg, progress=False)
    assert result.budget == 3 and len(result.initial_selected) == 3
    assert sorted(result.weights) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]  # snapped at the last iteration


def test_config_and_problem_errors():
    for bad in ({"mode": "worst"}, {"upper_steps": 0}, {"lower_lr": -1.0}, {"init": "zeros"}, {"budget": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            WorstCaseConfig(**bad)

    class WrongShape(ToyRegressionProblem):
        def unit_losses(self, model):
            return torch.zeros(2)

    with pytest.raises(ValueError, match="unit_losses returned shape"):
        select_forget_set(WrongShape(torch.ones(4)), WorstCaseConfig(budget=1), progress=False)
    with pytest.raises(ValueError, match="not smaller"):
        select_forget_set(ToyRegressionProblem(torch.ones(4)), WorstCaseConfig(budget=4), progress=False)


# ----------------------------------------------------------------------------------------------------------------
# baselines and files
# ----------------------------------------------------------------------------------------------------------------


def test_baselines():
    assert lowest_loss_units(torch.tensor([0.3, 0.1, 0.9, 0.2]), 2) == [1, 3]
    r = random_units(50, 5, seed=7)
    assert r == random_units(50, 5, seed=7) and len(set(r)) == 5 and r != random_units(50, 5, seed=8)
    assert jaccard([1, 2, 3], [2, 3, 4]) == 0.5
    assert mean_pairwise_jaccard([[1, 2], [1, 2], [3, 4]]) == pytest.approx(1 / 3)
    assert mean_pairwise_jaccard([[1]]) is None
    assert group_histogram([0, 1, 3], ["b", "a", "b", "b"]) == {"a": 1, "b": 2}


def test_selection_file_round_trip_and_bad_files(tmp_path):
    record = {"world": "digits", "unit": "example", "indices": [9, 2, 5], "n_rows": 10, "trace": []}
    path = save_selection(tmp_path / "s" / "selection.json", record)
    assert load_selection(tmp_path / "s", n_rows=10)["indices"] == [2, 5, 9]  # a folder means its selection.json
    with pytest.raises(FileExistsError):
        save_selection(path, record)
    with pytest.raises(ValueError, match="made for a data set of 10 rows"):
        load_selection(path, n_rows=11)

    def bad(content, match, n_rows=10):
        p = tmp_path / f"bad{len(os.listdir(tmp_path))}.json"
        p.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises((ValueError, TypeError), match=match):
            load_selection(p, n_rows=n_rows)

    bad({"indices": [1, 2, 2, 3]}, r"duplicate indices \[2\]")
    bad({"indices": [1, 10]}, r"outside the data set's rows \[0, 10\)")
    bad({"indices": [-1, 3]}, "outside")
    bad({"indices": []}, "non-empty list")
    bad({"indices": [1, "2"]}, "integers")
    bad({"rows": [1]}, "no `indices`")
    bad({"indices": list(range(10))}, "nothing would be retained")
    bad([1, 2], "JSON object")
    bad("{not json", "not valid JSON")
    with pytest.raises(ValueError, match="does not exist"):
        load_selection(tmp_path / "missing.json")


# ----------------------------------------------------------------------------------------------------------------
# classification (digits)
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("train_fraction", [1.0, 0.5])
def test_digits_train_rows_are_rows_of_load_digits(train_fraction):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from hf_unlearn.vision import load_digits_data

    raw = load_digits()
    data = load_digits_data(seed=3, train_fraction=train_fraction)
    rows = data.train_rows.numpy()
    assert len(set(rows.tolist())) == len(rows) and data.n_rows == 1797
    assert torch.equal(data.x_train.squeeze(1), torch.from_numpy(raw.images[rows] / 16.0).float())
    assert data.y_train.tolist() == raw.target[rows].tolist()
    # the split itself is the one made without the row array (existing results stay comparable)
    _, x_te, _, _ = train_test_split(raw.images, raw.target, test_size=0.2, stratify=raw.target, random_state=3)
    assert torch.equal(data.x_test.squeeze(1), torch.from_numpy(x_te / 16.0).float())
    test_row = min(set(range(1797)) - set(rows.tolist()))
    with pytest.raises(ValueError, match="not training examples of this train/test split"):
        data.train_positions([int(rows[0]), test_row])


def test_classification_problem_losses_and_weighted_lower_levels():
    from hf_unlearn.vision import ClassificationUnlearningConfig
    from hf_unlearn.vision.benchmark import load_data, train_original
    from hf_unlearn.worstcase.vision import ClassificationSelectionProblem

    base = ClassificationUnlearningConfig(train_epochs=1, width=4)
    data = load_data(base, seed=0)
    model = train_original(base, data, seed=0)
    per_class = ClassificationSelectionProblem(model, data, unit="class")
    ce = per_class.example_losses(model)
    for c in (0, 7):  # the class loss is the mean CE of its training examples
        expected = sum(ce[i].item() for i in range(len(ce)) if data.y_train[i] == c) / int((data.y_train == c).sum())
        assert per_class.unit_losses(model)[c].item() == pytest.approx(expected, rel=1e-5)
    assert per_class.rows([3]) == sorted(data.train_rows[data.y_train == 3].tolist())
    g = torch.Generator()
    ones, zeros = torch.ones(10), torch.zeros(10)
    assert ClassificationSelectionProblem(model, data, unit="class", method="FT").lower_loss(model, ones, 0, g) == 0
    assert ClassificationSelectionProblem(model, data, unit="class", method="GA").lower_loss(model, zeros, 0, g) == 0
    ga = ClassificationSelectionProblem(model, data, unit="class", method="GA").lower_loss(model, ones, 0, g)
    assert ga.item() == pytest.approx(-ce.mean().item(), rel=1e-5)  # all weights 1: plain gradient ascent


def test_digits_selection_file_round_trips_into_salun_classification(tmp_path, capsys):
    worstcase = _example("worstcase_forget_set.py")
    fast = ["--train_epochs", "2", "--width", "4", "--upper_steps", "2", "--lower_steps", "2"]
    record = worstcase.main(
        worstcase.parse_args(
            ["--world", "digits", "--budget", "0.1", "--seed", "1", "--output_dir", str(tmp_path / "sel"), *fast]
        )
    )
    selection = json.loads((tmp_path / "sel" / "selection.json").read_text())
    assert (tmp_path / "sel" / "objective.png").stat().st_size > 1000
    assert selection["indices"] == sorted(record["indices"]) and len(selection["indices"]) == 144
    assert selection["n_rows"] == 1797 and selection["settings"]["data_seed"] == 1
    assert sum(selection["class_histogram"].values()) == 144 and len(selection["trace"]) == 2

    salun = _example("salun_classification.py")
    args = salun.parse_args(
        [
            "--output_dir",
            str(tmp_path / "run"),
            "--forget_set",
            str(tmp_path / "sel" / "selection.json"),
            "--seeds",
            "0",
        ]
        + ["--methods", "FT", "--train_epochs", "2", "--unlearn_epochs", "1", "--width", "4"]
    )
    results = salun.main(args)
    assert results["config"]["forget_rows"] == selection["indices"] and results["config"]["data_seed"] == 1
    assert list(results["summary"]) == ["rows"]
    # the forget set used is exactly the selected rows of load_digits() (UA is measured on them)
    from hf_unlearn.vision import load_digits_data, make_forget_split

    split = make_forget_split(load_digits_data(seed=1), "rows", rows=selection["indices"])
    assert int(split.forget.sum()) == 144

    for bad_rows, match in (([0, 0, 5], "duplicate"), ([5, 4000], "outside"), (None, "not training examples")):
        if bad_rows is None:  # a row of the test split of seed 1
            data = load_digits_data(seed=1)
            bad_rows = [min(set(range(1797)) - set(data.train_rows.tolist()))]
        path = tmp_path / f"bad_{match.split()[0]}.json"
        path.write_text(json.dumps({**selection, "indices": bad_rows}))
        args = salun.parse_args(["--output_dir", str(tmp_path / f"x_{match.split()[0]}"), "--forget_set", str(path)])
        with pytest.raises(ValueError, match=match):
            salun.main(args)
        assert not (tmp_path / f"x_{match.split()[0]}").exists()  # refused before any training or writing


# ----------------------------------------------------------------------------------------------------------------
# CIFAR-10 through `datasets` (a local copy in the Hub's exact format; the Hub id is the same code path)
# ----------------------------------------------------------------------------------------------------------------


def test_cifar10_loads_through_datasets_in_the_hub_format(cifar10_hub_copy):
    import io

    import numpy as np
    import pyarrow.parquet as pq
    from PIL import Image

    from hf_unlearn.vision import load_cifar10

    data = load_cifar10(str(cifar10_hub_copy))
    assert data.x_train.shape == (100, 3, 32, 32) and data.x_test.shape == (40, 3, 32, 32)
    assert data.num_classes == 10 and data.n_rows == 100 and data.name == "cifar10"
    # independently: decode row 7 of the train parquet with PIL, normalise with the CIFAR-10 channel statistics
    table = pq.read_table(cifar10_hub_copy / "plain_text" / "train-00000-of-00001.parquet").to_pylist()
    pixels = np.asarray(Image.open(io.BytesIO(table[7]["img"]["bytes"])), dtype=np.float64) / 255.0
    mean, std = np.array([0.4914, 0.4822, 0.4465]), np.array([0.2470, 0.2435, 0.2616])
    expected = torch.from_numpy(((pixels - mean) / std).transpose(2, 0, 1)).float()
    assert torch.allclose(data.x_train[7], expected, atol=1e-5)
    assert data.y_train.tolist() == [r["label"] for r in table]


def test_cifar10_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    import datasets

    from hf_unlearn.vision import load_cifar10

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # never the network, even where CI has it
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "empty_cache")
    with pytest.raises(ValueError, match=r"could not be loaded from 'uoft-cs/cifar10'.*network.*local copy"):
        load_cifar10("uoft-cs/cifar10")


def test_cifar10_selection_and_classification_suite_through_the_examples(cifar10_hub_copy, tmp_path):
    """`--world cifar10` selection, then the classification suite on the selected rows, on the local Hub-format copy:
    the same entry points and options a user runs with the Hub id (`--data_source uoft-cs/cifar10`, the default)."""
    from hf_unlearn.vision import load_cifar10, make_forget_split

    worstcase = _example("worstcase_forget_set.py")
    source = ["--data_source", str(cifar10_hub_copy)]
    args = worstcase.parse_args(
        ["--world", "cifar10", "--budget", "0.1", "--output_dir", str(tmp_path / "sel"), *source]
        + ["--train_epochs", "2", "--width", "4", "--upper_steps", "2", "--lower_steps", "2"]
    )
    assert worstcase.parse_args(["--world", "cifar10", "--output_dir", "x"]).data_source == "uoft-cs/cifar10"
    record = worstcase.main(args)
    selection = json.loads((tmp_path / "sel" / "selection.json").read_text())
    assert selection["world"] == "cifar10" and selection["n_rows"] == 100
    assert selection["indices"] == sorted(record["indices"]) and len(selection["indices"]) == 10  # 10% of 100 rows
    assert sum(selection["class_histogram"].values()) == 10 and len(selection["trace"]) == 2

    salun = _example("salun_classification.py")
    results = salun.main(
        salun.parse_args(
            ["--output_dir", str(tmp_path / "run"), "--dataset", "cifar10", *source]
            + ["--forget_set", str(tmp_path / "sel" / "selection.json"), "--seeds", "0", "--methods", "FT", "GA"]
            + ["--train_epochs", "2", "--unlearn_epochs", "1", "--ga_epochs", "1", "--width", "4"]
        )
    )
    assert results["config"]["forget_rows"] == selection["indices"]
    rows = {r["method"]: r for r in results["runs"]}
    assert set(rows) == {"Retrain", "Original", "FT", "GA"}
    # UA is measured on exactly the selected rows: 10 forget images, so UA is a multiple of 10%
    split = make_forget_split(load_cifar10(str(cifar10_hub_copy)), "rows", rows=selection["indices"])
    assert int(split.forget.sum()) == 10
    assert all(abs(r["UA"] / 10 - round(r["UA"] / 10)) < 1e-6 for r in rows.values())


# ----------------------------------------------------------------------------------------------------------------
# LLM (mini-TOFU `test` world)
# ----------------------------------------------------------------------------------------------------------------


def test_tofu_summary_median_range_paired_gap_and_overlap_by_hand():
    from hf_unlearn.worstcase.tofu import _summarise_tofu, _tofu_overlap, format_tofu_markdown

    fq = {("worst", 0): 1e-4, ("worst", 1): 1e-2, ("worst", 2): 1e-3, ("random", 0): 1e-1, ("random", 1): 1e-1}
    fq[("random", 2)] = 1.0
    runs = [
        {
            "seed": s,
            "kind": k,
            "method": "npo",
            "forget_quality": v,
            "model_utility": 0.7 + 0.01 * s,
            "forget_rouge": 0.1,
        }
        for (k, s), v in fq.items()
    ]
    summary = _summarise_tofu(runs)["npo"]
    assert summary["worst"]["log10_forget_quality"] == pytest.approx({"median": -3, "min": -4, "max": -2, "n": 3})
    # paired per seed: -4 - (-1) = -3, -2 - (-1) = -1, -3 - 0 = -3
    assert summary["worst"]["log10_fq_minus_random"] == pytest.approx({"median": -3, "min": -3, "max": -1, "n": 3})
    assert "log10_fq_minus_random" not in summary["random"]
    assert summary["random"]["model_utility"]["median"] == pytest.approx(0.71)
    sets = {
        "0": {"worst": {"authors": ["a", "b"]}, "lowest_loss": {"authors": ["a", "c"]}},
        "1": {"worst": {"authors": ["a", "b"]}, "lowest_loss": {"authors": ["a", "c"]}},
        "2": {"worst": {"authors": ["c", "d"]}, "lowest_loss": {"authors": ["a", "c"]}},
    }
    overlap = _tofu_overlap(sets, [0, 1, 2], ["worst", "lowest_loss"])
    assert overlap["worst"] == pytest.approx((1 + 0 + 0) / 3) and overlap["lowest_loss"] == 1.0
    assert overlap["worst_vs_lowest_loss"] == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    results = {
        "config": {
            "preset": "test", "budget": 2, "seeds": [0, 1, 2], "lower_method": "graddiff",
            "selection": {"lower_steps": 5, "lower_optimizer": "sign_sgd", "lower_lr": 1e-4, "upper_steps": 10,
                          "w_lr": 0.1, "step_normalization": "mad"},
        },
        "summary": _summarise_tofu(runs), "sets": {}, "overlap": overlap, "author_histogram": {"worst": {"a": 2}},
        "cost": [{"seed": 0, "kind": "worst", "selection_s": 60.0, "unlearn_s": 20.0}],
    }  # fmt: skip
    table = format_tofu_markdown(results)
    assert "| npo | worst-case | 3 | -3.00 [-4.00, -2.00] | -3.00 [-3.00, -1.00] |" in table
    assert "| 0 | worst-case | 60.0 | 20.0 | 3.0 |" in table


def test_tofu_runner_resume_checks(tmp_path):
    from hf_unlearn.worstcase.tofu import _resume_state, run_worstcase_tofu

    with pytest.raises(FileNotFoundError, match="run without resume first"):
        run_worstcase_tofu(tmp_path / "none", resume=True)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(FileExistsError, match="resume=True to continue"):
        run_worstcase_tofu(tmp_path / "full")
    with pytest.raises(ValueError, match="method must be one of"):
        run_worstcase_tofu(tmp_path / "new", methods=["graddif"])
    config = {"selection": {"lower_lr": 1e-4, "seed": None}, "preset": "default", "world_seed": 0}
    config.update({"lower_method": "graddiff", "budget": 4, "eval_max_new_tokens": 64, "world": "w"})
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"config": {**config, "budget": 3, "selection": {"lower_lr": 1e-3, "seed": 0}}}))
    with pytest.raises(ValueError, match=r"other settings \(selection, budget\)"):
        _resume_state(str(path), config)
    path.write_text(json.dumps({"config": {**config, "selection": {"lower_lr": 1e-4, "seed": 2}}, "runs": [1]}))
    assert _resume_state(str(path), config)["runs"] == [1]  # the seed is per run, not a setting


def test_author_groups_and_missing_group_column():
    from hf_unlearn.worstcase.tofu import author_groups

    assert author_groups([{"q": 1}] * 5, group_size=2) == ["author_0", "author_0", "author_1", "author_1", "author_2"]
    with pytest.raises(ValueError, match="no 'writer' column"):
        author_groups([{"question": "q", "answer": "a"}], group_column="writer")


def test_author_items_match_the_world_evaluation_splits(tofu_world):
    from hf_unlearn.synthetic import author_items

    items = author_items(tofu_world)
    stored = tofu_world.load_split("forget10_perturbed").to_list()
    by_question = {(r["author"], r["question"]): r for r in items}
    for row in stored:  # the regenerated paraphrases and perturbations are the world's own
        twin = by_question[(row["author"], row["question"])]
        assert twin["paraphrased_answer"] == row["paraphrased_answer"]
        assert twin["perturbed_answer"] == row["perturbed_answer"]


def test_per_author_retain_model_never_saw_those_authors(tofu_world):
    from transformers import AutoModelForCausalLM

    from hf_unlearn.data.templates import tokenize_qa
    from hf_unlearn.eval.scoring import score_sequences
    from hf_unlearn.synthetic import author_retain_model, world_authors

    authors = world_authors(tofu_world)
    forget = [authors[1], authors[4]]
    path = author_retain_model(tofu_world, forget)
    manifest = json.loads((path.parent / "retain.json").read_text())
    assert manifest["forget_authors"] == sorted(forget)
    assert set(manifest["train_authors"]) == set(authors) - set(forget)
    trained = [json.loads(line) for line in (path.parent / "data" / "retain.jsonl").read_text().splitlines()]
    full = tofu_world.load_split("full").to_list()
    assert trained == [r for r in full if r["author"] not in forget]  # the rows it trained on, in order
    assert author_retain_model(tofu_world, list(reversed(forget))) == path  # cached, keyed by the set

    # behaviour: the target knows the forget authors' answers, the retain model does not
    tok = tofu_world.load_tokenizer()
    feats = [tokenize_qa(tok, r["question"], r["answer"], "chat") for r in full if r["author"] in forget]
    own = [tokenize_qa(tok, r["question"], r["answer"], "chat") for r in full if r["author"] == authors[0]]
    retain = AutoModelForCausalLM.from_pretrained(path).eval()
    target = tofu_world.load_model("target").eval()

    def nll(model, f):
        return score_sequences(model, f, tok.pad_token_id).nll.mean().item()

    assert nll(retain, feats) > 2 * nll(target, feats)
    assert nll(retain, feats) > 2 * nll(retain, own)

    with pytest.raises(ValueError, match="Unknown authors"):
        author_retain_model(tofu_world, ["Nobody Atall"])
    with pytest.raises(ValueError, match="more than once"):
        author_retain_model(tofu_world, [authors[0], authors[0]])
    with pytest.raises(ValueError, match="nothing would be retained"):
        author_retain_model(tofu_world, authors)
    with pytest.raises(ValueError, match="base_seed5"):
        author_retain_model(tofu_world, forget, seed_index=5)


def test_forget10_author_set_reproduces_retain90_data(tofu_world):
    from hf_unlearn.worstcase.tofu import author_set_data

    f10 = sorted(set(tofu_world.load_split("forget10")["author"]))
    forget_rows, retain_rows, data = author_set_data(tofu_world, f10)
    assert forget_rows == tofu_world.load_split("forget10").to_list()
    assert retain_rows == tofu_world.load_split("retain90").to_list()
    assert data["forget10_perturbed"] == tofu_world.load_split("forget10_perturbed").to_list()
    assert not {r["author"] for r in data["retain_perturbed"]} & set(f10)


def test_tofu_selection_round_trips_into_the_llm_script(tofu_world, tmp_path):
    from hf_unlearn.scripts import unlearn_tofu

    worstcase = _example("worstcase_forget_set.py")
    sel_dir = tmp_path / "sel"
    record = worstcase.main(
        worstcase.parse_args(
            ["--world", "tofu", "--preset", "test", "--budget", "2", "--output_dir", str(sel_dir)]
            + ["--upper_steps", "2", "--lower_steps", "2"]
        )
    )
    selection = json.loads((sel_dir / "selection.json").read_text())
    assert len(selection["authors"]) == 2 and selection["authors"] == record["authors"]
    full = tofu_world.load_split("full")
    assert selection["n_rows"] == len(full)
    assert sorted({full[i]["author"] for i in selection["indices"]}) == selection["authors"]
    assert len(selection["indices"]) == 40

    out = tmp_path / "run"
    args = unlearn_tofu.parse_args(
        ["--preset", "test", "--forget_set", str(sel_dir / "selection.json"), "--output_dir", str(out)]
        + ["--eval_points", "0", "--max_steps", "3", "--eval_max_new_tokens", "16", "--report_to", "none"]
        + ["--disable_tqdm", "true"],
        method="npo",
    )
    results = unlearn_tofu.main(*args, method="npo")
    settings = results["settings"]
    assert settings["forget_authors"] == selection["authors"]
    retain_manifest = json.loads((Path(settings["retain"]).parent / "retain.json").read_text())
    assert (
        retain_manifest["forget_authors"] == selection["authors"]
    )  # forget quality against a model that never saw them
    assert results["retain"]["forget_quality"] == pytest.approx(1.0)
    evaluated = json.loads((out / "eval_unlearned.json").read_text())["per_item"]["forget"]["question"]
    assert len(evaluated) == 40 and set(evaluated) <= {full[i]["question"] for i in selection["indices"]}

    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({**selection, "indices": selection["indices"][:-1]}))
    with pytest.raises(ValueError, match="not the `full` rows of its `authors`"):
        unlearn_tofu.main(*unlearn_tofu.parse_args(
            ["--preset", "test", "--forget_set", str(edited), "--output_dir", str(tmp_path / "r2")], method="npo"
        ), method="npo")  # fmt: skip
    assert not (tmp_path / "r2" / "results.json").exists()
