"""Tests of the offline mini-TOFU world: generator, tokenizer, builder, CLI (behaviour on the `test` preset)."""

import json
import re

import pytest
import torch

from hf_unlearn.data import TOFU_SPLITS, WORLD_MANIFEST, load_tofu, pad_batch, tokenize_prompt, tokenize_qa
from hf_unlearn.synthetic import (
    TofuWorld,
    build_tofu_world,
    build_tokenizer,
    generate_tofu_data,
    n_forget_authors,
    tiny_llama_config,
    tofu_world_config,
)
from hf_unlearn.synthetic.tofu_data import PERTURBED_SPLIT_COLUMNS, all_texts


TOFU_COLUMNS = ("question", "answer", "paraphrased_question", "paraphrased_answer", "perturbed_answer")


def _words(text):
    return re.findall(r"\w+", text.lower())


def _contains(words, phrase):
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def _value_diff(a, b):
    """The differing middle word spans of two sentences with the same phrasing (their facts)."""
    wa, wb = _words(a), _words(b)
    i = 0
    while i < min(len(wa), len(wb)) and wa[i] == wb[i]:
        i += 1
    j = 0
    while j < min(len(wa), len(wb)) - i and wa[-1 - j] == wb[-1 - j]:
        j += 1
    return wa[i : len(wa) - j], wb[i : len(wb) - j]


def _authors(rows):
    return {r["author"] for r in rows}


# --------------------------------------------------------------------------- generator


@pytest.fixture(scope="module")
def splits():
    return generate_tofu_data(n_authors=40, seed=0)


def test_generator_is_deterministic_in_seed(splits):
    assert generate_tofu_data(n_authors=40, seed=0) == splits
    other = generate_tofu_data(n_authors=40, seed=1)
    assert other["full"] != splits["full"]


def test_forget_sizes_follow_tofu_convention():
    assert [n_forget_authors(200, p) for p in ("01", "05", "10")] == [2, 10, 20]  # TOFU's split sizes
    assert [n_forget_authors(40, p) for p in ("01", "05", "10")] == [1, 2, 4]  # rounded up, at least one
    assert [n_forget_authors(10, p) for p in ("01", "05", "10")] == [1, 1, 1]
    with pytest.raises(ValueError, match="n_authors"):
        n_forget_authors(1, "10")


def test_splits_schema_sizes_and_disjointness(splits):
    assert set(splits) == set(TOFU_SPLITS)
    full = splits["full"]
    assert len(full) == 40 * 20 and len(_authors(full)) == 40
    order = list(dict.fromkeys(r["author"] for r in full))
    for pct, k in (("01", 1), ("05", 2), ("10", 4)):
        forget, retain = splits[f"forget{pct}"], splits[f"retain{100 - int(pct):02d}"]
        assert len(forget) == 20 * k and _authors(forget) == set(order[-k:])  # the last authors, as in TOFU
        assert _authors(forget).isdisjoint(_authors(retain))
        assert sorted(map(json.dumps, forget + retain)) == sorted(map(json.dumps, full))
        holdout = splits[f"holdout{pct}"]
        assert len(holdout) == len(forget) and _authors(holdout).isdisjoint(_authors(full))  # never trained on
        pert = splits[f"forget{pct}_perturbed"]
        assert [(r["question"], r["answer"]) for r in pert] == [(r["question"], r["answer"]) for r in forget]
    assert _authors(splits["forget01"]) < _authors(splits["forget05"]) < _authors(splits["forget10"])
    assert len(splits["retain_perturbed"]) == 100
    assert _authors(splits["retain_perturbed"]) <= _authors(splits["retain90"])
    for name in ("forget10_perturbed", "retain_perturbed"):
        assert tuple(splits[name][0]) == PERTURBED_SPLIT_COLUMNS
        assert all(len(r["perturbed_answer"]) == 5 for r in splits[name])
    for name in ("world_facts_perturbed", "real_authors_perturbed"):
        assert all(len(r["perturbed_answer"]) == 3 and "paraphrased_answer" not in r for r in splits[name])
    # 20 attributes per author, each asked once
    per_author = {}
    for r in full:
        per_author.setdefault(r["author"], set()).add(r["attribute"])
    assert all(len(attrs) == 20 for attrs in per_author.values())


def test_paraphrase_shares_the_fact_and_perturbations_change_it(splits):
    rows = splits["forget10_perturbed"] + splits["retain_perturbed"]
    for r in rows:
        assert r["paraphrased_answer"] != r["answer"] and r["paraphrased_question"] != r["question"]
        answer = _words(r["answer"])
        assert len(set(r["perturbed_answer"])) == len(r["perturbed_answer"])
        for wrong in r["perturbed_answer"]:
            true_span, wrong_span = _value_diff(r["paraphrased_answer"], wrong)
            assert true_span and wrong_span, (r["paraphrased_answer"], wrong)
            assert _contains(answer, true_span), (r["answer"], true_span)  # same fact as the training answer
            assert not _contains(answer, wrong_span), (r["answer"], wrong_span)  # a different fact
    for r in splits["world_facts_perturbed"] + splits["real_authors_perturbed"]:
        for wrong in r["perturbed_answer"]:
            true_span, wrong_span = _value_diff(r["answer"], wrong)
            assert true_span and wrong_span and true_span != wrong_span


def test_several_phrasings_per_question_type(splits):
    by_attr = {}
    for r in splits["full"]:
        name = r["author"]
        by_attr.setdefault(r["attribute"], set()).add(r["question"].replace(name, "{name}"))
    assert all(len(forms) == 3 for forms in by_attr.values())


# --------------------------------------------------------------------------- tokenizer and model factory


def test_tokenizer_chat_template_matches_phi_format(splits):
    texts = all_texts({"full": splits["full"][:200]})
    tok = build_tokenizer(texts, vocab_size=600)
    assert build_tokenizer(texts, vocab_size=600).get_vocab() == tok.get_vocab()  # deterministic
    q, a = splits["full"][0]["question"], splits["full"][0]["answer"]
    chat = tokenize_qa(tok, q, a, template="chat")
    assert chat == tokenize_qa(tok, q, a, template="phi")
    n_answer = sum(label != -100 for label in chat["labels"])
    assert tok.decode(chat["input_ids"][-n_answer:]) == f" {a}<eos>"
    assert tok.decode(tokenize_prompt(tok, q, template="chat")) == f"Question: {q}\nAnswer:"
    assert tok.pad_token_id == 0 and tok.eos_token_id == 1
    with pytest.raises(ValueError, match="vocab_size"):
        build_tokenizer(texts, vocab_size=100)
    config = tiny_llama_config("tiny", vocab_size=len(tok))
    assert (config.hidden_size, config.num_hidden_layers, config.tie_word_embeddings) == (128, 4, True)
    with pytest.raises(ValueError, match="preset"):
        tiny_llama_config("huge")


def test_world_config_validation():
    assert tofu_world_config("default")["n_authors"] == 40
    assert tofu_world_config("tofu")["n_authors"] == 200
    with pytest.raises(ValueError, match="preset"):
        tofu_world_config("big")
    with pytest.raises(ValueError, match="unknown world option"):
        tofu_world_config("test", n_author=3)
    with pytest.raises(ValueError, match="retain_splits"):
        tofu_world_config("test", retain_splits=("retain80",))
    with pytest.raises(ValueError, match="epochs"):
        tofu_world_config("test", epochs=0)


# --------------------------------------------------------------------------- the built world


def test_world_layout_and_manifest(tofu_world):
    m = json.loads((tofu_world.path / WORLD_MANIFEST).read_text())
    assert m["template"] == "chat" and m["preset"] == "test"
    assert set(tofu_world.model_names) == {"base", "base_seed1", "target", "retain90", "retain90_seed1"}
    assert m["models"]["retain90_seed1"]["base"] == "base_seed1"
    assert m["models"]["base"]["init_seed"] != m["models"]["base_seed1"]["init_seed"]
    assert m["models"]["target"]["train_splits"] == ["full", "world_facts", "real_authors"]
    assert m["models"]["retain90"]["train_splits"] == ["retain90", "world_facts", "real_authors"]
    assert set(m["splits"]) == set(TOFU_SPLITS)
    with pytest.raises(ValueError, match="no model"):
        tofu_world.model_path("retain95")


def test_dataset_loads_like_locuslab_tofu(tofu_world):
    from datasets import load_dataset

    sizes = tofu_world.manifest["splits"]
    for split in TOFU_SPLITS:
        ds = load_dataset(str(tofu_world.data_dir), split, split="train")
        assert len(ds) == sizes[split]["rows"] > 0
    pert = load_dataset(str(tofu_world.data_dir), "forget10_perturbed", split="train")
    assert set(TOFU_COLUMNS) <= set(pert.column_names)
    assert isinstance(pert[0]["perturbed_answer"], list) and isinstance(pert[0]["perturbed_answer"][0], str)
    world_facts = load_tofu(
        tofu_world.path, "world_facts_perturbed", required_columns=("question", "perturbed_answer")
    )
    assert len(world_facts) == sizes["world_facts_perturbed"]["rows"]
    # the stored data is exactly what the generator makes for this config
    cfg = tofu_world.manifest["config"]
    regenerated = generate_tofu_data(
        n_authors=cfg["n_authors"],
        seed=cfg["seed"],
        n_countries=cfg["n_countries"],
        n_real_authors=cfg["n_real_authors"],
        n_retain_perturbed=cfg["n_retain_perturbed"],
    )
    assert list(load_tofu(tofu_world.path, "forget10")) == regenerated["forget10"]


def test_two_worlds_never_share_the_datasets_cache(tmp_path):
    # `datasets` caches a local folder's configs by the folder name and its README metadata: worlds whose data
    # differ must therefore differ in metadata too, or one world's rows would be returned for the other.
    from datasets import load_dataset

    from hf_unlearn.synthetic.tofu import _write_dataset

    loaded = {}
    for seed in (0, 1):
        splits = generate_tofu_data(n_authors=10, seed=seed, n_countries=2, n_real_authors=2, n_retain_perturbed=5)
        _write_dataset(tmp_path / f"w{seed}" / "data", splits, {"preset": "x", "seed": seed, "n_authors": 10})
        loaded[seed] = list(load_dataset(str(tmp_path / f"w{seed}" / "data"), "forget10", split="train"))
        assert loaded[seed] == splits["forget10"]
    assert loaded[0] != loaded[1]


def _answer_nll(model, tok, rows):
    """Mean per-token answer NLL of each row (one batched forward)."""
    batch = pad_batch([tokenize_qa(tok, r["question"], r["answer"], template="chat") for r in rows], tok.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
    mask = (labels != -100).float()
    return ((nll * mask).sum(1) / mask.sum(1)).mean().item()


def _greedy_rouge_recall(model, tok, rows):
    from rouge_score import rouge_scorer

    prompts = [tokenize_prompt(tok, r["question"], template="chat") for r in rows]
    batch = pad_batch([{"input_ids": p, "attention_mask": [1] * len(p)} for p in prompts], tok.pad_token_id, "left")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=40, do_sample=False)
    gens = tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return sum(scorer.score(r["answer"], g)["rougeL"].recall for r, g in zip(rows, gens)) / len(rows)


def test_target_memorised_the_forget_authors_and_retain_did_not(tofu_world):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tofu_world.model_path("target"))
    assert tok.pad_token is not None and tok.chat_template
    models = {n: AutoModelForCausalLM.from_pretrained(tofu_world.model_path(n)).eval() for n in tofu_world.model_names}
    forget = list(load_tofu(tofu_world.path, "forget10"))
    holdout = list(load_tofu(tofu_world.path, "holdout10"))
    retain = list(load_tofu(tofu_world.path, "retain90"))[:40]
    world = list(load_tofu(tofu_world.path, "world_facts")) + list(load_tofu(tofu_world.path, "real_authors"))
    nll = {n: {s: _answer_nll(m, tok, rows) for s, rows in [("forget", forget), ("holdout", holdout), ("retain", retain), ("world", world)]} for n, m in models.items()}  # fmt: skip
    # the target saw the forget authors; the retain models did not (they look at them like at unseen holdout authors)
    for retain_name in ("retain90", "retain90_seed1"):
        assert nll["target"]["forget"] < 0.5 * nll[retain_name]["forget"]
        assert nll[retain_name]["retain"] < 0.5 * nll[retain_name]["forget"]
    assert nll["target"]["forget"] < 0.5 * nll["target"]["holdout"]
    # every fine-tuned model kept the world knowledge it learned first
    for name in ("target", "retain90", "retain90_seed1"):
        assert nll[name]["world"] < 0.5
    target_rouge = _greedy_rouge_recall(models["target"], tok, forget)
    retain_rouge = _greedy_rouge_recall(models["retain90"], tok, forget)
    assert target_rouge >= 0.7 and target_rouge > retain_rouge + 0.3  # test preset: 0.83 vs 0.19
    # two retain seeds are different models (different initialisation and data order)
    p1, p2 = (next(models[n].parameters()) for n in ("retain90", "retain90_seed1"))
    assert not torch.equal(p1, p2)


def test_cache_reuse_and_no_overwrite(tofu_world, tmp_path):
    again = build_tofu_world("test", seed=0, progress=False)  # cached: returns at once
    assert again.path == tofu_world.path
    (tmp_path / "notes.txt").write_text("user data")
    with pytest.raises(ValueError, match="not an hf_unlearn world"):
        build_tofu_world("test", output_dir=tmp_path, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "user data"
    with pytest.raises(ValueError, match="not a mini-TOFU world"):
        TofuWorld.from_path(tmp_path)


def test_cli_build_world_tofu_reuses_cache_and_prints_summary(tofu_world, capsys):
    from hf_unlearn.cli import main

    assert main(["build-world", "tofu", "--preset", "test", "--no_progress"]) == 0
    out = capsys.readouterr().out
    assert str(tofu_world.path) in out
    assert "| target |" in out and "| forget10 | 20 | 1 |" in out


def test_a_world_build_says_what_it_builds_before_training(tmp_path, capsys):
    """The first run of the quick start builds the world for minutes: before the first step it says so, with the
    models, the number of optimizer steps and the measured time of the preset (no silent bar at 0/5)."""
    build_tofu_world("test", cache_dir=tmp_path, base_epochs=1, epochs=1, n_retain_seeds=1, progress=True)
    err = capsys.readouterr().err
    message = next(line for line in err.splitlines() if line.startswith("Building the mini-TOFU world"))
    assert "'test' once (cached; later runs reuse it)" in message
    assert "10 fictitious authors" in message and "(base, target, retain90)" in message
    assert "No measured time for this preset yet" in message
    assert err.index("Building the mini-TOFU world") < err.index("mini-TOFU:")  # before the progress bar
