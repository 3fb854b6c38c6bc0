"""The README's results tables are generated from the JSON files in `benchmarks/results/`: each marked block must
equal its rendering, and the claims the README makes about the benchmark (not its digits) must hold in the JSON."""

import importlib.util
import json
import shutil
import statistics
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "scripts" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tables = _load_script()
README_BLOCKS = tables.blocks((ROOT / "README.md").read_text())


def test_every_registered_table_is_in_the_readme():
    assert set(tables.TABLES) <= set(README_BLOCKS), "a results table is missing its README markers"


@pytest.mark.parametrize("name", sorted(README_BLOCKS))
def test_readme_block_equals_its_json(name):
    assert README_BLOCKS[name] == tables.render(name), (
        f"README block {name!r} differs from benchmarks/results; run `python scripts/readme_tables.py`."
    )


def test_a_changed_number_in_the_json_changes_the_table(tmp_path):
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    data = json.loads((ROOT / "benchmarks" / "results" / "tofu_methods.json").read_text())
    first = next(iter(data["methods"].values()))
    first["runs"][0]["forget_quality"] = 0.123456
    (tmp_path / "tofu_methods.json").write_text(json.dumps(data))
    assert tables.render("tofu-methods", tmp_path) != README_BLOCKS["tofu-methods"]
    assert "0.123" in tables.render("tofu-methods", tmp_path)


@pytest.mark.parametrize("name", ["tofu_methods.json", "tofu_methods_ga.json"])
def test_the_method_benchmark_has_at_least_five_seeds_per_row(name):
    data = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
    for label, entry in data["methods"].items():
        seeds = [r["seed"] for r in entry["runs"]]
        assert len(set(seeds)) >= 5, label


def test_the_recipe_meets_the_machine_independent_claims():
    data = json.loads((ROOT / "benchmarks" / "results" / "tofu_methods.json").read_text())
    recipe = next(iter(data["methods"].values()))["runs"]
    fq = statistics.median(r["forget_quality"] for r in recipe)
    mu = statistics.median(r["model_utility"] for r in recipe)
    assert fq >= tables.MIN_FORGET_QUALITY_X_TARGET * data["target"]["forget_quality"]
    assert mu >= tables.MIN_UTILITY_X_RETAIN * data["retain"]["model_utility"]


def test_update_rewrites_only_the_marked_blocks():
    text = "intro\n<!-- results:quickstart -->\nstale\n<!-- /results:quickstart -->\noutro\n"
    new = tables.update(text)
    assert new.startswith("intro\n<!-- results:quickstart -->\n") and new.endswith(
        "<!-- /results:quickstart -->\noutro\n"
    )
    assert "stale" not in new and tables.render("quickstart") in new


def test_merged_method_benchmarks_must_share_target_and_retain():
    data = json.loads((ROOT / "benchmarks" / "results" / "tofu_methods.json").read_text())
    other = json.loads(json.dumps(data))
    other["methods"] = {"ga": next(iter(data["methods"].values()))}
    merged = tables.merge_method_runs([data, other])
    assert list(merged["methods"]) == [*data["methods"], "ga"] and len(merged["commands"]) == 2
    other["target"]["forget_quality"] *= 2  # another world or machine
    with pytest.raises(ValueError, match="target models of the merged method benchmarks differ"):
        tables.merge_method_runs([data, other])


def test_advunlearn_timing_table_follows_its_json(tmp_path):
    data = json.loads((ROOT / "benchmarks" / "results" / "advunlearn_timing.json").read_text())
    assert len(data["seeds"]) >= 3 and data["world"]["world_id"] in README_BLOCKS["advunlearn-timing"]
    # the ratio column is the mean over seeds of each seed's ratio to ESD
    per_seed = data["seconds_per_iteration_median"].values()
    expected = statistics.mean(m["advunlearn"] / m["esd"] for m in per_seed)
    assert f"| {expected:.2f} ± " in README_BLOCKS["advunlearn-timing"]
    data["seconds_per_iteration"]["esd"]["mean"] = 9.876
    (tmp_path / "advunlearn_timing.json").write_text(json.dumps(data))
    assert "| ESD | 9.876 ± " in tables.render("advunlearn-timing", tmp_path)


def _digits_runs(scenarios: tuple[str, ...], gaps: list[float]) -> list[dict]:
    """Per-run rows of a vision benchmark: every method gets `gaps` (one per seed) in every scenario."""
    return [
        {"scenario": scenario, "seed": seed, "method": method, "gap": gap}
        for scenario in scenarios
        for method in ("Retrain", "Original", "FT", "GA", "RL", "SalUn", "l1-sparse")
        for seed, gap in enumerate(gaps)
    ]


def test_digits_worstcase_cells_are_mean_and_sample_std_of_the_per_run_gaps():
    kinds = ("worst", "random", "lowest_loss", "easiest")
    runs = _digits_runs(kinds, [1.0, 2.0, 3.0])
    runs[-1]["gap"] = 6.0  # l1-sparse, easiest, seed 2: gaps 1, 2, 6 -> mean 3, sample std sqrt(7) = 2.6458
    data = {"config": {"unit": "example", "seeds": [0, 1, 2], "set_kinds": list(kinds), "selection": {"budget": 0.1}}}
    table = tables.render_worstcase_digits({**data, "runs": runs})
    assert "| FT | 2.00 ± 1.00 | 2.00 ± 1.00 | 2.00 ± 1.00 | 2.00 ± 1.00 |" in table
    assert "| ℓ1-sparse | 2.00 ± 1.00 | 2.00 ± 1.00 | 2.00 ± 1.00 | 3.00 ± 2.65 |" in table
    assert "--unit example --budget 0.1 --seeds 0 1 2" in table and "Retrain |" not in table


def test_salun_classification_cells_name_the_scenario_and_learning_rate():
    runs = _digits_runs(("class", "random"), [0.5, 1.5])
    runs = [{**r, "gap": r["gap"] + 10.0} if r["scenario"] == "class" and r["method"] == "GA" else r for r in runs]
    lrs = {"FT": 0.03, "GA": 0.001, "RL": 0.01, "SalUn": 0.003, "l1-sparse": 0.1}
    data = {
        "config": {"dataset": "digits", "seeds": [0, 1], "tune": True, "tune_seeds": [100], "train_fraction": 0.3,
                   "forget_fraction": 0.1},
        "learning_rates": {"class": lrs, "random": {**lrs, "GA": 0.05}},
        "runs": runs,
    }  # fmt: skip
    table = tables.render_salun_classification(data)
    # GA: class-wise gaps 10.5, 11.5 (mean 11, std 0.71) at lr 0.001; random 0.5, 1.5 (mean 1, std 0.71) at lr 0.05
    assert "| GA | 11.00 ± 0.71 (0.001) | 1.00 ± 0.71 (0.05) |" in table
    assert "| Original (no unlearning) | 1.00 ± 0.71 | 1.00 ± 0.71 |" in table
    assert "--tune --seeds 0 1 --train_fraction 0.3" in table and "random 10% (lr)" in table


def _muse_part(verbmem: list[float], extra: str = "", world: str = "muse-abc") -> dict:
    keys = ("forget_verbmem_ROUGE", "forget_knowmem_ROUGE", "retain_knowmem_ROUGE", "privleak")
    keys += ("extraction_strength", "mia_min_k")
    ref = dict.fromkeys(keys, 0.5)
    runs = [
        {**ref, "forget_verbmem_ROUGE": v, "seed": i, "beta": 2.5, "learning_rate": 5e-4}
        for i, v in enumerate(verbmem)
    ]
    settings = {
        "preset": "test",
        "methods": ["simnpo"],
        "seeds": list(range(len(verbmem))),
        "extra": extra,
        "world": world,
    }
    return {"settings": settings, "rows": {"retain": [ref], "target": [ref], "retain_seed1": [ref], "simnpo": runs}}  # fmt: skip


def test_muse_rows_are_scaled_mean_and_sample_std_per_seed():
    table = tables.render_muse_methods([_muse_part([0.2, 0.3]), _muse_part([0.1, 0.1, 0.4], extra="--x 1")])
    # VerbMem x 100: 20, 30 -> 25.0 ± 7.1; 10, 10, 40 -> 20.0 ± 17.3; PrivLeak unscaled (0.5); Min-K% 3 decimals
    assert "| SimNPO (β 2.5, lr 0.0005) | 2 | 25.0 ± 7.1 | 50.0 ± 0.0 | 50.0 ± 0.0 | 0.5 ± 0.0 | 50.0 ± 0.0 |" in table
    assert "| 3 | 20.0 ± 17.3 |" in table and "| 10.0 / 10.0 / 40.0 |" in table
    assert "| target | 1 | 50.0 | 50.0 | 50.0 | 0.5 | 50.0 | 0.500 | - |" in table
    assert '--seeds 0 1 2 --extra "--x 1"`' in table
    with pytest.raises(ValueError, match="different worlds"):
        tables.render_muse_methods([_muse_part([0.2, 0.3]), _muse_part([0.2, 0.3], world="muse-other")])


def _muse_curve_entry(seed: int, verbmem_10: float, privleak_10: float, verbmem_4bit: float) -> dict:
    """One model's `benchmarks/robustness_curves.py --benchmark muse` run: every metric 0.5 except those given."""
    base = {"forget_verbmem_ROUGE": 0.5, "forget_knowmem_ROUGE": 0.5, "privleak": 0.5, "extraction_strength": 0.5}
    relearn = [{"step": 0, **base}, {"step": 10, **base, "forget_verbmem_ROUGE": verbmem_10, "privleak": privleak_10}]
    quant = [{"bits": 8, **base}, {"bits": 4, **base, "forget_verbmem_ROUGE": verbmem_4bit}]
    return {"seed": seed, "relearn": relearn, "quantization": quant}


def test_muse_robustness_cells_are_scaled_mean_and_sample_std_over_seeds():
    spec = importlib.util.spec_from_file_location("robustness_curves", ROOT / "benchmarks" / "robustness_curves.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    metrics = ["forget_verbmem_ROUGE", "forget_knowmem_ROUGE", "privleak", "extraction_strength"]
    runs = {"simnpo": [_muse_curve_entry(0, 0.2, -50.0, 0.1), _muse_curve_entry(1, 0.3, -70.0, 0.4)]}
    settings = {"world": "muse-abc", "preset": "test", "relearn_samples": 4, "relearn_lr": 1e-4,
                "relearn_batch_size": 2, "seeds": [0, 1], "metrics": metrics, "quant_group_size": 64,
                "command": "python benchmarks/robustness_curves.py --benchmark muse --preset test"}  # fmt: skip
    table = tables.render_robustness_curves_muse({"settings": settings, "summary": bench.aggregate(runs, metrics)})
    # step 10: VerbMem 20, 30 (x 100) -> 25.0 ± 7.1; PrivLeak unscaled -50, -70 -> -60.0 ± 14.1
    assert "| SimNPO | 10 | 25.0 ± 7.1 | 50.0 ± 0.0 | -60.0 ± 14.1 | 50.0 ± 0.0 |" in table
    # quantisation: VerbMem full 50, 8-bit 50, 4-bit 10 and 40 -> 25.0 ± 21.2; then KnowMem and PrivLeak
    assert (
        "| SimNPO | 50.0 ± 0.0 | 50.0 ± 0.0 | 25.0 ± 21.2 | 50.0 ± 0.0 | 50.0 ± 0.0 | 50.0 ± 0.0 | 0.5 ± 0.0 |"
        in table
    )
    assert "relearning on 4 forget articles, lr 0.0001, batch 2; mean ± std over seeds 0, 1" in table


def test_the_muse_robustness_json_holds_the_readme_claims():
    # the claims of the README's mini-MUSE reading, not its digits: three seeds per model; after the last relearn
    # step the retain model still answers almost none of the forget questions while every method answers more than
    # half, more than before relearning, SimNPO the fewest; no bit-width raises an unlearned model's mean VerbMem or
    # KnowMem on forget by more than 5 points
    data = json.loads((ROOT / "benchmarks" / "results" / "robustness_curves_muse.json").read_text())
    assert all([r["seed"] for r in runs] == [0, 1, 2] for runs in data["runs"].values())
    summary, knowmem = data["summary"], "forget_knowmem_ROUGE"
    methods = [m for m in summary if m not in ("target", "retain")]
    assert sorted(methods) == ["ga", "graddiff", "npo", "simnpo"]
    last = data["settings"]["relearn_steps"].split(",")[-1]
    assert summary["retain"]["relearn"][last][knowmem]["mean"] < 0.05
    for m in methods:
        after, before = summary[m]["relearn"][last][knowmem]["mean"], summary[m]["relearn"]["0"][knowmem]["mean"]
        assert after > max(0.5, before), m
        for q in summary[m]["quantization"].values():
            for key in ("forget_verbmem_ROUGE", knowmem):
                assert q[key]["mean"] <= summary[m]["relearn"]["0"][key]["mean"] + 0.05, (m, key)
    assert min(methods, key=lambda m: summary[m]["relearn"][last][knowmem]["mean"]) == "simnpo"


@pytest.mark.parametrize("name", ["muse_methods.json", "muse_methods_lr5e-4.json"])
def test_the_muse_benchmark_has_five_seeds_and_meets_the_readme_claims(name):
    # the claims the README's MUSE section makes, which should hold on any machine (not its digits): both methods
    # keep at least 90% of the target's retain knowledge (median over seeds), and SimNPO at the world recipe ends
    # below both retain models' VerbMem in every seed
    data = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
    rows = data["rows"]
    for method in ("simnpo", "npo"):
        assert len({r["seed"] for r in rows[method]}) >= 5, method
        knowmem_r = statistics.median(r["retain_knowmem_ROUGE"] for r in rows[method])
        assert knowmem_r >= 0.9 * rows["target"][0]["retain_knowmem_ROUGE"], method
    if not data["settings"]["extra"]:
        retain_verbmem = min(rows[k][0]["forget_verbmem_ROUGE"] for k in ("retain", "retain_seed1"))
        assert all(r["forget_verbmem_ROUGE"] < retain_verbmem for r in rows["simnpo"])


def test_the_digits_salun_benchmark_has_five_seeds_and_meets_the_readme_claims():
    # the README's claim, not its digits: class-wise, SalUn and RL end within 0.5 of Retrain's average gap in every
    # seed, and SalUn's mean gap is below FT's, GA's and l1-sparse's
    data = json.loads((ROOT / "benchmarks" / "results" / "salun_classification.json").read_text())
    assert len(set(data["config"]["seeds"])) >= 5
    gaps = {
        m: [r["gap"] for r in data["runs"] if r["scenario"] == "class" and r["method"] == m]
        for m in tables._DIGITS_METHODS
    }
    assert all(g < 0.5 for m in ("SalUn", "RL") for g in gaps[m])
    assert all(statistics.mean(gaps["SalUn"]) < statistics.mean(gaps[m]) for m in ("FT", "GA", "l1-sparse"))


def test_salun_simnpo_rows_give_per_seed_forget_quality_median_and_utility_spread():
    base = {"model": "SimNPO", "learning_rate": 3e-4, "fraction_of_weights_changed": 1.0}
    rows = [
        {"model": "target", "seed": None, "forget_quality": 1e-5, "model_utility": 0.7601},
        *({**base, "seed": s, "forget_quality": fq, "model_utility": mu}
          for s, fq, mu in [(0, 0.01, 0.75), (1, 0.05, 0.76), (2, 0.02, 0.77)]),
        *({**base, "model": "SimNPO + SalUn", "learning_rate": 6e-4, "seed": s, "forget_quality": 0.1,
           "model_utility": 0.7, "fraction_of_weights_changed": c, "frozen_bit_identical": s != 1}
          for s, c in [(0, 0.4), (1, 0.5), (2, 0.6)]),
    ]  # fmt: skip
    args = {"preset": "test", "seeds": [0, 1, 2], "salun_learning_rates": [6e-4], "learning_rate": 3e-4}
    args.update(forget_split="forget10", beta=2.5, num_train_epochs=10.0, sparsity=0.5)
    table = tables.render_salun_simnpo({"args": args, "rows": rows})
    # median of 0.01, 0.05, 0.02 is 0.02; utility 0.75, 0.76, 0.77: mean 0.760, sample std 0.010
    assert "| SimNPO, lr 0.0003 | 0.01 / 0.05 / 0.02 | 0.02 | 0.760 ± 0.010 | 1.00 | - |" in table
    # weights changed is the mean share (0.50); one seed's frozen weights moved, so not "every seed"
    assert "| SimNPO + SalUn, lr 0.0006 | 0.1 / 0.1 / 0.1 | 0.1 | 0.700 ± 0.000 | 0.50 | no |" in table
    assert "| target | 1e-05 | - | 0.760 | - | - |" in table and "--salun_learning_rates 0.0006`" in table


def test_the_digits_worstcase_json_holds_the_readme_claims():
    # the README's claims about the digits worst-case runs, read from the per-seed JSON rather than the table's digits:
    # Retrain, which never saw the worst-case images, still gets every one right and the MIA finds none (every seed);
    # class-wise, the selection picks the lowest-loss class in 3 of the 5 seeds
    results = ROOT / "benchmarks" / "results" / "worstcase"
    example = json.loads((results / "digits_example.json").read_text())
    retrain = [r for r in example["runs"] if r["scenario"] == "worst" and r["method"] == "Retrain"]
    assert len(retrain) == len(example["config"]["seeds"]) and all(r["UA"] == r["MIA"] == 0 for r in retrain)
    classes = json.loads((results / "digits_class.json").read_text())["selections"]
    assert len(classes) >= 5 and sum(s["worst"]["units"] == s["lowest_loss"]["units"] for s in classes.values()) == 3


def test_the_salun_simnpo_json_has_five_seeds_and_holds_the_readme_claims():
    # machine-independent claims of the README's SalUn paragraph: SalUn changes only its half of the weights, keeps
    # the rest bit-identical in every run, and keeps model utility at >= 0.95x the retain model's in every run
    data = json.loads((ROOT / "benchmarks" / "results" / "salun_simnpo_tofu.json").read_text())
    retain = next(r for r in data["rows"] if r["model"].startswith("retain"))["model_utility"]
    runs = [r for r in data["rows"] if r["seed"] is not None]
    assert len({r["seed"] for r in runs}) >= 5
    salun = [r for r in runs if "SalUn" in r["model"]]
    assert salun and all(r["frozen_bit_identical"] and r["fraction_of_weights_changed"] <= 0.5 for r in salun)
    assert all(r["model_utility"] >= tables.MIN_UTILITY_X_RETAIN * retain for r in runs)


def test_salun_diffusion_settings_were_chosen_on_a_held_out_seed_and_meet_the_readme_claims():
    # the README's claims, not its digits: the grid ran on a seed the comparison table does not report, no setting
    # passes the rule's floors (so the table keeps its settings), and at lr 1e-3 a larger alpha does not bring the
    # retain images closer
    results = ROOT / "benchmarks" / "results"
    selection = json.loads((results / "salun_diffusion_settings_default.json").read_text())
    table = json.loads((results / "diffusion_methods_default.json").read_text())
    a = selection["settings"]
    assert a["seed"] not in table["seeds"]
    assert (a["salun_steps"], a["salun_sparsity"]) == (
        table["settings"]["salun_steps"],
        table["settings"]["salun_sparsity"],
    )
    passing = [
        r
        for r in selection["runs"]
        if r["retain_accuracy"] >= a["min_retain_accuracy"] and r["retain_image_distance"] <= a["max_image_distance"]
    ]
    assert passing == [] and selection["chosen"] is None
    assert (table["settings"]["salun_lr"], table["settings"]["salun_alpha"]) == (1e-3, 0.5)
    at_1e3 = sorted((r["salun_alpha"], r["retain_image_distance"]) for r in selection["runs"] if r["salun_lr"] == 1e-3)
    assert [d for _, d in at_1e3] == sorted(d for _, d in at_1e3)
    # seed 0 (a check, not a choice): lr 1e-3 collapses the concept images to about half the original's spread; the
    # lower learning rates do not
    check = json.loads((results / "salun_diffusion_settings_default_seed0.json").read_text())
    spread = {r["salun_lr"]: r["concept_image_spread"] for r in check["runs"]}
    assert check["settings"]["seed"] == 0 and spread[1e-3] < 0.6 * check["original"]["concept_image_spread"]
    assert min(spread[3e-4], spread[1e-4]) > check["original"]["concept_image_spread"]
