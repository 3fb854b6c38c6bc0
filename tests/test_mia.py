"""Membership-inference attacks: each score equals its formula (computed here independently, per text and without
padding), scores do not depend on the batch, AUC / PrivLeak orientation, and bad input."""

import math
import zlib

import numpy as np
import pytest
import torch


TEXTS = [
    "The council met on Monday to discuss the new bridge over the river.",
    "Rain.",
    "Officials said the vote would take place in March, after a long debate about taxes and roads.",
    "A small fire closed the station.",
    "Shares rose by four percent.",
    "The mayor of the northern town announced a festival for the summer, with music, food and a parade.",
    "Police found the lost dog.",
    "Scientists at the university described a new species of frog found in the hills.",
    "The match ended in a draw.",
]


@pytest.fixture(scope="module")
def tok():
    from hf_unlearn.synthetic import build_tokenizer

    return build_tokenizer(TEXTS * 3, vocab_size=300)


def _model(tok, seed):
    from transformers import LlamaForCausalLM

    from hf_unlearn.synthetic import tiny_llama_config

    torch.manual_seed(seed)
    config = tiny_llama_config("micro", vocab_size=len(tok), pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def model(tok):
    return _model(tok, 0)


def _expected(model, tok, text, k):
    """Every attack's score of one text from its own unpadded forward pass, written out from the formulas."""
    ids = torch.tensor([tok(text)["input_ids"]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].double()
    targets = ids[0, 1:]
    logp_all = torch.log_softmax(logits, dim=-1)
    lp = logp_all[torch.arange(len(targets)), targets].numpy()
    p = logp_all.exp()
    mu = (p * logp_all).sum(-1).numpy()
    sigma = np.sqrt((p * (logp_all - torch.from_numpy(mu)[:, None]) ** 2).sum(-1).numpy())
    # Min-K% and Min-K%++ leave out the last scored token, as open-unlearning's tokenwise_logprobs does
    n_low = max(1, int((len(lp) - 1) * k))
    z = (lp - mu) / np.maximum(sigma, 1e-3)
    nll = -lp.mean()
    return {
        "loss": -nll,
        "zlib": -nll / len(zlib.compress(text.encode("utf-8"))),
        "min_k": np.sort(lp[:-1])[:n_low].mean(),
        "min_k++": np.sort(z[:-1])[:n_low].mean(),
        "nll": nll,
    }


def test_min_k_pure_by_hand():
    from hf_unlearn.eval.mia import min_k_score

    lp = [-0.1, -3.0, -0.2, -2.0, -0.5]
    assert min_k_score(lp, k=0.4) == pytest.approx((-3.0 - 2.0) / 2)
    assert min_k_score(lp, k=0.1) == pytest.approx(-3.0)  # int(0.5) = 0 -> at least one token
    assert min_k_score(lp, k=1.0) == pytest.approx(sum(lp) / 5)


def test_min_k_plus_plus_pure_by_hand():
    from hf_unlearn.eval.mia import min_k_plus_plus_score

    # One position with next-token distribution (1/8, 2/8, 5/8); the observed token is the first (log 1/8).
    p = [1 / 8, 2 / 8, 5 / 8]
    mu = sum(q * math.log(q) for q in p)
    sigma = math.sqrt(sum(q * (math.log(q) - mu) ** 2 for q in p))
    z0 = (math.log(1 / 8) - mu) / sigma
    # A second position: uniform over 4 (sigma 0 -> floored at 1e-3), observed token log(1/4) = mu -> z = 0.
    score = min_k_plus_plus_score([math.log(1 / 8), math.log(1 / 4)], [mu, math.log(1 / 4)], [sigma, 0.0], k=0.5)
    assert score == pytest.approx(min(z0, 0.0))
    assert score == pytest.approx(z0)  # z0 < 0: the rare token is below the mean
    both = min_k_plus_plus_score([math.log(1 / 8), math.log(1 / 4)], [mu, math.log(1 / 4)], [sigma, 0.0], k=1.0)
    assert both == pytest.approx(z0 / 2)


def test_auc_and_privleak_orientation():
    from hf_unlearn.eval.mia import mia_auc, privleak

    # Pairs (member > non-member): 3>1, 3>2.5, 2>1, 2<2.5 -> 3 of 4.
    assert mia_auc([3.0, 2.0], [1.0, 2.5]) == pytest.approx(0.75)
    assert mia_auc([0.0], [1.0]) == 0.0
    # MUSE: AUC' = 1 - AUC; (AUC'_model - AUC'_retain) / AUC'_retain * 100.
    assert privleak(0.9, retain_auc=0.6) == pytest.approx(((1 - 0.9) - 0.4) / 0.4 * 100)
    assert privleak(0.6, retain_auc=0.6) == 0.0
    assert privleak(0.5) == 0.0  # no retain model: reference 0.5
    assert privleak(0.2) == pytest.approx((0.8 - 0.5) / 0.5 * 100)


@pytest.mark.parametrize("k", [0.2, 0.5])
def test_scores_equal_formulas_batch_1_and_8(model, tok, k):
    from hf_unlearn.eval.mia import mia_scores

    expected = [_expected(model, tok, t, k) for t in TEXTS]
    lengths = {len(tok(t)["input_ids"]) for t in TEXTS}
    assert len(lengths) > 4  # unequal lengths, so batches are padded
    by_batch = {bs: mia_scores(model, tok, TEXTS, k=k, batch_size=bs) for bs in (1, 8)}
    for bs, scores in by_batch.items():
        assert list(scores) == ["loss", "zlib", "min_k", "min_k++"]
        for attack in scores:
            assert scores[attack].shape == (len(TEXTS),)
            want = np.array([e[attack] for e in expected])
            np.testing.assert_allclose(scores[attack], want, rtol=1e-5, atol=1e-6, err_msg=f"{attack} bs={bs}")
    for attack in by_batch[1]:
        np.testing.assert_allclose(by_batch[1][attack], by_batch[8][attack], rtol=1e-5, atol=1e-6)


def test_left_padding_tokenizer_gives_same_scores(model, tok):
    from hf_unlearn.eval.mia import mia_scores

    # Padding is done by hf_unlearn's collator (right side, attention mask), whatever the tokenizer's setting.
    right_scores = mia_scores(model, tok, TEXTS, batch_size=4)
    old = tok.padding_side
    tok.padding_side = "left"
    try:
        left_scores = mia_scores(model, tok, TEXTS, batch_size=4)
    finally:
        tok.padding_side = old
    for attack in right_scores:
        np.testing.assert_allclose(left_scores[attack], right_scores[attack], rtol=1e-6)


def test_uniform_model_known_values(tok):
    """A model whose logits are all zero predicts uniformly: every token has log-prob -log V."""
    from hf_unlearn.eval.mia import mia_scores

    model = _model(tok, 1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    v = model.config.vocab_size
    scores = mia_scores(model, tok, TEXTS[:3], k=0.3, batch_size=2)
    np.testing.assert_allclose(scores["loss"], -math.log(v), rtol=1e-6)
    np.testing.assert_allclose(scores["min_k"], -math.log(v), rtol=1e-6)
    want_zlib = [-math.log(v) / len(zlib.compress(t.encode())) for t in TEXTS[:3]]
    np.testing.assert_allclose(scores["zlib"], want_zlib, rtol=1e-6)
    # log p = mu at every position, sigma = 0 (floored at 1e-3): z = 0 up to float32 rounding / 1e-3.
    np.testing.assert_allclose(scores["min_k++"], 0.0, atol=5e-3)


def test_reference_attack(model, tok):
    from hf_unlearn.eval.mia import mia_scores

    ref = _model(tok, 7)
    scores = mia_scores(model, tok, TEXTS, attacks=("loss",), reference_model=ref, batch_size=3)
    assert list(scores) == ["loss", "reference"]
    want = np.array([_expected(ref, tok, t, 0.2)["nll"] - _expected(model, tok, t, 0.2)["nll"] for t in TEXTS])
    np.testing.assert_allclose(scores["reference"], want, rtol=1e-5, atol=1e-6)


def test_members_score_higher_after_memorising(tok):
    """Fitting a model to half the texts makes every attack separate them from the other half (AUC 1)."""
    from hf_unlearn.data import pad_batch
    from hf_unlearn.data.muse import tokenize_texts
    from hf_unlearn.eval.mia import mia_aucs, mia_scores

    model = _model(tok, 3)
    members, others = TEXTS[::2], TEXTS[1::2]
    batch = pad_batch(tokenize_texts(tok, members), tok.pad_token_id)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(60):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    reference = _model(tok, 3)  # the same initialisation, never trained
    m = mia_scores(model, tok, members, reference_model=reference)
    o = mia_scores(model, tok, others, reference_model=reference)
    aucs = mia_aucs(m, o)
    assert set(aucs) == {"loss", "zlib", "min_k", "min_k++", "reference"}
    assert all(a == 1.0 for a in aucs.values()), aucs


@pytest.mark.parametrize("k", [0, -0.1, 1.5, True, "0.2", None])
def test_bad_k(model, tok, k):
    from hf_unlearn.eval.mia import mia_scores

    with pytest.raises(ValueError, match=r"k .* \(0, 1\]"):
        mia_scores(model, tok, TEXTS, k=k)


def test_bad_texts_and_attacks(model, tok):
    from hf_unlearn.eval.mia import mia_auc, mia_scores

    with pytest.raises(ValueError, match="texts is empty"):
        mia_scores(model, tok, [])
    with pytest.raises(ValueError, match=r"texts\[1\] must be a non-empty string"):
        mia_scores(model, tok, ["a text", "  "])
    with pytest.raises(TypeError, match="sequence of strings"):
        mia_scores(model, tok, "one string")
    one_token = next(t for t in ("A", "x", "1") if len(tok(t)["input_ids"]) == 1)
    with pytest.raises(ValueError, match=r"texts\[0\].*at least 2"):
        mia_scores(model, tok, [one_token])
    with pytest.raises(ValueError, match="attacks must be"):
        mia_scores(model, tok, TEXTS, attacks=("gradnorm",))
    with pytest.raises(ValueError, match="needs reference_model"):
        mia_scores(model, tok, TEXTS, attacks=("reference",))
    with pytest.raises(ValueError, match="non-members"):
        mia_auc([1.0, 2.0], [])


def test_tokenizer_vocab_must_fit_model(tok):
    from transformers import LlamaForCausalLM

    from hf_unlearn.eval.mia import mia_scores
    from hf_unlearn.synthetic import tiny_llama_config

    small = LlamaForCausalLM(tiny_llama_config("micro", vocab_size=len(tok) - 10)).eval()
    with pytest.raises(ValueError, match=r"tokenizer has \d+ tokens but the model has only \d+ embeddings"):
        mia_scores(small, tok, TEXTS)
