"""hf_unlearn.diffusion.training_utils: checkpoint rotation and resume, the training loop's steps (values by hand:
SGD on a quadratic, clipping, accumulation), the shared option checks, the run record and the card metadata."""

import argparse
from types import SimpleNamespace

import pytest
import torch


pytest.importorskip("diffusers")

from accelerate import Accelerator

from hf_unlearn.diffusion import training_utils as tu


torch.set_num_threads(1)


def _mkdirs(root, *names):
    for name in names:
        (root / name).mkdir()


# ------------------------------------------------------------------------------------------------ checkpoints


def test_rotation_orders_checkpoints_by_step_number_and_leaves_other_folders(tmp_path):
    _mkdirs(tmp_path, "checkpoint-9", "checkpoint-10", "checkpoint-100", "checkpoint-2", "checkpoint-final", "logs")
    (tmp_path / "checkpoint-7").write_text("a file, not a checkpoint")
    assert tu.latest_checkpoint(tmp_path).name == "checkpoint-100"  # not "checkpoint-9" (string order)
    # limit 2: before a new save, keep 1 so that the new one makes 2; the oldest steps go first
    removed = tu.rotate_checkpoints(tmp_path, 2)
    assert [p.name for p in removed] == ["checkpoint-2", "checkpoint-9", "checkpoint-10"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["checkpoint-100", "checkpoint-7", "checkpoint-final", "logs"]
    assert tu.rotate_checkpoints(tmp_path, None) == [] and (tmp_path / "checkpoint-100").is_dir()
    assert tu.rotate_checkpoints(tmp_path, 3) == []  # 1 + 1 <= 3
    assert tu.latest_checkpoint(tmp_path / "logs") is None


def test_checkpoint_names_and_the_resume_option_are_checked(tmp_path):
    assert tu.checkpoint_step(tmp_path / "checkpoint-12") == 12
    for bad in ("checkpoint-", "checkpoint-x", "ckpt-3", "checkpoint--1"):
        with pytest.raises(ValueError, match=r"is not a checkpoint folder: its name must be 'checkpoint-<step>'"):
            tu.checkpoint_step(bad)
    with pytest.raises(ValueError, match=r"'latest': no such checkpoint in .*omit the option to start a new run"):
        tu.find_checkpoint(tmp_path, "latest")
    with pytest.raises(ValueError, match=r"no such checkpoint\. Pass a checkpoint-<step> folder"):
        tu.find_checkpoint(tmp_path, str(tmp_path / "checkpoint-3"))
    _mkdirs(tmp_path, "mine")
    with pytest.raises(ValueError, match=r"'mine' is not a checkpoint folder.*Pass a checkpoint-<step> folder"):
        tu.find_checkpoint(tmp_path, str(tmp_path / "mine"))


def _quadratic_run(tmp_path, max_steps, lr=0.1, resume=None, **overrides):
    """SGD on L(w) = sum((w - target)^2) through the prepared objects; returns the weight, history and step."""
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=overrides.pop("accumulation", 1))
    model = torch.nn.Linear(1, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0], [-2.0], [0.5]]))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))  # lr / (1 + step)
    model, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    target = torch.tensor([[0.0], [1.0], [3.0]])
    calls = []

    def compute_loss(step):
        calls.append(step)
        loss = ((model.weight - target) ** 2).sum()
        return loss, {"loss": loss.item()}

    args = argparse.Namespace(
        max_train_steps=max_steps, max_grad_norm=1e9, output_dir=str(tmp_path), checkpointing_steps=1,
        checkpoints_total_limit=2, validation_steps=0, **overrides,
    )  # fmt: skip
    start = tu.resume_from_checkpoint(accelerator, tmp_path, resume)
    validated = []
    step, history, _ = tu.train_loop(
        accelerator, model, compute_loss, model.parameters(), optimizer, schedule, args, start, validated.append
    )
    return model.weight.detach().clone(), history, step, calls, validated


def _by_hand(steps, lr=0.1, clip=None):
    w, target = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 1.0, 3.0])
    for k in range(steps):
        grad = 2 * (w - target)
        if clip is not None and grad.norm() > clip:
            grad = grad * clip / grad.norm()
        w = w - lr / (1 + k) * grad
    return w


def test_loop_takes_the_sgd_steps_with_the_schedule_and_keeps_the_last_two_checkpoints(tmp_path):
    weight, history, step, calls, _ = _quadratic_run(tmp_path, 3)
    assert step == 3 and calls == [0, 1, 2]
    assert torch.allclose(weight.flatten(), _by_hand(3), atol=1e-6)
    assert [row["step"] for row in history] == [1, 2, 3]
    assert [row["lr"] for row in history] == pytest.approx([0.1 / 2, 0.1 / 3, 0.1 / 4])  # after each step
    w0 = torch.tensor([1.0, -2.0, 0.5])
    assert history[0]["loss"] == pytest.approx(float(((w0 - torch.tensor([0.0, 1.0, 3.0])) ** 2).sum()))
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]


def test_resuming_from_a_checkpoint_continues_exactly_where_it_stopped(tmp_path):
    full, *_ = _quadratic_run(tmp_path / "full", 4)
    _quadratic_run(tmp_path / "cut", 2)  # stops after step 2 (checkpoints 1 and 2)
    resumed, history, step, calls, _ = _quadratic_run(tmp_path / "cut", 4, resume="latest")
    assert calls == [2, 3] and [row["step"] for row in history] == [3, 4] and step == 4
    assert history[0]["lr"] == pytest.approx(0.1 / 4)  # the schedule resumed too
    assert torch.equal(resumed, full)
    assert torch.allclose(full.flatten(), _by_hand(4), atol=1e-6)
    # an explicit folder: the state after its step, nothing left to run
    again, _, _, calls, _ = _quadratic_run(tmp_path / "cut", 3, resume=str(tmp_path / "cut" / "checkpoint-3"))
    assert calls == [] and torch.equal(again, _quadratic_run(tmp_path / "ref", 3)[0])


def test_loop_clips_gradients_accumulates_and_validates_on_schedule(tmp_path):
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(1, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0], [-2.0], [0.5]]))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    model, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    target = torch.tensor([[0.0], [1.0], [3.0]])
    args = argparse.Namespace(
        max_train_steps=4, max_grad_norm=0.5, output_dir=str(tmp_path), checkpointing_steps=0,
        checkpoints_total_limit=None, validation_steps=2,
    )  # fmt: skip
    validated = []
    tu.train_loop(
        accelerator,
        model,
        lambda step: (((model.weight - target) ** 2).sum(), {}),
        model.parameters(),
        optimizer,
        schedule,
        args,
        validate=validated.append,
    )
    assert torch.allclose(model.weight.detach().flatten(), _by_hand(4, clip=0.5), atol=1e-6)  # norm 0.5 each step
    assert validated == [2, 4] and not list(tmp_path.glob("checkpoint-*"))  # checkpointing_steps 0: none


def test_gradient_accumulation_counts_optimizer_steps(tmp_path):
    weight, history, step, calls, _ = _quadratic_run(tmp_path, 2, accumulation=2)
    assert calls == [0, 0, 1, 1]  # two micro-batches per optimizer step, both at the same global step
    assert step == 2 and [row["step"] for row in history] == [1, 2]
    # accelerate averages the two (equal) micro-batch gradients: the same update as one batch
    assert torch.allclose(weight.flatten(), _by_hand(2), atol=1e-6)
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]


# ------------------------------------------------------------------------------------------------ options and outputs


def _parser():
    parser = argparse.ArgumentParser()
    tu.add_model_arguments(parser)
    parser.add_argument("--max_train_steps", type=int, default=5)
    parser.add_argument("--learning_rate", type=float, default=1e-5)
    parser.add_argument("--output_dir", type=str, default="out")
    tu.add_training_arguments(parser, trained="trained UNet")
    tu.add_hub_arguments(parser, "pipeline + card")
    return parser


def test_shared_options_and_their_checks(tmp_path, monkeypatch):
    parser = _parser()
    help_text = " ".join(parser.format_help().split())
    assert "the trained UNet stays fp32" in help_text and "(pipeline + card)" in help_text
    args = tu.check_training_args(parser.parse_args(["--report_to", "wandb"]))
    assert args.report_to == "wandb" and args.mixed_precision is None and args.checkpointing_steps == 200
    with pytest.raises(ValueError, match=r"--report_to=wandb and --hub_token.*hf auth login"):
        tu.check_training_args(parser.parse_args(["--report_to", "wandb", "--hub_token", "x"]))
    with pytest.raises(ValueError, match=r"--learning_rate must be > 0, got -0.1"):
        tu.check_training_args(parser.parse_args(["--learning_rate", "-0.1"]))
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert tu.check_training_args(parser.parse_args([])).local_rank == 1
    # the output check: a finished run is refused unless resumed; a resume must name a checkpoint
    out = tmp_path / "run"
    args = parser.parse_args(["--output_dir", str(out)])
    assert tu.check_run_outputs(args, "unet") == out
    (out / "unet").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"unet already exists: choose a new --output_dir"):
        tu.check_run_outputs(args, "unet")
    args.resume_from_checkpoint = "latest"
    with pytest.raises(ValueError, match=r"'latest': no such checkpoint"):
        tu.check_run_outputs(args, "unet")
    (out / "checkpoint-3").mkdir()
    assert tu.check_run_outputs(args, "unet") == out
    retain = SimpleNamespace(retain_prompts=None, retain_prompts_file=str(tmp_path / "r.txt"))
    (tmp_path / "r.txt").write_text("a blue circle\n\n  a green square \n")
    assert tu.read_retain_prompts(retain, ["x"]) == ["a blue circle", "a green square"]


def test_run_record_and_card_metadata_for_a_world_a_hub_id_and_a_local_folder(tmp_path):
    world = SimpleNamespace(world_id="shapes-0123456789ab", config_hash="0123456789ab")
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}]
    info = tu.run_info("salun", "red", str(tmp_path), world, {"a": 1}, 2, 10.0, history, mask_density=0.5)
    assert info["base_model"] == "shapes-0123456789ab" and info["world"]["config_hash"] == "0123456789ab"
    assert info["seconds_per_step"] == 5.0 and info["final_logs"] == {"step": 2, "loss": 1.0}
    assert list(info)[:6] == ["method", "concept", "base_model", "world", "config", "mask_density"]
    result = dict.fromkeys(tu.EVAL_METRICS, 0.25)
    data = tu.card_metadata("diffusers", ["salun"], str(tmp_path), world, result, "salun-red", "red")
    assert data["base_model"] == data["datasets"][0] == "shapes-0123456789ab"
    assert [r.metric_type for r in data["eval_results"]] == list(tu.EVAL_METRICS)
    assert {r.dataset_name for r in data["eval_results"]} == {"shapes-0123456789ab"}
    assert data["eval_results"][0].task_name == "Concept erasure (red)"
    hub = tu.card_metadata("transformers", ["esd"], "CompVis/stable-diffusion-v1-4")
    assert hub["base_model"] == "CompVis/stable-diffusion-v1-4" and "datasets" not in hub
    assert "base_model" not in tu.card_metadata("transformers", ["esd"], str(tmp_path))  # a folder is no Hub id
