"""The unlearning losses equal their formulas on hand-made tensors (hf_unlearn.trainer.losses)."""

import math

import pytest
import torch
import torch.nn.functional as F

from hf_unlearn import kl_divergence, mean_sequence_nll, npo_loss, sequence_log_probs, simnpo_loss


def _logsig(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_sequence_log_probs_masks_prompt_and_padding_and_shifts():
    # vocab 3; logits chosen so log-softmax values are easy to write down by hand.
    logits = torch.tensor(
        [
            [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]],
            [[1.0, 0.0, 0.0], [0.0, 0.0, 3.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]],
        ]
    )
    # row 0: prompt token at 0 and 1 masked; labels[2]=1 scored by logits[1]; labels[3]=1 by logits[2].
    # row 1: labels[1]=2 scored by logits[0]; positions 2, 3 padding (-100).
    labels = torch.tensor([[-100, -100, 1, 1], [-100, 2, -100, -100]])
    logps, n = sequence_log_probs(logits, labels)
    z1 = math.log(math.exp(2) + 2)  # logsumexp of [2, 0, 0]
    z2 = math.log(2 + math.e)  # logsumexp of [0, 1, 0]
    expected0 = (0.0 - z1) + (1.0 - z2)
    expected1 = 0.0 - math.log(math.e + 2)  # token 2 under [1, 0, 0]
    assert n.tolist() == [2, 1]
    assert logps[0].item() == pytest.approx(expected0, abs=1e-6)
    assert logps[1].item() == pytest.approx(expected1, abs=1e-6)


def test_sequence_nll_is_mean_of_per_sequence_means_and_matches_hf_when_lengths_equal():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7)
    labels = torch.randint(0, 7, (3, 5))
    labels[:, :2] = -100  # every row: 3 scored tokens after the shift... positions 2, 3, 4
    ours = mean_sequence_nll(logits, labels)
    hf = F.cross_entropy(logits[:, :-1].reshape(-1, 7), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert ours.item() == pytest.approx(hf.item(), abs=1e-6)
    # unequal lengths: each sequence weighs the same, whatever its length
    labels[0, 2:4] = -100
    logps, n = sequence_log_probs(logits, labels)
    assert mean_sequence_nll(logits, labels).item() == pytest.approx((-logps / n).mean().item(), abs=1e-6)


@pytest.mark.parametrize("beta", [0.1, 1.0, 2.5])
def test_npo_loss_formula(beta):
    policy = torch.tensor([-12.0, -3.0, -7.5])
    ref = torch.tensor([-10.0, -4.0, -7.5])
    expected = [-(2 / beta) * _logsig(-beta * (p - r)) for p, r in zip(policy.tolist(), ref.tolist())]
    out = npo_loss(policy, ref, beta=beta, reduction="none")
    assert out.tolist() == pytest.approx(expected, rel=1e-5)
    assert npo_loss(policy, ref, beta=beta).item() == pytest.approx(sum(expected) / 3, rel=1e-5)
    # equal policy and reference: (2/beta) log 2
    assert out[2].item() == pytest.approx(2 / beta * math.log(2), rel=1e-6)


def test_npo_gradient_is_gradient_ascent_at_the_reference_and_reference_gets_none():
    policy = torch.tensor([-5.0], requires_grad=True)
    ref = torch.tensor([-5.0], requires_grad=True)
    npo_loss(policy, ref, beta=0.1).backward()
    # d/dlogp of -(2/b) logsigmoid(-b r) = 2 sigmoid(b r) = 1 at r = 0: the same step as gradient ascent.
    assert policy.grad.item() == pytest.approx(1.0, abs=1e-6)
    assert ref.grad is None


def test_simnpo_paper_form_vs_reference_code_form():
    logps = torch.tensor([-6.0, -2.0])
    n = torch.tensor([3, 4])
    beta, gamma = 2.5, 0.4
    paper = [-(2 / beta) * _logsig(-(beta / k) * lp - gamma) for lp, k in zip(logps.tolist(), n.tolist())]
    code = [-(2 / beta) * _logsig(beta * (-lp / k - gamma)) for lp, k in zip(logps.tolist(), n.tolist())]
    out_paper = simnpo_loss(logps, n, beta=beta, gamma=gamma, reduction="none")
    out_code = simnpo_loss(logps, n, beta=beta, gamma=gamma, gamma_scaled_by_beta=True, reduction="none")
    assert out_paper.tolist() == pytest.approx(paper, rel=1e-5)
    assert out_code.tolist() == pytest.approx(code, rel=1e-5)
    assert not torch.allclose(out_paper, out_code)  # they differ when gamma != 0 ...
    same = simnpo_loss(logps, n, beta=beta, gamma=0.0, gamma_scaled_by_beta=True)
    assert same.item() == pytest.approx(simnpo_loss(logps, n, beta=beta, gamma=0.0).item(), rel=1e-7)  # ... not at 0


def test_simnpo_is_length_normalised():
    # same per-token log-prob, different lengths -> same loss (NPO would differ)
    a = simnpo_loss(torch.tensor([-2.0]), torch.tensor([2]), beta=1.0)
    b = simnpo_loss(torch.tensor([-20.0]), torch.tensor([20]), beta=1.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_zero_length_answers_raise_clear_errors():
    with pytest.raises(ValueError, match="no label tokens"):
        simnpo_loss(torch.tensor([-1.0, 0.0]), torch.tensor([2, 0]))
    logits = torch.zeros(1, 3, 4)
    with pytest.raises(ValueError, match="no label tokens"):
        mean_sequence_nll(logits, torch.tensor([[5, -100, -100]]))  # only the first position (never scored) labelled


def test_bad_beta_and_reduction():
    with pytest.raises(ValueError, match="beta"):
        npo_loss(torch.zeros(1), torch.zeros(1), beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        simnpo_loss(torch.zeros(1), torch.ones(1), beta=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        npo_loss(torch.zeros(1), torch.zeros(1), reduction="avg")


def test_kl_divergence_hand_computed():
    # one sequence, two scored positions; vocab 2.
    p = torch.tensor([0.5, 0.5])  # reference
    q = torch.tensor([0.9, 0.1])  # model
    ref_logits = torch.log(p).expand(1, 3, 2).clone()
    logits = torch.log(q).expand(1, 3, 2).clone()
    kl_pq = float((p * (p / q).log()).sum())
    out = kl_divergence(logits, ref_logits, attention_mask=torch.tensor([[1, 1, 0]]))
    assert out.item() == pytest.approx(kl_pq, rel=1e-5)
    # labels variant: positions predicting a label token; here labels [_, x, x] -> 2 positions, same KL
    assert kl_divergence(logits, ref_logits, labels=torch.tensor([[-100, 0, 1]])).item() == pytest.approx(
        kl_pq, rel=1e-5
    )
    assert kl_divergence(ref_logits, ref_logits).item() == pytest.approx(0.0, abs=1e-7)
