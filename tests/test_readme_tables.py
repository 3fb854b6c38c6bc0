"""The README's results tables are generated from the JSON files in `benchmarks/results/`: each marked block must
equal its rendering, and the claims the README makes about the benchmark (not its digits) must hold in the JSON."""

import importlib.util
import json
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
    data = json.loads((ROOT / "benchmarks" / "results" / "tofu_methods.json").read_text())
    first = next(iter(data["methods"].values()))
    first["runs"][0]["forget_quality"] = 0.123456
    (tmp_path / "tofu_methods.json").write_text(json.dumps(data))
    assert tables.render("tofu-methods", tmp_path) != README_BLOCKS["tofu-methods"]
    assert "0.123" in tables.render("tofu-methods", tmp_path)


def test_the_method_benchmark_has_at_least_five_seeds_per_row():
    data = json.loads((ROOT / "benchmarks" / "results" / "tofu_methods.json").read_text())
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
