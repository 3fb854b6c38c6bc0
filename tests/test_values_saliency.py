"""Value tests of the SalUn mask and its guard: hand-made gradients with a known ranking, wrapped optimizers, an
optimizer that already holds state, and each mechanism of the guard on its own (gradient hook, `mask_gradients`,
`restore`), so that one working mechanism cannot hide a broken one."""

import pytest
import torch
from torch import nn

from hf_unlearn.saliency import SaliencyMaskGuard, apply_saliency_mask, compute_saliency_mask
from hf_unlearn.saliency.mask import _top_k_mask


def _linear():
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
        model.bias.copy_(torch.tensor([0.1, -0.2]))
    return model


def _loss(model, batch):
    # d loss / d weight = batch["c"], d loss / d bias = batch["d"]: the gradients are chosen by hand
    return (model.weight * batch["c"]).sum() + (model.bias * batch["d"]).sum()


BATCHES = [
    {"c": torch.tensor([[3.0, 1.0, -2.0], [0.5, 4.0, 0.0]]), "d": torch.tensor([1.0, -6.0])},
    {"c": torch.tensor([[-3.0, 1.0, -2.0], [0.5, -1.0, 0.0]]), "d": torch.tensor([1.5, 2.0])},
]
# summed gradient: weight [[0, 2, -4], [1, 3, 0]], bias [2.5, -4]; |.| ranked over all 8 entries:
# 4 (w[0,2]), 4 (b[1]), 3 (w[1,1]), 2.5 (b[0]), 2 (w[0,1]), 1 (w[1,0]), 0, 0
# (the entry w[0,0] has |g| = 3 per batch but cancels: a sum of absolute values would rank it third)


def test_saliency_mask_ranks_the_absolute_summed_gradient_over_all_parameters():
    mask = compute_saliency_mask(
        _linear(), BATCHES, sparsity=0.5, loss_fn=_loss, data_collator=lambda rows: rows[0], batch_size=1
    )
    assert mask["weight"].tolist() == [[False, False, True], [False, True, False]]
    assert mask["bias"].tolist() == [True, True]


def test_saliency_mask_sparsity_and_include_exclude():
    loader = BATCHES  # a list of batches, collated one by one
    kw = {"loss_fn": _loss, "data_collator": lambda rows: rows[0], "batch_size": 1}
    three = compute_saliency_mask(_linear(), loader, sparsity=3 / 8, **kw)
    assert three["weight"].tolist() == [[False, False, True], [False, True, False]]
    assert three["bias"].tolist() == [False, True]
    # only weights ranked: keep round(0.5 * 6) = 3 of them -> |g| 4, 3, 2; bias frozen
    only_w = compute_saliency_mask(_linear(), loader, sparsity=0.5, include="weight", **kw)
    assert only_w["weight"].tolist() == [[False, True, True], [False, True, False]]
    assert only_w["bias"].tolist() == [False, False]
    no_w = compute_saliency_mask(_linear(), loader, sparsity=0.5, exclude="weight", **kw)
    assert no_w["bias"].tolist() == [False, True] and not no_w["weight"].any()


def test_saliency_mask_leaves_weights_grads_and_mode_alone():
    model = _linear().train()
    model.weight.grad = torch.full((2, 3), 7.0)
    before = model.weight.detach().clone()
    compute_saliency_mask(model, BATCHES, loss_fn=_loss, data_collator=lambda rows: rows[0], batch_size=1)
    assert torch.equal(model.weight.detach(), before)
    assert torch.equal(model.weight.grad, torch.full((2, 3), 7.0)) and model.bias.grad is None
    assert model.training


def test_top_k_breaks_ties_by_position_and_keeps_exactly_k():
    flat = torch.tensor([1.0, 3.0, 3.0, 3.0, 0.0, 5.0])
    assert _top_k_mask(flat, 3).tolist() == [False, True, True, False, False, True]
    assert _top_k_mask(flat, 1).tolist() == [False, False, False, False, False, True]
    assert _top_k_mask(flat, 6).all()


MASK = {"weight": torch.tensor([[1, 0, 0], [0, 1, 1]]), "bias": torch.tensor([0, 1])}
FROZEN = {n: ~m.bool() for n, m in MASK.items()}


def _step(model, optimizer):
    model(torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.3, 0.3]])).pow(2).sum().backward()
    optimizer.step()
    optimizer.zero_grad()


def _frozen_values(model):
    return {n: p.detach()[FROZEN[n]].clone() for n, p in model.named_parameters()}


def _assert_frozen_equal(model, values):
    for n, p in model.named_parameters():
        assert torch.equal(p.detach()[FROZEN[n]], values[n]), n


class _Wrapper:
    """A minimal optimizer wrapper in accelerate's style (the torch optimizer in `.optimizer`)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self):
        self.optimizer.step()

    def zero_grad(self):
        self.optimizer.zero_grad()


@pytest.mark.parametrize("wrap", ["plain", "one", "two", "accelerate"])
def test_guard_with_wrapped_optimizers_keeps_frozen_weights_and_state_clean(wrap):
    model = _linear()
    inner = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
    if wrap == "plain":
        opt = inner
    elif wrap == "one":
        opt = _Wrapper(inner)
    elif wrap == "two":
        opt = _Wrapper(_Wrapper(inner))
    else:
        from accelerate import Accelerator

        opt = Accelerator(cpu=True).prepare_optimizer(inner)
        assert type(opt).__name__ == "AcceleratedOptimizer"
    frozen_before = _frozen_values(model)
    salient_before = model.weight.detach()[~FROZEN["weight"]].clone()
    with apply_saliency_mask(model, MASK, opt):
        for _ in range(3):
            _step(model, opt)
            _assert_frozen_equal(model, frozen_before)
            for n, p in model.named_parameters():
                for key in ("exp_avg", "exp_avg_sq"):
                    assert not inner.state[p][key][FROZEN[n]].any(), (n, key)
    assert not torch.equal(model.weight.detach()[~FROZEN["weight"]], salient_before)


def test_guard_zeroes_state_an_optimizer_already_holds_and_keeps_the_rest():
    model = _linear()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.1)
    _step(model, opt)  # momentum buffers now non-zero everywhere
    buf = {n: opt.state[p]["momentum_buffer"].clone() for n, p in model.named_parameters()}
    assert all(b.ne(0).all() for b in buf.values())
    frozen_before = _frozen_values(model)
    guard = apply_saliency_mask(model, MASK, opt)
    for n, p in model.named_parameters():
        state = opt.state[p]["momentum_buffer"]
        assert not state[FROZEN[n]].any()
        assert torch.equal(state[~FROZEN[n]], buf[n][~FROZEN[n]])
    for _ in range(2):
        _step(model, opt)
        _assert_frozen_equal(model, frozen_before)
    guard.remove()


def test_gradient_hook_masks_gradients_as_they_are_computed():
    model = _linear()
    guard = SaliencyMaskGuard(model, MASK).attach()
    model(torch.ones(1, 3)).sum().backward()
    # d sum(Wx + b) / dW = x = 1 everywhere, / db = 1
    assert model.weight.grad.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    assert model.bias.grad.tolist() == [0.0, 1.0]
    guard.remove()
    model.zero_grad()
    model(torch.ones(1, 3)).sum().backward()
    assert model.weight.grad.eq(1.0).all()  # hooks gone after remove()


def test_mask_gradients_alone_zeroes_gradients_set_directly():
    model = _linear()
    guard = SaliencyMaskGuard(model, MASK).attach()
    model.weight.grad = torch.full((2, 3), 2.0)  # set directly: no hook ran
    model.bias.grad = torch.full((2,), -1.0)
    guard.mask_gradients()
    assert model.weight.grad.tolist() == [[2.0, 0.0, 0.0], [0.0, 2.0, 2.0]]
    assert model.bias.grad.tolist() == [0.0, -1.0]
    # nothing else touched: the values still equal the snapshot without any restore
    assert guard.frozen_unchanged()


def test_restore_alone_writes_back_values_and_cleans_a_given_optimizer():
    model = _linear()
    guard = SaliencyMaskGuard(model, MASK).attach()  # no optimizer: the caller restores
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    with torch.no_grad():
        model.weight.add_(1.0)
        model.bias.add_(1.0)
    # gradients set directly (no hook runs): Adam moves every entry and fills its state everywhere
    model.weight.grad, model.bias.grad = torch.ones(2, 3), torch.ones(2)
    opt.step()
    assert opt.state[model.weight]["exp_avg"].ne(0).all()
    assert not guard.frozen_unchanged()
    guard.restore(_Wrapper(opt))
    assert guard.frozen_unchanged()
    assert model.weight.detach().tolist()[0][0] == pytest.approx(0.5 + 1.0 - 0.1, abs=1e-6)  # salient: kept
    assert model.weight.detach().tolist()[0][1:] == [-1.0, 2.0]
    assert not opt.state[model.weight]["exp_avg"][FROZEN["weight"]].any()


def test_guard_rejects_a_non_optimizer():
    with pytest.raises(TypeError, match="optimizer"):
        SaliencyMaskGuard(_linear(), MASK, optimizer=object())


def test_default_forget_loss_is_the_models_loss_or_cross_entropy_by_hand():
    import math

    from hf_unlearn.saliency.mask import default_forget_loss

    class WithLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor(2.0))

        def forward(self, x, labels):
            return {"loss": (self.w * x - labels).pow(2).mean()}

    batch = {"x": torch.tensor([1.0, 3.0]), "labels": torch.tensor([1.0, 1.0])}
    assert default_forget_loss(WithLoss(), batch).item() == pytest.approx((1.0 + 25.0) / 2)

    model = _linear()
    x, y = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]]), torch.tensor([1, 0])
    logits = (x @ model.weight.T + model.bias).tolist()
    expected = (
        sum(-(row[t] - math.log(sum(math.exp(v) for v in row))) for row, t in zip(logits, y.tolist())) / 2
    )  # mean cross-entropy
    assert default_forget_loss(model, (x, y)).item() == pytest.approx(expected, rel=1e-5)
    assert default_forget_loss(model, [x, y]).item() == pytest.approx(expected, rel=1e-5)


def test_saliency_batches_follow_batch_size_and_order():
    seen = []

    def loss_fn(model, batch):
        seen.append(batch["i"].tolist())
        return (model.weight * 0).sum() + model.bias.sum() * 0 + (model.weight.sum() * len(batch["i"]))

    data = [{"i": torch.tensor(i)} for i in range(5)]
    compute_saliency_mask(_linear(), data, sparsity=0.5, loss_fn=loss_fn, batch_size=2)
    assert seen == [[0, 1], [2, 3], [4]]


def test_saved_mask_keeps_values_density_and_metadata(tmp_path):
    from safetensors import safe_open

    from hf_unlearn.saliency import load_saliency_mask, save_saliency_mask
    from hf_unlearn.saliency.mask import mask_density

    mask = {"weight": torch.tensor([[1, 0, 0], [0, 1, 1]]), "bias": torch.tensor([0, 1])}
    assert mask_density(mask) == pytest.approx(4 / 8)
    path = tmp_path / "sub" / "mask.safetensors"
    save_saliency_mask(mask, path, metadata={"sparsity": 0.5, "model": "tiny"})
    loaded = load_saliency_mask(path)
    assert {n: v.tolist() for n, v in loaded.items()} == {n: v.bool().tolist() for n, v in mask.items()}
    assert all(v.dtype == torch.bool for v in loaded.values())
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["density"] == "0.500000" and meta["sparsity"] == "0.5" and meta["model"] == "tiny"
    with pytest.raises(FileExistsError):
        save_saliency_mask(mask, path)


def test_default_forget_loss_reads_loss_and_logits_attributes_and_rejects_other_batches():
    from types import SimpleNamespace

    from hf_unlearn.saliency.mask import default_forget_loss, mask_density

    class AttrOutputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))

        def forward(self, x, labels=None):
            logits = x @ self.w
            if labels is None:
                return SimpleNamespace(logits=logits)
            return SimpleNamespace(loss=nn.functional.cross_entropy(logits, labels), logits=logits)

    model, x, y = AttrOutputs(), torch.tensor([[1.0, 2.0], [0.0, 1.0]]), torch.tensor([0, 1])
    expected = nn.functional.cross_entropy(x @ model.w, y).item()
    assert default_forget_loss(model, {"x": x, "labels": y}).item() == pytest.approx(expected)
    assert default_forget_loss(model, (x, y)).item() == pytest.approx(expected)  # `.logits` of the output
    with pytest.raises(TypeError, match="default forget loss"):
        default_forget_loss(model, (x, y, y))
    assert mask_density({"w": torch.tensor([True])}) == 1.0


def test_saved_mask_records_its_format():
    import tempfile

    from safetensors import safe_open

    from hf_unlearn.saliency import save_saliency_mask

    path = tempfile.mkdtemp() + "/m.safetensors"
    save_saliency_mask({"w": torch.tensor([1, 0])}, path)
    with safe_open(path, framework="pt") as f:
        assert "format" in f.metadata()


def test_guard_keeps_guarding_after_a_fully_salient_parameter_and_after_reattach():
    model = _linear()
    mask = {"weight": torch.ones(2, 3, dtype=torch.bool), "bias": torch.tensor([False, True])}
    opt = torch.optim.SGD(model.parameters(), lr=0.5, weight_decay=0.1)
    guard = apply_saliency_mask(model, mask, opt)
    bias0 = model.bias.detach()[0].item()
    _step(model, opt)
    assert model.bias.detach()[0].item() == bias0  # the frozen bias entry, listed after a fully salient weight
    guard.remove()
    guard.attach()  # a guard can be attached again after remove()
    _step(model, opt)
    assert model.bias.detach()[0].item() == bias0
    guard.remove()


# -------------------------------------------------------------- mutants of the full-scope run (issue 16, kinds 1 and 3)


def _linear_with(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    model = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weight))
        model.bias.copy_(torch.tensor(bias))
    return model


def test_frozen_weights_fingerprint_hashes_the_sampled_frozen_weights_by_name():
    import hashlib

    import numpy as np

    from hf_unlearn.saliency import frozen_weights_fingerprint

    model = _linear_with([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [7.0, 8.0])
    mask = {"weight": torch.tensor([[1, 0, 0], [0, 0, 1]]), "bias": torch.tensor([0, 1])}

    def sha(*parts: tuple[bytes, list[float]]) -> str:
        h = hashlib.sha256()
        for name, values in parts:  # names in sorted order, then the frozen values as float32
            h.update(name + np.array(values, dtype=np.float32).tobytes())
        return h.hexdigest()

    # frozen: weight 2, 3, 4, 5 (row-major) and bias 7; every one with the default 64 samples per tensor
    assert frozen_weights_fingerprint(mask, model) == sha((b"bias", [7.0]), (b"weight", [2.0, 3.0, 4.0, 5.0]))
    # 2 samples per tensor: every (4 // 2)-th frozen weight, 2 and 4; a mask entry the model lacks is skipped
    fp = frozen_weights_fingerprint({**mask, "other.weight": torch.ones(2)}, model, samples_per_tensor=2)
    assert fp == sha((b"bias", [7.0]), (b"weight", [2.0, 4.0]))
    # a mask entry of the wrong shape is skipped, and the entries after it still count
    fp = frozen_weights_fingerprint({"bias": torch.ones(5), "weight": mask["weight"]}, model)
    assert fp == sha((b"weight", [2.0, 3.0, 4.0, 5.0]))
    # 130 frozen weights, default 64 samples: every (130 // 64 = 2)-nd one, the first 64 of them
    wide = _linear_with([[float(i) for i in range(130)]], [0.0])
    fp = frozen_weights_fingerprint({"weight": torch.zeros(1, 130), "bias": torch.ones(1)}, wide)
    assert fp == sha((b"bias", []), (b"weight", [float(i) for i in range(0, 128, 2)]))
    salient_moved = _linear_with([[-1.0, 2.0, 3.0], [4.0, 5.0, -6.0]], [7.0, -8.0])
    assert frozen_weights_fingerprint(mask, salient_moved) == frozen_weights_fingerprint(mask, model)
    frozen_moved = _linear_with([[1.0, 2.0, 3.0], [4.0, 5.5, 6.0]], [7.0, 8.0])
    assert frozen_weights_fingerprint(mask, frozen_moved) != frozen_weights_fingerprint(mask, model)


def test_load_saliency_mask_refuses_a_mask_of_another_model_of_the_same_shapes(tmp_path):
    from hf_unlearn.saliency import frozen_weights_fingerprint, load_saliency_mask, save_saliency_mask
    from hf_unlearn.saliency.mask import FINGERPRINT_KEY

    model = _linear_with([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [7.0, 8.0])
    other = _linear_with([[1.0, 2.5, 3.0], [4.0, 5.0, 6.0]], [7.0, 8.0])  # one frozen weight differs
    mask = {"weight": torch.tensor([[1, 0, 0], [0, 0, 1]]), "bias": torch.tensor([0, 1])}
    path = tmp_path / "mask.safetensors"
    save_saliency_mask(mask, path, metadata={FINGERPRINT_KEY: frozen_weights_fingerprint(mask, model)})
    loaded = load_saliency_mask(path, model)
    assert all(torch.equal(loaded[n], mask[n].bool()) for n in mask)
    with pytest.raises(ValueError, match=r"mask.safetensors: .*frozen weights differ"):
        load_saliency_mask(path, other)
    assert load_saliency_mask(path).keys() == mask.keys()  # without a model, nothing to check against


def test_default_forget_loss_refuses_outputs_without_a_loss():
    from hf_unlearn.saliency.mask import default_forget_loss

    class NoLoss(nn.Module):
        def forward(self, **batch):
            return (batch["input_ids"].float(),)  # a tuple: no `loss` attribute

    with pytest.raises(ValueError, match="The model returned no `loss` for a forget batch"):
        default_forget_loss(NoLoss(), {"input_ids": torch.zeros(2)})
