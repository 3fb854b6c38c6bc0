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
    ]
    k = 0.5
    out = mia_scores_from_features(_Bigram(), feats, PAD, attacks=("loss", "min_k", "min_k++"), k=k, batch_size=2)
    # Min-K%: the int(k n) lowest of the first n = len - 1 log-probs (at least 1)
    # seq 0: n = 3, 1 lowest of (HI, HI, HI) = HI; the previous definition took 2 of 4: (LO + HI) / 2
    # seq 1: n = 5, 2 lowest of (LO, HI, HI, HI, HI) = (LO + HI) / 2
    np.testing.assert_allclose(out["min_k"], [HI, (LO + HI) / 2, 0.0], rtol=1e-6)
    # LOSS keeps every labelled token: the mean log-prob
    np.testing.assert_allclose(out["loss"], [(3 * HI + LO) / 4, (LO + 5 * HI) / 6, HI], rtol=1e-6)
    # Min-K%++: the same positions on z = (log p - mu) / sigma, with mu, sigma the mean and std of log p under the
    # model's own next-token distribution (the same at every position here)
    p_hi, p_lo = math.exp(HI), math.exp(LO)
    mu = p_hi * HI + (VOCAB - 1) * p_lo * LO
    sigma = math.sqrt(p_hi * (HI - mu) ** 2 + (VOCAB - 1) * p_lo * (LO - mu) ** 2)
    z_hi, z_lo = (HI - mu) / sigma, (LO - mu) / sigma
    np.testing.assert_allclose(out["min_k++"], [z_hi, (z_lo + z_hi) / 2, 0.0], rtol=1e-5)
