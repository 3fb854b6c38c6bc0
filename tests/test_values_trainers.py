"""Value tests of every trainer's `compute_loss` at non-default options, on a tiny model with hand-checked values.

For each method the expected loss is assembled here from the formulas in `shared/reference/llm.md`, with per-answer
log-probabilities computed by a separate forward of each *unpadded* sequence and an explicit causal shift. The
batch that the trainer sees is the collator's right-padded one, with forget and retain answers of unequal lengths,
so a padding or shift error, an ignored option (weights 0.3 and 2.0, beta, gamma, the margin form, the retain
loss type) or a per-token instead of per-sequence mean changes the result.
"""

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from hf_unlearn import (
    GradAscentConfig,
    GradAscentTrainer,
    GradDiffConfig,
    GradDiffTrainer,
    NPOConfig,
    NPOTrainer,
    SimNPOConfig,
    SimNPOTrainer,
)
from hf_unlearn.data import ForgetRetainDataset


FORGET = [
    {"input_ids": [1, 5, 6, 7, 8, 2], "labels": [-100, -100, 6, 7, 8, 2]},  # 4 answer tokens
    {"input_ids": [1, 9, 3, 2], "labels": [-100, -100, -100, 2]},  # 1 answer token
    {"input_ids": [1, 4, 11, 12, 2], "labels": [-100, -100, 11, 12, 2]},  # 3
]
RETAIN = [
    {"input_ids": [1, 13, 14, 15, 16, 17, 2], "labels": [-100, -100, -100, 15, 16, 17, 2]},
    {"input_ids": [1, 18, 19, 2], "labels": [-100, -100, 19, 2]},
]


def _model(seed):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=24,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config)


def _log_softmax_rows(model, row):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([row["input_ids"]])).logits[0].double()
    return torch.log_softmax(logits, -1)


def _answer_logp(model, row):
    """(sum of log p of the answer tokens, their number) for one unpadded sequence."""
    logp = _log_softmax_rows(model, row)
    labels = row["labels"]
    terms = [logp[t, labels[t + 1]].item() for t in range(len(labels) - 1) if labels[t + 1] != -100]
    return sum(terms), len(terms)


def _retain_nll(model, rows):
    return sum(-lp / n for lp, n in (_answer_logp(model, r) for r in rows)) / len(rows)


def _retain_kl(model, ref, rows):
    """KL(ref || model) over every position that predicts a real token (prompt and answer), per sequence mean."""
    per_seq = []
    for r in rows:
        lp, lr = _log_softmax_rows(model, r), _log_softmax_rows(ref, r)
        positions = range(len(r["input_ids"]) - 1)
        per_seq.append(sum((lr[t].exp() * (lr[t] - lp[t])).sum().item() for t in positions) / len(positions))
    return sum(per_seq) / len(per_seq)


def _logsig(x):
    return -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))


def _trainer(cls, config_cls, tmp_path, **kw):
    model = _model(0).train()
    ref = kw.pop("ref_model", None)
    args = config_cls(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=3, **kw)
    data = ForgetRetainDataset(FORGET, retain=RETAIN, seed=3)
    trainer = cls(model, args, train_dataset=data, ref_model=ref)
    features = [data[i] for i in range(3)]
    batch = trainer.data_collator(features)
    retain_rows = [RETAIN[f["retain"]["index"]] for f in features]
    return trainer, batch, retain_rows


def _loss_and_logged(trainer, batch):
    loss = trainer.compute_loss(trainer.model, batch)
    logged = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    return loss.item(), logged


def test_the_collated_batch_is_right_padded_and_pairs_unequal_lengths(tmp_path):
    _, batch, retain_rows = _trainer(SimNPOTrainer, SimNPOConfig, tmp_path)
    assert batch["forget"]["attention_mask"].tolist()[1] == [1, 1, 1, 1, 0, 0]
    assert batch["forget"]["labels"].tolist()[1] == [-100, -100, -100, 2, -100, -100]
    assert {len(r["input_ids"]) for r in retain_rows} == {4, 7}  # both retain lengths occur in the batch


@pytest.mark.parametrize(
    ("beta", "gamma", "scaled", "fw", "rw"),
    [(2.5, 0.0, False, 0.3, 2.0), (1.5, 0.8, False, 2.0, 0.3), (1.5, 0.8, True, 0.3, 2.0)],
)
def test_simnpo_trainer_loss_uses_every_option(beta, gamma, scaled, fw, rw, tmp_path):
    kw = {"beta": beta, "gamma": gamma, "gamma_scaled_by_beta": scaled, "forget_weight": fw, "retain_weight": rw}
    trainer, batch, retain_rows = _trainer(SimNPOTrainer, SimNPOConfig, tmp_path, **kw)
    model = trainer.model
    margin = beta * gamma if scaled else gamma
    forget = [_answer_logp(model, r) for r in FORGET]
    f_term = sum(-(2 / beta) * _logsig(-(beta / n) * lp - margin) for lp, n in forget) / 3
    r_term = _retain_nll(model, retain_rows)
    loss, logged = _loss_and_logged(trainer, batch)
    assert loss == pytest.approx(fw * f_term + rw * r_term, rel=1e-4)
    assert logged["forget/loss"] == pytest.approx(f_term, rel=1e-4)
    assert logged["retain/loss"] == pytest.approx(r_term, rel=1e-4)
    assert logged["forget/nll"] == pytest.approx(sum(-lp / n for lp, n in forget) / 3, rel=1e-4)


def test_simnpo_config_defaults_reach_the_loss(tmp_path):
    trainer, batch, retain_rows = _trainer(SimNPOTrainer, SimNPOConfig, tmp_path)
    model = trainer.model
    f_term = sum(-(2 / 4.5) * _logsig(-(4.5 / n) * lp) for lp, n in (_answer_logp(model, r) for r in FORGET)) / 3
    loss, _ = _loss_and_logged(trainer, batch)
    assert loss == pytest.approx(0.125 * f_term + 1.0 * _retain_nll(model, retain_rows), rel=1e-4)


@pytest.mark.parametrize(("beta", "fw", "rw"), [(0.3, 0.3, 2.0), (2.0, 2.0, 0.3)])
def test_npo_trainer_loss_against_a_separate_reference(beta, fw, rw, tmp_path):
    ref = _model(7).eval()
    kw = {"beta": beta, "forget_weight": fw, "retain_weight": rw, "ref_model": ref}
    trainer, batch, retain_rows = _trainer(NPOTrainer, NPOConfig, tmp_path, **kw)
    model = trainer.model
    per_seq = []
    for r in FORGET:
        lp, _ = _answer_logp(model, r)
        lr, _ = _answer_logp(ref, r)
        per_seq.append(-(2 / beta) * _logsig(-beta * (lp - lr)))
    f_term = sum(per_seq) / 3
    r_term = _retain_nll(model, retain_rows)
    loss, logged = _loss_and_logged(trainer, batch)
    assert loss == pytest.approx(fw * f_term + rw * r_term, rel=1e-4)
    assert logged["forget/loss"] == pytest.approx(f_term, rel=1e-4)


def test_npo_with_kl_retain_term(tmp_path):
    ref = _model(7).eval()
    kw = {"beta": 0.5, "forget_weight": 0.3, "retain_weight": 2.0, "retain_loss_type": "kl", "ref_model": ref}
    trainer, batch, retain_rows = _trainer(NPOTrainer, NPOConfig, tmp_path, **kw)
    model = trainer.model
    f_term = (
        sum(-(2 / 0.5) * _logsig(-0.5 * (_answer_logp(model, r)[0] - _answer_logp(ref, r)[0])) for r in FORGET) / 3
    )
    kl = _retain_kl(model, ref, retain_rows)
    loss, logged = _loss_and_logged(trainer, batch)
    assert logged["retain/loss"] == pytest.approx(kl, rel=1e-4)
    assert loss == pytest.approx(0.3 * f_term + 2.0 * kl, rel=1e-4)


def test_grad_ascent_is_weighted_mean_token_log_prob_without_retain(tmp_path):
    trainer, batch, _ = _trainer(GradAscentTrainer, GradAscentConfig, tmp_path, forget_weight=0.3, retain_weight=2.0)
    model = trainer.model
    f_term = sum(lp / n for lp, n in (_answer_logp(model, r) for r in FORGET)) / 3
    loss, logged = _loss_and_logged(trainer, batch)
    assert loss == pytest.approx(0.3 * f_term, rel=1e-4)  # retain_loss_type defaults to "none" for GA
    assert "retain/loss" not in logged


@pytest.mark.parametrize(("retain_loss_type", "rw"), [("nll", 2.0), ("nll", 0.3), ("kl", 2.0), ("none", 2.0)])
def test_grad_diff_combines_the_two_terms(retain_loss_type, rw, tmp_path):
    ref = _model(7).eval() if retain_loss_type == "kl" else None
    kw = {"forget_weight": 0.3, "retain_weight": rw, "retain_loss_type": retain_loss_type, "ref_model": ref}
    trainer, batch, retain_rows = _trainer(GradDiffTrainer, GradDiffConfig, tmp_path, **kw)
    model = trainer.model
    f_term = sum(lp / n for lp, n in (_answer_logp(model, r) for r in FORGET)) / 3
    r_term = {
        "nll": lambda: _retain_nll(model, retain_rows),
        "kl": lambda: _retain_kl(model, ref, retain_rows),
        "none": lambda: 0.0,
    }[retain_loss_type]()
    loss, _ = _loss_and_logged(trainer, batch)
    assert loss == pytest.approx(0.3 * f_term + rw * r_term, rel=1e-4)


def test_zero_retain_weight_drops_the_retain_term(tmp_path):
    trainer, batch, _ = _trainer(GradDiffTrainer, GradDiffConfig, tmp_path, forget_weight=2.0, retain_weight=0.0)
    f_term = sum(lp / n for lp, n in (_answer_logp(trainer.model, r) for r in FORGET)) / 3
    loss, logged = _loss_and_logged(trainer, batch)
    assert loss == pytest.approx(2.0 * f_term, rel=1e-4)
    assert "retain/loss" not in logged


def test_precomputed_reference_log_probs_are_the_untrained_models(tmp_path):
    model = _model(0).train()
    before = [_answer_logp(model, r)[0] for r in FORGET]
    args = NPOConfig(
        output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=3, precompute_ref_log_probs=True
    )
    data = ForgetRetainDataset(FORGET, retain=RETAIN)
    NPOTrainer(model, args, train_dataset=data)
    assert [data[i]["forget"]["ref_log_probs"] for i in range(3)] == pytest.approx(before, rel=1e-4)
