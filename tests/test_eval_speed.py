"""The fast evaluation path (`score_continuations`, `generate_greedy`, `TofuEvaluator`) against straightforward
per-item computations: one unpadded sequence per forward pass, `model.generate` on one prompt at a time, and the
separate MIA / extraction-strength passes."""

from types import SimpleNamespace

import pytest
import torch

from hf_unlearn.eval import TofuEvaluator, scoring
from hf_unlearn.eval.scoring import generate_greedy, score_continuations


@pytest.fixture(scope="module")
def tiny_lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=24,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=48,
    )
    return LlamaForCausalLM(config).eval()


def _by_hand(model, prompt, continuation):
    """Per-token log p, and the mean / std of log p under the model's distribution and the argmax match, from one
    unpadded forward pass of prompt + continuation, in float64."""
    ids = [*prompt, *continuation]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    rows = range(len(prompt) - 1, len(ids) - 1)  # position t predicts token t + 1
    picked = [logp[t, ids[t + 1]].item() for t in rows]
    mean = [(logp[t].exp() * logp[t]).sum().item() for t in rows]
    std = [((logp[t].exp() * (logp[t] - m) ** 2).sum().sqrt()).item() for t, m in zip(rows, mean)]
    match = [int(logits[t].argmax()) == ids[t + 1] for t in rows]
    return picked, mean, std, match


def test_score_continuations_matches_one_unpadded_forward_per_sequence(tiny_lm):
    # prompts of 1..5 tokens, 1..4 continuations of 1..6 tokens: a batch of 4 continuations splits the prompts over
    # several batches, pads prompts on the left and continuations on the right
    prompts = [[3, 4, 5], [7], [8, 9, 10, 11, 12], [13, 14]]
    continuations = [[[6, 2], [15, 16, 17, 2], [6]], [[5, 5, 5, 5, 5, 2]], [[1, 2], [3], [4, 5, 6], [7, 8]], [[9]]]
    scores = score_continuations(
        tiny_lm, prompts, continuations, pad_token_id=0, batch_size=4, return_token_moments=True,
        return_token_argmax_match=True,
    )  # fmt: skip
    flat = [(p, c) for p, cs in zip(prompts, continuations) for c in cs]
    assert len(scores.nll) == len(flat) == 9
    for i, (p, c) in enumerate(flat):
        picked, mean, std, match = _by_hand(tiny_lm, p, c)
        assert scores.num_tokens[i].item() == len(c)
        assert scores.nll_sum[i].item() == pytest.approx(-sum(picked), rel=1e-5, abs=1e-5)
        assert scores.nll[i].item() == pytest.approx(-sum(picked) / len(c), rel=1e-5, abs=1e-5)
        assert scores.token_logprobs[i].tolist() == pytest.approx(picked, rel=1e-5, abs=1e-5)
        assert scores.token_logprob_mean[i].tolist() == pytest.approx(mean, rel=1e-5, abs=1e-5)
        assert scores.token_logprob_std[i].tolist() == pytest.approx(std, rel=1e-5, abs=1e-5)
        assert scores.token_argmax_match[i].tolist() == match
    # batch size does not change the numbers
    one = score_continuations(tiny_lm, prompts, continuations, pad_token_id=0, batch_size=1)
    torch.testing.assert_close(one.nll, scores.nll, rtol=1e-5, atol=1e-6)


def test_packed_rows_by_hand():
    from hf_unlearn.eval.scoring import _packed_rows

    # row 0: prompt [5, 6], continuations [7] and [8, 9]; row 1 (shorter, right-padded): prompt [4], continuation [3]
    batch = _packed_rows([[5, 6], [4]], [[[7], [8, 9]], [[3]]], pad_token_id=0)
    assert batch["input_ids"].dtype == batch["position_ids"].dtype == batch["segment"].dtype == torch.long
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9], [4, 3, 0, 0, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 2, 3], [0, 1, 0, 0, 0]]  # each continuation starts at 2
    assert batch["segment"].tolist() == [[0, 0, 1, 2, 2], [0, 1, -1, -1, -1]]
    # the logits scoring 7 and 8 are the prompt's last (flat index 1); 9 is scored after 8 (index 3); 3 at row 1's 0
    assert batch["source"].tolist() == [1, 1, 3, 5]
    assert batch["targets"].tolist() == [7, 8, 9, 3]
    assert batch["counts"] == [1, 2, 1]
    allowed = batch["allowed"].int().tolist()
    assert allowed[0] == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],  # continuation 1 sees the prompt and itself
        [1, 1, 0, 1, 0],  # continuation 2 does not see continuation 1
        [1, 1, 0, 1, 1],
    ]
    assert allowed[1] == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]]


class _NoMaskModel(torch.nn.Module):
    """A causal LM whose config names no attention implementation (so no custom 4-D mask can be assumed)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.config = type("Config", (), {"is_encoder_decoder": False})()
        self.calls = []

    def forward(self, input_ids, attention_mask):
        self.calls.append(attention_mask.ndim)
        return self.inner(input_ids=input_ids, attention_mask=attention_mask)


def test_score_continuations_with_eager_attention_and_without_a_maskable_attention(tiny_lm):
    from transformers import LlamaForCausalLM

    prompts, continuations = [[3, 4, 5], [7, 9]], [[[6, 2], [15, 16, 17, 2]], [[5], [1, 2, 3]]]
    packed = score_continuations(tiny_lm, prompts, continuations, pad_token_id=0, batch_size=3)
    eager = LlamaForCausalLM(tiny_lm.config.__class__(**{**tiny_lm.config.to_dict(), "attn_implementation": "eager"}))
    eager.load_state_dict(tiny_lm.state_dict())
    assert eager.config._attn_implementation == "eager"
    torch.testing.assert_close(
        score_continuations(eager.eval(), prompts, continuations, pad_token_id=0, batch_size=3).nll,
        packed.nll,
        rtol=1e-5,
        atol=1e-6,
    )
    plain = _NoMaskModel(tiny_lm)
    fallback = score_continuations(plain, prompts, continuations, pad_token_id=0, batch_size=3)
    assert plain.calls and set(plain.calls) == {2}  # whole sequences with a 2-D padding mask
    torch.testing.assert_close(fallback.nll, packed.nll, rtol=1e-5, atol=1e-6)
    assert fallback.num_tokens.tolist() == [2, 4, 1, 3]


@pytest.mark.parametrize(
    ("prompts", "continuations", "batch_size", "message"),
    [
        ([], [], 16, "no prompts"),
        ([[1]], [[[2]], [[3]]], 16, "1 prompts but 2 lists"),
        ([[1]], [[]], 16, "must be non-empty"),
        ([[1]], [[[2], []]], 16, "must be non-empty"),
        ([[1]], [[[2]]], 0, "batch_size must be a positive integer, got 0"),
        ([[1]], [[[2]]], "2", "batch_size must be a positive integer, got '2'"),
    ],
)
def test_score_continuations_bad_input(tiny_lm, prompts, continuations, batch_size, message):
    with pytest.raises(ValueError, match=message):
        score_continuations(tiny_lm, prompts, continuations, pad_token_id=0, batch_size=batch_size)


@pytest.mark.parametrize(("model_name", "batch_size"), [("target", 3), ("target", 4), ("base", 3), ("base", 8)])
def test_generate_greedy_equals_model_generate_on_each_prompt_alone(tofu_world, model_name, batch_size, monkeypatch):
    """On the world's forget and retain questions: the target answers and stops at EOS after different lengths, the
    base model (never saw the authors) rambles; batches mix prompt lengths and stopping times, and from batch size 4
    on, the last quarter of a batch's rows is parked and finished together with other batches' (merged caches)."""
    from hf_unlearn.data import tokenize_prompt
    from hf_unlearn.eval import rouge_l_recall

    model = tofu_world.load_model(model_name).eval()
    tok = tofu_world.load_tokenizer()
    rows = [
        *tofu_world.load_split("forget10_perturbed").to_list()[:7],
        *tofu_world.load_split("retain_perturbed").to_list()[:6],
    ]
    prompts = [tokenize_prompt(tok, r["question"], tofu_world.template) for r in rows]
    parked = []
    merge = scoring._Decoding.merge
    monkeypatch.setattr(scoring._Decoding, "merge", staticmethod(lambda s: parked.append(len(s)) or merge(s)))
    fast = generate_greedy(model, tok, prompts, max_new_tokens=40, batch_size=batch_size)
    assert bool(parked) == (batch_size >= 4)  # the last rows of a batch were parked (batch size 3: never)
    if batch_size == 4:
        assert max(parked) > 1  # and rows parked by several batches finished together, in merged caches
    alone = []
    for p in prompts:
        out = model.generate(torch.tensor([p]), max_new_tokens=40, do_sample=False, pad_token_id=tok.pad_token_id)
        alone.append(tok.decode(out[0, len(p) :], skip_special_tokens=True).strip())
    assert fast == alone
    refs = [r["answer"] for r in rows]
    assert rouge_l_recall(fast, refs).tolist() == rouge_l_recall(alone, refs).tolist()
    lengths = {len(tok(t)["input_ids"]) for t in fast}
    assert len(lengths) > 1  # rows really stopped at different steps


def test_merge_cache_left_pads_the_shorter_cache_and_mask():
    from transformers import DynamicCache

    from hf_unlearn.eval.scoring import _merge_cache, _mergeable

    def cache_of(batch, length, value):
        cache = DynamicCache()
        for layer in range(2):
            k = torch.full((batch, 1, length, 2), float(value + layer))
            cache.update(k, -k, layer)
        return cache

    a, b = cache_of(1, 3, 1), cache_of(2, 1, 5)
    assert _mergeable(a) and not _mergeable(DynamicCache()) and not _mergeable(None)
    mask = _merge_cache(a, torch.tensor([[0, 1, 1]]), b, torch.tensor([[1], [1]]))
    assert mask.tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 1]]
    for layer in range(2):
        keys, values = a.layers[layer].keys, a.layers[layer].values
        assert keys.shape == (3, 1, 3, 2)
        assert keys[:, 0, :, 0].tolist() == [[1 + layer] * 3, [0, 0, 5 + layer], [0, 0, 5 + layer]]
        assert torch.equal(values, -keys)
    # the longer one second: the first is padded
    c, d = cache_of(1, 1, 2), cache_of(1, 2, 3)
    assert _merge_cache(c, torch.tensor([[1]]), d, torch.tensor([[1, 1]])).tolist() == [[0, 1], [1, 1]]
    assert c.layers[0].keys[:, 0, :, 0].tolist() == [[0, 2], [3, 3]]


def test_reserved_cache_layer_writes_in_place_and_holds_what_concatenation_would():
    """Decoding steps write into room reserved ahead (no copy of the cache per step); after a row selection and a
    merge (new tensors assigned to `keys` / `values`) the next step starts a new reservation holding them."""
    layer = scoring._reserved_layer()(capacity=6)
    g = torch.Generator().manual_seed(0)
    steps = [torch.randn(3, 2, n, 4, generator=g) for n in (3, 1, 1, 1)]  # a 3-token prompt, then 3 decoding steps
    expected_k, expected_v = torch.empty(3, 2, 0, 4), torch.empty(3, 2, 0, 4)
    pointers = set()
    for k in steps:
        keys, values = layer.update(k, -2 * k)
        expected_k, expected_v = torch.cat([expected_k, k], dim=2), torch.cat([expected_v, -2 * k], dim=2)
        assert torch.equal(keys, expected_k) and torch.equal(values, expected_v)
        pointers.add(keys.data_ptr())
    assert len(pointers) == 1 and layer.get_seq_length() == 6  # one reservation, filled to capacity
    layer.batch_select_indices(torch.tensor([2, 0]))  # two rows finished... one left, reordered
    k = torch.randn(2, 2, 1, 4, generator=g)
    keys, values = layer.update(k, -2 * k)  # past capacity: a new, larger reservation, with the selected rows
    assert torch.equal(keys, torch.cat([expected_k[[2, 0]], k], dim=2))
    assert torch.equal(values, torch.cat([expected_v[[2, 0]], -2 * k], dim=2))
    assert layer.reserved[0].shape[2] >= 7 + 7 // 2
    layer.keys, layer.values = torch.zeros(4, 2, 3, 4), torch.ones(4, 2, 3, 4)  # as a merge assigns them
    k = torch.randn(4, 2, 1, 4, generator=g)
    keys, values = layer.update(k, k)
    assert torch.equal(keys, torch.cat([torch.zeros(4, 2, 3, 4), k], dim=2))
    assert torch.equal(values, torch.cat([torch.ones(4, 2, 3, 4), k], dim=2))
    assert scoring._mergeable(SimpleNamespace(layers=[layer]))


def test_evaluator_privacy_from_the_shared_pass_equals_the_separate_passes(tofu_world):
    from hf_unlearn.data import tokenize_qa
    from hf_unlearn.eval.mia import MODEL_ATTACKS, OPEN_UNLEARNING_MIA_KEYS, mia_aucs, mia_scores_from_features
    from hf_unlearn.eval.muse import extraction_strength

    tok = tofu_world.load_tokenizer()
    model = tofu_world.load_model("target")
    evaluator = TofuEvaluator(tok, tofu_world, eval_sets=("forget",), max_new_tokens=4, batch_size=5, privacy=True)
    results = evaluator(model)
    scores, feats = {}, {}
    for name, split in (("forget", "forget10"), ("holdout", "holdout10")):
        rows = tofu_world.load_split(split).to_list()
        feats[name] = [tokenize_qa(tok, r["question"], r["answer"], tofu_world.template) for r in rows]
        scores[name] = mia_scores_from_features(
            model, feats[name], tok.pad_token_id, [r["answer"] for r in rows], MODEL_ATTACKS, k=0.4, batch_size=4
        )
    aucs = mia_aucs(scores["forget"], scores["holdout"])
    for attack, auc in aucs.items():
        assert results["summary"][OPEN_UNLEARNING_MIA_KEYS[attack]] == pytest.approx(auc, abs=1e-9)
    for attack in MODEL_ATTACKS:
        assert results["per_item"]["privacy"]["mia_forget"][attack] == pytest.approx(
            scores["forget"][attack].tolist(), rel=1e-5, abs=1e-6
        )
    es = extraction_strength(model, feats["forget"], tok.pad_token_id, batch_size=3)
    assert results["per_item"]["privacy"]["extraction_strength"] == pytest.approx(es.tolist())
    # a second model through the same evaluator (tokenised once) gets its own numbers, not the first one's
    retain = evaluator(tofu_world.load_model("retain90"))
    assert retain["summary"]["forget_Q_A_Prob"] < results["summary"]["forget_Q_A_Prob"]
    assert retain["summary"]["forget_Q_A_Prob"] == pytest.approx(
        TofuEvaluator(tok, tofu_world, eval_sets=("forget",), max_new_tokens=4, privacy=False)(
            tofu_world.load_model("retain90")
        )["summary"]["forget_Q_A_Prob"]
    )


class _Recording(torch.nn.Module):
    """Passes through to a model and records, per forward call, the rows and the attention mask's dimensions."""

    def __init__(self, inner, config=None):
        super().__init__()
        self.inner = inner
        self.config = inner.config if config is None else config
        self.calls = []

    @property
    def dtype(self):
        return self.inner.dtype

    def forward(self, input_ids, attention_mask, **kwargs):
        self.calls.append((input_ids.shape[0], attention_mask.ndim))
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_score_continuations_packs_whole_prompts_up_to_batch_size_continuations_per_call(tiny_lm, attention):
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(
        tiny_lm.config.__class__(**{**tiny_lm.config.to_dict(), "attn_implementation": attention})
    )
    model.load_state_dict(tiny_lm.state_dict())
    recording = _Recording(model.eval())
    prompts = [[3, 4], [5], [6, 7, 8], [9]]
    continuations = [[[1], [2, 3]], [[4, 5], [6]], [[7], [8]], [[9, 10], [11]]]
    scores = score_continuations(recording, prompts, continuations, pad_token_id=0, batch_size=4)
    assert recording.calls == [(2, 4), (2, 4)]  # two prompts (4 continuations) per call, under a 4-D mask
    assert scores.token_logprobs is None and scores.token_logprob_mean is None and scores.token_argmax_match is None
    recording.calls.clear()
    only = score_continuations(
        recording, prompts, continuations, pad_token_id=0, batch_size=3, return_token_logprobs=True
    )
    assert [rows for rows, _ in recording.calls] == [1, 1, 1, 1]  # 2 + 2 continuations > 3: a prompt per call
    assert [len(t) for t in only.token_logprobs] == [1, 2, 2, 1, 1, 1, 2, 1]
    assert only.token_logprob_mean is None and only.token_argmax_match is None
    torch.testing.assert_close(
        torch.stack([-t.sum() for t in only.token_logprobs]), scores.nll_sum, rtol=1e-5, atol=1e-6
    )


def test_score_continuations_in_bfloat16_builds_its_mask_in_the_model_dtype(tiny_lm):
    import copy

    prompts, continuations = [[3, 4, 5], [7]], [[[6, 2], [15, 16]], [[5, 5, 2]]]
    half = copy.deepcopy(tiny_lm).to(torch.bfloat16)
    full = score_continuations(tiny_lm, prompts, continuations, pad_token_id=0)
    low = score_continuations(half, prompts, continuations, pad_token_id=0)
    assert low.nll.dtype == torch.float32
    torch.testing.assert_close(low.nll, full.nll, rtol=0.05, atol=0.05)


def test_score_continuations_model_kinds(tiny_lm):
    from types import SimpleNamespace

    prompts, continuations = [[3, 4]], [[[5], [6, 7]]]
    reference = score_continuations(tiny_lm, prompts, continuations, pad_token_id=0).nll
    bare = _Recording(tiny_lm, config=SimpleNamespace())  # a config that names nothing: whole sequences
    torch.testing.assert_close(score_continuations(bare, prompts, continuations, pad_token_id=0).nll, reference)
    assert {ndim for _, ndim in bare.calls} == {2}
    seq2seq = _Recording(tiny_lm, config=SimpleNamespace(is_encoder_decoder=True, _attn_implementation="sdpa"))
    with pytest.raises(ValueError, match="supports decoder-only"):
        score_continuations(seq2seq, prompts, continuations, pad_token_id=0)
    assert seq2seq.calls == []


def test_score_sequences_scores_a_label_right_after_the_first_position(tiny_lm):
    from hf_unlearn.eval.scoring import score_sequences

    scores = score_sequences(tiny_lm, [{"input_ids": [4, 5, 6], "labels": [-100, 5, -100]}], pad_token_id=0)
    assert scores.num_tokens.tolist() == [1]
    assert scores.token_logprobs is None and scores.token_logprob_std is None and scores.token_argmax_match is None
    with torch.no_grad():
        logp = torch.log_softmax(tiny_lm(input_ids=torch.tensor([[4, 5, 6]])).logits[0, 0].double(), -1)
    assert scores.nll.item() == pytest.approx(-logp[5].item(), rel=1e-5)


def test_score_sequences_refuses_a_sequence_without_scored_tokens_before_any_forward_pass(tiny_lm):
    from hf_unlearn.eval.scoring import score_sequences

    model = _NoMaskModel(tiny_lm)
    feats = [
        {"input_ids": [1, 2, 3], "labels": [-100, 2, 3]},
        {"input_ids": [4, 5], "labels": [4, -100]},  # only the first position is labelled: never scored
    ]
    with pytest.raises(ValueError, match=r"sequence\(s\) \[1\] have no labelled tokens"):
        score_sequences(model, feats, pad_token_id=0)
    assert model.calls == []
