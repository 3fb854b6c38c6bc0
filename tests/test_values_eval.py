"""Value tests of what each evaluation metric is computed on, with expected values worked out by hand.

TOFU (`shared/reference/llm.md`): probability = exp(-mean token NLL) of the *original* answer (forget/retain) or the
normalised choice probability (real_authors/world_facts); truth ratio from the *paraphrased* answer against the
mean perturbed NLL; forget quality = two-sided KS p-value (here: the exact permutation p-value, enumerated); model
utility = harmonic mean of the nine numbers; ROUGE-L recall with the Porter stemmer. Classification
(`salun_worstcase.md`): UA = 100 - forget accuracy, RA, TA, MIA-Efficacy, average gap. Diffusion: ESD target and
MSE losses. Inputs are chosen so that the wrong answer, set, class, orientation or normalisation gives a
different number.
"""

import itertools
import math

import pytest
import torch

from hf_unlearn.eval import (
    evaluate_tofu,
    forget_quality,
    model_utility,
    per_sequence_nll,
    probability_with_options,
    rouge_l_recall,
    score_sequences,
    tofu_set_metrics,
    truth_ratio,
    truth_ratio_aggregate,
)


# --------------------------------------------------------------------------------------------------------------
# TOFU formulas on hand-made numbers
# --------------------------------------------------------------------------------------------------------------


def test_forget_and_retain_sets_use_the_original_answer_for_probability_and_the_paraphrase_for_truth_ratio():
    nll_answer, nll_para = [0.2, 1.5], [0.9, 0.4]
    nll_pert = [[1.0, 2.0, 3.0], [0.5, 0.7]]
    for eval_set in ("forget", "retain"):
        agg, items = tofu_set_metrics(eval_set, nll_answer, nll_pert, nll_paraphrased=nll_para)
        assert items["probability"] == pytest.approx([math.exp(-0.2), math.exp(-1.5)])
        assert items["truth_ratio"] == pytest.approx([math.exp(0.9 - 2.0), math.exp(0.4 - 0.6)])
        assert agg["probability"] == pytest.approx((math.exp(-0.2) + math.exp(-1.5)) / 2)
        assert agg["truth_ratio_mean_raw"] == pytest.approx((math.exp(-1.1) + math.exp(-0.2)) / 2)
        assert agg["num_items"] == 2


def test_option_sets_use_the_true_answer_and_ignore_a_paraphrase():
    nll_answer, nll_pert = [0.5, 2.0], [[1.0, 1.5], [0.5, 3.0]]
    agg, items = tofu_set_metrics("world_facts", nll_answer, nll_pert, nll_paraphrased=[9.0, 9.0])
    p = [math.exp(-x) for x in (0.5, 1.0, 1.5)]
    q = [math.exp(-x) for x in (2.0, 0.5, 3.0)]
    assert items["probability"] == pytest.approx([p[0] / sum(p), q[0] / sum(q)])
    assert items["truth_ratio"] == pytest.approx([math.exp(0.5 - 1.25), math.exp(2.0 - 1.75)])
    # "true is better": mean(max(0, 1 - R))
    assert agg["truth_ratio"] == pytest.approx((max(0, 1 - math.exp(-0.75)) + max(0, 1 - math.exp(0.25))) / 2)


def test_probability_with_options_handles_ragged_perturbed_lists():
    out = probability_with_options([1.0, 1.0], [[1.0], [1.0, 1.0, 1.0]])
    assert out.tolist() == pytest.approx([1 / 2, 1 / 4])


def test_truth_ratio_takes_the_mean_of_perturbed_nlls_not_of_their_probabilities():
    # arithmetic mean of NLLs (= geometric mean of probabilities): exp(1 - (0 + 4) / 2) = exp(-1)
    assert truth_ratio([1.0], [[0.0, 4.0]]).tolist() == pytest.approx([math.exp(-1.0)])


def test_truth_ratio_aggregates_per_set():
    r = [0.25, 2.0, 1.0]
    assert truth_ratio_aggregate(r, "forget") == pytest.approx((0.25 + 0.5 + 1.0) / 3)
    for s in ("retain", "real_authors", "world_facts"):
        assert truth_ratio_aggregate(r, s) == pytest.approx((0.75 + 0.0 + 0.0) / 3)
    with pytest.raises(ValueError, match="eval_set"):
        truth_ratio_aggregate(r, "holdout")
    with pytest.raises(ValueError, match="positive"):
        truth_ratio_aggregate([0.5, 0.0], "forget")


def _ks_d(a, b):
    points = sorted(a + b)
    return max(abs(sum(x <= t for x in a) / len(a) - sum(x <= t for x in b) / len(b)) for t in points)


def _exact_two_sided_p(a, b):
    """P(D >= D_obs) over every way to split the pooled sample into groups of |a| and |b| (no ties)."""
    pooled, n, d_obs = a + b, len(a), _ks_d(a, b)
    hits = total = 0
    for idx in itertools.combinations(range(len(pooled)), n):
        chosen = set(idx)
        x = [pooled[i] for i in idx]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        hits += _ks_d(x, y) >= d_obs - 1e-12
        total += 1
    return hits / total, d_obs


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.1, 0.2, 0.3, 0.9], [0.4, 0.5, 0.6, 0.7]),  # D = 0.75 one way, 0.25 the other: one-sided differs
        ([0.05, 0.11, 0.8], [0.3, 0.35, 0.5, 0.6, 0.95]),  # unequal sizes
    ],
)
def test_forget_quality_is_the_exact_two_sided_ks_p_value(a, b):
    p, d = _exact_two_sided_p(a, b)
    got = forget_quality(a, b)
    assert got["ks_statistic"] == pytest.approx(d)
    assert got["forget_quality"] == pytest.approx(p, rel=1e-6)
    assert forget_quality(b, a)["forget_quality"] == pytest.approx(p, rel=1e-6)  # symmetric, as two-sided is


def test_forget_quality_of_identical_samples_is_one_and_of_disjoint_ones_is_small():
    assert forget_quality([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]) == {"forget_quality": 1.0, "ks_statistic": 0.0}
    # all 3 below all 3: 2 of the 20 splits reach D = 1
    assert forget_quality([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])["forget_quality"] == pytest.approx(2 / 20)


def test_model_utility_is_the_harmonic_mean_of_all_nine_terms():
    terms = {
        f"{s}_{m}": v
        for (s, m), v in zip(
            itertools.product(("retain", "real_authors", "world_facts"), ("probability", "rouge_l_recall", "tr")),
            [0.9, 0.5, 0.6, 0.3, 0.8, 0.7, 0.4, 0.95, 0.65],
        )
    }
    expected = 9 / sum(1 / v for v in terms.values())
    assert model_utility(terms) == pytest.approx(expected)
    assert model_utility(list(terms.values())) == pytest.approx(expected)
    assert abs(expected - sum(terms.values()) / 9) > 0.02  # not the arithmetic mean
    assert model_utility({**terms, "retain_tr": 0.0}) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        model_utility([0.5, -0.1])


def test_set_utility_is_the_harmonic_mean_of_probability_rouge_and_truth_ratio():
    agg, _ = tofu_set_metrics(
        "retain",
        [0.5, 1.0],
        [[1.0, 2.0], [2.0, 2.0]],
        nll_paraphrased=[0.5, 1.0],
        generations=["the red house", "blue"],
        references=["the red house", "a green car"],
    )
    prob = (math.exp(-0.5) + math.exp(-1.0)) / 2
    tr = (max(0, 1 - math.exp(0.5 - 1.5)) + max(0, 1 - math.exp(1.0 - 2.0))) / 2
    rouge = (1.0 + 0.0) / 2
    assert agg["rouge_l_recall"] == pytest.approx(rouge)
    assert agg["utility"] == pytest.approx(3 / (1 / prob + 1 / rouge + 1 / tr))


def test_rouge_l_recall_is_recall_with_stemming():
    # LCS("the novels", "novel") = 1 token after stemming; recall 1/2, precision 1/1
    assert rouge_l_recall(["novel"], ["The novels"]).tolist() == pytest.approx([0.5])
    # LCS = "she ... novels" = 2 of the reference's 4 tokens
    assert rouge_l_recall(["she novels"], ["She wrote three novels."]).tolist() == pytest.approx([0.5])
    # order matters (longest common *subsequence*): reversed words share one token in order
    assert rouge_l_recall(["paris rome"], ["rome paris"]).tolist() == pytest.approx([0.5])


# --------------------------------------------------------------------------------------------------------------
# Scoring: padded batches, per-token vs per-sequence normalisation
# --------------------------------------------------------------------------------------------------------------


def _hand_nll(model, ids, labels):
    """Mean and summed NLL of the labelled tokens of one unpadded sequence, from a single forward."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    terms = [-logp[t, labels[t + 1]].item() for t in range(len(ids) - 1) if labels[t + 1] != -100]
    return sum(terms) / len(terms), sum(terms), terms


@pytest.fixture(scope="module")
def tiny_lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=24,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    return LlamaForCausalLM(config).eval()


def test_score_sequences_on_unequal_lengths_matches_single_sequence_forwards(tiny_lm):
    feats = [
        {"input_ids": [1, 5, 6, 7, 2], "labels": [-100, -100, 6, 7, 2]},
        {"input_ids": [1, 9, 3], "labels": [-100, -100, 3]},
        {"input_ids": [1, 4, 4, 8, 8, 9, 2], "labels": [-100, -100, -100, -100, 8, 9, 2]},
    ]
    scores = score_sequences(tiny_lm, feats, pad_token_id=0, batch_size=2, return_token_logprobs=True)
    for i, f in enumerate(feats):
        mean, total, terms = _hand_nll(tiny_lm, f["input_ids"], f["labels"])
        assert scores.nll[i].item() == pytest.approx(mean, rel=1e-4)
        assert scores.nll_sum[i].item() == pytest.approx(total, rel=1e-4)
        assert scores.num_tokens[i].item() == len(terms)
        assert (-scores.token_logprobs[i]).tolist() == pytest.approx(terms, rel=1e-4)


def test_scoring_sequence_nll_sum_and_mean_on_a_right_padded_batch():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 3, generator=g)
    labels = torch.tensor([[-100, 2, 1, 0], [-100, 1, -100, -100]])
    logp = torch.log_softmax(logits.double(), -1)
    row0 = [-logp[0, 0, 2].item(), -logp[0, 1, 1].item(), -logp[0, 2, 0].item()]
    row1 = [-logp[1, 0, 1].item()]
    mean, n = per_sequence_nll(logits, labels)
    total, _ = per_sequence_nll(logits, labels, reduction="sum")
    assert n.tolist() == [3, 1]
    assert mean.tolist() == pytest.approx([sum(row0) / 3, row1[0]], rel=1e-5)
    assert total.tolist() == pytest.approx([sum(row0), row1[0]], rel=1e-5)


# --------------------------------------------------------------------------------------------------------------
# evaluate_tofu: each per-item number comes from the right answer of the right set
# --------------------------------------------------------------------------------------------------------------


def _qa(i, k, para=True):
    row = {
        "question": f"Where did writer {i} live?",
        "answer": f"Writer {i} lived in town {i}.",
        "perturbed_answer": [f"Writer {i} lived in village {i + j}." for j in range(k)],
    }
    if para:
        row["paraphrased_answer"] = f"The home of writer {i} was town {i}."
    return row


def test_evaluate_tofu_scores_the_right_answers_of_the_right_sets(tiny_lm):
    from transformers import LlamaConfig, LlamaForCausalLM

    from hf_unlearn.data import tokenize_qa
    from hf_unlearn.synthetic.tofu_models import build_tokenizer

    data = {
        "forget05_perturbed": [_qa(i, 2) for i in range(3)],
        "forget10_perturbed": [_qa(i, 3) for i in range(10, 13)],
        "retain_perturbed": [_qa(i, 2) for i in range(20, 22)],
        "real_authors_perturbed": [_qa(i, 2, para=False) for i in range(30, 32)],
        "world_facts_perturbed": [_qa(i, 3, para=False) for i in range(40, 42)],
    }
    texts = [" ".join([r["question"], r["answer"], *r["perturbed_answer"]]) for rows in data.values() for r in rows]
    tok = build_tokenizer(texts + [r["paraphrased_answer"] for r in data["retain_perturbed"]], vocab_size=300)
    torch.manual_seed(1)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            bos_token_id=None,
        )
    ).eval()
    results = evaluate_tofu(
        model, tok, data=data, forget_split="forget10", batch_size=3, max_new_tokens=4, progress=False
    )

    def nll(q, a):
        f = tokenize_qa(tok, q, a, template=results["template"])
        return _hand_nll(model, f["input_ids"], f["labels"])[0]

    for eval_set, split in [("forget", "forget10_perturbed"), ("retain", "retain_perturbed")]:
        rows = data[split]
        items = results["per_item"][eval_set]
        assert items["answer"] == [r["answer"] for r in rows]
        for i, r in enumerate(rows):
            ans = nll(r["question"], r["answer"])
            para = nll(r["question"], r["paraphrased_answer"])
            pert = [nll(r["question"], p) for p in r["perturbed_answer"]]
            assert items["probability"][i] == pytest.approx(math.exp(-ans), rel=1e-4)
            assert items["truth_ratio"][i] == pytest.approx(math.exp(para - sum(pert) / len(pert)), rel=1e-4)
    for eval_set in ("real_authors", "world_facts"):
        rows = data[f"{eval_set}_perturbed"]
        items = results["per_item"][eval_set]
        for i, r in enumerate(rows):
            ans = nll(r["question"], r["answer"])
            pert = [nll(r["question"], p) for p in r["perturbed_answer"]]
            probs = [math.exp(-x) for x in [ans, *pert]]
            assert items["probability"][i] == pytest.approx(probs[0] / sum(probs), rel=1e-4)
            assert items["truth_ratio"][i] == pytest.approx(math.exp(ans - sum(pert) / len(pert)), rel=1e-4)
    summary = results["summary"]
    terms = [
        results["sets"][s][m]
        for s in ("retain", "real_authors", "world_facts")
        for m in ("probability", "truth_ratio")
    ]
    rouge = [results["sets"][s]["rouge_l_recall"] for s in ("retain", "real_authors", "world_facts")]
    nine = terms + rouge
    expected_mu = 0.0 if min(nine) == 0 else 9 / sum(1 / v for v in nine)
    assert summary["model_utility"] == pytest.approx(expected_mu)
    assert summary["forget_quality"] is None  # no retain results given


# --------------------------------------------------------------------------------------------------------------
# Classification metrics (hf_unlearn.vision)
# --------------------------------------------------------------------------------------------------------------


def test_vision_accuracy_confidence_and_unlearning_metrics_on_a_hand_made_model():
    from hf_unlearn.vision.data import ClassificationData, ForgetSplit
    from hf_unlearn.vision.metrics import accuracy, average_gap, evaluate_unlearning, true_class_confidence

    model = torch.nn.Flatten()  # logits = the input itself
    x = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    y = torch.tensor([0, 2, 2, 1])
    assert accuracy(model, x, y) == pytest.approx(50.0)
    conf = true_class_confidence(model, x, y)
    e = math.e
    assert conf.tolist() == pytest.approx([e**2 / (e**2 + 2), 1 / (e + 2), e**3 / (e**3 + 2), 1 / (e + 2)], rel=1e-5)

    # train: 6 examples, forget = {0, 1} (one right, one wrong), retain = {2..5} (3 right of 4)
    x_train = torch.eye(3)[[0, 1, 2, 0, 1, 2]] * 5
    y_train = torch.tensor([0, 2, 2, 0, 1, 0])
    x_test = torch.eye(3)[[0, 1, 2, 2]] * 5
    y_test = torch.tensor([0, 1, 1, 2])  # test subset {1, 2}: one right of two; {0, 1, 2, 3} would give 75
    data = ClassificationData(x_train, y_train, x_test, y_test, num_classes=3, name="hand")
    split = ForgetSplit(
        forget=torch.tensor([True, True, False, False, False, False]),
        test=torch.tensor([False, True, True, False]),
        mode="random",
    )
    metrics = evaluate_unlearning(model, data, split)
    assert metrics["UA"] == pytest.approx(50.0)
    assert metrics["RA"] == pytest.approx(75.0)
    assert metrics["TA"] == pytest.approx(50.0)
    assert 0.0 <= metrics["MIA"] <= 100.0
    assert average_gap({"UA": 1, "RA": 90, "TA": 80, "MIA": 30}, {"UA": 5, "RA": 88, "TA": 80, "MIA": 20}) == 4.0


def test_mia_efficacy_counts_forget_examples_that_look_like_non_members():
    from hf_unlearn.vision.metrics import svc_mia_efficacy

    model = torch.nn.Flatten()
    g = torch.Generator().manual_seed(0)
    # members: true-class logit far above the rest (confidence ~1); non-members: near-uniform (~1/3)
    members = (torch.eye(3)[torch.arange(30) % 3] * 8 + torch.rand(30, 3, generator=g) * 0.1, torch.arange(30) % 3)
    non_members = (torch.rand(30, 3, generator=g) * 0.1, torch.arange(30) % 3)
    looks_seen = (torch.eye(3)[[0, 1, 2, 0]] * 8, torch.tensor([0, 1, 2, 0]))
    looks_unseen = (torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]))
    mixed = (torch.cat([looks_seen[0][:1], looks_unseen[0][:3]]), torch.tensor([0, 1, 2, 0]))
    assert svc_mia_efficacy(model, members, non_members, looks_seen) == 0.0
    assert svc_mia_efficacy(model, members, non_members, looks_unseen) == 100.0
    assert svc_mia_efficacy(model, members, non_members, mixed) == 75.0


# --------------------------------------------------------------------------------------------------------------
# Diffusion losses (hf_unlearn.diffusion.losses)
# --------------------------------------------------------------------------------------------------------------


def test_esd_target_and_losses_by_hand():
    from hf_unlearn.diffusion.losses import (
        denoising_attack_loss,
        esd_loss,
        esd_target,
        retain_loss,
        soft_attack_loss,
    )

    uncond = torch.tensor([1.0, -2.0])
    cond = torch.tensor([3.0, 0.0])
    # eta = 2: uncond - 2 (cond - uncond) = [1 - 4, -2 - 4]
    assert esd_target(uncond, cond, negative_guidance=2.0).tolist() == [-3.0, -6.0]
    assert esd_target(uncond, cond).tolist() == [-1.0, -4.0]  # default eta 1
    pred = torch.tensor([0.0, -5.0], requires_grad=True)
    assert esd_loss(pred, uncond, cond, negative_guidance=2.0).item() == pytest.approx((9 + 1) / 2)
    assert esd_loss(pred, uncond, cond).item() == pytest.approx((1 + 1) / 2)
    ref = torch.tensor([1.0, -3.0], requires_grad=True)
    for fn in (retain_loss, soft_attack_loss):
        value = fn(pred, ref)
        assert value.item() == pytest.approx((1 + 4) / 2)
        value.backward()
        assert ref.grad is None
        assert pred.grad.tolist() == pytest.approx([(0 - 1) * 2 / 2, (-5 + 3) * 2 / 2])
        pred.grad = None
    assert denoising_attack_loss(pred, torch.tensor([2.0, -1.0])).item() == pytest.approx((4 + 16) / 2)
    target = esd_target(uncond.requires_grad_(), cond)
    assert not target.requires_grad


def test_vision_metrics_edge_sizes_and_a_finite_model_with_parameters():
    from hf_unlearn.vision.data import ClassificationData, ForgetSplit
    from hf_unlearn.vision.metrics import accuracy, evaluate_unlearning, svc_mia_efficacy

    model = torch.nn.Flatten()
    assert accuracy(model, torch.tensor([[0.0, 1.0]]), torch.tensor([1])) == 100.0  # one example is enough
    one = (torch.tensor([[5.0, 0.0]]), torch.tensor([0]))
    low = (torch.tensor([[0.0, 0.0]]), torch.tensor([0]))
    assert svc_mia_efficacy(model, one, low, low) in (0.0, 100.0)  # one member, one non-member, one target
    with pytest.raises(ValueError, match="non-empty"):
        svc_mia_efficacy(model, one, low, (torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)))

    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2, 2))
    data = ClassificationData(
        torch.eye(2)[[0, 1, 0, 1]], torch.tensor([0, 1, 0, 1]), torch.eye(2), torch.tensor([0, 1]), 2, "hand"
    )
    split = ForgetSplit(
        forget=torch.tensor([True, False, False, False]), test=torch.ones(2, dtype=torch.bool), mode="random"
    )
    assert set(evaluate_unlearning(linear, data, split)) == {"UA", "RA", "TA", "MIA"}  # finite weights: no error
