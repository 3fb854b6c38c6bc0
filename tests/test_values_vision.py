"""Value tests of the classification unlearning methods' options (`hf_unlearn.vision.methods`).

One epoch with one batch on a linear model gives one SGD step whose result is worked out here: first SGD step with
momentum 0.9 and weight decay 5e-4 is `theta - lr * (grad + 5e-4 * theta)`, with `grad` the gradient of the method's
loss on the right set (forget for GA, retain for FT and l1-sparse), the sign of the loss (ascent for GA) and the ℓ1
weight at epoch 0 (`l1_alpha`). Non-default learning rates and ℓ1 weights, so an ignored option shows.
"""

import pytest
import torch
from torch import nn

from hf_unlearn.vision.data import ClassificationData, ForgetSplit
from hf_unlearn.vision.methods import finetune, gradient_ascent, l1_sparse, salun


WD = 5e-4


def _data():
    g = torch.Generator().manual_seed(0)
    x_train = torch.randn(6, 1, 1, 2, generator=g)
    y_train = torch.tensor([0, 1, 2, 0, 1, 2])
    data = ClassificationData(
        x_train, y_train, torch.randn(3, 1, 1, 2, generator=g), torch.tensor([0, 1, 2]), 3, "hand"
    )
    split = ForgetSplit(
        forget=torch.tensor([True, True, False, False, False, False]),
        test=torch.ones(3, dtype=torch.bool),
        mode="random",
    )
    return data, split


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(2, 3))


def _one_step(model, x, y, lr, sign=1.0, l1=0.0):
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    w, b = params
    logits = x.flatten(1) @ w.T + b
    loss = sign * nn.functional.cross_entropy(logits, y) + l1 * sum(p.abs().sum() for p in params)
    grads = torch.autograd.grad(loss, params)
    return [(p - lr * (g + WD * p)).detach() for p, g in zip(params, grads)]


def _assert_params(model, expected):
    for p, e in zip(model.parameters(), expected):
        assert torch.allclose(p.detach(), e, atol=1e-6), (p, e)


def test_gradient_ascent_steps_up_the_forget_loss_at_the_given_lr():
    data, split = _data()
    model = _model()
    out = gradient_ascent(model, data, split, lr=0.3, epochs=1, batch_size=64)
    _assert_params(out, _one_step(model, data.x_train[:2], data.y_train[:2], 0.3, sign=-1.0))


def test_finetune_steps_down_the_retain_loss_at_the_given_lr():
    data, split = _data()
    model = _model()
    out = finetune(model, data, split, lr=0.2, epochs=1, batch_size=64)
    _assert_params(out, _one_step(model, data.x_train[2:], data.y_train[2:], 0.2))


def test_l1_sparse_adds_l1_alpha_times_the_l1_norm():
    data, split = _data()
    model = _model()
    out = l1_sparse(model, data, split, lr=0.2, epochs=1, batch_size=64, l1_alpha=0.05)
    _assert_params(out, _one_step(model, data.x_train[2:], data.y_train[2:], 0.2, l1=0.05))


def test_the_input_model_is_not_modified():
    data, split = _data()
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    gradient_ascent(model, data, split, lr=0.3, epochs=1)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


@pytest.mark.parametrize("sparsity", [0.25, 0.75])
def test_salun_moves_exactly_the_sparsity_fraction_of_weights_at_most(sparsity):
    data, split = _data()
    model = _model()
    out = salun(model, data, split, lr=0.5, epochs=2, batch_size=2, sparsity=sparsity)
    moved = sum(int((p.detach() != q.detach()).sum()) for p, q in zip(out.parameters(), model.parameters()))
    total = sum(p.numel() for p in model.parameters())  # 9 weights
    assert 0 < moved <= round(sparsity * total)
