"""Guarantees that must hold after *every* optimizer step, not only when training ends.

A recording callback, placed after the callback under test, checks after each optimizer step (and at each
in-training evaluation) that every promised property holds: non-salient weights bit-identical to their value at
train begin and their optimizer state zero (SalUn), the NPO reference model bit-identical. A mid-run checkpoint is
opened from disk and checked too, since that is what a resumed run or another process sees.
"""

import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback

from hf_unlearn import NPOConfig, NPOTrainer, SalUnMask, SimNPOConfig, SimNPOTrainer
from hf_unlearn.data import ForgetRetainDataset


ROWS = [
    {"input_ids": [1, 5, 6, 7, 8, 2], "labels": [-100, -100, 6, 7, 8, 2]},
    {"input_ids": [1, 9, 3, 2], "labels": [-100, -100, 3, 2]},
    {"input_ids": [1, 4, 11, 12, 2], "labels": [-100, -100, 11, 12, 2]},
    {"input_ids": [1, 10, 13, 2], "labels": [-100, -100, 13, 2]},
]
RETAIN = [
    {"input_ids": [1, 14, 15, 16, 2], "labels": [-100, -100, 15, 16, 2]},
    {"input_ids": [1, 17, 18, 2], "labels": [-100, -100, 18, 2]},
]


def _model(seed=0):
    torch.manual_seed(seed)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=24,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=32,
            pad_token_id=0,
        )
    )


def _half_mask(model):
    g = torch.Generator().manual_seed(0)
    return {n: torch.rand(p.shape, generator=g) < 0.5 for n, p in model.named_parameters()}


class FrozenRecorder(TrainerCallback):
    """Checks, after each optimizer step and each evaluation, that the frozen entries and their state are untouched."""

    def __init__(self, model, frozen):
        self.frozen = frozen
        self.values = {n: p.detach()[frozen[n]].clone() for n, p in model.named_parameters()}
        self.checks: list[tuple[str, int, bool, bool]] = []

    def _check(self, where, state, model, optimizer):
        params = dict(model.named_parameters())
        weights_ok = all(torch.equal(params[n].detach()[f], self.values[n]) for n, f in self.frozen.items())
        state_ok = True
        if optimizer is not None:
            inner = getattr(optimizer, "optimizer", optimizer)
            for n, f in self.frozen.items():
                for value in inner.state.get(params[n], {}).values():
                    if isinstance(value, torch.Tensor) and value.shape == params[n].shape:
                        state_ok &= not bool(value[f].any())
        self.checks.append((where, state.global_step, weights_ok, state_ok))

    def on_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
        self._check("step", state, model, optimizer)

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        self._check("eval", state, model, None)


def test_salun_frozen_weights_and_state_hold_after_every_step_and_in_a_mid_run_checkpoint(tmp_path):
    model = _model()
    mask = _half_mask(model)
    frozen = {n: ~m for n, m in mask.items()}
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    recorder = FrozenRecorder(model, frozen)
    args = SimNPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        per_device_train_batch_size=2,
        max_steps=4,
        learning_rate=5e-2,
        weight_decay=0.5,
        warmup_steps=0,
        save_strategy="steps",
        save_steps=2,
        eval_strategy="steps",
        eval_steps=1,
        per_device_eval_batch_size=2,
        logging_steps=1,
        beta=2.5,
    )
    data = ForgetRetainDataset(ROWS, retain=RETAIN)
    trainer = SimNPOTrainer(model, args, train_dataset=data, eval_dataset=data, callbacks=[SalUnMask(mask), recorder])
    trainer.train()

    steps = [c for c in recorder.checks if c[0] == "step"]
    evals = [c for c in recorder.checks if c[0] == "eval"]
    assert [c[1] for c in steps] == [0, 1, 2, 3]  # on_optimizer_step runs before global_step is incremented
    assert len(evals) == 4
    assert all(c[2] and c[3] for c in recorder.checks), recorder.checks

    # the salient half did move (the test would be empty otherwise)
    moved = sum(int((p.detach() != initial[n])[mask[n]].sum()) for n, p in model.named_parameters())
    assert moved > 0.5 * sum(int(m.sum()) for m in mask.values())

    ckpt = tmp_path / "checkpoint-2"
    saved = load_file(ckpt / "model.safetensors")
    checked = 0
    for n, f in frozen.items():
        if n in saved:  # tied weights are saved once
            assert torch.equal(saved[n][f], initial[n][f]), n
            checked += 1
    assert checked >= len(frozen) - 1
    opt_state = torch.load(ckpt / "optimizer.pt", weights_only=True)
    # optimizer.pt numbers parameters in param-group order (Trainer splits decay / no-decay groups)
    name_of = {id(p): n for n, p in model.named_parameters()}
    names = [name_of[id(p)] for group in trainer.optimizer.param_groups for p in group["params"]]
    for idx, state in opt_state["state"].items():
        n = names[idx]
        for key in ("exp_avg", "exp_avg_sq"):
            assert not state[key][frozen[n]].any(), (n, key)


def test_npo_reference_copy_stays_bit_identical_after_every_step(tmp_path):
    model = _model()
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}

    class RefRecorder(TrainerCallback):
        def __init__(self):
            self.ok: list[bool] = []

        def on_optimizer_step(self, args, state, control, **kwargs):
            ref = dict(trainer.ref_model.named_parameters())
            self.ok.append(all(torch.equal(ref[n].detach(), v) for n, v in initial.items()))

    recorder = RefRecorder()
    args = NPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        per_device_train_batch_size=2,
        max_steps=3,
        learning_rate=5e-2,
        warmup_steps=0,
        beta=0.5,
    )
    trainer = NPOTrainer(model, args, train_dataset=ForgetRetainDataset(ROWS, retain=RETAIN), callbacks=[recorder])
    trainer.train()
    assert recorder.ok == [True, True, True]
    assert any(not torch.equal(p.detach(), initial[n]) for n, p in model.named_parameters())


def test_salun_cleans_state_of_an_optimizer_passed_to_the_trainer_with_state(tmp_path):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=5e-2, momentum=0.9, weight_decay=0.1)
    # give the optimizer momentum everywhere before training starts (e.g. a resumed or reused optimizer)
    model(input_ids=torch.tensor([ROWS[0]["input_ids"]]), labels=torch.tensor([ROWS[0]["labels"]])).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    mask = _half_mask(model)
    frozen = {n: ~m for n, m in mask.items()}
    recorder = FrozenRecorder(model, frozen)
    args = SimNPOConfig(
        output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=2, max_steps=3, warmup_steps=0
    )
    trainer = SimNPOTrainer(
        model,
        args,
        train_dataset=ForgetRetainDataset(ROWS, retain=RETAIN),
        callbacks=[SalUnMask(mask), recorder],
        optimizers=(optimizer, None),
    )
    trainer.train()
    assert len(recorder.checks) == 3
    assert all(c[2] and c[3] for c in recorder.checks), recorder.checks
