"""Which tokens extraction strength, Min-K% and Min-K%++ score: as open-unlearning (`tokenwise_logprobs` /
`tokenwise_vocab_logprobs` in its `src/evals/metrics/utils.py`), every labelled token but the last (a TOFU answer's
EOS). Expected values are written out by hand for a bigram model whose predictions are known, on right-padded
batches of unequal lengths, at non-default batch sizes and k."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch


torch.set_num_threads(1)

VOCAB = 20
PAD = 0
SHARP = 5.0  # logit of the predicted token; every other token has logit 0


class _Bigram(torch.nn.Module):
    """A causal LM that, after token x, puts logit SHARP on x + 1 (mod VOCAB) and 0 elsewhere."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the model a device

    def forward(self, input_ids, attention_mask=None):
        nxt = (input_ids + 1) % VOCAB
        return SimpleNamespace(logits=torch.nn.functional.one_hot(nxt, VOCAB).float() * SHARP + self.anchor)


def _feature(prompt, answer):
    return {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}


# log p of the predicted token and of any other one, under the bigram model
Z = math.exp(SHARP) + VOCAB - 1
HI, LO = SHARP - math.log(Z), -math.log(Z)


def test_extraction_strength_leaves_out_the_last_labelled_token_on_a_padded_batch():
    from hf_unlearn.eval.muse import extraction_strength, extraction_strength_of

    feats = [
        # predictions after 3, 4, 5, 6 are 4, 5, 6, 7: only the last label (19, an "EOS") is mispredicted -> 1
        _feature([3], [4, 5, 6, 19]),
        # after 4 -> 5 (label 9: wrong), then 10, 11, 12 right: scored [F, T, T] -> 1 - 1/3
        _feature([3, 4], [9, 10, 11, 12]),
        # after 2 -> 3 right, after 3 -> 4 (label 8: wrong), after 8 -> 9 right but not scored: [T, F] -> k = n - 1
        _feature([2], [3, 8, 9]),
        # one labelled token: nothing is scored -> 0 (open-unlearning's value)
        _feature([5], [6]),
    ]
    want = [1.0, 2 / 3, 0.5, 0.0]
    old = [0.25, 0.75, 1 / 3, 1.0]  # the previous definition (every labelled token scored) gave these
    for bs in (1, 3):
        got = extraction_strength(_Bigram(), feats, PAD, batch_size=bs)
        np.testing.assert_allclose(got, want)
        assert not np.allclose(got, old)
    assert extraction_strength_of([False]) == 0.0
    with pytest.raises(ValueError, match="non-empty 1-D"):
        extraction_strength_of([])


def test_min_k_and_min_k_plus_plus_leave_out_the_last_labelled_token_on_a_padded_batch():
    from hf_unlearn.eval.mia import mia_scores_from_features

    feats = [
        _feature([3], [4, 5, 6, 19]),  # log p: HI, HI, HI, LO (the last, LO, is not a Min-K% token)
        _feature([2, 3], [9, 10, 11, 12, 13, 14]),  # LO, HI, HI, HI, HI, HI: the LO is scored
        _feature([7], [8]),  # one labelled token: no Min-K% token -> 0
        _feature([5], [7, 8]),  # two labelled tokens: only the first (LO) is scored
    ]
    k = 0.5
    out = mia_scores_from_features(_Bigram(), feats, PAD, attacks=("loss", "min_k", "min_k++"), k=k, batch_size=2)
    # Min-K%: the int(k n) lowest of the first n = len - 1 log-probs (at least 1)
    # seq 0: n = 3, 1 lowest of (HI, HI, HI) = HI; the previous definition took 2 of 4: (LO + HI) / 2
    # seq 1: n = 5, 2 lowest of (LO, HI, HI, HI, HI) = (LO + HI) / 2
    np.testing.assert_allclose(out["min_k"], [HI, (LO + HI) / 2, 0.0, LO], rtol=1e-6)
    # LOSS keeps every labelled token: the mean log-prob
    np.testing.assert_allclose(out["loss"], [(3 * HI + LO) / 4, (LO + 5 * HI) / 6, HI, (LO + HI) / 2], rtol=1e-6)
    # Min-K%++: the same positions on z = (log p - mu) / sigma, with mu, sigma the mean and std of log p under the
    # model's own next-token distribution (the same at every position here)
    p_hi, p_lo = math.exp(HI), math.exp(LO)
    mu = p_hi * HI + (VOCAB - 1) * p_lo * LO
    sigma = math.sqrt(p_hi * (HI - mu) ** 2 + (VOCAB - 1) * p_lo * (LO - mu) ** 2)
    z_hi, z_lo = (HI - mu) / sigma, (LO - mu) / sigma
    np.testing.assert_allclose(out["min_k++"], [z_hi, (z_lo + z_hi) / 2, 0.0, z_lo], rtol=1e-5)


def test_tofu_privacy_metrics_by_hand_eos_left_out_and_zlib_on_the_decoded_answer():
    """TOFU's path end to end with the bigram model: LOSS over the answer and its EOS, Min-K% (k = 0.5) and ES
    without the EOS, zlib over the answer as the tokenizer decodes it (open-unlearning's text), not the raw string."""
    import zlib

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from hf_unlearn.data.templates import get_template, tokenize_qa
    from hf_unlearn.eval.mia import scored_text
    from hf_unlearn.eval.tofu import tofu_privacy_metrics

    words = [
        "_",
        "<eos>",
        "[INST]",
        "[/INST]",
        "who",
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
    ]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="_"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="_", eos_token="<eos>")
    template = get_template("llama2", tok)
    # the double spaces are not in the decoded answers, so zlib's byte counts differ from the raw strings'
    forget = [{"question": "who ?", "answer": "ana  bo"}, {"question": "who", "answer": "cy dee   eve"}]
    holdout = [{"question": "who ?", "answer": "fay gus"}, {"question": "who", "answer": "hal ivy ana"}]
    out = tofu_privacy_metrics(_Bigram(), tok, forget, holdout, template=template, k=0.5, batch_size=3)
    items = out["per_item"]["mia_forget"]

    # answer + EOS ids; the bigram model gives log p HI to a label equal to the previous id + 1, LO otherwise
    loss, min_k, es, zlib_scores = [], [], [], []
    for r in forget:
        f = tokenize_qa(tok, r["question"], r["answer"], template)
        start = next(t for t, label in enumerate(f["labels"]) if label != -100)
        ids = f["input_ids"]
        assert ids[-1] == tok.eos_token_id
        hit = [ids[t] == (ids[t - 1] + 1) % VOCAB for t in range(start, len(ids))]
        lp = [HI if h else LO for h in hit]
        loss.append(sum(lp) / len(lp))
        kept = sorted(lp[:-1])
        min_k.append(sum(kept[: max(1, int(0.5 * len(kept)))]) / max(1, int(0.5 * len(kept))))
        scored, n = hit[:-1], len(hit) - 1
        k = next((k for k in range(n) if all(scored[k:])), n - 1)
        es.append(1 - k / n)
        decoded = " ".join(r["answer"].split())  # the word-level tokenizer's decoding
        assert scored_text(tok, f["labels"]) == decoded != r["answer"]
        zlib_scores.append(loss[-1] / len(zlib.compress(decoded.encode())))
    assert es == pytest.approx(
        [0.5, 2 / 3]
    )  # ana (wrong) bo (right) [EOS wrong, not scored]; cy (wrong) dee eve (right)
    np.testing.assert_allclose(items["loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(items["min_k"], min_k, rtol=1e-6)
    np.testing.assert_allclose(out["per_item"]["extraction_strength"], es)
    np.testing.assert_allclose(items["zlib"], zlib_scores, rtol=1e-6)
    raw = [x / len(zlib.compress(r["answer"].encode())) for x, r in zip(loss, forget)]
    assert not np.allclose(items["zlib"], raw, rtol=1e-6)
