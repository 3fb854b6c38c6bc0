"""Tests of the TOFU evaluation: the metric formulas, batched scoring and generation, bad input, the `evaluate`
module, the command, and (on the mini-TOFU world) that the metrics separate memorisation from seed noise."""

import copy
import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import hmean, ks_2samp

from hf_unlearn.eval import (
    TOFU_METRIC_PATH,
    answer_probability,
    evaluate_tofu,
    forget_quality,
    generate_greedy,
    model_utility,
    per_sequence_nll,
    probability_with_options,
    rouge_l_recall,
    score_sequences,
    tofu_set_metrics,
    truth_ratio,
    truth_ratio_aggregate,
)
from hf_unlearn.eval.report import markdown_table, plot_tradeoff, save_json, tofu_table


# --------------------------------------------------------------------------------------------------------------
# Tiny offline model and data (no world needed)
# --------------------------------------------------------------------------------------------------------------


def _rows(n, k, offset=0):
    return [
        {
            "question": f"Where was author {i} born?",
            "answer": f"Author {i} was born in city {i % 7}.",
            "paraphrased_answer": f"The birthplace of author {i} is city {i % 7}.",
            "perturbed_answer": [f"The birthplace of author {i} is city {(i + j + 1) % 7}." for j in range(k)],
        }
        for i in range(offset, offset + n)
    ]


@pytest.fixture(scope="module")
def tiny():
    from transformers import LlamaConfig, LlamaForCausalLM

    from hf_unlearn.synthetic.tofu_models import build_tokenizer

    data = {
        "forget10_perturbed": _rows(10, 5),
        "retain_perturbed": _rows(10, 5, offset=10),
        "real_authors_perturbed": [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in _rows(6, 3)],
        "world_facts_perturbed": [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in _rows(6, 3, 6)],
    }
    texts = [
        " ".join([r["question"], r["answer"], r["paraphrased_answer"], *r["perturbed_answer"]]) for r in _rows(20, 5)
    ]
    tok = build_tokenizer(texts, vocab_size=320)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config).eval()
    return model, tok, data


# --------------------------------------------------------------------------------------------------------------
# Formulas on known numbers
# --------------------------------------------------------------------------------------------------------------


def test_answer_probability_is_exp_minus_mean_nll():
    np.testing.assert_allclose(answer_probability([0.0, math.log(4)]), [1.0, 0.25])


def test_probability_with_options_normalises_over_true_and_perturbed():
    # p_true = 0.5, p_pert = 0.25, 0.125 -> 0.5 / 0.875; ragged rows are allowed.
    out = probability_with_options([math.log(2), 0.0], [[math.log(4), math.log(8)], [0.0]])
    np.testing.assert_allclose(out, [0.5 / 0.875, 0.5])
    # Stable for very unlikely answers (no 0/0).
    np.testing.assert_allclose(probability_with_options([800.0], [[800.0, 800.0]]), [1 / 3])


def test_truth_ratio_orientation_and_both_aggregates():
    nll_para = np.array([1.0, 2.0, 1.5])
    nll_pert = np.array([[2.0, 4.0], [1.0, 1.0], [1.5, 1.5]])
    r = truth_ratio(nll_para, nll_pert)
    # Paper orientation: R = exp(NLL_para - mean NLL_pert); item 0 prefers the truth (R < 1), item 1 does not.
    expected = np.exp([1.0 - 3.0, 2.0 - 1.0, 0.0])
    np.testing.assert_allclose(r, expected)
    assert r[0] < 1 < r[1]
    forget = np.mean([expected[0], 1 / expected[1], 1.0])
    other = np.mean([1 - expected[0], 0.0, 0.0])
    assert truth_ratio_aggregate(r, "forget") == pytest.approx(forget)
    for eval_set in ("retain", "real_authors", "world_facts"):
        assert truth_ratio_aggregate(r, eval_set) == pytest.approx(other)
    # A model that knows every fact has a utility-side truth-ratio stat near 1, not 0 (the orientation pitfall).
    assert truth_ratio_aggregate(truth_ratio([0.1] * 3, [[3.0, 3.0]] * 3), "retain") > 0.9


def test_forget_quality_is_scipy_ks_2samp():
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(0.0, 0.3, 40), rng.lognormal(0.4, 0.3, 50)
    fq = forget_quality(a, b)
    ref = ks_2samp(a, b)
    assert fq["forget_quality"] == pytest.approx(ref.pvalue)
    assert fq["ks_statistic"] == pytest.approx(ref.statistic)
    assert forget_quality(a, a) == {"forget_quality": 1.0, "ks_statistic": 0.0}
    # Invariant to the truth-ratio orientation when both sides use the same one.
    assert forget_quality(1 / a, 1 / b)["forget_quality"] == pytest.approx(ref.pvalue)
    assert forget_quality(np.arange(1, 41) * 1.0, np.arange(100, 140) * 1.0)["forget_quality"] < 1e-10


def test_model_utility_harmonic_mean_and_zero():
    vals = [0.9, 0.5, 0.25, 1.0, 0.8, 0.6, 0.7, 0.3, 0.95]
    assert model_utility(vals) == pytest.approx(hmean(vals))
    assert model_utility(vals) == pytest.approx(len(vals) / sum(1 / v for v in vals))
    assert model_utility({**{f"k{i}": v for i, v in enumerate(vals)}, "zero": 0.0}) == 0.0


def test_rouge_l_recall_known_strings():
    # LCS("the cat sat on the mat", "the cat was on the mat") = 5 of the 6 reference words.
    out = rouge_l_recall(
        ["the cat sat on the mat", "She is running", ""], ["The cat was on the mat.", "she runs", "x"]
    )
    np.testing.assert_allclose(out, [5 / 6, 1.0, 0.0])  # stemmer: running ~ runs


def test_tofu_set_metrics_matches_the_formulas():
    nll_ans, nll_para = [0.2, 0.4], [0.5, 0.6]
    nll_pert = [[1.0, 2.0], [0.5, 0.5]]
    agg, items = tofu_set_metrics("retain", nll_ans, nll_pert, nll_para, ["a b", "c"], ["a b", "d"])
    tr = np.exp(np.array(nll_para) - np.array([1.5, 0.5]))
    assert agg["probability"] == pytest.approx(np.exp(-np.array(nll_ans)).mean())
    assert agg["truth_ratio"] == pytest.approx(np.maximum(0, 1 - tr).mean())
    assert agg["rouge_l_recall"] == pytest.approx(0.5)
    assert agg["utility"] == pytest.approx(hmean([agg["probability"], 0.5, agg["truth_ratio"]]))
    np.testing.assert_allclose(items["truth_ratio"], tr)
    # Option sets: the true answer replaces the paraphrase, and probability is the normalised choice.
    agg, items = tofu_set_metrics("world_facts", nll_ans, nll_pert)
    np.testing.assert_allclose(items["truth_ratio"], np.exp(np.array(nll_ans) - np.array([1.5, 0.5])))
    assert agg["probability"] == pytest.approx(probability_with_options(nll_ans, nll_pert).mean())
    assert "rouge_l_recall" not in agg
    with pytest.raises(ValueError, match="nll_paraphrased"):
        tofu_set_metrics("forget", nll_ans, nll_pert)
    with pytest.raises(ValueError, match="NaN"):
        tofu_set_metrics("retain", [float("nan"), 0.1], nll_pert, nll_para)


# --------------------------------------------------------------------------------------------------------------
# Batched scoring and generation
# --------------------------------------------------------------------------------------------------------------


def test_sequence_nll_equals_hand_cross_entropy(tiny):
    model, _tok, _ = tiny
    ids = torch.tensor([[5, 9, 17, 33, 8, 2]])
    labels = torch.tensor([[-100, -100, 17, 33, 8, 2]])
    logits = model(input_ids=ids).logits
    nll, n = per_sequence_nll(logits, labels)
    logp = torch.log_softmax(logits[0].double(), dim=-1)
    hand = -sum(logp[t - 1, ids[0, t]] for t in range(2, 6)) / 4
    assert n.item() == 4
    assert nll.item() == pytest.approx(hand.item(), abs=1e-5)
    total, _ = per_sequence_nll(logits, labels, reduction="sum")
    assert total.item() == pytest.approx(4 * hand.item(), abs=1e-4)
    with pytest.raises(ValueError, match="no labelled tokens"):
        per_sequence_nll(logits, torch.full_like(labels, -100))


def test_batched_scoring_equals_unbatched(tiny):
    from hf_unlearn.data import tokenize_qa

    model, tok, data = tiny
    feats = [
        tokenize_qa(tok, r["question"], a, "chat")
        for r in data["forget10_perturbed"][:4]
        for a in r["perturbed_answer"]
    ]
    one = score_sequences(model, feats, tok.pad_token_id, batch_size=1, return_token_logprobs=True)
    many = score_sequences(model, feats, tok.pad_token_id, batch_size=7)
    torch.testing.assert_close(many.nll, one.nll, atol=1e-5, rtol=1e-5)
    assert one.num_tokens.tolist() == [sum(x != -100 for x in f["labels"]) - 0 for f in feats]
    torch.testing.assert_close(torch.stack([-t.sum() for t in one.token_logprobs]), one.nll_sum, atol=1e-4, rtol=1e-5)


def test_batched_generation_equals_unbatched(tiny):
    from hf_unlearn.data import tokenize_prompt

    model, tok, _data = tiny
    prompts = [tokenize_prompt(tok, q, "chat") for q in ["Where?", "Where was author 3 born?", "Author 12 was born"]]
    batched = generate_greedy(model, tok, prompts, max_new_tokens=6, batch_size=3)
    single = [generate_greedy(model, tok, [p], max_new_tokens=6, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert any(batched)


# --------------------------------------------------------------------------------------------------------------
# evaluate_tofu end to end on the tiny model, and bad input
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_results(tiny):
    model, tok, data = tiny
    return evaluate_tofu(model, tok, data, template="chat", batch_size=8, max_new_tokens=8, progress=False)


def test_evaluate_tofu_is_consistent_with_its_per_item_numbers(tiny_results):
    res = tiny_results
    items = res["per_item"]["forget"]
    assert len(items["truth_ratio"]) == 10 and len(items["nll_perturbed"][0]) == 5
    np.testing.assert_allclose(items["truth_ratio"], truth_ratio(items["nll_paraphrased"], items["nll_perturbed"]))
    assert res["summary"]["forget_truth_ratio"] == pytest.approx(truth_ratio_aggregate(items["truth_ratio"], "forget"))
    wf = res["per_item"]["world_facts"]
    np.testing.assert_allclose(wf["probability"], probability_with_options(wf["nll_answer"], wf["nll_perturbed"]))
    nine = [
        res["sets"][s][k]
        for s in ("retain", "real_authors", "world_facts")
        for k in ("probability", "rouge_l_recall", "truth_ratio")
    ]
    assert res["summary"]["model_utility"] == pytest.approx(model_utility(nine))
    assert res["summary"]["forget_quality"] is None  # no retain results given


def test_forget_quality_from_retain_results_dict_and_json(tiny, tiny_results, tmp_path):
    model, tok, data = tiny
    path = save_json(tiny_results, tmp_path / "retain.json")
    kwargs = {"template": "chat", "batch_size": 8, "max_new_tokens": 4, "eval_sets": ("forget",), "progress": False}
    res = evaluate_tofu(model, tok, data, retain_results=str(path), **kwargs)
    assert res["summary"]["forget_quality"] == 1.0 and res["summary"]["forget_quality_ks_statistic"] == 0.0
    shifted = [2.0 * r for r in tiny_results["per_item"]["forget"]["truth_ratio"]]
    res = evaluate_tofu(model, tok, data, retain_results=shifted, **kwargs)
    expected = ks_2samp(tiny_results["per_item"]["forget"]["truth_ratio"], shifted)
    assert res["summary"]["forget_quality"] == pytest.approx(expected.pvalue)
    with pytest.raises(ValueError, match="forget05"):
        evaluate_tofu(
            model,
            tok,
            {**data, "forget05_perturbed": data["forget10_perturbed"]},
            forget_split="forget05",
            retain_results=tiny_results,
            **kwargs,
        )


def test_bad_input_raises_clear_errors(tiny):
    model, tok, data = tiny
    kwargs = {"template": "chat", "max_new_tokens": 4, "progress": False}
    no_para = {
        **data,
        "forget10_perturbed": [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in _rows(3, 5)],
    }
    with pytest.raises(ValueError, match="missing column.*paraphrased_answer"):
        evaluate_tofu(model, tok, no_para, **kwargs)
    with pytest.raises(ValueError, match="empty"):
        evaluate_tofu(model, tok, {**data, "retain_perturbed": []}, **kwargs)
    with pytest.raises(ValueError, match="no split named 'world_facts_perturbed'"):
        evaluate_tofu(model, tok, {k: v for k, v in data.items() if k != "world_facts_perturbed"}, **kwargs)
    long_q = [{**r, "question": "Where was author " + "very " * 80 + "born?"} for r in _rows(2, 5)]
    with pytest.raises(ValueError, match="context"):
        evaluate_tofu(model, tok, {**data, "forget10_perturbed": long_q}, **kwargs)
    nopad = copy.deepcopy(tok)  # keep the fixture's tokenizer intact
    nopad.pad_token = None
    with pytest.raises(ValueError, match="pad token"):
        evaluate_tofu(model, nopad, data, **kwargs)
    with pytest.raises(ValueError, match="forget_split"):
        evaluate_tofu(model, tok, data, forget_split="forget11", **kwargs)
    with pytest.raises(ValueError, match="per_item.forget.truth_ratio"):
        evaluate_tofu(model, tok, data, retain_results={"summary": {}}, **kwargs)


# --------------------------------------------------------------------------------------------------------------
# The evaluate module and reports
# --------------------------------------------------------------------------------------------------------------


def test_evaluate_module_loads_by_path_and_agrees(tiny_results):
    import evaluate

    res = tiny_results
    forget = res["per_item"]["forget"]
    metric = evaluate.load(TOFU_METRIC_PATH, "forget")
    out = metric.compute(
        predictions=forget["generation"],
        references=forget["answer"],
        answer_nll=forget["nll_answer"],
        paraphrased_nll=forget["nll_paraphrased"],
        perturbed_nll=forget["nll_perturbed"],
        retain_truth_ratios=[2.0 * r for r in forget["truth_ratio"]],
    )
    for key in ("probability", "rouge_l_recall", "truth_ratio"):
        assert out[key] == pytest.approx(res["sets"]["forget"][key])
    np.testing.assert_allclose(out["per_item_truth_ratio"], forget["truth_ratio"])
    assert out["forget_quality"] == pytest.approx(
        ks_2samp(forget["truth_ratio"], [2.0 * r for r in forget["truth_ratio"]]).pvalue
    )
    wf = res["per_item"]["world_facts"]
    out = evaluate.load(TOFU_METRIC_PATH, "world_facts").compute(
        predictions=wf["generation"],
        references=wf["answer"],
        answer_nll=wf["nll_answer"],
        perturbed_nll=wf["nll_perturbed"],
    )
    assert out["utility"] == pytest.approx(res["sets"]["world_facts"]["utility"])


def test_report_table_json_and_plot(tiny_results, tmp_path):
    table = tofu_table({"tiny": tiny_results})
    lines = table.splitlines()
    assert lines[0].startswith("| model | forget quality | KS D | model utility |")
    assert lines[2].startswith("| tiny | - | - | ")
    path = save_json(tiny_results, tmp_path / "sub" / "r.json")
    assert json.loads(path.read_text())["summary"] == tiny_results["summary"]
    assert markdown_table([{"a": 1e-9}], [("a", "A")]).splitlines()[-1] == "| 1.00e-09 |"
    png = plot_tradeoff(
        {"target": (0.5, 1e-8), "unlearned": (0.48, 0.2)}, tmp_path / "fq.png", reference_lines={"0.05": 0.05}
    )
    assert png.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------------------------------------------
# On the mini-TOFU world (test preset): the command, and the metrics separate memorisation from seed noise
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_eval(tofu_world, tmp_path_factory):
    """Runs `hf-unlearn eval tofu` on the world: target against retain90 (evaluated in the same command), then the
    second retain model against the saved retain JSON."""
    from hf_unlearn.cli import main

    out = tmp_path_factory.mktemp("eval")
    common = ["--data", str(tofu_world.path), "--max_new_tokens", "48", "--batch_size", "32", "--no_progress"]

    def run(*args: str) -> None:
        assert main(["eval", "tofu", *args, *common]) == 0

    run("--model", "target", "--retain_model", "retain90", "--output_file", str(out / "target.json"))
    seed1 = str(tofu_world.model_path("retain90_seed1"))  # a folder works as well as a world model name
    run(
        "--model", seed1, "--retain_results", str(out / "target.retain.json"), "--output_file", str(out / "seed1.json")
    )
    load = lambda name: json.loads((out / name).read_text())  # noqa: E731
    return {
        "target": load("target.json"),
        "retain": load("target.retain.json"),
        "seed1": load("seed1.json"),
        "dir": out,
    }


def test_world_command_writes_json_and_table(world_eval, capsys):
    target = world_eval["target"]
    assert target["forget_split"] == "forget10" and target["template"] == "chat"
    assert len(target["per_item"]["forget"]["truth_ratio"]) == target["sets"]["forget"]["num_items"] > 0
    table = (world_eval["dir"] / "target.md").read_text().splitlines()
    assert table[0].startswith("| model | forget quality |") and len(table) == 4  # header, rule, retain, target
    # The retain model against itself: forget quality 1 by construction.
    assert world_eval["retain"]["summary"]["forget_quality"] == 1.0


def test_world_forget_quality_separates_target_from_seed_noise(world_eval):
    target, seed1 = world_eval["target"]["summary"], world_eval["seed1"]["summary"]
    # Same KS test as scipy on the stored per-item truth ratios.
    ref = ks_2samp(
        world_eval["target"]["per_item"]["forget"]["truth_ratio"],
        world_eval["retain"]["per_item"]["forget"]["truth_ratio"],
    )
    assert target["forget_quality"] == pytest.approx(ref.pvalue)
    # forget10 of the test world is one author (20 items), so KS p-values are coarse (D = 0.5 gives p = 0.012).
    assert target["forget_quality"] < 0.05
    assert seed1["forget_quality"] > 0.2
    assert seed1["forget_quality"] > 10 * target["forget_quality"]
    assert target["forget_quality_ks_statistic"] > seed1["forget_quality_ks_statistic"]


def test_world_target_memorised_forget_set_and_kept_utility(world_eval):
    target, retain = world_eval["target"]["summary"], world_eval["retain"]["summary"]
    assert target["forget_rouge_l_recall"] > 0.7
    assert target["forget_rouge_l_recall"] > retain["forget_rouge_l_recall"] + 0.4
    assert target["forget_probability"] > 5 * retain["forget_probability"]
    # Both know the retain authors and the world: utilities are comparable.
    assert target["model_utility"] > 0.8 * retain["model_utility"] > 0


def test_world_command_rejects_unknown_model_name(tofu_world, tmp_path, capsys):
    from hf_unlearn.cli import main

    code = main(
        [
            "eval",
            "tofu",
            "--model",
            "tagret",
            "--data",
            str(tofu_world.path),
            "--output_file",
            str(tmp_path / "x.json"),
        ]
    )
    assert code == 2
    assert "'tagret' is neither a folder nor a model of the world" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_world_object_and_max_items(tofu_world, world_eval):
    model, tok = tofu_world.load_model("target"), tofu_world.load_tokenizer()
    retain = world_eval["dir"] / "target.retain.json"
    res = evaluate_tofu(
        model, tok, tofu_world, retain_results=retain, eval_sets=("forget",), max_items=5, progress=False
    )
    assert res["sets"]["forget"]["num_items"] == len(res["per_item"]["forget"]["truth_ratio"]) == 5
    # The first five items score as in the full run (batching and subsetting do not change per-item numbers).
    np.testing.assert_allclose(
        res["per_item"]["forget"]["truth_ratio"],
        world_eval["target"]["per_item"]["forget"]["truth_ratio"][:5],
        rtol=1e-4,
    )
    retain_tr = json.loads(retain.read_text())["per_item"]["forget"]["truth_ratio"]
    assert res["summary"]["forget_quality"] == pytest.approx(
        ks_2samp(res["per_item"]["forget"]["truth_ratio"], retain_tr).pvalue
    )


def test_world_command_scores_every_model_with_one_tokenisation_and_the_evaluator_numbers(
    tofu_world, tmp_path, monkeypatch
):
    """`hf-unlearn eval tofu --retain_model R --model M1 M2` gives exactly the numbers of `TofuEvaluator` called on
    R, then on M1 and M2 against R, and tokenises the data once for all three models."""
    from hf_unlearn.cli import main
    from hf_unlearn.eval.tofu import TofuEvaluator, mark_as_retain

    calls = []
    tokenize = TofuEvaluator._tokenize

    def counting(self, ctx):
        calls.append(ctx in self._tokenized)
        return tokenize(self, ctx)

    monkeypatch.setattr(TofuEvaluator, "_tokenize", counting)
    settings = ["--max_new_tokens", "6", "--batch_size", "5", "--max_items", "4", "--forget_split", "forget05"]
    outs = [tmp_path / "target.json", tmp_path / "base.json"]
    args = ["eval", "tofu", "--model", "target", "base", "--retain_model", "retain90", "--data", str(tofu_world.path)]
    assert main([*args, *settings, "--output_file", *map(str, outs), "--no_progress"]) == 0
    assert calls == [False, True, True]  # tokenised for the retain model, reused for both evaluated ones
    cli_target, cli_base = (json.loads(out.read_text()) for out in outs)
    cli_retain = json.loads((tmp_path / "target.retain.json").read_text())
    for out in outs:  # the run's table (all three models) beside each result
        table = out.with_suffix(".md").read_text()
        assert "retain90 (retain)" in table and "| target |" in table and "| base |" in table

    evaluator = TofuEvaluator(
        tofu_world.load_tokenizer(), tofu_world, forget_split="forget05", batch_size=5, max_new_tokens=6, max_items=4
    )
    retain = mark_as_retain(evaluator(tofu_world.load_model("retain90")))
    target = evaluator(tofu_world.load_model("target"), retain_results=retain)
    base = evaluator(tofu_world.load_model("base"), retain_results=retain)
    for cli, api in ((cli_retain, retain), (cli_target, target), (cli_base, base)):
        assert cli["summary"].keys() == api["summary"].keys()
        for key, value in api["summary"].items():
            assert cli["summary"][key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        for eval_set, items in api["per_item"].items():
            if eval_set == "privacy":
                continue
            assert cli["per_item"][eval_set]["generation"] == items["generation"]
            np.testing.assert_allclose(cli["per_item"][eval_set]["truth_ratio"], items["truth_ratio"], rtol=1e-12)
    assert cli_retain["summary"]["forget_quality"] == 1.0  # the retain model against itself
    assert cli_target["summary"]["forget_quality"] is not None  # against the retain model evaluated in the command
    assert cli_target["model"] == "target" and cli_base["model"] == "base"
    assert cli_target["summary"]["forget_Q_A_Prob"] != cli_base["summary"]["forget_Q_A_Prob"]  # not one model twice
