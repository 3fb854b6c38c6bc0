# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Classification unlearning on digits: data splits, metrics on known inputs, methods' behaviour, the benchmark."""

import json
import math
import os
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from hf_unlearn.vision import (
    ClassificationUnlearningConfig,
    SmallCNN,
    average_gap,
    evaluate_unlearning,
    finetune,
    format_markdown,
    gradient_ascent,
    l1_sparse,
    load_digits_data,
    make_forget_split,
    random_labels,
    retrain,
    run_classification_benchmark,
    salun,
    save_results,
    svc_mia_efficacy,
    train_classifier,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_data(seed=0)


@pytest.fixture(scope="module")
def original(digits):
    torch.manual_seed(0)
    return train_classifier(SmallCNN(width=8), digits.x_train, digits.y_train, epochs=8, lr=0.1)


class TestData:
    def test_digits_splits(self, digits):
        assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_test.shape == (360, 1, 8, 8)
        assert 0.0 <= float(digits.x_train.min()) and float(digits.x_train.max()) <= 1.0
        small = load_digits_data(seed=0, train_fraction=0.3)
        assert len(small.y_train) == round(0.3 * 1437) and torch.equal(small.y_test, digits.y_test)

        split = make_forget_split(digits, "random", fraction=0.1, seed=3)
        assert int(split.forget.sum()) == 144 and split.test.all()
        assert torch.equal(split.retain, ~split.forget)
        assert not torch.equal(split.forget, make_forget_split(digits, "random", fraction=0.1, seed=4).forget)

        split = make_forget_split(digits, "class", forget_class=3)
        assert torch.equal(split.forget, digits.y_train == 3)
        assert torch.equal(split.test, digits.y_test != 3)  # the forgotten class leaves TA, as in the SalUn code

    def test_bad_input(self, digits):
        with pytest.raises(ValueError, match="mode"):
            make_forget_split(digits, "sample")
        with pytest.raises(ValueError, match="fraction"):
            make_forget_split(digits, "random", fraction=0.0)
        with pytest.raises(ValueError, match="forget_class"):
            make_forget_split(digits, "class", forget_class=10)
        with pytest.raises(ValueError, match="train_fraction"):
            load_digits_data(train_fraction=0.0)
        with pytest.raises(ValueError, match="scenarios"):
            ClassificationUnlearningConfig(scenarios=["subclass"])
        with pytest.raises(ValueError, match="Unknown methods"):
            ClassificationUnlearningConfig(methods=["SCRUB"])


class _ConfidenceModel(nn.Module):
    """Returns logits whose softmax gives class 0 exactly the probability stored in the input."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        p = x.flatten(1)[:, 0].clamp(1e-6, 1 - 1e-6)
        rest = ((1 - p) / 9).log()[:, None].expand(-1, 9)
        return torch.cat([p.log()[:, None], rest], dim=1)


class TestMetrics:
    def test_average_gap_formula(self):
        assert average_gap({"UA": 5, "RA": 99, "TA": 90, "MIA": 20}, {"UA": 1, "RA": 100, "TA": 94, "MIA": 12}) == (
            (4 + 1 + 4 + 8) / 4
        )

    def test_svc_mia_on_known_confidences(self):
        g = torch.Generator().manual_seed(0)
        model = _ConfidenceModel()
        labels = torch.zeros(100, dtype=torch.long)
        members = (0.95 + 0.05 * torch.rand(100, 1, generator=g), labels)
        non_members = (0.2 + 0.5 * torch.rand(100, 1, generator=g), labels)
        looks_unseen = (0.3 + 0.3 * torch.rand(50, 1, generator=g), labels[:50])
        looks_trained = (0.97 + 0.03 * torch.rand(50, 1, generator=g), labels[:50])
        assert svc_mia_efficacy(model, members, non_members, looks_unseen) == 100.0
        assert svc_mia_efficacy(model, members, non_members, looks_trained) == 0.0

    def test_diverged_model_is_a_clear_error(self, digits):
        model = SmallCNN(width=4)
        with torch.no_grad():
            model.classifier[-1].bias.fill_(float("nan"))
        with pytest.raises(ValueError, match="diverged"):
            evaluate_unlearning(model, digits, make_forget_split(digits, "class"))

    def test_evaluate_unlearning_accuracies(self, digits, original):
        split = make_forget_split(digits, "class", forget_class=0)
        metrics = evaluate_unlearning(original, digits, split)
        forget_acc = (original(digits.x_train[split.forget]).argmax(-1) == 0).float().mean().item() * 100
        assert math.isclose(metrics["UA"], 100 - forget_acc, abs_tol=1e-4)
        assert metrics["RA"] > 90 and metrics["TA"] > 85
        assert metrics["MIA"] < 50  # the original model is confident on the class it was trained on


class TestMethods:
    def test_retrain_forgets_class_and_inputs_are_not_modified(self, digits, original):
        split = make_forget_split(digits, "class", forget_class=0)
        before = {n: p.detach().clone() for n, p in original.named_parameters()}
        gold = retrain(lambda: SmallCNN(width=8), digits, split, epochs=5, lr=0.1)
        assert evaluate_unlearning(gold, digits, split)["UA"] == 100.0  # never saw class 0
        for method in (finetune, gradient_ascent, random_labels, l1_sparse):
            method(original, digits, split, epochs=1)
        assert all(torch.equal(p, before[n]) for n, p in original.named_parameters())

    def test_salun_moves_only_salient_weights_and_forgets(self, digits, original):
        from hf_unlearn.saliency import compute_saliency_mask

        split = make_forget_split(digits, "class", forget_class=0)
        forget = torch.utils.data.TensorDataset(digits.x_train[split.forget], digits.y_train[split.forget])
        mask = compute_saliency_mask(original, forget, sparsity=0.5, batch_size=256)
        torch.manual_seed(0)
        unlearned = salun(original, digits, split, lr=0.03, epochs=3, sparsity=0.5)
        moved = 0
        for (name, p), q in zip(original.named_parameters(), unlearned.parameters()):
            assert torch.equal(q.detach()[~mask[name]], p.detach()[~mask[name]]), name  # bit-identical
            moved += int((q != p).sum())
        assert moved > 0
        metrics = evaluate_unlearning(unlearned, digits, split)
        assert metrics["UA"] > 80 and metrics["RA"] > 85  # class 0 forgotten, the rest kept

    def test_gradient_ascent_raises_forget_loss_and_l1_shrinks_weights(self, digits, original):
        split = make_forget_split(digits, "random", fraction=0.1, seed=0)
        x_f, y_f = digits.x_train[split.forget], digits.y_train[split.forget]
        ga = gradient_ascent(original, digits, split, lr=3e-3, epochs=2)
        with torch.no_grad():
            assert nn.functional.cross_entropy(ga(x_f), y_f) > nn.functional.cross_entropy(original(x_f), y_f)
        ft = finetune(original, digits, split, lr=0.03, epochs=2)
        l1 = l1_sparse(original, digits, split, lr=0.03, epochs=2, l1_alpha=1e-3)
        norm = lambda m: sum(p.abs().sum().item() for p in m.parameters())  # noqa: E731
        assert norm(l1) < norm(ft)


def test_benchmark_summary_markdown_and_files(tmp_path):
    config = ClassificationUnlearningConfig(
        scenarios=["class"],
        seeds=[0, 1],
        methods=["FT", "SalUn"],
        train_epochs=3,
        train_lr=0.1,
        unlearn_epochs=1,
        width=4,
        tune=True,
        lr_grid={"FT": [0.01, 0.1], "SalUn": [0.01, 0.1]},
        tune_seeds=[100],
    )
    results = run_classification_benchmark(config, progress=False)
    summary = results["summary"]["class"]
    assert set(summary) == {"Retrain", "Original", "FT", "SalUn"}
    assert summary["Retrain"]["gap"] == [0.0, 0.0] and summary["Retrain"]["rte"] == [1.0, 0.0]
    runs = [r for r in results["runs"] if r["method"] == "SalUn"]
    assert len(runs) == 2
    mean_gap = sum(r["gap"] for r in runs) / 2
    assert math.isclose(summary["SalUn"]["gap"][0], mean_gap)
    for run in runs:
        gold = next(r for r in results["runs"] if r["method"] == "Retrain" and r["seed"] == run["seed"])
        assert math.isclose(run["gap"], average_gap(run, gold))
        assert math.isclose(run["rte"], run["runtime_s"] / gold["runtime_s"])
    assert {row["learning_rate"] for row in results["tuning"]["class"]["SalUn"]} == {0.01, 0.1}
    for row in results["tuning"]["class"]["SalUn"]:  # numbers (or None when diverged), never formatted strings
        assert row["diverged"] == (row["gap"] is None) and isinstance(row["gap"], (float, type(None)))
    assert results["scalars"]["class/SalUn/gap_mean"] == summary["SalUn"]["gap"][0]
    assert results["learning_rates"]["class"]["SalUn"] in (0.01, 0.1)
    table = format_markdown(results)
    assert "| SalUn |" in table and "Avg. Gap" in table
    paths = save_results(results, tmp_path / "out")
    assert json.loads(Path(paths["json"]).read_text())["summary"]["class"]["SalUn"]["gap"] == summary["SalUn"]["gap"]
    assert os.path.getsize(paths["plot"]) > 0
    with pytest.raises(FileExistsError):
        save_results(results, tmp_path / "out")


def test_example_script(tmp_path, capsys):
    # the script's own functions, loaded from its file as a user runs it (examples are not importable modules)
    example = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "salun_classification.py"
    )
    salun_classification = SimpleNamespace(**runpy.run_path(example))

    args = salun_classification.parse_args(
        [
            "--output_dir",
            str(tmp_path / "run"),
            "--scenarios",
            "random",
            "--seeds",
            "0",
            "--methods",
            "GA",
            "RL",
            "--train_epochs",
            "2",
            "--unlearn_epochs",
            "1",
            "--ga_epochs",
            "1",
            "--width",
            "4",
            "--lr",
            "RL=0.02",
        ]
    )
    assert args.lr == {"RL": 0.02}
    results = salun_classification.main(args)
    assert results["learning_rates"]["random"] == {"GA": 1e-3, "RL": 0.02}
    assert "| RL | 0.02 |" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "run")) == ["gap.png", "results.json", "results.md"]
    with pytest.raises(SystemExit):
        salun_classification.parse_args(["--output_dir", "x", "--lr", "SalUn:0.1"])


def test_gap_plot_error_bars_stop_at_zero(tmp_path):
    """A gap is never negative: a seed spread larger than the mean (e.g. FT 24.25 ± 27.4 class-wise) must not draw an
    error bar below zero; the upper end stays mean + std."""
    from hf_unlearn.vision import plot_results

    results = {
        "summary": {
            "class": {"Retrain": {"gap": [0.0, 0.0]}, "FT": {"gap": [24.25, 27.4]}, "SalUn": {"gap": [2.0, 1.0]}}
        },
        "runs": [{"scenario": "class", "method": "FT", "gap": g} for g in (2.0, 8.0, 62.75)],
    }
    drawn = plot_results(results, tmp_path / "gap.png")
    assert drawn["class"]["FT"] == pytest.approx((0.0, 24.25 + 27.4))
    assert drawn["class"]["SalUn"] == pytest.approx((1.0, 3.0))
    assert "Retrain" not in drawn["class"] and (tmp_path / "gap.png").stat().st_size > 0
