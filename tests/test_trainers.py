"""LLM unlearning trainers: behaviour on a tiny memorising Llama (GA, GradDiff, NPO, SimNPO).

Everything runs on in-memory token ids and a ~40k-parameter Llama that first memorises its data (a few seconds),
so each test asserts a behaviour: the forget NLL rises, the three NPO reference modes give one loss, gradient
accumulation and 2-process DDP reproduce the single-batch run, resume reproduces an uninterrupted run, LoRA saves
and merges, bad input fails clearly.
"""

import copy
import json
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback

from hf_unlearn import (
    GradAscentConfig,
    GradAscentTrainer,
    GradDiffConfig,
    GradDiffTrainer,
    NPOConfig,
    NPOTrainer,
    SimNPOConfig,
    SimNPOTrainer,
    sequence_log_probs,
)
from hf_unlearn.data import ForgetRetainCollator, ForgetRetainDataset, build_forget_retain_dataset
from tests.launch import accelerate_launch


REPO = Path(__file__).resolve().parents[1]
VOCAB = 64


def _rows(n: int, seed: int) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        length = 8 + (i % 4)
        ids = torch.randint(3, VOCAB, (length,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": [-100] * 3 + ids[3:]})
    return rows


FORGET = _rows(8, 1)
RETAIN = _rows(16, 2)


def _tiny_model(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config)


def _nll(model, rows) -> float:
    """Mean per-sequence token NLL of `rows` under `model`."""
    batch = ForgetRetainCollator(0)([{"forget": r} for r in rows])["forget"]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logps, n = sequence_log_probs(logits, batch["labels"])
    return float((-logps / n).mean())


@pytest.fixture(scope="module")
def memorised() -> LlamaForCausalLM:
    """A tiny Llama that has memorised FORGET and RETAIN (the 'target' model)."""
    model = _tiny_model()
    batch = ForgetRetainCollator(0)([{"forget": r} for r in FORGET + RETAIN])["forget"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(200):
        loss = model(**batch).loss
        if loss.item() < 0.2:  # memorised, not saturated (a saturated model barely moves under gradient ascent)
            break
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert _nll(model, FORGET) < 0.5, "the fixture model must memorise its data"
    return model


def _args(cls, tmp_path, **kw):
    defaults = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 4,
        "learning_rate": 5e-3,
        "warmup_steps": 0,
        "num_train_epochs": 3,
        "logging_steps": 1,
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    defaults.update(kw)
    return cls(**defaults)


METHODS = {
    "ga": (GradAscentTrainer, GradAscentConfig, {}),
    "graddiff": (GradDiffTrainer, GradDiffConfig, {}),
    "graddiff_kl": (GradDiffTrainer, GradDiffConfig, {"retain_loss_type": "kl"}),
    "npo": (NPOTrainer, NPOConfig, {}),
    "simnpo": (SimNPOTrainer, SimNPOConfig, {"beta": 2.5, "forget_weight": 1.0}),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_raises_forget_nll_and_logs_every_term(method, memorised, tmp_path):
    trainer_cls, config_cls, kw = METHODS[method]
    model = copy.deepcopy(memorised)
    before_forget, before_retain = _nll(model, FORGET), _nll(model, RETAIN)
    data = ForgetRetainDataset(FORGET, RETAIN, seed=0)
    trainer = trainer_cls(model, _args(config_cls, tmp_path, **kw), train_dataset=data)
    trainer.train()
    after_forget, after_retain = _nll(model, FORGET), _nll(model, RETAIN)
    assert after_forget > before_forget + 0.5, (before_forget, after_forget)
    logged = set().union(*(h.keys() for h in trainer.state.log_history))
    assert {"forget/loss", "forget/nll", "forget/log_probs"} <= logged
    if method != "ga":
        assert "retain/loss" in logged
        # the retain term holds the retain set far better than the forget set moves
        assert after_retain - before_retain < after_forget - before_forget
    if method == "npo":
        assert {"forget/ref_log_probs", "forget/log_ratio"} <= logged
    if method == "simnpo":
        assert "forget/avg_log_probs" in logged


def test_npo_reference_modes_agree_and_hold_no_extra_model(memorised, tmp_path):
    """(a) frozen copy / explicit ref, (b) peft adapter-disabled base, (c) precomputed: one loss on one batch."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    peft_model = get_peft_model(
        copy.deepcopy(memorised), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    for name, p in peft_model.named_parameters():  # a non-trivial adapter: policy != reference
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)
    # the same function as the peft model, as a plain model; its reference is the memorised base
    merged = copy.deepcopy(peft_model).merge_and_unload()

    data = ForgetRetainDataset(FORGET, RETAIN, seed=0)
    batch = ForgetRetainCollator(0)([data[i] for i in range(4)])
    losses = {}

    t_a = NPOTrainer(merged, _args(NPOConfig, tmp_path), train_dataset=data, ref_model=copy.deepcopy(memorised))
    t_a.model.train()
    losses["a_ref_model"] = t_a.compute_loss(t_a.model, batch).item()
    assert t_a.ref_mode == "model" and not any(p.requires_grad for p in t_a.ref_model.parameters())

    t_b = NPOTrainer(peft_model, _args(NPOConfig, tmp_path), train_dataset=data)
    assert t_b.ref_mode == "adapter" and t_b.ref_model is None
    losses["b_adapter"] = t_b.compute_loss(t_b.model, batch).item()

    data_c = ForgetRetainDataset(FORGET, RETAIN, seed=0)
    args_c = _args(NPOConfig, tmp_path, precompute_ref_log_probs=True)
    t_c = NPOTrainer(copy.deepcopy(merged), args_c, train_dataset=data_c, ref_model=copy.deepcopy(memorised))
    assert t_c.ref_mode == "precomputed" and t_c.ref_model is None
    assert data_c.ref_log_probs is not None and len(data_c.ref_log_probs) == len(FORGET)
    batch_c = ForgetRetainCollator(0)([data_c[i] for i in range(4)])
    losses["c_precomputed"] = t_c.compute_loss(t_c.model, batch_c).item()

    # precompute with the adapter-disabled base of a peft model too
    data_d = ForgetRetainDataset(FORGET, RETAIN, seed=0)
    t_d = NPOTrainer(copy.deepcopy(peft_model), args_c, train_dataset=data_d)
    losses["d_peft_precomputed"] = t_d.compute_loss(
        t_d.model, ForgetRetainCollator(0)([data_d[i] for i in range(4)])
    ).item()

    values = list(losses.values())
    assert max(values) - min(values) < 1e-4, losses
    # a non-trivial loss: not the (2/beta) log 2 + retain of policy == reference
    assert abs(t_a._metrics["train"]["forget/log_ratio"][0]) > 1e-2


def test_npo_default_reference_is_a_frozen_copy_that_stays_put(memorised, tmp_path):
    model = copy.deepcopy(memorised)
    trainer = NPOTrainer(
        model, _args(NPOConfig, tmp_path, max_steps=3), train_dataset=ForgetRetainDataset(FORGET, RETAIN)
    )
    ref = trainer.accelerator.unwrap_model(trainer.ref_model)
    assert ref is not model and not any(p.requires_grad for p in ref.parameters())
    snapshot = {k: v.clone() for k, v in ref.state_dict().items()}
    trainer.train()
    assert all(torch.equal(snapshot[k], v) for k, v in ref.state_dict().items())
    assert not torch.equal(model.model.embed_tokens.weight, ref.model.embed_tokens.weight)


def test_ref_model_is_model_is_rejected(memorised, tmp_path):
    model = copy.deepcopy(memorised)
    with pytest.raises(ValueError, match="same object"):
        NPOTrainer(
            model, _args(NPOConfig, tmp_path), train_dataset=ForgetRetainDataset(FORGET, RETAIN), ref_model=model
        )


def _final_params(trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_gradient_accumulation_matches_one_big_batch(memorised, tmp_path):
    """bs 4 x 1 step == bs 2 x 2 accumulation steps: same logged losses, same weights (tolerance 1e-5)."""
    results = []
    for bs, ga in ((4, 1), (2, 2)):
        model = copy.deepcopy(memorised)
        args = _args(
            SimNPOConfig,
            tmp_path / f"ga{ga}",
            per_device_train_batch_size=bs,
            gradient_accumulation_steps=ga,
            max_steps=2,
            forget_weight=1.0,
            beta=2.5,
        )
        trainer = SimNPOTrainer(model, args, train_dataset=ForgetRetainDataset(FORGET, RETAIN, seed=0))
        trainer.train()
        logs = [h for h in trainer.state.log_history if "loss" in h]
        results.append((logs, _final_params(trainer)))
    (logs1, params1), (logs2, params2) = results
    for a, b in zip(logs1, logs2):
        for key in ("loss", "forget/loss", "retain/loss"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    for k in params1:
        torch.testing.assert_close(params1[k], params2[k], rtol=1e-5, atol=1e-6)


def test_retain_pairing_differs_per_epoch_and_is_deterministic():
    data = ForgetRetainDataset(FORGET, RETAIN, seed=3)
    epoch0 = [data[i]["retain"]["index"] for i in range(len(data))]
    assert len(set(epoch0)) == len(FORGET)  # distinct retain rows within an epoch
    data.set_epoch(1)
    epoch1 = [data[i]["retain"]["index"] for i in range(len(data))]
    assert epoch0 != epoch1
    again = ForgetRetainDataset(FORGET, RETAIN, seed=3)
    again.set_epoch(1)
    assert [again[i]["retain"]["index"] for i in range(len(again))] == epoch1


def test_resume_from_checkpoint_reproduces_uninterrupted_run(memorised, tmp_path):
    def run(output_dir, resume=None, max_steps=6):
        args = _args(
            SimNPOConfig,
            tmp_path,
            output_dir=str(output_dir),
            per_device_train_batch_size=2,
            num_train_epochs=2,  # 4 steps per epoch: the checkpoint at step 6 is mid-epoch 2
            save_strategy="steps",
            save_steps=3,
            forget_weight=1.0,
            beta=2.5,
        )
        trainer = SimNPOTrainer(copy.deepcopy(memorised), args, train_dataset=ForgetRetainDataset(FORGET, RETAIN))
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    full = run(tmp_path / "full")
    assert (tmp_path / "full" / "checkpoint-6").is_dir()
    resumed = run(tmp_path / "full", resume=str(tmp_path / "full" / "checkpoint-6"))
    assert resumed.state.global_step == full.state.global_step == 8
    for k, v in _final_params(full).items():
        torch.testing.assert_close(_final_params(resumed)[k], v, rtol=1e-5, atol=1e-6)


def test_lora_unlearning_saves_adapter_and_merges(memorised, tmp_path):
    from peft import LoraConfig, PeftModel

    args = _args(
        SimNPOConfig,
        tmp_path,
        gradient_checkpointing=True,
        max_steps=4,
        forget_weight=1.0,
        beta=2.5,
        learning_rate=1e-2,
    )
    trainer = SimNPOTrainer(
        copy.deepcopy(memorised),
        args,
        train_dataset=ForgetRetainDataset(FORGET, RETAIN),
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    assert isinstance(trainer.model, PeftModel)
    trainer.train()
    lora_b = [p for n, p in trainer.model.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b), "LoRA B stayed zero (input grads not enabled?)"
    base_unchanged = [p for n, p in trainer.model.named_parameters() if "lora" not in n]
    assert not any(p.requires_grad for p in base_unchanged)

    trainer.save_model(str(tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()

    merged_dir = trainer.save_merged_model(tmp_path / "merged")
    merged = LlamaForCausalLM.from_pretrained(merged_dir)
    batch = ForgetRetainCollator(0)([{"forget": r} for r in FORGET])["forget"]
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        got = merged(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert _nll(merged, FORGET) > _nll(memorised, FORGET)


def test_evaluate_uses_the_training_loss(memorised, tmp_path):
    data = ForgetRetainDataset(FORGET, RETAIN)
    args = _args(SimNPOConfig, tmp_path, per_device_eval_batch_size=len(FORGET), forget_weight=1.0)
    trainer = SimNPOTrainer(copy.deepcopy(memorised), args, train_dataset=data, eval_dataset=data)
    metrics = trainer.evaluate()
    batch = ForgetRetainCollator(0)([data[i] for i in range(len(data))])
    trainer.model.train()
    expected = trainer.compute_loss(trainer.model, batch).item()
    assert metrics["eval_loss"] == pytest.approx(expected, rel=1e-5)
    assert {"eval_forget/loss", "eval_retain/loss", "eval_forget/nll"} <= set(metrics)


# ---------------------------------------------------------------------------------------------------------------
# bad input


def test_empty_forget_set_is_a_clear_error():
    with pytest.raises(ValueError, match="forget set is empty"):
        ForgetRetainDataset([], RETAIN)


def test_answers_with_zero_label_tokens_are_rejected(memorised, tmp_path):
    bad = [{"input_ids": [5, 6, 7], "labels": [5, -100, -100]}]  # only position 0 labelled: nothing scored
    with pytest.raises(ValueError, match="no answer tokens"):
        ForgetRetainDataset(bad + FORGET, RETAIN)
    # and a hand-made batch that slips past the dataset is refused by the trainer, not divided by zero
    trainer = SimNPOTrainer(
        copy.deepcopy(memorised), _args(SimNPOConfig, tmp_path), train_dataset=ForgetRetainDataset(FORGET, RETAIN)
    )
    batch = ForgetRetainCollator(0)([{"forget": dict(bad[0], index=0), "retain": RETAIN[0]}])
    with pytest.raises(ValueError, match="no answer tokens|no label tokens"):
        trainer.compute_loss(trainer.model, batch)


def test_model_without_chat_template_needs_an_explicit_template():
    from hf_unlearn.synthetic.tofu_models import build_tokenizer

    tok = build_tokenizer(["Who wrote it? Ann wrote it."] * 4, vocab_size=300, chat_template=False)
    qa = [{"question": "Who wrote it?", "answer": "Ann wrote it."}]
    with pytest.raises(ValueError, match="chat template"):
        build_forget_retain_dataset(tok, qa, qa, template="auto")
    data = build_forget_retain_dataset(tok, qa, qa, template="phi")
    assert len(data) == 1 and data.has_retain


def test_wrong_dataset_type_and_missing_retain_are_clear_errors(memorised, tmp_path):
    with pytest.raises(TypeError, match="ForgetRetainDataset"):
        SimNPOTrainer(copy.deepcopy(memorised), _args(SimNPOConfig, tmp_path), train_dataset=FORGET)
    with pytest.raises(ValueError, match="no retain examples"):
        SimNPOTrainer(
            copy.deepcopy(memorised), _args(SimNPOConfig, tmp_path), train_dataset=ForgetRetainDataset(FORGET)
        )
    with pytest.raises(ValueError, match="precompute_ref_log_probs"):
        SimNPOTrainer(
            copy.deepcopy(memorised),
            _args(SimNPOConfig, tmp_path, precompute_ref_log_probs=True),
            train_dataset=ForgetRetainDataset(FORGET, RETAIN),
        )


@pytest.mark.parametrize(
    ("config_cls", "kw", "match"),
    [
        (SimNPOConfig, {"beta": 0.0}, "beta"),
        (NPOConfig, {"beta": -1.0}, "beta"),
        (NPOConfig, {"retain_loss_type": "mse"}, "retain_loss_type"),
        (NPOConfig, {"precompute_ref_log_probs": True, "retain_loss_type": "kl"}, "precompute_ref_log_probs"),
        (GradDiffConfig, {"forget_weight": 0.0}, "forget_weight"),
        (GradDiffConfig, {"retain_weight": -1.0}, "retain_weight"),
    ],
)
def test_config_validation(config_cls, kw, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        config_cls(output_dir=str(tmp_path), **kw)


def test_nan_loss_raises_and_leaves_the_model_at_its_last_finite_weights(memorised, tmp_path):
    class NaNAtStep2(SimNPOTrainer):
        def forget_loss(self, model, forget, log_probs, num_tokens):
            loss, metrics = super().forget_loss(model, forget, log_probs, num_tokens)
            if self.state.global_step >= 1:
                loss = loss * float("nan")
            return loss, metrics

    snapshots = []

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    model = copy.deepcopy(memorised)
    trainer = NaNAtStep2(
        model, _args(SimNPOConfig, tmp_path), train_dataset=ForgetRetainDataset(FORGET, RETAIN), callbacks=[Snapshot()]
    )
    with pytest.raises(FloatingPointError, match="not applied"):
        trainer.train()
    assert len(snapshots) == 1
    for k, v in model.state_dict().items():
        assert torch.isfinite(v).all()
        assert torch.equal(v, snapshots[0][k]), k


# ---------------------------------------------------------------------------------------------------------------
# 1 process vs 2 processes (accelerate launch, gloo DDP on CPU)

_DDP_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    torch.set_num_threads(1)
    from tests.test_trainers import FORGET, RETAIN, _tiny_model
    from hf_unlearn import NPOConfig, NPOTrainer
    from hf_unlearn.data import ForgetRetainDataset

    out, per_device = sys.argv[1], int(sys.argv[2])
    seen = []

    class Recording(NPOTrainer):
        def compute_loss(self, model, inputs, **kw):
            seen.append(inputs["retain"]["index"].tolist())
            return super().compute_loss(model, inputs, **kw)

    args = NPOConfig(output_dir=out, per_device_train_batch_size=per_device, num_train_epochs=2, learning_rate=1e-2,
                     warmup_steps=0, logging_steps=1, use_cpu=True, disable_tqdm=True, seed=0)
    trainer = Recording(_tiny_model(), args, train_dataset=ForgetRetainDataset(FORGET, RETAIN, seed=0))
    trainer.train()
    rank = int(os.environ.get("RANK", 0))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"seen": seen, "log": trainer.state.log_history}, f)
    trainer.end_distributed()  # a bare exit can abort a gloo rank
    """
)


def _launch(tmp_path: Path, name: str, launch_args: list[str], per_device: int) -> Path:
    script = tmp_path / "ddp_script.py"
    script.write_text(_DDP_SCRIPT)
    out = tmp_path / name
    out.mkdir()
    accelerate_launch(script, [str(out), str(per_device)], launch_args, timeout=240)
    return out


def test_one_and_two_processes_give_the_same_losses(tmp_path):
    """Same global batch (4) as 1 x 4 and as 2 ranks x 2: losses per step agree to rel 1e-5; ranks get different
    retain rows whose union is the single-process retain batch."""
    one = _launch(tmp_path, "one", ["--cpu", "--num_processes", "1"], per_device=4)
    two = _launch(tmp_path, "two", ["--multi_gpu", "--num_processes", "2"], per_device=2)
    single = json.loads((one / "rank0.json").read_text())
    rank0 = json.loads((two / "rank0.json").read_text())
    rank1 = json.loads((two / "rank1.json").read_text())
    logs1 = [h for h in single["log"] if "loss" in h]
    logs2 = [h for h in rank0["log"] if "loss" in h]
    assert len(logs1) == len(logs2) == 4
    for a, b in zip(logs1, logs2):
        for key in ("loss", "forget/loss", "retain/loss", "forget/log_ratio"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-5), (key, a, b)
    for step, (r0, r1) in enumerate(zip(rank0["seen"], rank1["seen"])):
        assert not set(r0) & set(r1), "ranks drew the same retain rows"
        assert sorted(r0 + r1) == sorted(single["seen"][step])
