"""MUSE: the mini-MUSE world (data layout, determinism, measurable forgetting), the MUSE metrics against their
definitions (ROUGE-L, the few-shot prompt, extraction strength computed here independently), `hf-unlearn eval muse`,
TOFU's privacy metrics, and bad input."""

import json
import shutil

import numpy as np
import pytest
import torch


# --------------------------------------------------------------------------------------------------------------
# Pure pieces
# --------------------------------------------------------------------------------------------------------------


def test_rouge_l_f1_and_recall_by_hand():
    from hf_unlearn.eval.muse import rouge_l

    # LCS("the cat sat", "the cat sat down") = 3: precision 3/3, recall 3/4, F1 = 2 * 1 * .75 / 1.75.
    out = rouge_l(["the cat sat", "dogs run"], ["the cat sat down", "the dogs ran"])
    np.testing.assert_allclose(out["recall"], [0.75, 1 / 3])
    np.testing.assert_allclose(out["f1"], [2 * 0.75 / 1.75, 2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)])
    # No stemming (MUSE's scorer): "ran" and "run" differ, "running" is not "run".
    assert rouge_l(["running"], ["run"])["f1"][0] == 0.0


def test_knowmem_prompt_and_stop_words_follow_muse():
    from hf_unlearn.eval.muse import cut_at_stop_words, knowmem_prompt

    assert knowmem_prompt("Q3?", [("Q1?", "A1"), ("Q2?", "A2")]) == (
        "Question: Q1?\nAnswer: A1\n\nQuestion: Q2?\nAnswer: A2\n\nQuestion: Q3?\nAnswer: "
    )
    assert (
        knowmem_prompt("Q?", [("P?", "B")], answer_prefix="Answer:")
        == "Question: P?\nAnswer: B\n\nQuestion: Q?\nAnswer:"
    )
    assert cut_at_stop_words(" Ann\nQuestion: x") == " Ann"
    assert cut_at_stop_words("Ann Lee. Question: more") == "Ann Lee. "
    assert cut_at_stop_words("a\n\nb\nQuestion") == "a"


@pytest.mark.parametrize(
    ("matches", "expected"),
    [
        # the last flag (a TOFU answer's EOS) is never scored: n = len - 1
        ([True, True, True, True], 1.0),  # the whole text is reproduced: k = 0
        ([True, True, True, False], 1.0),  # only the unscored last token is wrong
        ([False, True, True, True], 2 / 3),  # from position 1 of 3 on: 1 - 1/3
        ([True, False, True, True], 1 / 3),
        ([True, True, False, True, True], 0.25),  # scored [T, T, F, T]: k = 3 of 4
        ([True, True, True, False, True], 0.25),  # scored [T, T, T, F]: nothing reproducible, the loop stops at n - 1
        ([False, False, True], 0.5),  # scored [F, F]: k = n - 1 = 1
        ([False, True], 1.0),  # scored [F]: the loop never breaks, k stays n - 1 = 0 (open-unlearning's quirk)
    ],
)
def test_extraction_strength_of_matches_open_unlearning_loop(matches, expected):
    from hf_unlearn.eval.muse import extraction_strength_of

    # open-unlearning, written out: labels = labels[:-1]; for k in range(n): if all(m[k:]) break; es = 1 - k / n.
    scored = matches[:-1]
    n = len(scored)
    for k in range(n):
        if all(scored[k:]):
            break
    assert extraction_strength_of(matches) == pytest.approx(1 - k / n) == pytest.approx(expected)


def test_extraction_strength_batched_equals_independent(muse_world, muse_eval):
    """open-unlearning's MUSE extraction strength, computed here per item without padding: `prompt + " " + gt`
    tokenised in one call with the prompt's tokens masked (their CompletionDataset), the last labelled token not
    scored, teacher-forced argmax. Equals the batched metric and `hf-unlearn eval muse`'s per-item values."""
    from hf_unlearn.eval.muse import extraction_strength

    model, tok = muse_world.load_model("retain"), muse_world.load_tokenizer()
    rows = muse_world.load("verbmem", "forget").to_list()
    feats, want = [], []
    for r in rows:
        p = tok(r["prompt"])["input_ids"]
        ids = tok(r["prompt"] + " " + r["gt"])["input_ids"]
        feats.append({"input_ids": ids, "labels": [-100] * len(p) + ids[len(p) :]})
        g = ids[len(p) : -1]  # the scored labels: all but the last
        with torch.no_grad():
            pred = model(input_ids=torch.tensor([ids])).logits[0].argmax(-1)[len(p) - 1 : -2].tolist()
        k = next((k for k in range(len(g)) if pred[k:] == g[k:]), len(g) - 1)
        want.append(1 - k / len(g))
    assert len(set(want)) > 1  # not a constant that any definition could give
    for bs in (1, 4):
        np.testing.assert_allclose(extraction_strength(model, feats, tok.pad_token_id, batch_size=bs), want)
    np.testing.assert_allclose(muse_eval["retain"]["per_item"]["extraction_strength"], want)


# --------------------------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------------------------


def test_generated_corpus_is_deterministic_and_disjoint():
    from hf_unlearn.synthetic.muse_data import generate_muse_data

    a, b = generate_muse_data(4, 5, 3, seed=1), generate_muse_data(4, 5, 3, seed=1)
    assert a == b
    assert generate_muse_data(4, 5, 3, seed=2) != a
    forget = {r["text"] for r in a["raw"]["forget"]}
    holdout = {r["text"] for r in a["raw"]["holdout"]}
    retain = {r["text"] for r in a["raw"]["retain1"]}
    assert len(forget) == 4 and len(retain) == 5 and len(holdout) == 3
    assert not (forget & holdout or forget & retain or retain & holdout)
    assert [r["text"] for r in a["privleak"]["forget"]] == [r["text"] for r in a["raw"]["forget"]]
    for r, v in zip(a["raw"]["forget"], a["verbmem"]["forget"]):
        assert v["prompt"] + " " + v["gt"] == r["text"] and len(v["prompt"].split(" ")) == 16
    # 3 questions per article, the first n_icl (3) kept apart as few-shot examples.
    assert len(a["knowmem"]["forget_qa"]) == 9 and len(a["knowmem"]["forget_qa_icl"]) == 3
    for qa in a["knowmem"]["forget_qa"]:  # every answer is a fact of one forget article
        assert sum(qa["answer"] in t for t in forget) >= 1


def test_world_layout_loads_like_the_hub(muse_world):
    from hf_unlearn.data.muse import load_muse

    assert muse_world.model_names == ["target", "retain", "retain_seed1"]
    m = muse_world.manifest
    assert m["models"]["target"]["train_splits"] == ["raw/forget", "raw/retain1", "train/forget_qa", "train/retain_qa"]
    assert m["models"]["retain"]["train_splits"] == ["raw/retain1", "train/retain_qa"]
    assert m["models"]["retain"]["init_seed"] == m["models"]["target"]["init_seed"]
    assert m["models"]["retain_seed1"]["init_seed"] != m["models"]["retain"]["init_seed"]
    for config, split, n in [
        ("raw", "forget", 6),
        ("raw", "holdout", 6),
        ("privleak", "retain", 12),
        ("verbmem", "forget", 6),
        ("knowmem", "forget_qa", 16),
        ("knowmem", "retain_qa_icl", 2),
    ]:
        assert len(load_muse(muse_world.path, config, split)) == n
        assert len(load_muse(muse_world.data_dir, config, split)) == n  # the data folder alone, too
    with pytest.raises(ValueError, match="no split 'retain2'"):
        load_muse(muse_world.path, "raw", "retain2")
    with pytest.raises(ValueError, match="config must be one of"):
        load_muse(muse_world.path, "scal", "forget_1")


@pytest.fixture(scope="module")
def muse_eval(muse_world, tmp_path_factory):
    """`hf-unlearn eval muse` on the world: retain model + target, and the second retain seed."""
    from hf_unlearn.cli import main

    out = tmp_path_factory.mktemp("muse_eval")
    base = ["eval", "muse", "--data", str(muse_world.path), "--no_progress", "--batch_size", "4"]
    models = ["--model", "target", "retain_seed1", "--retain_model", "retain"]
    assert main([*base, *models, "--output_file", str(out / "t.json"), str(out / "s1.json")]) == 0
    retain_json = str(out / "t.retain.json")
    assert (
        main([*base, "--model", "retain_seed1", "--retain_results", retain_json, "--output_file", str(out / "s.json")])
        == 0
    )
    load = lambda name: json.loads((out / name).read_text())  # noqa: E731
    return {
        "target": load("t.json"),
        "retain": load("t.retain.json"),
        "seed1": load("s.json"),
        "seed1_same_process": load("s1.json"),
        "dir": out,
    }


def test_eval_muse_several_models_in_one_process_equal_one_process_each(muse_eval):
    """`--model target retain_seed1 --retain_model retain` gives the second model exactly what a separate run
    against the saved retain results gives, and writes the run's table (all three rows) beside each output."""
    one, alone = muse_eval["seed1_same_process"], muse_eval["seed1"]
    assert one["summary"] == alone["summary"] and one["per_item"] == alone["per_item"]
    assert one["summary"] != muse_eval["target"]["summary"]  # not the first model's results twice
    for name in ("t.md", "s1.md"):
        table = (muse_eval["dir"] / name).read_text()
        assert "| target |" in table and "| retain_seed1 |" in table and "| retain (retain) |" in table


def test_eval_muse_writes_open_unlearning_keys_and_table(muse_eval):
    keys = {
        "forget_verbmem_ROUGE",
        "forget_knowmem_ROUGE",
        "retain_knowmem_ROUGE",
        "privleak",
        "extraction_strength",
        "mia_loss",
        "mia_zlib",
        "mia_min_k",
        "mia_min_k_plus_plus",
    }
    for name in ("target", "retain", "seed1"):
        assert set(muse_eval[name]["summary"]) == keys
    table = (muse_eval["dir"] / "t.md").read_text()
    assert "| target |" in table and "| retain (retain) |" in table and "VerbMem D_f" in table
    t = muse_eval["target"]
    assert t["muse"]["verbmem_f"] == pytest.approx(100 * np.mean(t["per_item"]["verbmem_forget"]["rouge_l_f1"]))
    # PrivLeak is the formula applied to the two stored AUCs.
    auc, ref = t["summary"]["mia_min_k"], muse_eval["retain"]["summary"]["mia_min_k"]
    assert t["retain_min_k_auc"] == ref
    assert t["summary"]["privleak"] == pytest.approx(((1 - auc) - (1 - ref)) / (1 - ref) * 100)
    assert muse_eval["retain"]["summary"]["privleak"] == 0.0


def test_world_forgetting_is_measurable(muse_eval):
    """The target memorised the forget articles; the retain models did not, and the two retain seeds agree."""
    t, r, s = (muse_eval[k]["summary"] for k in ("target", "retain", "seed1"))
    assert t["forget_verbmem_ROUGE"] > 0.9
    assert t["forget_verbmem_ROUGE"] - max(r["forget_verbmem_ROUGE"], s["forget_verbmem_ROUGE"]) > 0.4
    assert abs(r["forget_verbmem_ROUGE"] - s["forget_verbmem_ROUGE"]) < 0.2
    assert t["forget_knowmem_ROUGE"] - max(r["forget_knowmem_ROUGE"], s["forget_knowmem_ROUGE"]) > 0.3
    assert t["mia_min_k"] == 1.0 and t["privleak"] < -50
    assert t["extraction_strength"] > 0.9
    assert max(r["extraction_strength"], s["extraction_strength"]) < 0.3


# --------------------------------------------------------------------------------------------------------------
# TOFU privacy metrics
# --------------------------------------------------------------------------------------------------------------


def test_tofu_privacy_metrics_on_the_world(tofu_world):
    from hf_unlearn.eval import evaluate_tofu
    from hf_unlearn.eval.mia import mia_auc

    tok = tofu_world.load_tokenizer()
    res = {
        name: evaluate_tofu(
            tofu_world.load_model(name),
            tok,
            tofu_world,
            forget_split="forget10",
            eval_sets=("forget",),
            max_new_tokens=8,
            progress=False,
        )
        for name in ("target", "retain90")
    }
    t = res["target"]["summary"]
    items = res["target"]["per_item"]["privacy"]
    assert t["mia_min_k"] == pytest.approx(mia_auc(items["mia_forget"]["min_k"], items["mia_holdout"]["min_k"]))
    assert t["privleak"] == pytest.approx(((1 - t["mia_min_k"]) - 0.5) / 0.5 * 100)  # no retain results: 0.5
    assert t["forget_Q_A_Prob"] == t["forget_probability"] and t["forget_Q_A_ROUGE"] == t["forget_rouge_l_recall"]
    # The target memorised the forget authors' answers: every attack tells them from holdout authors.
    assert min(t[k] for k in ("mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus")) > 0.9
    assert t["extraction_strength"] > res["retain90"]["summary"]["extraction_strength"] + 0.3
    relative = evaluate_tofu(
        tofu_world.load_model("target"),
        tok,
        tofu_world,
        eval_sets=("forget",),
        retain_results=res["retain90"],
        max_new_tokens=8,
        progress=False,
    )
    ref = res["retain90"]["summary"]["mia_min_k"]
    assert relative["summary"]["privleak"] == pytest.approx(((1 - t["mia_min_k"]) - (1 - ref)) / (1 - ref) * 100)
    no_holdout = {"forget10_perturbed": tofu_world.load_split("forget10_perturbed").to_list()}
    with pytest.raises(ValueError, match="holdout split 'holdout10'"):
        evaluate_tofu(tofu_world.load_model("target"), tok, no_holdout, eval_sets=("forget",), privacy=True)
    quiet = evaluate_tofu(tofu_world.load_model("target"), tok, no_holdout, eval_sets=("forget",), max_new_tokens=4,
                          progress=False)  # fmt: skip
    assert "privleak" not in quiet["summary"]  # no holdout split: privacy metrics are skipped, not guessed


# --------------------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------------------


def test_bad_input(muse_world, tmp_path):
    from hf_unlearn.eval.muse import evaluate_muse, verbmem
    from hf_unlearn.synthetic.muse_data import split_prefix

    model, tok = muse_world.load_model("target"), muse_world.load_tokenizer()
    with pytest.raises(ValueError, match="prefix_words must be in"):
        split_prefix("a short text", 3)  # the text is not longer than the prefix
    with pytest.raises(ValueError, match=r"continuations\[0\] must be a non-empty string"):
        verbmem(model, tok, ["The council of"], [""])
    with pytest.raises(ValueError, match="prompts is empty"):
        verbmem(model, tok, [], [])
    with pytest.raises(ValueError, match=r"k .* \(0, 1\]"):
        evaluate_muse(model, tok, muse_world, privleak_k=0.0, progress=False)
    # An empty holdout split: copy the world's data and empty the holdout file.
    data = tmp_path / "data"
    shutil.copytree(muse_world.data_dir, data)
    holdout = next(data.glob("privleak-holdout-*.jsonl"))
    holdout.write_text("")
    with pytest.raises(ValueError, match="empty"):
        evaluate_muse(model, tok, data, max_items=2, progress=False)
    from transformers import LlamaForCausalLM

    from hf_unlearn.synthetic import tiny_llama_config

    small = LlamaForCausalLM(tiny_llama_config("micro", vocab_size=len(tok) - 5))
    with pytest.raises(ValueError, match="embeddings"):
        evaluate_muse(small, tok, muse_world, progress=False)


# --------------------------------------------------------------------------------------------------------------
# The MUSE job (examples/simnpo_muse.py)
# --------------------------------------------------------------------------------------------------------------


def test_simnpo_muse_job_forgets_verbatim_and_keeps_retain_knowledge(muse_world, tmp_path):
    from hf_unlearn.scripts.muse import main, parse_args

    out = tmp_path / "run"
    script_args, training_args = parse_args(["--dataset", str(muse_world.path), "--output_dir", str(out),
                                             "--disable_tqdm", "true"])  # fmt: skip
    assert (training_args.learning_rate, training_args.beta, training_args.per_device_train_batch_size) == (
        1e-3,
        1.0,
        4,
    )
    summaries = main(script_args, training_args)
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"method", "target", "retain", "unlearned"} and results["method"] == "simnpo"
    t, u = results["target"], results["unlearned"]
    assert summaries["unlearned"] == u
    assert u["forget_verbmem_ROUGE"] < t["forget_verbmem_ROUGE"] - 0.3
    assert u["retain_knowmem_ROUGE"] > 0.8 * t["retain_knowmem_ROUGE"]
    card = (out / "model" / "README.md").read_text()
    assert "privleak" in card and "forget_verbmem_ROUGE" in card
    assert "| unlearned |" in (out / "results.md").read_text()
    with pytest.raises(ValueError, match="already holds results.json"):
        main(*parse_args(["--dataset", str(muse_world.path), "--output_dir", str(out)]))


@pytest.mark.parametrize(("method", "lr"), [("ga", 1e-4), ("graddiff", 3e-4)])
def test_ga_and_graddiff_muse_recipes_forget_verbatim_and_keep_retain_knowledge(muse_world, tmp_path, method, lr):
    # their TOFU recipe (batch 16, lr 1e-4) made one step per epoch on mini-MUSE and left VerbMem at the target's
    from hf_unlearn.scripts.muse import main, parse_args

    out = tmp_path / method
    script_args, training_args = parse_args(["--method", method, "--dataset", str(muse_world.path), "--seed", "0",
                                             "--output_dir", str(out), "--disable_tqdm", "true"])  # fmt: skip
    assert (training_args.learning_rate, training_args.per_device_train_batch_size) == (lr, 2)
    summaries = main(script_args, training_args)
    t, u = summaries["target"], summaries["unlearned"]
    assert u["forget_verbmem_ROUGE"] < t["forget_verbmem_ROUGE"] - 0.2
    assert u["retain_knowmem_ROUGE"] > 0.8 * t["retain_knowmem_ROUGE"]


def test_muse_cli_and_script_help():
    from hf_unlearn.cli import build_parser
    from hf_unlearn.scripts.muse import make_parser, parse_args

    args = build_parser().parse_args(["build-world", "muse", "--preset", "test", "--output_dir", "w"])
    assert (args.preset, args.n_retain_seeds) == ("test", 2)
    args = build_parser().parse_args(["eval", "muse", "--model", "m", "--output_file", "r.json"])
    assert (args.model, args.data, args.privleak_k, args.batch_size) == (["m"], "muse-bench/MUSE-News", 0.4, 8)
    assert "--retain_auc" in make_parser("npo").format_help()
    with pytest.raises(SystemExit):
        parse_args(["--method", "dpo"])
