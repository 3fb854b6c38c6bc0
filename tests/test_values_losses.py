"""Value tests of the LLM unlearning losses (`hf_unlearn.trainer.losses`), computed by hand in plain Python.

Every expected number is worked out here with `math` from the formulas in `shared/reference/llm.md` (explicit loops
over positions, explicit causal shift), never with the code under test. Batches have sequences of unequal length,
padded on the right (as `ForgetRetainCollator` pads), and logits that differ at every position, so a missing or
shifted mask, a sum over the wrong axis or a wrong normalisation changes the result.
"""

import math

import pytest
import torch

from hf_unlearn import npo_loss, sequence_log_probs, simnpo_loss
from hf_unlearn.trainer.losses import kl_divergence, mean_sequence_nll


IGNORE = -100


def _logsumexp(xs):
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def _hand_log_probs(logits, labels):
    """Per sequence: sum over t of log softmax(logits[t])[labels[t + 1]] where labels[t + 1] != -100."""
    out, counts = [], []
    for row_logits, row_labels in zip(logits.tolist(), labels.tolist()):
        total, n = 0.0, 0
        for t in range(len(row_labels) - 1):
            y = row_labels[t + 1]
            if y == IGNORE:
                continue
            total += row_logits[t][y] - _logsumexp(row_logits[t])
            n += 1
        out.append(total)
        counts.append(n)
    return out, counts


def _sigmoid_log(x):
    return -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))


@pytest.fixture
def padded_batch():
    """Three right-padded sequences: 3, 1 and 2 answer tokens; prompt tokens and padding are -100."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 5, generator=g) * 2
    labels = torch.tensor(
        [
            [IGNORE, IGNORE, 1, 4, 2, IGNORE],  # prompt 2, answer 3, pad 1
            [IGNORE, 3, IGNORE, IGNORE, IGNORE, IGNORE],  # prompt 1, answer 1, pad 4
            [IGNORE, IGNORE, IGNORE, 0, 3, IGNORE],  # prompt 3, answer 2, pad 1
        ]
    )
    return logits, labels


def test_sequence_log_probs_per_row_on_a_padded_batch(padded_batch):
    logits, labels = padded_batch
    logps, n = sequence_log_probs(logits, labels)
    expected, counts = _hand_log_probs(logits, labels)
    assert n.tolist() == counts == [3, 1, 2]
    assert logps.tolist() == pytest.approx(expected, rel=1e-5)


def test_sequence_log_probs_ignores_what_padding_and_prompt_positions_hold(padded_batch):
    logits, labels = padded_batch
    changed = logits.clone()
    changed[0, 5] += 100.0  # the last position predicts nothing
    changed[1, 2:] -= 50.0  # padding of row 1 (position 1 predicts its only answer token, at 2: kept)
    changed[1, 0, 3] += 7.0  # position 0 predicts label[1] = 3: this one must count
    before, _ = sequence_log_probs(logits, labels)
    after, _ = sequence_log_probs(changed, labels)
    assert after[0].item() == pytest.approx(before[0].item(), rel=1e-6)
    assert after[2].item() == pytest.approx(before[2].item(), rel=1e-6)
    assert after[1].item() == pytest.approx(_hand_log_probs(changed, labels)[0][1], rel=1e-5)
    assert after[1].item() != pytest.approx(before[1].item(), rel=1e-3)


def test_sequence_nll_is_the_mean_of_per_sequence_token_means(padded_batch):
    logits, labels = padded_batch
    lps, counts = _hand_log_probs(logits, labels)
    expected = sum(-lp / c for lp, c in zip(lps, counts)) / 3
    token_mean = -sum(lps) / sum(counts)  # the usual HF loss, different here because lengths differ
    value = mean_sequence_nll(logits, labels).item()
    assert value == pytest.approx(expected, rel=1e-5)
    assert abs(value - token_mean) > 1e-3


@pytest.mark.parametrize("beta", [0.1, 0.7, 3.0])
def test_npo_loss_per_sequence_and_reductions(beta):
    policy = torch.tensor([-12.0, -3.5, -20.0])
    ref = torch.tensor([-10.0, -6.0, -19.0])
    per_seq = [-(2 / beta) * _sigmoid_log(-beta * (p - r)) for p, r in zip(policy.tolist(), ref.tolist())]
    assert npo_loss(policy, ref, beta=beta, reduction="none").tolist() == pytest.approx(per_seq, rel=1e-5)
    assert npo_loss(policy, ref, beta=beta, reduction="sum").item() == pytest.approx(sum(per_seq), rel=1e-5)
    assert npo_loss(policy, ref, beta=beta).item() == pytest.approx(sum(per_seq) / 3, rel=1e-5)


def test_npo_loss_default_beta_is_the_papers_0_1():
    policy, ref = torch.tensor([-12.0, -3.0]), torch.tensor([-10.0, -6.0])
    expected = sum(-(2 / 0.1) * _sigmoid_log(-0.1 * (p - r)) for p, r in [(-12.0, -10.0), (-3.0, -6.0)]) / 2
    assert npo_loss(policy, ref).item() == pytest.approx(expected, rel=1e-5)


def test_npo_loss_gradient_flows_into_the_policy_only():
    beta = 0.5
    policy = torch.tensor([-4.0, -1.0], requires_grad=True)
    ref = torch.tensor([-3.0, -2.0], requires_grad=True)
    npo_loss(policy, ref, beta=beta, reduction="sum").backward()
    # d/dp [-(2/b) log sigmoid(-b (p - r))] = 2 sigmoid(b (p - r))
    expected = [2 / (1 + math.exp(-beta * (p - r))) for p, r in [(-4.0, -3.0), (-1.0, -2.0)]]
    assert policy.grad.tolist() == pytest.approx(expected, rel=1e-5)
    assert ref.grad is None


def _simnpo_hand(logps, counts, beta, gamma, scaled):
    margin = beta * gamma if scaled else gamma
    return [-(2 / beta) * _sigmoid_log(-(beta / n) * lp - margin) for lp, n in zip(logps, counts)]


@pytest.mark.parametrize(("beta", "gamma", "scaled"), [(2.5, 0.0, False), (2.5, 0.7, False), (2.5, 0.7, True)])
def test_simnpo_loss_per_sequence_with_margin_and_reductions(beta, gamma, scaled):
    logps, counts = [-9.0, -1.5, -4.0], [3, 1, 4]
    per_seq = _simnpo_hand(logps, counts, beta, gamma, scaled)
    args = (torch.tensor(logps), torch.tensor(counts))
    kw = {"beta": beta, "gamma": gamma, "gamma_scaled_by_beta": scaled}
    assert simnpo_loss(*args, reduction="none", **kw).tolist() == pytest.approx(per_seq, rel=1e-5)
    assert simnpo_loss(*args, reduction="sum", **kw).item() == pytest.approx(sum(per_seq), rel=1e-5)
    assert simnpo_loss(*args, **kw).item() == pytest.approx(sum(per_seq) / 3, rel=1e-5)


def test_simnpo_margin_forms_differ_when_gamma_is_not_zero():
    args = (torch.tensor([-6.0]), torch.tensor([2]))
    paper = simnpo_loss(*args, beta=2.0, gamma=1.0).item()
    code = simnpo_loss(*args, beta=2.0, gamma=1.0, gamma_scaled_by_beta=True).item()
    assert paper == pytest.approx(_simnpo_hand([-6.0], [2], 2.0, 1.0, False)[0], rel=1e-6)
    assert code == pytest.approx(_simnpo_hand([-6.0], [2], 2.0, 1.0, True)[0], rel=1e-6)
    assert abs(paper - code) > 1e-3


def test_simnpo_loss_defaults_are_beta_4_5_and_gamma_0():
    logps, counts = [-9.0, -2.0], [3, 4]
    expected = sum(_simnpo_hand(logps, counts, 4.5, 0.0, False)) / 2
    assert simnpo_loss(torch.tensor(logps), torch.tensor(counts)).item() == pytest.approx(expected, rel=1e-5)


def test_simnpo_gradient_is_length_normalised():
    beta = 2.0
    logps = torch.tensor([-6.0, -6.0], requires_grad=True)
    simnpo_loss(logps, torch.tensor([2, 6]), beta=beta, reduction="sum").backward()
    # d/dlp [-(2/b) log sigmoid(-(b/n) lp)] = (2/n) sigmoid((b/n) lp)
    expected = [(2 / n) / (1 + math.exp(-(beta / n) * -6.0)) for n in (2, 6)]
    assert logps.grad.tolist() == pytest.approx(expected, rel=1e-5)


def test_losses_reject_beta_zero_and_unknown_reduction():
    one = torch.tensor([-1.0])
    with pytest.raises(ValueError, match="beta"):
        npo_loss(one, one, beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        simnpo_loss(one, torch.tensor([1]), beta=0.0)
    with pytest.raises(ValueError, match="reduction"):
        npo_loss(one, one, reduction="max")


def _kl_rows(logits, ref_logits, masks):
    """mean over sequences of the mean over masked positions of sum_v p_ref (log p_ref - log p)."""
    per_seq = []
    for b, positions in enumerate(masks):
        vals = []
        for t in positions:
            lp = [x - _logsumexp(logits[b][t]) for x in logits[b][t]]
            lr = [x - _logsumexp(ref_logits[b][t]) for x in ref_logits[b][t]]
            vals.append(sum(math.exp(r) * (r - p) for p, r in zip(lp, lr)))
        per_seq.append(sum(vals) / len(vals))
    return sum(per_seq) / len(per_seq)


def test_kl_divergence_with_labels_counts_positions_that_predict_a_label(padded_batch):
    logits, labels = padded_batch
    ref = torch.randn(logits.shape, generator=torch.Generator().manual_seed(5))
    # positions t whose next label is scored: row 0 -> 1, 2, 3; row 1 -> 0; row 2 -> 2, 3
    expected = _kl_rows(logits.tolist(), ref.tolist(), [[1, 2, 3], [0], [2, 3]])
    assert kl_divergence(logits, ref, labels=labels).item() == pytest.approx(expected, rel=1e-5)


def test_kl_divergence_with_attention_mask_and_without_any_mask():
    g = torch.Generator().manual_seed(3)
    logits, ref = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 3, generator=g)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    expected = _kl_rows(logits.tolist(), ref.tolist(), [[0, 1, 2], [0, 1]])
    assert kl_divergence(logits, ref, attention_mask=mask).item() == pytest.approx(expected, rel=1e-5)
    expected_all = _kl_rows(logits.tolist(), ref.tolist(), [[0, 1, 2, 3], [0, 1, 2, 3]])
    assert kl_divergence(logits, ref).item() == pytest.approx(expected_all, rel=1e-5)


def test_kl_divergence_direction_is_ref_to_model_and_gradient_skips_the_reference():
    logits = torch.tensor([[[2.0, 0.0, -1.0]]], requires_grad=True)
    ref = torch.tensor([[[0.0, 1.0, 0.5]]], requires_grad=True)
    value = kl_divergence(logits, ref)
    lp = [x - _logsumexp([2.0, 0.0, -1.0]) for x in [2.0, 0.0, -1.0]]
    lr = [x - _logsumexp([0.0, 1.0, 0.5]) for x in [0.0, 1.0, 0.5]]
    forward_kl = sum(math.exp(r) * (r - p) for p, r in zip(lp, lr))
    reverse_kl = sum(math.exp(p) * (p - r) for p, r in zip(lp, lr))
    assert value.item() == pytest.approx(forward_kl, rel=1e-5)
    assert abs(forward_kl - reverse_kl) > 1e-2
    value.backward()
    # d KL(ref||softmax(z)) / dz = softmax(z) - p_ref
    assert logits.grad[0, 0].tolist() == pytest.approx([math.exp(p) - math.exp(r) for p, r in zip(lp, lr)], abs=1e-6)
    assert ref.grad is None


def test_kl_divergence_rejects_shape_mismatch_and_empty_rows():
    with pytest.raises(ValueError, match="shape"):
        kl_divergence(torch.zeros(1, 3, 4), torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match="no label tokens"):
        kl_divergence(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4), attention_mask=torch.zeros(1, 3))


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda logits, labels: mean_sequence_nll(logits, labels), "mean_sequence_nll"),
        (lambda logits, labels: simnpo_loss(*sequence_log_probs(logits, labels)), "simnpo_loss"),
        (lambda logits, labels: kl_divergence(logits, logits + 1, labels=labels), "kl_divergence"),
    ],
)
def test_empty_answers_are_named_by_function_and_row(fn, name):
    labels = torch.tensor([[IGNORE, 1, 2], [IGNORE, IGNORE, IGNORE], [IGNORE, 3, IGNORE]])
    with pytest.raises(ValueError, match=rf"^{name}: sequence\(s\) \[1\] of the batch have no label tokens"):
        fn(torch.zeros(3, 3, 4), labels)


def test_shape_errors_name_the_expected_shapes():
    with pytest.raises(ValueError, match="expected logits"):
        sequence_log_probs(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="expected logits"):
        sequence_log_probs(torch.zeros(1, 4, 5), torch.zeros(1, 3, dtype=torch.long))


# -------------------------------------------------------------- mutants of the full-scope run (issue 16, kinds 1 and 3)


def test_salun_random_label_loss_default_alpha_is_the_reference_codes_half():
    from hf_unlearn.diffusion.losses import salun_random_label_loss

    eps_forget = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    eps_pseudo = torch.tensor([[0.0, 2.0], [1.0, 1.0]], requires_grad=True)  # differences 1, 0, 2, 3: mean square 3.5
    retain_pred = torch.tensor([1.0, 1.0, 1.0], requires_grad=True)
    retain_target = torch.tensor([0.0, 3.0, 1.0])  # differences 1, -2, 0: mean square 5/3
    loss, forget, retain = salun_random_label_loss(eps_forget, eps_pseudo, retain_pred, retain_target)
    assert forget.item() == pytest.approx(3.5) and retain.item() == pytest.approx(5 / 3)
    assert loss.item() == pytest.approx(3.5 + 0.5 * 5 / 3)  # alpha 0.5 (SalUn's SD Imagenette setting)
    loss.backward()
    assert eps_pseudo.grad is None  # the pseudo prompt's prediction is a fixed target
    assert torch.allclose(eps_forget.grad, torch.tensor([[0.5, 0.0], [1.0, 1.5]]))  # 2 d / 4
    assert torch.allclose(retain_pred.grad, torch.tensor([1 / 3, -2 / 3, 0.0]))  # 0.5 * 2 d / 3


def test_sequence_nlls_name_exactly_the_rows_without_labelled_tokens():
    from hf_unlearn import logprobs

    logits = torch.zeros(3, 3, 4)
    # after the causal shift the scored labels are columns 1-2: row 0 has two, row 1 none, row 2 one
    labels = torch.tensor([[0, 1, 2], [0, -100, -100], [0, -100, 3]])
    for nll in (mean_sequence_nll, logprobs.per_sequence_nll):  # the trainers' and the evaluation's
        with pytest.raises(ValueError, match=r"sequence\(s\) \[1\] of the batch have no label"):
            nll(logits, labels)
