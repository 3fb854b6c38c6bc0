"""Value tests for the privacy and robustness metrics (`hf_unlearn.eval.mia`, `hf_unlearn.eval.muse`,
`hf_unlearn.eval.quantize`), grouped by the kinds of issue 16: options at non-default values, padded batches, and
what each metric is computed on. Every expected value is computed here from the formula (MUSE's code, written out
in `shared/reference/llm.md`), per item and without padding: the model's own unbatched `generate` / forward, then
`rouge_score` and numpy, never the function under test."""

import json
import zlib

import numpy as np
import pytest
import torch
from rouge_score import rouge_scorer


_ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def _rouge_l(prediction: str, reference: str) -> tuple[float, float]:
    s = _ROUGE.score(reference, prediction)["rougeL"]
    return s.fmeasure, s.recall


def _greedy(model, ids: list[int], n: int) -> list[int]:
    """Greedy continuation of one unpadded prompt, token by token (no `generate`, no padding)."""
    out = list(ids)
    with torch.no_grad():
        for _ in range(n):
            out.append(int(model(input_ids=torch.tensor([out])).logits[0, -1].argmax()))
    return out[len(ids) :]


def _greedy_text(model, tok, prompt: str, n: int) -> str:
    """The new text of `_greedy`, cut after EOS, special tokens removed, stripped."""
    tokens = _greedy(model, tok(prompt)["input_ids"], n)
    if tok.eos_token_id in tokens:
        tokens = tokens[: tokens.index(tok.eos_token_id) + 1]
    return tok.decode(tokens, skip_special_tokens=True).strip()


@pytest.fixture(scope="module")
def muse(muse_world):
    return muse_world, muse_world.load_model("target").eval(), muse_world.load_tokenizer()


# --------------------------------------------------------------------------------------------------------------
# Kind 1: options at non-default values
# --------------------------------------------------------------------------------------------------------------


def test_verbmem_at_a_short_length_scores_each_greedy_continuation_against_its_cut_reference(muse):
    """max_new_tokens=6 (not 128) cuts both the generation and the reference (MUSE: the reference's first 6 tokens,
    special tokens included, decoded); batch 4 pads prompts of unequal length."""
    from hf_unlearn.eval.muse import verbmem

    world, model, tok = muse
    rows = world.load("verbmem", "forget").to_list()
    prompts, conts = [r["prompt"] for r in rows], [r["gt"] for r in rows]
    assert len({len(tok(p)["input_ids"]) for p in prompts}) > 1  # unequal lengths: the batch is padded
    n = 6
    out = verbmem(model, tok, prompts, conts, max_new_tokens=n, batch_size=4)
    want_f1, want_recall, want_gen = [], [], []
    for p, c in zip(prompts, conts):
        gen = _greedy_text(model, tok, p, n)
        ref = tok.decode(tok(c)["input_ids"][:n], skip_special_tokens=True)
        f1, recall = _rouge_l(gen, ref)
        want_f1.append(f1)
        want_recall.append(recall)
        want_gen.append(gen)
    assert out["per_item"]["generation"] == want_gen
    np.testing.assert_allclose(out["per_item"]["rouge_l_f1"], want_f1)
    np.testing.assert_allclose(out["per_item"]["rouge_l_recall"], want_recall)
    assert out["rouge_l_f1"] == pytest.approx(np.mean(want_f1))
    assert out["rouge_l_recall"] == pytest.approx(np.mean(want_recall))
    assert 0 < out["rouge_l_f1"] < 1 or out["rouge_l_f1"] == pytest.approx(1.0)


def test_knowmem_with_examples_a_custom_cue_and_a_short_answer(muse):
    """icl, answer_prefix and max_new_tokens at non-default values: the prompt is MUSE's few-shot format written out
    here, the generation is cut at MUSE's stop words and stripped, and ROUGE-L is against the item's own answer."""
    from hf_unlearn.eval.muse import knowmem

    world, model, tok = muse
    qa = world.load("knowmem", "forget_qa").to_list()[:4]
    icl = [(r["question"], r["answer"]) for r in world.load("knowmem", "forget_qa_icl").to_list()]
    cue = "Answer:"
    n = 5
    out = knowmem(
        model, tok, [r["question"] for r in qa], [r["answer"] for r in qa], icl=icl, max_new_tokens=n,
        answer_prefix=cue, batch_size=3,
    )  # fmt: skip
    shots = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in icl)
    for i, r in enumerate(qa):
        prompt = f"{shots}Question: {r['question']}\n{cue}"
        raw = _greedy_text(model, tok, prompt, n)
        cut = raw
        for stop in ("\n\n", "\nQuestion", "Question:"):
            cut = cut.split(stop)[0]
        gen = cut.strip()
        assert out["per_item"]["generation"][i] == gen
        assert out["per_item"]["rouge_l_f1"][i] == pytest.approx(_rouge_l(gen, r["answer"])[0])
        assert out["per_item"]["rouge_l_recall"][i] == pytest.approx(_rouge_l(gen, r["answer"])[1])
    assert out["per_item"]["answer"] == [r["answer"] for r in qa]
    assert out["rouge_l_f1"] == pytest.approx(np.mean(out["per_item"]["rouge_l_f1"]))


def test_generation_is_cut_to_fit_the_context(muse):
    """A prompt of L tokens in a model with context C gets at most C - L new tokens (not max_new_tokens)."""
    from hf_unlearn.eval.muse import verbmem

    world, model, tok = muse
    row = world.load("verbmem", "forget").to_list()[0]
    ctx = model.config.max_position_embeddings
    words = row["prompt"].split()
    prompt = row["prompt"]
    while len(tok(prompt)["input_ids"]) < ctx - 3:  # a prompt 3 tokens short of the context
        prompt = prompt + " " + words[len(prompt) % len(words)]
    while len(tok(prompt)["input_ids"]) > ctx - 3:
        prompt = prompt.rsplit(" ", 1)[0]
    room = ctx - len(tok(prompt)["input_ids"])
    assert 0 < room <= 3
    out = verbmem(model, tok, [prompt], [row["gt"]], max_new_tokens=50)
    new = tok(out["per_item"]["generation"][0], add_special_tokens=False)["input_ids"]
    assert len(new) <= room
    want = _greedy_text(model, tok, prompt, room)
    assert out["per_item"]["generation"][0] == want


def test_mia_scores_max_length_truncates_every_text(muse):
    """max_length=8: each score is computed on the text's first 8 tokens only (one unpadded forward here)."""
    from hf_unlearn.eval.mia import mia_scores

    world, model, tok = muse
    texts = [r["text"] for r in world.load("privleak", "forget").to_list()][:3]
    scores = mia_scores(model, tok, texts, k=0.5, batch_size=2, max_length=8)
    for i, text in enumerate(texts):
        ids = torch.tensor([tok(text)["input_ids"][:8]])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
        lp = logp[torch.arange(7), ids[0, 1:]].numpy()
        assert scores["loss"][i] == pytest.approx(lp.mean(), rel=1e-4, abs=1e-6)
        # Min-K% leaves out the last token (open-unlearning): the 3 lowest of the first 6, int(6 * 0.5) = 3
        assert scores["min_k"][i] == pytest.approx(np.sort(lp[:-1])[:3].mean(), rel=1e-4, abs=1e-6)
        assert scores["zlib"][i] == pytest.approx(lp.mean() / len(zlib.compress(text.encode())), rel=1e-4, abs=1e-8)


def test_quantize_default_group_size_is_64_input_features():
    """group_size left at its default: a 2 x 128 weight has two groups per row, each with its own scale."""
    from hf_unlearn.eval.quantize import quantize_tensor

    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 128, generator=g)
    w[0, 64:] *= 10  # the second group of row 0 has a 10x larger scale
    q_max = 2 ** (3 - 1) - 1
    want = np.empty((2, 128), dtype=np.float32)
    wn = w.numpy()
    for r in range(2):
        for start in (0, 64):
            block = wn[r, start : start + 64]
            scale = np.abs(block).max() / q_max
            want[r, start : start + 64] = np.clip(np.round(block / scale), -q_max, q_max) * scale
    np.testing.assert_allclose(quantize_tensor(w, bits=3).numpy(), want, rtol=1e-6, atol=1e-7)


def test_quantize_model_default_group_size_and_group_size_one():
    """quantize_model's default group_size is 64 too; group_size=1 (one scale per weight) is allowed and exact."""
    from hf_unlearn.eval.quantize import quantize_model, quantize_tensor

    g = torch.Generator().manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(128, 2, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.randn(2, 128, generator=g) * torch.linspace(0.1, 10.0, 128))
    want = quantize_tensor(net[0].weight, bits=4, group_size=64)
    assert not torch.equal(want, quantize_tensor(net[0].weight, bits=4, group_size=128))  # the grouping matters
    assert torch.equal(quantize_model(net, bits=4)[0].weight, want)
    w = torch.tensor([[0.3, -1.7, 0.0, 2.5]])
    torch.testing.assert_close(quantize_tensor(w, bits=2, group_size=1), w, atol=1e-7, rtol=0)


@pytest.mark.parametrize(("in_features", "suggestion"), [(5, 1), (6, 3), (10, 2)])
def test_group_size_error_suggests_the_largest_divisor_not_above_it(in_features, suggestion):
    from hf_unlearn.eval.quantize import quantize_model

    with pytest.raises(ValueError, match=rf"in_features={in_features}\); choose a divisor such as {suggestion}\."):
        quantize_model(torch.nn.Linear(in_features, 2), bits=8, group_size=4)
    with pytest.raises(ValueError, match="group_size must be a positive integer"):
        quantize_model(torch.nn.Linear(4, 2), bits=8, group_size=2.0)


def test_quantize_keeps_the_dtype_and_skips_only_exact_module_names():
    """skip_modules at a non-default value matches the last name component exactly; a bf16 model stays bf16."""
    from hf_unlearn.eval.quantize import quantize_model

    net = torch.nn.ModuleDict(
        {
            "proj": torch.nn.Linear(4, 2, bias=False),
            "inner": torch.nn.ModuleDict({"gate": torch.nn.Linear(4, 2, bias=False)}),
            "gate_up": torch.nn.Linear(4, 2, bias=False),
            "lm_head": torch.nn.Linear(4, 2, bias=False),
        }
    ).to(torch.bfloat16)
    values = torch.tensor([[0.7, 0.26, -1.4, 0.33], [0.0, 0.0, 0.05, -0.9]])
    with torch.no_grad():
        for m in (net["proj"], net["inner"]["gate"], net["gate_up"], net["lm_head"]):
            m.weight.copy_(values)
    q = quantize_model(net, bits=2, group_size=2, skip_modules=("gate",))
    # 2 bits: q_max = 1, each value becomes 0 or +-max|group| (rounded w / scale)
    w = values.to(torch.bfloat16).float()
    want = torch.empty_like(w)
    for r in range(2):
        for s in (0, 2):
            block = w[r, s : s + 2]
            scale = block.abs().max()
            want[r, s : s + 2] = torch.round(block / scale) * scale if scale > 0 else block
    assert torch.equal(q["inner"]["gate"].weight, net["inner"]["gate"].weight)  # skipped ("gate")
    for name in ("proj", "gate_up", "lm_head"):  # "gate_up" is not "gate"; lm_head is no longer skipped
        assert q[name].weight.dtype == torch.bfloat16
        torch.testing.assert_close(q[name].weight.float(), want.to(torch.bfloat16).float(), atol=0, rtol=0)


# --------------------------------------------------------------------------------------------------------------
# Kind 3: what a metric is computed on
# --------------------------------------------------------------------------------------------------------------


def test_verbmem_scores_each_item_against_its_own_continuation(muse):
    """The memorised target reproduces its forget continuations: each item scores higher against its own
    continuation than against another item's (a metric paired with the wrong reference would not)."""
    from hf_unlearn.eval.muse import verbmem

    world, model, tok = muse
    rows = world.load("verbmem", "forget").to_list()[:4]
    prompts, conts = [r["prompt"] for r in rows], [r["gt"] for r in rows]
    right = verbmem(model, tok, prompts, conts, max_new_tokens=16, batch_size=4)["per_item"]["rouge_l_f1"]
    rolled = conts[1:] + conts[:1]
    wrong = verbmem(model, tok, prompts, rolled, max_new_tokens=16, batch_size=4)["per_item"]["rouge_l_f1"]
    assert all(r > w for r, w in zip(right, wrong)), (right, wrong)


def test_retain_auc_is_read_from_the_summary_of_a_dict_a_json_file_or_a_number(tmp_path):
    from hf_unlearn.eval.muse import retain_min_k_auc

    results = {"summary": {"mia_min_k": 0.61, "mia_loss": 0.9}, "retain_min_k_auc": 0.2}
    path = tmp_path / "retain.json"
    path.write_text(json.dumps(results))
    assert retain_min_k_auc(results) == 0.61  # Min-K%, not another attack's AUC nor a stored reference
    assert retain_min_k_auc(str(path)) == 0.61
    assert retain_min_k_auc(path) == 0.61
    assert retain_min_k_auc(0.4) == 0.4 and retain_min_k_auc(1) == 1.0
    with pytest.raises(ValueError, match="summary.mia_min_k"):
        retain_min_k_auc({"summary": {"mia_loss": 0.9}})
    with pytest.raises(ValueError, match="does not exist"):
        retain_min_k_auc(str(tmp_path / "missing.json"))
    with pytest.raises(TypeError, match="results dict, a JSON path or an AUC"):
        retain_min_k_auc(True)


def test_mark_muse_retain_and_the_muse_table_scale_by_100_except_privleak_and_auc():
    from hf_unlearn.eval.muse import mark_muse_retain, muse_table

    res = {
        "summary": {
            "forget_verbmem_ROUGE": 0.4567,
            "forget_knowmem_ROUGE": 0.123,
            "retain_knowmem_ROUGE": 0.9,
            "privleak": -37.25,
            "extraction_strength": 0.05,
            "mia_min_k": 0.5678,
        },
        "muse": {"privleak": -37.25},
    }
    table = muse_table({"m": res})
    assert table.splitlines()[2] == "| m | 45.7 | 12.3 | 90.0 | -37.2 | 5.0 | 0.568 |"
    assert mark_muse_retain(res) is res
    assert res["summary"]["privleak"] == 0.0 and res["muse"]["privleak"] == 0.0
    assert res["retain_min_k_auc"] == 0.5678
    assert muse_table({"r": res}).splitlines()[2] == "| r | 45.7 | 12.3 | 90.0 | 0.0 | 5.0 | 0.568 |"


def test_mia_aucs_pair_each_attack_with_itself_and_skip_unshared_ones():
    from hf_unlearn.eval.mia import mia_aucs

    members = {"loss": [3.0, 2.0], "zlib": [0.0, 0.1], "min_k": [5.0, 6.0]}
    others = {"loss": [1.0, 2.5], "zlib": [1.0, 2.0]}
    # loss: pairs 3>1, 3>2.5, 2>1, 2<2.5 -> 0.75; zlib: members below every non-member -> 0
    assert mia_aucs(members, others) == {"loss": 0.75, "zlib": 0.0}


def test_privleak_is_relative_to_the_retain_auc_not_to_chance():
    from hf_unlearn.eval.mia import privleak

    # ((1 - 0.8) - (1 - 0.7)) / (1 - 0.7) * 100 = (0.2 - 0.3) / 0.3 * 100
    assert privleak(0.8, retain_auc=0.7) == pytest.approx(-100 / 3)
    assert privleak(0.8) == pytest.approx((0.2 - 0.5) / 0.5 * 100)
    assert privleak(0.0, retain_auc=0.0) == 0.0  # both ends of [0, 1] are AUCs
    assert privleak(1.0, retain_auc=0.5) == -100.0
    with pytest.raises(ValueError, match="PrivLeak is undefined"):
        privleak(0.5, retain_auc=1.0)
    with pytest.raises(ValueError, match="auc must be an AUC"):
        privleak(1.2)
    with pytest.raises(ValueError, match="retain_auc must be an AUC"):
        privleak(0.5, retain_auc=-0.1)


def test_min_k_scores_take_the_lowest_tokens_not_the_highest():
    from hf_unlearn.eval.mia import min_k_plus_plus_score, min_k_score

    lp = [-0.5, -4.0, -1.0, -3.0, -0.1, -2.0, -0.2]
    assert min_k_score(lp, k=0.3) == pytest.approx((-4.0 - 3.0) / 2)  # int(7 * 0.3) = 2 lowest
    assert min_k_score(np.array(lp), k=0.5) == pytest.approx((-4.0 - 3.0 - 2.0) / 3)
    assert min_k_score(torch.tensor(lp), k=0.2) == pytest.approx(-4.0)  # int(1.4) = 1
    mu = [-1.0] * 7
    sd = [2.0, 1.0, 1.0, 0.5, 1.0, 0.0, 1.0]  # the zero std is floored at 1e-3
    z = sorted((a - m) / max(s, 1e-3) for a, m, s in zip(lp, mu, sd))
    assert min_k_plus_plus_score(lp, mu, sd, k=0.3) == pytest.approx((z[0] + z[1]) / 2)
    with pytest.raises(ValueError, match="disagree in length"):
        min_k_plus_plus_score(lp, mu[:6], sd, k=0.3)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        min_k_score([], k=0.3)


# --------------------------------------------------------------------------------------------------------------
# Kind 2 and 3: padded batches, and which tokens a score is computed on
# --------------------------------------------------------------------------------------------------------------


def _answer_logprobs(model, prompt_ids, answer_ids):
    """log p of each answer token given the prompt and the answer so far: one unpadded forward."""
    ids = torch.tensor([prompt_ids + answer_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
    targets = ids[0, 1:]
    return logp[torch.arange(len(targets)), targets].numpy()[len(prompt_ids) - 1 :]


def test_mia_scores_from_features_score_only_the_labelled_tokens_at_the_default_k(muse):
    """TOFU-style features (prompt labels -100), right-padded in a batch of unequal lengths, the default k (0.2) and
    a single attack: each score is computed on the answer tokens only."""
    from hf_unlearn.eval.mia import mia_scores_from_features

    world, model, tok = muse
    qa = world.load("knowmem", "forget_qa").to_list()[:3]
    feats, answers = [], []
    for r in qa:
        p = tok(f"Question: {r['question']}\nAnswer:")["input_ids"]
        a = tok(" " + r["answer"], add_special_tokens=False)["input_ids"]
        feats.append({"input_ids": p + a, "labels": [-100] * len(p) + a})
        answers.append(_answer_logprobs(model, p, a))
    assert len({len(f["input_ids"]) for f in feats}) > 1
    only_min_k = mia_scores_from_features(model, feats, tok.pad_token_id, attacks=("min_k",), batch_size=3)
    assert list(only_min_k) == ["min_k"]
    for i, lp in enumerate(answers):
        kept = lp[:-1]  # the answer's last token is not a Min-K% token (open-unlearning)
        assert only_min_k["min_k"][i] == pytest.approx(np.sort(kept)[: max(1, int(0.2 * len(kept)))].mean(), rel=1e-4)
    loss = mia_scores_from_features(model, feats, tok.pad_token_id, attacks=["loss"])["loss"]
    np.testing.assert_allclose(loss, [lp.mean() for lp in answers], rtol=1e-4)


def test_mia_scores_from_features_needs_one_scored_text_per_sequence_for_zlib_only(muse):
    from hf_unlearn.eval.mia import mia_scores_from_features

    _, model, tok = muse
    feats = [{"input_ids": [1, 5, 6, 7], "labels": [-100, 5, 6, 7]}, {"input_ids": [1, 8, 9], "labels": [-100, 8, 9]}]
    for texts in (None, ["one text"]):
        with pytest.raises(ValueError, match="zlib attack needs scored_texts"):
            mia_scores_from_features(model, feats, tok.pad_token_id, scored_texts=texts)
    out = mia_scores_from_features(model, feats, tok.pad_token_id, attacks=("loss", "min_k++"))
    assert set(out) == {"loss", "min_k++"}


def test_mia_scores_default_max_length_is_the_model_context(muse):
    """A text longer than the model's context is scored on its first `max_position_embeddings` tokens; a single
    attack may be given as a string."""
    from hf_unlearn.eval.mia import mia_scores

    world, model, tok = muse
    ctx = model.config.max_position_embeddings
    article = world.load("privleak", "forget").to_list()[0]["text"]
    text = article
    while len(tok(text)["input_ids"]) <= ctx + 5:
        text = text + " " + article
    ids = tok(text)["input_ids"][:ctx]
    lp = _answer_logprobs(model, ids[:1], ids[1:])
    assert mia_scores(model, tok, [text], attacks="loss")["loss"][0] == pytest.approx(lp.mean(), rel=1e-4)


def test_a_reference_model_with_a_smaller_vocabulary_is_named_in_the_error(muse):
    from transformers import LlamaForCausalLM

    from hf_unlearn.eval.mia import mia_scores
    from hf_unlearn.synthetic import tiny_llama_config

    _, model, tok = muse
    small = LlamaForCausalLM(tiny_llama_config("micro", vocab_size=len(tok) - 5)).eval()
    with pytest.raises(ValueError, match="but the reference model has only"):
        mia_scores(model, tok, ["The council met on Monday."], reference_model=small)


def test_per_token_inputs_any_array_type_and_defaults():
    from hf_unlearn.eval.mia import min_k_plus_plus_score, min_k_score

    lp = [-0.5, -4.0, -1.0, -3.0, -0.1, -2.0, -0.2, -0.3, -0.4, -0.6]
    assert min_k_score(lp) == pytest.approx((-4.0 - 3.0) / 2)  # default k = 0.2: int(10 * 0.2) = 2 lowest
    grad = torch.tensor(lp, requires_grad=True)  # a tensor that needs grad is detached, not refused
    assert min_k_score(grad, k=0.1) == -4.0
    f32 = torch.tensor([-0.1, -0.7, -0.3], dtype=torch.float32)
    assert min_k_score(f32, k=1.0) == float(np.asarray(f32.numpy(), dtype=np.float64).mean())  # summed in float64
    assert min_k_score([-2.5], k=0.5) == -2.5  # one token is enough
    mu, sd = [-1.0] * 10, [1.0] * 10
    assert min_k_plus_plus_score(lp, mu, sd) == pytest.approx((-3.0 + -2.0) / 2)  # default k = 0.2
    for args, name in (
        (([], mu, sd), "token_logprobs"),
        ((lp, [], sd), "token_mean"),
        ((lp, mu, [[1.0] * 10]), "token_std"),
    ):
        with pytest.raises(ValueError, match=f"{name} must be a non-empty 1-D sequence"):
            min_k_plus_plus_score(*args, k=0.5)
    with pytest.raises(ValueError, match="token_logprobs must be a non-empty 1-D sequence"):
        min_k_score([[-1.0, -2.0]], k=0.5)


def test_quantize_tensor_returns_the_input_dtype():
    from hf_unlearn.eval.quantize import quantize_tensor

    w = torch.tensor([[0.7, 0.26, -1.4, 0.33]], dtype=torch.bfloat16)
    assert quantize_tensor(w, bits=4, group_size=2).dtype == torch.bfloat16


def test_extraction_strength_reads_0_1_flags_and_tensors_as_booleans():
    from hf_unlearn.eval.muse import extraction_strength_of

    # the last flag is not scored; of [1, 0, 1], every token matches from position 2 on: k = 2, ES = 1 - 2/3 (0/1
    # integers are flags, not numbers to negate)
    assert extraction_strength_of([1, 0, 1, 1]) == pytest.approx(1 / 3)
    assert extraction_strength_of(torch.tensor([True, False, True, True])) == pytest.approx(1 / 3)
    assert extraction_strength_of(np.array([0, 1, 1, 1, 0])) == pytest.approx(0.75)


def test_verbmem_default_length_and_knowmem_bookkeeping(muse):
    """verbmem's default generation length is MUSE's 128 tokens; the per-item records keep the reference and the
    question; knowmem's mean recall is reported; input problems name the right argument."""
    from hf_unlearn.eval.muse import knowmem, verbmem

    world, model, tok = muse
    row = world.load("verbmem", "forget").to_list()[1]
    out = verbmem(model, tok, [row["prompt"]], [row["gt"]])
    assert out["per_item"]["generation"] == [_greedy_text(model, tok, row["prompt"], 128)]
    assert out["per_item"]["reference"] == [tok.decode(tok(row["gt"])["input_ids"][:128], skip_special_tokens=True)]
    qa = world.load("knowmem", "retain_qa").to_list()[:2]
    km = knowmem(model, tok, [r["question"] for r in qa], [r["answer"] for r in qa], max_new_tokens=4)
    assert km["per_item"]["question"] == [r["question"] for r in qa]
    assert km["rouge_l_recall"] == pytest.approx(np.mean(km["per_item"]["rouge_l_recall"]))
    with pytest.raises(ValueError, match="questions is empty"):
        knowmem(model, tok, [], [])
    with pytest.raises(ValueError, match="got 2 questions but 1 answers"):
        knowmem(model, tok, ["a?", "b?"], ["x"])


def test_a_prompt_as_long_as_the_context_is_refused(muse):
    from hf_unlearn.eval.muse import verbmem

    world, model, tok = muse
    ctx = model.config.max_position_embeddings
    article = world.load("privleak", "forget").to_list()[0]["text"]
    ids = tok(article + " " + article + " " + article)["input_ids"][:ctx]
    prompt = tok.decode(ids, skip_special_tokens=True)
    while len(tok(prompt)["input_ids"]) < ctx:
        prompt += " the"
    while len(tok(prompt)["input_ids"]) > ctx:
        prompt = prompt.rsplit(" ", 1)[0]
    if len(tok(prompt)["input_ids"]) == ctx:  # exactly the context: no room for one new token
        with pytest.raises(ValueError, match="not shorter than the model's context"):
            verbmem(model, tok, [prompt], ["more"])


def test_muse_table_layout_missing_values_and_bare_summaries():
    from hf_unlearn.eval.muse import muse_table

    table = muse_table({"a": {"forget_verbmem_ROUGE": 0.5}, "b": {"summary": {"privleak": 3.0, "mia_min_k": 0.25}}})
    assert table.splitlines() == [
        "| model | VerbMem D_f | KnowMem D_f | KnowMem D_r | PrivLeak | ES | Min-K% AUC |",
        "|---|---|---|---|---|---|---|",
        "| a | 50.0 | - | - | - | - | - |",
        "| b | - | - | - | 3.0 | - | 0.250 |",
    ]


def test_retain_auc_from_results_without_a_summary_is_refused():
    from hf_unlearn.eval.muse import retain_min_k_auc

    with pytest.raises(ValueError, match="summary.mia_min_k"):
        retain_min_k_auc({"mia_min_k": 0.5})


# -------------------------------------------------------------- mutants of the full-scope run (issue 16, kinds 1 and 3)


def test_mia_from_sequence_scores_default_k_is_a_fifth_of_the_tokens():
    from hf_unlearn.eval.mia import mia_scores_from_sequence_scores
    from hf_unlearn.eval.scoring import SequenceScores

    lp = -torch.arange(1.0, 12.0)  # token log-probs -1 ... -11
    scores = SequenceScores(
        nll=torch.tensor([6.0]), nll_sum=torch.tensor([66.0]), num_tokens=torch.tensor([11]), token_logprobs=[lp]
    )
    out = mia_scores_from_sequence_scores(scores, ["loss", "min_k"])
    # the last token (-11) is left out (open-unlearning); default k 0.2: the 2 lowest of the other 10 (-10, -9), mean
    # -9.5; loss = -mean NLL over all 11
    assert out["min_k"].tolist() == pytest.approx([-9.5]) and out["loss"].tolist() == pytest.approx([-6.0])


def test_mia_from_sequence_scores_refuses_missing_inputs_before_scoring():
    from hf_unlearn.eval.mia import mia_scores_from_sequence_scores
    from hf_unlearn.eval.scoring import SequenceScores

    plain = SequenceScores(nll=torch.tensor([1.0]), nll_sum=torch.tensor([2.0]), num_tokens=torch.tensor([2]))
    with pytest.raises(ValueError, match="the reference attack needs a model"):
        mia_scores_from_sequence_scores(plain, ["loss", "reference"])
    for texts in (None, ["one", "two"]):  # none, or one text too many
        with pytest.raises(ValueError, match="the zlib attack needs scored_texts"):
            mia_scores_from_sequence_scores(plain, ["zlib"], scored_texts=texts)
    with pytest.raises(ValueError, match="the min_k attack needs token log-probabilities"):
        mia_scores_from_sequence_scores(plain, ["min_k"])
    with_lp = SequenceScores(**{**vars(plain), "token_logprobs": [torch.tensor([-1.0, -3.0])]})
    with pytest.raises(ValueError, match=r"the min_k\+\+ attack needs token moments"):
        mia_scores_from_sequence_scores(with_lp, ["min_k++"])


def test_mia_scores_from_features_checks_attacks_and_texts_before_any_model_call():
    from hf_unlearn.eval.mia import mia_scores_from_features

    features = [{"input_ids": [1, 2], "labels": [1, 2]}]
    for attacks in (["loss", "nope"], []):
        with pytest.raises(ValueError, match="attacks must be a non-empty subset"):
            mia_scores_from_features(None, features, pad_token_id=0, attacks=attacks)  # no model: nothing runs
    with pytest.raises(ValueError, match="the zlib attack needs scored_texts"):
        mia_scores_from_features(None, features, pad_token_id=0, attacks=["zlib"])
