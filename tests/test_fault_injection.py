"""Fault injection: a 2-process (gloo DDP) unlearning run is killed with SIGKILL at random points - during training
steps, while a checkpoint is being written, while the final model is being written - and resumed each time with
`resume_from_checkpoint=True`. The final model must equal an uninterrupted run's.

The kill points are drawn from `random.Random(FAULT_SEED)` (default 0; set the environment variable to explore
others); the test prints them. Each launch is a real `accelerate launch --multi_gpu --num_processes 2` on CPU.
"""

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.launch import REPO, TWO_PROCESSES, free_port


_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from transformers import LlamaConfig, LlamaForCausalLM
    from hf_unlearn import SimNPOConfig, SimNPOTrainer
    from hf_unlearn.data import ForgetRetainDataset

    out, kill, resume = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "resume"
    rank = int(os.environ.get("RANK", 0))
    what, step, victim = (kill.split(":") + ["", "", ""])[:3] if kill != "none" else ("none", "0", "0")
    step, victim = int(step or 0), int(victim or 0)

    def die():
        print(f"FAULT: rank {rank} killed ({kill})", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def rows(n, seed):
        g = torch.Generator().manual_seed(seed)
        out = []
        for i in range(n):
            ids = torch.randint(3, 64, (8 + i % 4,), generator=g).tolist()
            out.append({"input_ids": ids, "labels": [-100] * 3 + ids[3:]})
        return out

    class Faulty(SimNPOTrainer):
        def training_step(self, *args, **kwargs):
            if what == "step" and rank == victim and self.state.global_step + 1 == step:
                die()  # in the middle of optimizer step `step`, before its update
            return super().training_step(*args, **kwargs)

        def _save_optimizer_and_scheduler(self, output_dir):
            if what == "ckpt" and rank == victim and self.state.global_step == step:
                die()  # checkpoint-`step`: the weights are written, optimizer / state / marker are not
            return super()._save_optimizer_and_scheduler(output_dir)

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, pad_token_id=0, eos_token_id=1,
                         max_position_embeddings=64)
    model = LlamaForCausalLM(config)
    if what == "final" and rank == victim:
        real_save = LlamaForCausalLM.save_pretrained
        def half_save(self, directory, **kwargs):
            if "checkpoint-" not in str(directory):
                Path(directory).mkdir(parents=True, exist_ok=True)
                (Path(directory) / "model.safetensors").write_bytes(b"half-written")
                die()
            return real_save(self, directory, **kwargs)
        LlamaForCausalLM.save_pretrained = half_save
    args = SimNPOConfig(output_dir=str(out), per_device_train_batch_size=2, max_steps=8, learning_rate=5e-3,
                        warmup_steps=0, logging_steps=1, save_strategy="steps", save_steps=2, use_cpu=True,
                        disable_tqdm=True, seed=0, beta=2.5)
    trainer = Faulty(model, args, train_dataset=ForgetRetainDataset(rows(8, 1), rows(16, 2), seed=0))
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(str(out / "model"))
    trainer.end_distributed()
    """
)


def _launch(script: Path, out: Path, kill: str, resume: bool) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *TWO_PROCESSES, "--num_cpu_threads_per_process", "1"]
    cmd += ["--main_process_port", free_port(), str(script), str(out), kill, "resume" if resume else "new"]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _kill_plan(seed: int) -> list[str]:
    """Three kills in order: during a training step, while writing a later checkpoint, while writing the model."""
    rng = random.Random(seed)
    step = rng.randint(3, 6)  # 8 optimizer steps, checkpoints every 2: a kill at step 3-6 leaves checkpoint 2 or 4
    last_complete = 2 * ((step - 1) // 2)
    checkpoint = rng.choice([c for c in (4, 6, 8) if c > last_complete])
    return [f"step:{step}:{rng.randint(0, 1)}", f"ckpt:{checkpoint}:{rng.randint(0, 1)}", "final:0:0"]


@pytest.mark.slow
def test_killed_and_resumed_two_process_run_equals_an_uninterrupted_one(tmp_path):
    seed = int(os.environ.get("FAULT_SEED", "0"))
    plan = _kill_plan(seed)
    print(f"FAULT_SEED={seed}: kills {plan}")  # noqa: T201
    script = tmp_path / "faulty_run.py"
    script.write_text(_SCRIPT)

    clean = _launch(script, tmp_path / "clean", "none", resume=False)
    assert clean.returncode == 0, clean.stderr[-3000:]

    out = tmp_path / "faulty"
    for i, kill in enumerate(plan):
        killed = _launch(script, out, kill, resume=i > 0)
        assert killed.returncode != 0 and "FAULT: rank" in killed.stdout, (kill, killed.stderr[-3000:])
        if i > 0 and plan[i - 1].startswith("ckpt"):  # this run resumed past the checkpoint cut short by that kill
            assert f"checkpoint-{plan[i - 1].split(':')[1]}: incomplete" in killed.stderr, killed.stderr[-3000:]
        if kill.startswith("ckpt"):
            step = kill.split(":")[1]
            assert not (out / f"checkpoint-{step}" / "checkpoint_complete.json").exists()
        if kill.startswith("final"):
            assert not (out / "model" / "model.safetensors").exists()  # never a half-written model in `model/`
    resumed = _launch(script, out, "none", resume=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected = load_file(tmp_path / "clean" / "model" / "model.safetensors")
    got = load_file(out / "model" / "model.safetensors")
    assert set(got) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=1e-6, atol=1e-7, msg=f"{name} (kills {plan})")
    assert not (out / "model.saving").exists()  # the leftover of the killed final save was removed


def test_resume_skips_an_incomplete_checkpoint_with_a_warning(tmp_path, caplog):
    """One process: a checkpoint cut short (its optimizer state truncated, as by a kill) is skipped on resume; training
    continues from the previous complete one and ends where an uninterrupted run does."""
    from hf_unlearn import SimNPOConfig, SimNPOTrainer
    from hf_unlearn.data import ForgetRetainDataset
    from tests.test_bad_inputs import FORGET, RETAIN, _model

    def run(out, resume=None):
        args = SimNPOConfig(
            output_dir=str(out), per_device_train_batch_size=4, max_steps=6, learning_rate=5e-3, warmup_steps=0,
            save_strategy="steps", save_steps=2, use_cpu=True, disable_tqdm=True, seed=0, beta=2.5,
        )  # fmt: skip
        trainer = SimNPOTrainer(_model(), args, train_dataset=ForgetRetainDataset(FORGET, RETAIN))
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    full = run(tmp_path / "full")
    for checkpoint in (tmp_path / "full").glob("checkpoint-*"):
        assert (checkpoint / "checkpoint_complete.json").is_file()
    optimizer = tmp_path / "full" / "checkpoint-6" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])  # a kill while it was being written
    import transformers

    transformers.utils.logging.enable_propagation()
    with caplog.at_level("WARNING"):
        resumed = run(tmp_path / "full", resume=True)
    assert "checkpoint-6: incomplete (optimizer.pt has 100 bytes" in caplog.text
    assert "Resuming from" in caplog.text and "checkpoint-4 instead" in caplog.text
    for (name, a), b in zip(full.model.named_parameters(), resumed.model.parameters()):
        torch.testing.assert_close(b.detach(), a.detach(), rtol=1e-6, atol=1e-7, msg=name)
