"""Value tests of the TOFU evaluation's plumbing on small in-memory data: which tokenised sequence each item's
answer, paraphrase and perturbed answers are, how a prompt is split from its answers, what the retain results give
for forget quality, the holdout rows, the context length, and the privacy metrics on a tiny model against
independent computations. Fast (no world), so that mutation testing runs them (`scripts/mutation.sh`)."""

import json
import math

import numpy as np
import pytest
import torch

from hf_unlearn.data import get_template, tokenize_qa
from hf_unlearn.eval.tofu import (
    _context_length,
    _holdout_rows,
    _load_set,
    _perturbed_list,
    _split_prompts,
    _tokenize_set,
    _utility_terms,
    mark_as_retain,
    retain_truth_ratios,
    tofu_privacy_metrics,
)


torch.set_num_threads(1)

WORDS = [
    "_",
    "<eos>",
    "[INST]",
    "[/INST]",
    "who",
    "wrote",
    "the",
    "book",
    "?",
    "ana",
    "bo",
    "cy",
    "dee",
    "eve",
    "fay",
    "gus",
    "hal",
    "ivy",
    "jo",
    "a",
    "b",
    "c",
    "d",
]


@pytest.fixture(scope="module")
def tok():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="_"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="_", eos_token="<eos>")


def _row(question, answer, perturbed, paraphrase=None):
    row = {"question": question, "answer": answer, "perturbed_answer": perturbed}
    if paraphrase is not None:
        row["paraphrased_answer"] = paraphrase
    return row


ROWS = [
    _row("who wrote the book ?", "ana", ["bo", "cy dee"], paraphrase="eve fay"),
    _row("who wrote ?", "gus hal ivy", ["jo"], paraphrase="a"),
]


def _ids(tok, question, answer, ctx=None):
    return tokenize_qa(tok, question, answer, get_template("llama2", tok), max_length=ctx)


# ---- tokenising a set and splitting prompts ------------------------------------------------------------------------


def test_tokenize_set_lays_out_answer_paraphrase_and_perturbed_answers_item_by_item(tok):
    template = get_template("llama2", tok)
    features, ans, para, pert = _tokenize_set(ROWS, "forget", "forget10_perturbed", tok, template, 32)
    texts = [
        ("who wrote the book ?", "ana"),
        ("who wrote the book ?", "eve fay"),
        ("who wrote the book ?", "bo"),
        ("who wrote the book ?", "cy dee"),
        ("who wrote ?", "gus hal ivy"),
        ("who wrote ?", "a"),
        ("who wrote ?", "jo"),
    ]
    assert [f["input_ids"] for f in features] == [_ids(tok, q, a)["input_ids"] for q, a in texts]
    assert [f["labels"] for f in features] == [_ids(tok, q, a)["labels"] for q, a in texts]
    assert (ans, para, pert) == ([0, 4], [1, 5], [[2, 3], [6]])
    prompts, continuations = _split_prompts(features, ans)
    eos = tok.eos_token_id
    w = {word: i for i, word in enumerate(WORDS)}
    # each prompt is the unlabelled prefix; each continuation the answer tokens plus EOS
    assert prompts == [_ids(tok, texts[0][0], "ana")["input_ids"][:-2], _ids(tok, texts[4][0], "a")["input_ids"][:-2]]
    assert continuations == [
        [[w["ana"], eos], [w["eve"], w["fay"], eos], [w["bo"], eos], [w["cy"], w["dee"], eos]],
        [[w["gus"], w["hal"], w["ivy"], eos], [w["a"], eos], [w["jo"], eos]],
    ]


def test_tokenize_set_option_sets_use_the_answer_as_paraphrase_and_a_string_as_one_perturbed_answer(tok):
    rows = [_row("who wrote ?", "ana", "bo cy"), _row("who ?", "dee", ["eve", "fay", "gus"])]
    features, ans, para, pert = _tokenize_set(rows, "world_facts", "wf", tok, get_template("llama2", tok), None)
    assert len(features) == 6 and ans == para == [0, 2] and pert == [[1], [3, 4, 5]]
    assert features[1]["input_ids"] == _ids(tok, "who wrote ?", "bo cy")["input_ids"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([ROWS[0], _row("who ?", "a", ["b"], paraphrase="")], r"forget10_perturbed row 1 \(paraphrased_answer\)"),
        ([ROWS[0], _row("who ?", "", ["b"], paraphrase="c")], r"forget10_perturbed row 1 \(answer\)"),
        ([_row("who ?", "a", ["b", ""], paraphrase="c")], r"forget10_perturbed row 0 \(perturbed_answer\)"),
        ([_row("who ?", "a b c d ana bo cy dee", ["b"], paraphrase="c")], r"row 0 \(answer\).*max_length=10"),
        ([_row("who ?", "a", [], paraphrase="c")], r"forget10_perturbed row 0: perturbed_answer must be a non-empty"),
    ],
)
def test_tokenize_set_names_the_row_and_the_answer_that_fails(tok, rows, message):
    with pytest.raises(ValueError, match=message):
        _tokenize_set(rows, "forget", "forget10_perturbed", tok, get_template("llama2", tok), 10)


def test_perturbed_list():
    assert _perturbed_list("one", 0, "s") == ["one"]
    assert _perturbed_list(("a", "b"), 0, "s") == ["a", "b"]
    with pytest.raises(ValueError, match="s row 3: perturbed_answer"):
        _perturbed_list(None, 3, "s")


# ---- retain results, forget quality inputs -------------------------------------------------------------------------


def _results(truth_ratios, split="forget05", min_k=None):
    out = {"forget_split": split, "per_item": {"forget": {"truth_ratio": truth_ratios}}, "summary": {}}
    if min_k is not None:
        out["summary"]["mia_min_k"] = min_k
    return out


def test_retain_truth_ratios_from_a_dict_a_json_file_and_a_list(tmp_path):
    values = [0.5, 1.25, 2.0]
    np.testing.assert_array_equal(retain_truth_ratios(_results(values), "forget05"), values)
    np.testing.assert_array_equal(retain_truth_ratios(_results(values)), values)  # no split given: not checked
    np.testing.assert_array_equal(retain_truth_ratios({"per_item": {"forget": {"truth_ratio": values}}}), values)
    path = tmp_path / "retain.json"
    path.write_text(json.dumps(_results(values)), encoding="utf-8")
    np.testing.assert_array_equal(retain_truth_ratios(path, "forget05"), values)
    np.testing.assert_array_equal(retain_truth_ratios(str(path)), values)
    np.testing.assert_array_equal(retain_truth_ratios(np.array(values)), values)
    assert retain_truth_ratios(values).dtype == np.float64


def test_retain_truth_ratios_refuses_what_cannot_be_right(tmp_path):
    with pytest.raises(ValueError, match="holds retain results for 'forget05', but this evaluation is on 'forget10'"):
        retain_truth_ratios(_results([1.0]), "forget10")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_results([1.0], split="forget01")), encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path}.*holds retain results for 'forget01'"):
        retain_truth_ratios(path, "forget10")
    with pytest.raises(ValueError, match="file 'nope.json' does not exist"):
        retain_truth_ratios("nope.json")
    with pytest.raises(ValueError, match="retain_results has no per_item.forget.truth_ratio"):
        retain_truth_ratios({"per_item": {"retain": {}}})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"summary": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match=f"{bad} has no per_item"):
        retain_truth_ratios(bad)
    with pytest.raises(ValueError, match=f"{bad} truth ratios contains NaN") as info:
        bad.write_text(json.dumps(_results([1.0, float("nan")])), encoding="utf-8")
        retain_truth_ratios(bad)
    assert "retain_results truth" not in str(info.value)
    with pytest.raises(ValueError, match="retain_results contains NaN"):
        retain_truth_ratios([float("nan")])
    with pytest.raises(ValueError, match="retain_results truth ratios is empty"):
        retain_truth_ratios(_results([]))


def test_mark_as_retain_gives_forget_quality_one_and_privleak_zero():
    tr = [0.2, 0.9, 1.7]
    results = {"per_item": {"forget": {"truth_ratio": tr}}, "summary": {"forget_quality": 0.3, "privleak": 12.0}}
    out = mark_as_retain(results)
    assert out is results
    assert out["summary"] == {"forget_quality": 1.0, "forget_quality_ks_statistic": 0.0, "privleak": 0.0}
    no_privacy = mark_as_retain({"per_item": {"forget": {"truth_ratio": tr}}, "summary": {"privleak": None}})
    assert no_privacy["summary"]["privleak"] is None and no_privacy["summary"]["forget_quality"] == 1.0


def test_utility_terms_take_the_three_numbers_of_each_utility_set_present():
    sets = {
        "forget": {"probability": 0.9, "rouge_l_recall": 0.8, "truth_ratio": 0.7},
        "retain": {"probability": 0.5, "rouge_l_recall": 0.25, "truth_ratio": 0.4, "utility": 0.3},
        "world_facts": {"probability": 0.6, "truth_ratio": 0.2},
    }
    assert _utility_terms(sets) == {
        "retain_probability": 0.5,
        "retain_rouge_l_recall": 0.25,
        "retain_truth_ratio": 0.4,
        "world_facts_probability": 0.6,
        "world_facts_truth_ratio": 0.2,
    }
    assert _utility_terms({"forget": sets["forget"]}) == {}


# ---- data splits, holdout rows, context length ---------------------------------------------------------------------


def test_load_set_from_a_mapping_of_lists_and_its_errors():
    ds = _load_set({"s": [{"question": "q", "answer": "a"}]}, "s", ("question", "answer"))
    assert ds.to_list() == [{"question": "q", "answer": "a"}]
    with pytest.raises(ValueError, match=r"no split named 't'; it has \['s'\]"):
        _load_set({"s": []}, "t", ("question",))
    with pytest.raises(ValueError, match="split 's'"):
        _load_set({"s": [{"question": "q"}]}, "s", ("question", "answer"))


def test_holdout_rows_pick_the_split_of_the_forget_size_and_the_first_max_items():
    rows = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(5)]
    data = {"holdout05": rows, "holdout10": rows[:1]}
    assert _holdout_rows(data, "forget05", None, required=False) == rows
    assert _holdout_rows(data, "forget05", 3, required=True) == rows[:3]
    assert _holdout_rows(data, "forget05", 9, required=True) == rows
    assert _holdout_rows(data, "forget10", None, required=True) == rows[:1]
    assert _holdout_rows(data, "forget01", None, required=False) is None
    with pytest.raises(ValueError, match=r"holdout split 'holdout01'; the data has \['holdout05', 'holdout10'\]"):
        _holdout_rows(data, "forget01", None, required=True)


class _Config:
    def __init__(self, n):
        self.max_position_embeddings = n


class _Model:
    def __init__(self, n):
        self.config = _Config(n)


class _Tok:
    def __init__(self, n):
        self.model_max_length = n


@pytest.mark.parametrize(
    ("model_ctx", "tok_ctx", "expected"),
    [
        (64, 32, 32),  # the smaller of the two
        (32, 64, 32),
        (None, 48, 48),  # the tokenizer's alone
        (64, None, 64),
        (64, 10**7, 64),  # transformers' "no limit" placeholders are ignored
        (None, 10**7 - 1, 10**7 - 1),
        (None, 10**7, None),
        (None, 0, None),
        (64, int(1e30), 64),
        (64, 0, 64),
        (64, 1, 1),
        (64, 48.0, 64),  # not an int
        (None, None, None),
    ],
)
def test_context_length_is_the_smaller_of_model_and_tokenizer(model_ctx, tok_ctx, expected):
    assert _context_length(_Model(model_ctx), _Tok(tok_ctx)) == expected


# ---- privacy metrics on a tiny model, against an independent computation -----------------------------------------


def _auc(members, non_members):
    """P(member score > non-member score) + 0.5 P(tie): the ROC AUC, by counting pairs."""
    wins = sum((m > n) + 0.5 * (m == n) for m in members for n in non_members)
    return wins / (len(members) * len(non_members))


def test_tofu_privacy_metrics_against_per_item_forward_passes(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(4)  # a draw whose Min-K% AUC is not 0 or 1 (checked below)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(WORDS),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=24,
            pad_token_id=0,
            eos_token_id=1,
        )
    ).eval()
    forget = [{"question": "who wrote the book ?", "answer": "ana bo"}, {"question": "who ?", "answer": "cy"}]
    holdout = [
        {"question": "who wrote ?", "answer": "dee eve fay"},
        {"question": "the book ?", "answer": "gus"},
        {"question": "who ?", "answer": "hal ivy"},
    ]
    out = tofu_privacy_metrics(model, tok, forget, holdout, template="llama2", k=0.5, batch_size=2)

    def per_item(rows):
        loss, min_k, es = [], [], []
        for r in rows:
            f = _ids(tok, r["question"], r["answer"])
            ids = f["input_ids"]
            start = next(t for t, label in enumerate(f["labels"]) if label != -100)
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
            picked = [logp[t - 1, ids[t]].item() for t in range(start, len(ids))]
            loss.append(-sum(picked) / len(picked))
            # open-unlearning leaves the last answer token (the EOS) out of Min-K% and extraction strength
            k = max(1, int(0.5 * (len(picked) - 1)))
            min_k.append(-sum(sorted(picked[:-1])[:k]) / k)
            # extraction strength (open-unlearning): 1 - k / n, k the shortest prefix after which every token is the
            # argmax, capped at n - 1
            match = [int(logp[t - 1].argmax()) == ids[t] for t in range(start, len(ids) - 1)]
            n, wrong = len(match), [i for i, ok in enumerate(match) if not ok]
            es.append(1 - (min(wrong[-1] + 1, n - 1) if wrong else 0) / n)
        return loss, min_k, es

    f_loss, f_min_k, f_es = per_item(forget)
    h_loss, h_min_k, _ = per_item(holdout)
    summary = out["summary"]
    # lower loss = more member-like: AUC of -loss, forget as members
    assert summary["mia_loss"] == pytest.approx(_auc([-x for x in f_loss], [-x for x in h_loss]))
    assert summary["mia_min_k"] == pytest.approx(_auc([-x for x in f_min_k], [-x for x in h_min_k]))
    assert summary["extraction_strength"] == pytest.approx(np.mean(f_es))
    assert out["per_item"]["extraction_strength"] == pytest.approx(f_es)
    # no retain reference: PrivLeak is relative to 0.5 (open-unlearning without retain logs)
    auc = summary["mia_min_k"]
    # at AUC 1 PrivLeak is -100 whatever the retain AUC, which would hide a dropped retain reference (mutants 39/41)
    assert 0 < auc < 1
    assert summary["privleak"] == pytest.approx(((1 - auc) - 0.5) / 0.5 * 100)
    with_retain = tofu_privacy_metrics(
        model, tok, forget, holdout, template="llama2", retain_results=_results([1.0], min_k=0.25), k=0.5
    )
    assert out["retain_min_k_auc"] is None and with_retain["retain_min_k_auc"] == 0.25
    assert with_retain["summary"]["privleak"] == pytest.approx(((1 - auc) - 0.75) / 0.75 * 100)
    with pytest.raises(ValueError, match="non-empty forget and holdout"):
        tofu_privacy_metrics(model, tok, forget, [], template="llama2")


# ---- the per-item formulas: inputs from torch, float32 and bad values ---------------------------------------------


def test_formulas_take_tensors_that_require_grad_and_compute_in_float64():
    from hf_unlearn.eval.tofu import answer_probability, truth_ratio

    nll = torch.tensor([0.0, math.log(2.0)], requires_grad=True)
    assert answer_probability(nll).tolist() == pytest.approx([1.0, 0.5])
    # perturbed NLLs as a tensor, and as a list of tensors, each needing detach()
    pert = torch.tensor([[1.0, 3.0]], requires_grad=True)
    assert truth_ratio(torch.tensor([1.0]), pert).tolist() == pytest.approx([math.exp(-1.0)])
    assert truth_ratio([1.0], [pert[0]]).tolist() == pytest.approx([math.exp(-1.0)])
    # float32 inputs are widened before any arithmetic: the mean of two float32 values in float64
    a, b = np.float32(0.1), np.float32(0.2)
    expected = np.exp(-(np.float64(a) + np.float64(b)) / 2)
    assert truth_ratio([0.0], [np.array([a, b])])[0] == expected
    assert answer_probability(np.array([a], dtype=np.float32)).dtype == np.float64
    assert answer_probability(np.array([a], dtype=np.float32))[0] == np.exp(-np.float64(a))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.answer_probability([float("nan")]), "^nll contains NaN"),
        (lambda t: t.probability_with_options([float("nan")], [[1.0]]), "^nll_true contains NaN"),
        (lambda t: t.probability_with_options([1.0], [[1.0], [2.0]]), "^nll_perturbed has 2 rows but there are 1"),
        (lambda t: t.truth_ratio([float("inf")], [[1.0]]), "^nll_paraphrased contains NaN"),
        (lambda t: t.truth_ratio([1.0], [[float("nan")]]), r"^nll_perturbed\[0\] contains NaN"),
        (lambda t: t.truth_ratio([1.0], [[[1.0, 2.0]]]), r"^nll_perturbed\[0\] must be a non-empty list"),
        (lambda t: t.truth_ratio([1.0], [[]]), r"^nll_perturbed\[0\] must be a non-empty list"),
        (lambda t: t.truth_ratio_aggregate([], "forget"), "^truth_ratios is empty"),
        (lambda t: t.forget_quality([float("nan")], [1.0]), "^truth_ratios contains NaN"),
        (lambda t: t.forget_quality([1.0], [float("nan")]), "^retain_truth_ratios contains NaN"),
        (lambda t: t.model_utility([0.5, float("nan")]), "^utility values contains NaN"),
        (lambda t: t.tofu_set_metrics("retain", [float("nan")], [[1.0]], [1.0]), "^nll_answer contains NaN"),
    ],
)
def test_formula_errors_name_the_argument(call, message):
    from hf_unlearn.eval import tofu

    with pytest.raises(ValueError, match=message):
        call(tofu)


def test_rouge_l_recall_builds_a_stemming_rouge_l_scorer(monkeypatch):
    from hf_unlearn.eval import tofu

    monkeypatch.setattr(tofu, "_SCORER", None)  # as in a fresh process: the scorer is built on first use
    # "running dogs" matches "run dog" only through the Porter stemmer
    assert tofu.rouge_l_recall(["the run dog"], ["running dogs"]).tolist() == [1.0]
    assert tofu.rouge_l_recall(["a dog"], ["running dogs"]).tolist() == [0.5]
    _, items = tofu.tofu_set_metrics(
        "retain", [0.1, 0.2], [[1.0], [2.0]], [0.3, 0.4], generations=["run dog", "x"], references=["ran", "x"]
    )
    assert items["rouge_l_recall"] == [0.0, 1.0]


def test_load_set_and_holdout_rows_from_a_data_folder(tofu_world):
    from hf_unlearn.data.tofu import PERTURBED_COLUMNS, QA_COLUMNS

    folder = str(tofu_world.path)
    columns = QA_COLUMNS + PERTURBED_COLUMNS["forget"]
    rows = _load_set(folder, "forget10_perturbed", columns).to_list()
    assert rows == tofu_world.load_split("forget10_perturbed").to_list()
    assert _load_set(folder, "real_authors_perturbed", QA_COLUMNS).to_list() == (
        tofu_world.load_split("real_authors_perturbed").to_list()
    )
    with pytest.raises(ValueError, match="paraphrased_answer"):  # real_authors has no paraphrase
        _load_set(folder, "real_authors_perturbed", columns)
    holdout = tofu_world.load_split("holdout10").to_list()
    assert _holdout_rows(folder, "forget10", None, required=True) == holdout
    assert _holdout_rows(folder, "forget10", 2, required=False) == holdout[:2]


def test_cli_shares_the_tokenised_data_only_between_models_with_the_same_tokenizer(tok):
    import copy

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from hf_unlearn.eval.cli import _same_tokenizer

    assert _same_tokenizer(tok, copy.deepcopy(tok))
    other_pad = copy.deepcopy(tok)
    other_pad.pad_token = "<eos>"
    assert not _same_tokenizer(tok, other_pad)
    chat = copy.deepcopy(tok)
    chat.chat_template = "{{ messages[0]['content'] }}"
    assert not _same_tokenizer(tok, chat)
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(reversed(WORDS))}, unk_token="_"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    reordered = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="_", eos_token="<eos>")
    assert not _same_tokenizer(tok, reordered)  # same words, other ids
