# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""SalUn weight saliency: the mask rule, save/load checks, and the bit-exact freeze inside a `Trainer`."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn


def _tiny_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config)


def _token_data(n: int, seed: int, length: int = 12) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        ids = torch.randint(0, 64, (length,), generator=g)
        rows.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()})
    return rows


def _train_args(tmp_path, **overrides):
    from transformers import TrainingArguments

    kwargs = {
        "output_dir": str(tmp_path / "run"),
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 2,
        "max_steps": 6,
        "learning_rate": 1e-2,
        "weight_decay": 0.1,
        "max_grad_norm": 0.5,
        "optim": "adamw_torch",
        "report_to": "none",
        "use_cpu": True,
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
    }
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


class _TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2, bias=False)  # 6 weights
        self.b = nn.Linear(2, 2, bias=False)  # 4 weights


def _known_gradient_loss(grads):
    """A loss whose gradient w.r.t. each parameter is the given tensor (so saliency = |grad| is known)."""

    def loss_fn(model, batch):
        return sum((p * grads[n]).sum() for n, p in model.named_parameters())

    return loss_fn


class TestSaliencyMask:
    def test_global_threshold_exact_count_and_order(self):
        from hf_unlearn.saliency import compute_saliency_mask, mask_density

        model = _TwoLayers()
        grads = {
            "a.weight": torch.tensor([[0.1, -5.0, 0.2], [0.3, 0.0, -4.0]]),
            "b.weight": torch.tensor([[3.0, -0.05], [2.0, 1.0]]),
        }
        # two batches: the gradient is summed over batches, so |2g| ranks like |g|
        mask = compute_saliency_mask(model, [0, 1], sparsity=0.5, loss_fn=_known_gradient_loss(grads), batch_size=1)
        # top 5 of 10 by |g| over both layers at once: 5, 4, 3, 2, 1 -> 2 in layer a, 3 in layer b (not per layer)
        assert mask["a.weight"].tolist() == [[False, True, False], [False, False, True]]
        assert mask["b.weight"].tolist() == [[True, False], [True, True]]
        assert mask_density(mask) == 0.5
        mask_all = compute_saliency_mask(model, [0], sparsity=1.0, loss_fn=_known_gradient_loss(grads))
        assert mask_density(mask_all) == 1.0
        # ties (all zero gradients) are broken by position, keeping exactly round(r * N) weights
        zeros = {n: torch.zeros_like(g) for n, g in grads.items()}
        mask_ties = compute_saliency_mask(model, [0], sparsity=0.3, loss_fn=_known_gradient_loss(zeros))
        assert sum(int(m.sum()) for m in mask_ties.values()) == 3

    def test_default_loss_matches_abs_summed_cross_entropy_gradient(self):
        from hf_unlearn.saliency import compute_saliency_mask

        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        data = [(torch.randn(4), int(i % 3)) for i in range(10)]
        mask = compute_saliency_mask(model, data, sparsity=0.25, batch_size=4)
        model.zero_grad()
        for start in range(0, 10, 4):
            x = torch.stack([d[0] for d in data[start : start + 4]])
            y = torch.tensor([d[1] for d in data[start : start + 4]])
            nn.functional.cross_entropy(model(x), y).backward()
        scores = torch.cat([p.grad.abs().flatten() for p in model.parameters()])
        expected = torch.zeros_like(scores, dtype=torch.bool)
        expected[scores.argsort(descending=True)[: round(0.25 * scores.numel())]] = True
        assert torch.equal(torch.cat([m.flatten() for m in mask.values()]), expected)
        assert all(p.grad is not None for p in model.parameters())  # caller's grads left untouched

    def test_include_exclude(self):
        from hf_unlearn.saliency import compute_saliency_mask

        model = _TwoLayers()
        grads = {"a.weight": torch.ones(2, 3), "b.weight": torch.full((2, 2), 9.0)}
        mask = compute_saliency_mask(model, [0], sparsity=0.5, loss_fn=_known_gradient_loss(grads), include=r"^a\.")
        assert not mask["b.weight"].any()  # not ranked -> frozen
        assert int(mask["a.weight"].sum()) == 3  # half of layer a only
        mask = compute_saliency_mask(model, [0], sparsity=1.0, loss_fn=_known_gradient_loss(grads), exclude=["b"])
        assert mask["a.weight"].all() and not mask["b.weight"].any()
        with pytest.raises(ValueError, match="No parameter matches"):
            compute_saliency_mask(model, [0], loss_fn=_known_gradient_loss(grads), include="nothing_like_this")

    @pytest.mark.parametrize("sparsity", [0.0, -0.1, 1.5])
    def test_bad_sparsity(self, sparsity):
        from hf_unlearn.saliency import SalUnMask, compute_saliency_mask

        with pytest.raises(ValueError, match=r"sparsity.*\(0, 1\]"):
            compute_saliency_mask(nn.Linear(2, 2), [(torch.ones(2), 0)], sparsity=sparsity)
        with pytest.raises(ValueError, match=r"sparsity.*\(0, 1\]"):
            SalUnMask(forget_dataset=[(torch.ones(2), 0)], sparsity=sparsity)

    def test_empty_forget_set(self):
        from hf_unlearn.saliency import SalUnMask, compute_saliency_mask

        with pytest.raises(ValueError, match="forget_dataset` is empty"):
            compute_saliency_mask(nn.Linear(2, 2), [])
        with pytest.raises(ValueError, match="forget_dataset` is empty"):
            SalUnMask(forget_dataset=[])
        with pytest.raises(ValueError, match="yielded no batches"):
            compute_saliency_mask(nn.Linear(2, 2), torch.utils.data.DataLoader([]))

    def test_exactly_one_source(self):
        from hf_unlearn.saliency import SalUnMask

        with pytest.raises(ValueError, match="exactly one"):
            SalUnMask()
        with pytest.raises(ValueError, match="exactly one"):
            SalUnMask({"w": torch.ones(1)}, forget_dataset=[1])
        from types import SimpleNamespace

        model = nn.Linear(2, 1)
        callback = SalUnMask({"weight": torch.ones(1, 2), "bias": torch.ones(1)})
        with pytest.raises(ValueError, match="DeepSpeed or FSDP"):
            callback.on_train_begin(SimpleNamespace(deepspeed="ds.json", fsdp=""), None, None, model=model)

    def test_save_load_roundtrip_and_mismatch_errors(self, tmp_path):
        from hf_unlearn.saliency import SalUnMask, check_saliency_mask, load_saliency_mask, save_saliency_mask

        model = _TwoLayers()
        mask = {"a.weight": torch.tensor([[1, 0, 1], [0, 0, 1]]), "b.weight": torch.ones(2, 2)}
        path = tmp_path / "mask.safetensors"
        save_saliency_mask(mask, path)
        loaded = load_saliency_mask(path)
        assert loaded["a.weight"].dtype == torch.bool
        assert torch.equal(loaded["a.weight"], mask["a.weight"].bool())
        assert set(check_saliency_mask(loaded, model)) == {"a.weight", "b.weight"}
        with pytest.raises(FileExistsError):
            save_saliency_mask(mask, path)  # never overwritten

        other = nn.Sequential(nn.Linear(3, 2))  # a different model: names differ
        with pytest.raises(ValueError, match=r"'a\.weight' is not a parameter of the model"):
            check_saliency_mask(loaded, other)
        wide = _TwoLayers()
        wide.a = nn.Linear(4, 2, bias=False)  # same names, different shape
        with pytest.raises(ValueError, match=r"'a\.weight' has shape \(2, 3\) but the parameter has shape \(2, 4\)"):
            check_saliency_mask(loaded, wide)
        with pytest.raises(ValueError, match=r"trainable parameter 'b\.weight' has no mask entry"):
            check_saliency_mask({"a.weight": loaded["a.weight"]}, model)
        with pytest.raises(ValueError, match="0/1"):
            check_saliency_mask({"a.weight": torch.full((2, 3), 0.5), "b.weight": torch.ones(2, 2)}, model)
        # the callback reports a wrong-model mask at train begin
        callback = SalUnMask(str(path))
        with pytest.raises(ValueError, match="does not match the model"):
            callback.on_train_begin(None, None, None, model=other)


class TestGuard:
    def test_adamw_weight_decay_and_momentum_cannot_move_frozen_weights(self):
        from hf_unlearn.saliency import apply_saliency_mask

        torch.manual_seed(0)
        model = nn.Linear(6, 4)
        mask = {"weight": torch.rand(4, 6) > 0.5, "bias": torch.tensor([True, False, True, False])}
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
        with apply_saliency_mask(model, mask, optimizer) as guard:
            for _ in range(5):
                model(torch.randn(8, 6)).pow(2).mean().backward()
                optimizer.step()
                optimizer.zero_grad()
            assert guard.frozen_unchanged()
        for name, param in model.named_parameters():
            assert torch.equal(param.detach()[~mask[name]], before[name][~mask[name]])
            assert (param.detach()[mask[name]] != before[name][mask[name]]).all()
            state = optimizer.state[param]
            assert not state["exp_avg"][~mask[name]].any() and not state["exp_avg_sq"][~mask[name]].any()

        # control: masking gradients alone (the original SalUn code) lets decoupled weight decay move them
        leaky = nn.Linear(6, 4)
        leaky.load_state_dict(before)
        optimizer = torch.optim.AdamW(leaky.parameters(), lr=0.1, weight_decay=0.5)
        leaky(torch.randn(8, 6)).pow(2).mean().backward()
        for name, param in leaky.named_parameters():
            param.grad.masked_fill_(~mask[name], 0)
        optimizer.step()
        assert not torch.equal(leaky.weight.detach()[~mask["weight"]], before["weight"][~mask["weight"]])

    def test_gradient_clipping_sees_masked_gradients(self):
        from hf_unlearn.saliency import apply_saliency_mask

        torch.manual_seed(0)
        model = nn.Linear(5, 3)
        mask = {"weight": torch.rand(3, 5) > 0.5, "bias": torch.tensor([False, True, False])}
        x = torch.randn(4, 5)
        model(x).pow(2).sum().backward()
        full = {n: p.grad.clone() for n, p in model.named_parameters()}
        model.zero_grad()
        guard = apply_saliency_mask(model, mask)
        model(x).pow(2).sum().backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e9)
        expected = torch.cat([(full[n] * mask[n]).flatten() for n in full]).norm()
        torch.testing.assert_close(norm, expected)
        assert not model.weight.grad[~mask["weight"]].any()
        guard.remove()
        model.zero_grad()
        model(x).pow(2).sum().backward()  # hooks removed: full gradients again
        assert torch.equal(model.weight.grad, full["weight"])


class TestSalUnMaskTrainer:
    def test_bit_identical_with_adamw_weight_decay_clipping_accumulation(self, tmp_path):
        from transformers import Trainer

        from hf_unlearn import SalUnMask

        model = _tiny_llama()
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        callback = SalUnMask(forget_dataset=_token_data(8, seed=1), sparsity=0.5, save_path=tmp_path / "m.safetensors")
        trainer = Trainer(
            model=model, args=_train_args(tmp_path), train_dataset=_token_data(48, seed=2), callbacks=[callback]
        )
        trainer.train()
        mask = callback.mask
        assert set(mask) == set(before)
        n_frozen = n_changed = n_salient = 0
        for name, param in model.named_parameters():
            frozen = ~mask[name]
            assert torch.equal(param.detach()[frozen], before[name][frozen]), name  # bit-identical
            n_frozen += int(frozen.sum())
            n_salient += int(mask[name].sum())
            n_changed += int((param.detach()[mask[name]] != before[name][mask[name]]).sum())
        total = n_frozen + n_salient
        assert abs(n_salient - total / 2) <= 1 and n_frozen > 0
        assert n_changed > 0.9 * n_salient  # the salient half did train
        # the computed mask was saved and reloads identically
        from hf_unlearn.saliency import load_saliency_mask

        reloaded = load_saliency_mask(tmp_path / "m.safetensors")
        assert all(torch.equal(reloaded[n], mask[n]) for n in mask)
        # hooks are removed at train end: a later backward gives full gradients
        model(**{k: v[None] for k, v in _token_data(1, seed=3)[0].items()}).loss.backward()
        assert any(p.grad[~mask[n]].abs().sum() > 0 for n, p in model.named_parameters() if p.grad is not None)

    def test_precomputed_mask_from_file_and_peft(self, tmp_path):
        peft = pytest.importorskip("peft")
        from transformers import Trainer

        from hf_unlearn.saliency import SalUnMask, compute_saliency_mask, save_saliency_mask

        base = _tiny_llama()
        model = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
        # make lora_B non-zero so that lora_A has non-zero saliency too
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.02)
        mask = compute_saliency_mask(model, _token_data(8, seed=1), sparsity=0.3)
        assert set(mask) == {n for n, p in model.named_parameters() if p.requires_grad}
        assert all("lora_" in n for n in mask)
        path = tmp_path / "lora_mask.safetensors"
        save_saliency_mask(mask, path)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        trainer = Trainer(
            model=model, args=_train_args(tmp_path), train_dataset=_token_data(32, seed=2), callbacks=[SalUnMask(path)]
        )
        trainer.train()
        n_changed = 0
        for name, param in model.named_parameters():
            if name in mask:
                assert torch.equal(param.detach()[~mask[name]], before[name][~mask[name]]), name
                n_changed += int((param.detach()[mask[name]] != before[name][mask[name]]).sum())
            else:
                assert torch.equal(param.detach(), before[name])  # frozen base weights
        assert n_changed > 0.9 * sum(int(m.sum()) for m in mask.values())

    def test_with_simnpo_trainer_and_saved_mask_checks(self, tmp_path):
        """SimNPO + SalUn: the callback works with an hf_unlearn LLM trainer and its nested forget/retain batches."""
        from functools import partial

        from hf_unlearn import SimNPOConfig, SimNPOTrainer
        from hf_unlearn.data import ForgetRetainDataset
        from hf_unlearn.data.collate import pad_batch
        from hf_unlearn.saliency import SalUnMask

        def rows(n, seed):
            return [
                {"input_ids": r["input_ids"].tolist(), "labels": r["labels"].tolist()} for r in _token_data(n, seed)
            ]

        forget, retain = rows(8, 1), rows(16, 2)
        model = _tiny_llama()
        model.config.pad_token_id = 0
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        callback = SalUnMask(forget_dataset=forget, data_collator=partial(pad_batch, pad_token_id=0), sparsity=0.3)
        args = SimNPOConfig(
            output_dir=str(tmp_path / "simnpo"),
            per_device_train_batch_size=4,
            learning_rate=5e-3,
            weight_decay=0.1,
            max_grad_norm=1.0,
            num_train_epochs=2,
            use_cpu=True,
            disable_tqdm=True,
            report_to="none",
            save_strategy="no",
        )
        SimNPOTrainer(model, args, train_dataset=ForgetRetainDataset(forget, retain), callbacks=[callback]).train()
        n_salient = n_changed = 0
        for name, param in model.named_parameters():
            keep = callback.mask[name]
            assert torch.equal(param.detach()[~keep], before[name][~keep]), name
            n_salient += int(keep.sum())
            n_changed += int((param.detach()[keep] != before[name][keep]).sum())
        assert abs(n_salient / sum(p.numel() for p in model.parameters()) - 0.3) < 1e-3
        assert n_changed > 0.5 * n_salient


_DDP_SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    torch.set_num_threads(1)
    from tests.test_saliency import _tiny_llama, _token_data
    from transformers import Trainer, TrainingArguments
    from hf_unlearn import SalUnMask

    rank = int(os.environ["RANK"])
    model = _tiny_llama()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    # rank 1 gets different forget data: the mask must still be rank 0's (broadcast)
    callback = SalUnMask(forget_dataset=_token_data(8, seed=1 + 10 * rank), sparsity=0.5)
    args = TrainingArguments(output_dir=sys.argv[1], per_device_train_batch_size=4, gradient_accumulation_steps=2,
        max_steps=4, learning_rate=1e-2, weight_decay=0.1, max_grad_norm=0.5, report_to="none", use_cpu=True,
        save_strategy="no", logging_strategy="no", disable_tqdm=True, ddp_backend="gloo")
    Trainer(model=model, args=args, train_dataset=_token_data(64, seed=2), callbacks=[callback]).train()
    frozen_ok = all(torch.equal(p.detach()[~callback.mask[n]], before[n][~callback.mask[n]])
                    for n, p in model.named_parameters())
    moved = sum(int((p.detach() != before[n]).sum()) for n, p in model.named_parameters())
    flat = torch.cat([m.flatten() for m in callback.mask.values()]).to(torch.uint8)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save({"frozen_ok": frozen_ok, "moved": moved, "mask": flat, "weights": weights},
               os.path.join(sys.argv[1], f"rank{rank}.pt"))
    torch.distributed.barrier()  # leave together and cleanly (a bare exit can abort a gloo rank)
    torch.distributed.destroy_process_group()
    """
)


def test_ddp_two_processes_same_mask_and_frozen_weights(tmp_path):
    script = tmp_path / "ddp_salun.py"
    script.write_text(_DDP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = (
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.pathsep + env.get("PYTHONPATH", "")
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path),
    ]
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0["frozen_ok"] and r1["frozen_ok"]
    assert torch.equal(r0["mask"], r1["mask"])  # one mask on every rank
    assert torch.equal(r0["weights"], r1["weights"])  # DDP kept the replicas in sync
    assert r0["moved"] > 0


def test_resume_restores_the_checkpointed_mask_and_matches_an_uninterrupted_run(tmp_path):
    """SalUnMask(forget_dataset=...) resumed from checkpoint-3 must use the mask of the interrupted run (saved with the
    checkpoint), not recompute it from the resumed weights: losses of steps 4-6 and the final weights then equal the
    uninterrupted run's."""
    from safetensors.torch import load_file
    from transformers import Trainer

    from hf_unlearn.saliency import SalUnMask

    forget, data = _token_data(8, seed=1), _token_data(48, seed=2)
    out = tmp_path / "run"

    def run(resume=None):
        callback = SalUnMask(forget_dataset=forget, sparsity=0.3)
        args = _train_args(
            tmp_path, output_dir=str(out), save_strategy="steps", save_steps=3, logging_strategy="steps",
            logging_steps=1, seed=0,
        )  # fmt: skip
        trainer = Trainer(model=_tiny_llama(), args=args, train_dataset=data, callbacks=[callback])
        trainer.train(resume_from_checkpoint=resume)
        losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
        return callback, trainer, losses

    full_cb, full, full_losses = run()
    saved = load_file(out / "checkpoint-3" / "salun_mask.safetensors")
    assert set(saved) == set(full_cb.mask)
    for name, keep in full_cb.mask.items():
        assert torch.equal(saved[name].bool(), keep), name
    # what a recomputed mask would be: the saliency of the weights at step 3 differs from the one at step 0
    from hf_unlearn.saliency import compute_saliency_mask

    at_step3 = _tiny_llama()
    from safetensors.torch import load_file as load_weights

    at_step3.load_state_dict(load_weights(out / "checkpoint-3" / "model.safetensors"), strict=False)
    recomputed = compute_saliency_mask(at_step3, forget, sparsity=0.3)
    assert any(not torch.equal(recomputed[n], full_cb.mask[n]) for n in recomputed)

    resumed_cb, resumed, resumed_losses = run(resume=str(out / "checkpoint-3"))
    for name, keep in full_cb.mask.items():
        assert torch.equal(resumed_cb.mask[name], keep), name
    assert {4, 5, 6} <= set(resumed_losses)  # (steps 1-3 come from the restored log history)
    for step in (4, 5, 6):
        assert resumed_losses[step] == pytest.approx(full_losses[step], rel=1e-6, abs=1e-7)
    for (name, a), b in zip(full.model.named_parameters(), resumed.model.parameters()):
        torch.testing.assert_close(b.detach(), a.detach(), rtol=1e-6, atol=1e-7, msg=name)


def test_resume_without_a_saved_mask_is_refused(tmp_path):
    """A resumed run whose checkpoint has no mask (and no `save_path`) refuses to recompute one."""
    from transformers import Trainer

    from hf_unlearn.saliency import SalUnMask

    out = tmp_path / "run"
    args = _train_args(tmp_path, output_dir=str(out), save_strategy="steps", save_steps=3)
    Trainer(model=_tiny_llama(), args=args, train_dataset=_token_data(48, seed=2)).train()  # no SalUn: no mask
    callback = SalUnMask(forget_dataset=_token_data(8, seed=1), sparsity=0.3)
    trainer = Trainer(model=_tiny_llama(), args=args, train_dataset=_token_data(48, seed=2), callbacks=[callback])
    with pytest.raises(ValueError, match=r"resumes at global step 3.*no saved mask.*SalUnMask\(mask="):
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-3"))
