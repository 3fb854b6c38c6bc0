# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Pieces shared by the diffusion training scripts, in the spirit of `diffusers.training_utils`.

`examples/diffusion/train_advunlearn.py` (a text encoder) and `examples/diffusion/train_salun.py` (a UNet) differ in
what they train and how one step's loss is computed; everything around that is here, once: the common command-line
options and their checks, the `Accelerator`, optimizer and learning-rate schedule, checkpoint rotation and resume,
the training loop, the validation-image logging, the run record, the model-card metadata and the Hub upload.

Example:
    >>> import argparse
    >>> from hf_unlearn.diffusion.training_utils import add_training_arguments, checkpoint_step
    >>> parser = argparse.ArgumentParser()
    >>> add_training_arguments(parser)
    >>> parser.parse_args(["--checkpoints_total_limit", "2"]).checkpoints_total_limit
    2
    >>> checkpoint_step("out/checkpoint-400")
    400
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm


__all__ = [
    "CHECKPOINT_PREFIX",
    "EVAL_METRICS",
    "add_hub_arguments",
    "add_model_arguments",
    "add_training_arguments",
    "card_metadata",
    "check_run_outputs",
    "check_training_args",
    "checkpoint_step",
    "create_accelerator",
    "create_optimizer_and_scheduler",
    "find_checkpoint",
    "latest_checkpoint",
    "load_world_or_model",
    "log_validation_grid",
    "push_output_dir",
    "read_retain_prompts",
    "resume_from_checkpoint",
    "rotate_checkpoints",
    "run_info",
    "save_checkpoint",
    "train_loop",
    "weight_dtype",
    "write_eval_results",
]

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "checkpoint-"
"""Checkpoint folders are `output_dir/checkpoint-<global step>`, as in the diffusers scripts."""

EVAL_METRICS = ("concept_rate", "asr_discrete", "asr_soft", "retain_accuracy", "retain_image_distance")
"""The shapes-world evaluation metrics a model card's `model-index` carries."""

HUB_IGNORE_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "logs/**", "validation/**"]


# ------------------------------------------------------------------------------------------------ command line


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `--pretrained_model_name_or_path` (none: the offline shapes world), `--revision`, `--variant` and
    `--world_preset` (see [`load_world_or_model`]).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> add_model_arguments(parser)
        >>> args = parser.parse_args(["--world_preset", "test"])
        >>> args.pretrained_model_name_or_path, args.world_preset
        (None, 'test')
    """
    parser.add_argument(
        "--pretrained_model_name_or_path",
        type=str,
        default=None,
        help="Hub id or local folder of a Stable Diffusion 1.x-family pipeline (CLIP text encoder). Default: the "
        "offline shapes world of hf_unlearn (built and cached on first use).",
    )
    parser.add_argument("--revision", type=str, default=None, help="Revision of the pretrained pipeline.")
    parser.add_argument("--variant", type=str, default=None, help="Weight variant of the pipeline (e.g. fp16).")
    parser.add_argument(
        "--world_preset", type=str, default="default", choices=["test", "default"], help="Shapes-world size."
    )


def add_training_arguments(parser: argparse.ArgumentParser, trained: str = "trained model") -> None:
    """Adds the options both diffusion scripts share: mixed precision, accumulation, schedule, Adam, clipping,
    trackers, checkpoints, validation grids and the evaluation attacks.

    The options whose defaults or meaning differ per script (`--output_dir`, `--seed`, batch sizes,
    `--max_train_steps`, `--learning_rate`, `--adam_weight_decay`) stay in the scripts.

    Args:
        parser (`argparse.ArgumentParser`): The script's parser; options are added in place.
        trained (`str`, *optional*): What the script trains (it stays fp32 under `--mixed_precision`), for the help.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> add_training_arguments(parser)
        >>> args = parser.parse_args(["--resume_from_checkpoint", "latest"])
        >>> args.resume_from_checkpoint, args.checkpointing_steps, args.report_to
        ('latest', 200, 'none')
    """
    parser.add_argument(
        "--mixed_precision",
        type=str,
        default=None,
        choices=["no", "fp16", "bf16"],
        help=f"Precision of the frozen models (the {trained} stays fp32). Default: accelerate's.",
    )
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1, help="Accumulation steps.")
    parser.add_argument("--lr_scheduler", type=str, default="constant", help="diffusers/transformers scheduler name.")
    parser.add_argument("--lr_warmup_steps", type=int, default=0, help="Scheduler warmup steps.")
    parser.add_argument("--adam_beta1", type=float, default=0.9, help="Adam beta1.")
    parser.add_argument("--adam_beta2", type=float, default=0.999, help="Adam beta2.")
    parser.add_argument("--adam_epsilon", type=float, default=1e-8, help="Adam epsilon.")
    parser.add_argument("--max_grad_norm", type=float, default=1.0, help="Gradient clipping norm.")
    parser.add_argument(
        "--report_to", type=str, default="none", help="Trackers: 'tensorboard', 'wandb', 'comet_ml', 'all' or 'none'."
    )
    parser.add_argument("--logging_dir", type=str, default="logs", help="Tracker folder (inside output_dir).")
    parser.add_argument("--checkpointing_steps", type=int, default=200, help="Save a resumable state every N steps.")
    parser.add_argument(
        "--checkpoints_total_limit", type=int, default=None, help="Keep at most this many checkpoints."
    )
    parser.add_argument(
        "--resume_from_checkpoint",
        type=str,
        default=None,
        help="A checkpoint folder of this run (from --checkpointing_steps), or 'latest'.",
    )
    parser.add_argument(
        "--validation_prompts", type=str, nargs="*", default=None, help="Prompts of the validation image grids."
    )
    parser.add_argument("--validation_steps", type=int, default=100, help="Save a validation grid every N steps.")
    parser.add_argument("--num_validation_images", type=int, default=4, help="Validation images per prompt.")
    parser.add_argument("--eval_attack_steps", type=int, default=40, help="Steps of the evaluation attacks.")
    parser.add_argument("--eval_attack_tokens", type=int, default=1, help="Tokens of the evaluation attacks.")


def add_hub_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Adds `--push_to_hub`, `--hub_token`, `--hub_model_id` and `--hub_private`.

    Args:
        parser (`argparse.ArgumentParser`): The script's parser.
        what (`str`): What the upload holds, for the help text (e.g. `"pipeline + card"`).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> add_hub_arguments(parser, "encoder + card")
        >>> vars(parser.parse_args(["--push_to_hub", "--hub_model_id", "me/erased"]))
        {'push_to_hub': True, 'hub_token': None, 'hub_model_id': 'me/erased', 'hub_private': False}
    """
    parser.add_argument("--push_to_hub", action="store_true", help=f"Push output_dir ({what}) to the Hub.")
    parser.add_argument("--hub_token", type=str, default=None, help="Hub token (default: HF_TOKEN / hf auth login).")
    parser.add_argument("--hub_model_id", type=str, default=None, help="Repo id (default: output_dir's name).")
    parser.add_argument("--hub_private", action="store_true", help="Create the Hub repo as private.")


def check_training_args(args: argparse.Namespace) -> argparse.Namespace:
    """Checks the shared options after parsing (before any work) and picks up `LOCAL_RANK` from a launcher.

    Raises:
        ValueError: `--report_to wandb` with `--hub_token` (the token would be logged), `--max_train_steps` < 1 or
            `--learning_rate` <= 0.

    Example:
        >>> import argparse
        >>> ok = argparse.Namespace(report_to="none", hub_token=None, max_train_steps=10, learning_rate=1e-5)
        >>> check_training_args(ok).max_train_steps
        10
        >>> check_training_args(argparse.Namespace(**{**vars(ok), "max_train_steps": 0}))
        Traceback (most recent call last):
        ...
        ValueError: --max_train_steps must be >= 1, got 0.
    """
    env_local_rank = int(os.environ.get("LOCAL_RANK", "-1"))
    if env_local_rank != -1:
        args.local_rank = env_local_rank
    if args.report_to == "wandb" and args.hub_token is not None:
        raise ValueError(
            "You cannot use both --report_to=wandb and --hub_token due to a security risk of exposing your token. "
            "Please use `hf auth login` to authenticate with the Hub."
        )
    if args.max_train_steps < 1:
        raise ValueError(f"--max_train_steps must be >= 1, got {args.max_train_steps}.")
    if args.learning_rate <= 0:
        raise ValueError(f"--learning_rate must be > 0, got {args.learning_rate}.")
    return args


def check_run_outputs(args: argparse.Namespace, final_subfolder: str) -> Path:
    """Fails fast, before any training or writing: a Hub token when `--push_to_hub` is set, and a finished run's
    `output_dir/final_subfolder` unless `--resume_from_checkpoint` continues it. Returns `output_dir` as a `Path`.

    Raises:
        ValueError: No Hub token (says how to log in), the output already exists (nothing is overwritten), or
            `--resume_from_checkpoint` names no checkpoint of this run (see [`find_checkpoint`]).

    Example:
        >>> import argparse, tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> args = argparse.Namespace(output_dir=str(out), push_to_hub=False, resume_from_checkpoint=None)
        >>> check_run_outputs(args, "unet") == out
        True
        >>> (out / "unet").mkdir()
        >>> check_run_outputs(args, "unet")
        Traceback (most recent call last):
        ...
        ValueError: ... already exists: choose a new --output_dir or pass --resume_from_checkpoint (nothing was overwritten).
    """
    from ..hub import resolve_token

    output_dir = Path(args.output_dir)
    if args.push_to_hub:
        resolve_token(args.hub_token)
    if args.resume_from_checkpoint:
        find_checkpoint(output_dir, args.resume_from_checkpoint)
    elif (output_dir / final_subfolder).exists():
        raise ValueError(
            f"{output_dir / final_subfolder} already exists: choose a new --output_dir or pass "
            "--resume_from_checkpoint (nothing was overwritten)."
        )
    return output_dir


def load_world_or_model(args: argparse.Namespace) -> tuple[Any, str]:
    """The shapes world (`--world_preset`, built and cached on first use) when no `--pretrained_model_name_or_path`
    is given, and the path or Hub id of the pipeline to load.

    Returns:
        `tuple[ShapesWorld | None, str]`: The world (`None` for a pretrained pipeline) and the model path.

    Example:
        >>> import argparse
        >>> load_world_or_model(argparse.Namespace(pretrained_model_name_or_path="CompVis/stable-diffusion-v1-4"))
        (None, 'CompVis/stable-diffusion-v1-4')
    """
    if args.pretrained_model_name_or_path is not None:
        return None, args.pretrained_model_name_or_path
    from ..synthetic.shapes import load_shapes_world

    world = load_shapes_world(args.world_preset)
    return world, str(world.pipeline_path)


def read_retain_prompts(args: argparse.Namespace, default: list[str]) -> list[str]:
    """The retain prompts: `--retain_prompts_file` (one a line) over `--retain_prompts` over `default`.

    Example:
        >>> import argparse
        >>> read_retain_prompts(argparse.Namespace(retain_prompts=None, retain_prompts_file=None), ["a blue circle"])
        ['a blue circle']
        >>> read_retain_prompts(argparse.Namespace(retain_prompts=["x"], retain_prompts_file=None), ["a blue circle"])
        ['x']
    """
    retain = list(default)
    if args.retain_prompts is not None:
        retain = list(args.retain_prompts)
    if args.retain_prompts_file:
        retain = [line.strip() for line in Path(args.retain_prompts_file).read_text().splitlines() if line.strip()]
    return retain


# ------------------------------------------------------------------------------------------------ accelerate


def create_accelerator(args: argparse.Namespace):
    """The run's `Accelerator` (trackers in `output_dir/logging_dir`), logging set up, seeds set and `output_dir`
    created on the main process.

    Without CUDA, a multi-process launch (`accelerate launch --multi_gpu --num_processes 2`, torchrun) needs the CPU
    (gloo) backend asked for explicitly, or every process would run alone as rank 0; this asks for it.

    Args:
        args (`argparse.Namespace`): Needs `output_dir`, `logging_dir`, `gradient_accumulation_steps`,
            `mixed_precision`, `report_to` and `seed`.

    Example:
        >>> import argparse, tempfile
        >>> out = tempfile.mkdtemp()
        >>> args = argparse.Namespace(output_dir=out, logging_dir="logs", gradient_accumulation_steps=1,
        ...                           mixed_precision="no", report_to="none", seed=0)
        >>> create_accelerator(args).num_processes
        1
    """
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    output_dir = Path(args.output_dir)
    distributed_cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    accelerator = Accelerator(
        cpu=distributed_cpu,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=args.output_dir, logging_dir=output_dir / args.logging_dir),
    )
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    set_seed(args.seed)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    return accelerator


def weight_dtype(accelerator) -> torch.dtype:
    """The dtype of the frozen copies under the accelerator's mixed precision (fp32 without it).

    Example:
        >>> import types
        >>> weight_dtype(types.SimpleNamespace(mixed_precision="bf16")), weight_dtype(types.SimpleNamespace(mixed_precision="no"))
        (torch.bfloat16, torch.float32)
    """
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)


def create_optimizer_and_scheduler(
    params: list[torch.nn.Parameter], args: argparse.Namespace, num_processes: int = 1
) -> tuple[torch.optim.Optimizer, Any]:
    """Adam over `params` and the diffusers learning-rate schedule named by `--lr_scheduler`.

    Warmup and total steps are multiplied by `num_processes`, as in the diffusers scripts (the prepared scheduler
    steps once per process).

    Example:
        >>> import argparse, torch
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> args = argparse.Namespace(learning_rate=0.1, adam_beta1=0.9, adam_beta2=0.999, adam_weight_decay=0.0,
        ...                           adam_epsilon=1e-8, lr_scheduler="linear", lr_warmup_steps=0, max_train_steps=4)
        >>> optimizer, schedule = create_optimizer_and_scheduler([w], args)
        >>> optimizer.step(); schedule.step(); round(schedule.get_last_lr()[0], 6)
        0.075
    """
    from diffusers.optimization import get_scheduler

    optimizer = torch.optim.Adam(
        params,
        lr=args.learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
        weight_decay=args.adam_weight_decay,
        eps=args.adam_epsilon,
    )
    lr_scheduler = get_scheduler(
        args.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=args.lr_warmup_steps * num_processes,
        num_training_steps=args.max_train_steps * num_processes,
    )
    return optimizer, lr_scheduler


# ------------------------------------------------------------------------------------------------ checkpoints


def checkpoint_step(path: str | os.PathLike) -> int:
    """The global step a `checkpoint-<step>` folder was saved at.

    Raises:
        ValueError: The folder's name is not `checkpoint-<integer>`.

    Example:
        >>> checkpoint_step("out/checkpoint-12")
        12
    """
    name = Path(path).name
    suffix = name[len(CHECKPOINT_PREFIX) :] if name.startswith(CHECKPOINT_PREFIX) else ""
    if not suffix.isdigit():
        raise ValueError(f"{name!r} is not a checkpoint folder: its name must be '{CHECKPOINT_PREFIX}<step>'.")
    return int(suffix)


def _checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoint folders, oldest step first (numerically: 9 before 10)."""
    found = [
        p
        for p in Path(output_dir).glob(f"{CHECKPOINT_PREFIX}*")
        if p.is_dir() and p.name[len(CHECKPOINT_PREFIX) :].isdigit()
    ]
    return sorted(found, key=checkpoint_step)


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The checkpoint folder with the highest step in `output_dir`, or `None` when there is none.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> for step in (9, 10, 2):
        ...     (out / f"checkpoint-{step}").mkdir()
        >>> latest_checkpoint(out).name
        'checkpoint-10'
    """
    found = _checkpoints(output_dir)
    return found[-1] if found else None


def find_checkpoint(output_dir: str | os.PathLike, checkpoint: str) -> Path:
    """The checkpoint folder `--resume_from_checkpoint` names: `"latest"` (the highest step in `output_dir`) or a
    `checkpoint-<step>` folder.

    Raises:
        ValueError: `"latest"` with no checkpoint in `output_dir`, no such folder, or a folder whose name is not
            `checkpoint-<step>` (its step could not be known).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> (out / "checkpoint-4").mkdir()
        >>> find_checkpoint(out, "latest").name
        'checkpoint-4'
        >>> find_checkpoint(out, str(out))
        Traceback (most recent call last):
        ...
        ValueError: --resume_from_checkpoint ...: ... is not a checkpoint folder: its name must be 'checkpoint-<step>'. Pass a checkpoint-<step> folder of this run, or 'latest'.
    """
    path = latest_checkpoint(output_dir) if checkpoint == "latest" else Path(checkpoint)
    if path is None or not path.is_dir():
        where = f" in {output_dir}" if checkpoint == "latest" else ""
        raise ValueError(
            f"--resume_from_checkpoint {checkpoint!r}: no such checkpoint{where}. Pass a checkpoint-<step> folder "
            "saved by --checkpointing_steps, or omit the option to start a new run."
        )
    try:
        checkpoint_step(path)
    except ValueError as err:
        raise ValueError(
            f"--resume_from_checkpoint {checkpoint!r}: {err} Pass a {CHECKPOINT_PREFIX}<step> folder of this run, "
            "or 'latest'."
        ) from None
    return path


def rotate_checkpoints(output_dir: str | os.PathLike, total_limit: int | None) -> list[Path]:
    """Deletes the oldest checkpoints so that one more fits under `total_limit`; returns the deleted folders.

    Called just before a new checkpoint is saved, as in the diffusers scripts: after the save, at most `total_limit`
    checkpoints remain. `None` keeps everything.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> for step in (2, 4, 10):
        ...     (out / f"checkpoint-{step}").mkdir()
        >>> [p.name for p in rotate_checkpoints(out, 2)]
        ['checkpoint-2', 'checkpoint-4']
        >>> sorted(p.name for p in out.iterdir())
        ['checkpoint-10']
    """
    if total_limit is None:
        return []
    existing = _checkpoints(output_dir)
    removed = existing[: max(0, len(existing) - total_limit + 1)]
    for old in removed:
        shutil.rmtree(old)
    return removed


def save_checkpoint(accelerator, output_dir: str | os.PathLike, step: int, total_limit: int | None = None) -> Path:
    """Rotates old checkpoints (see [`rotate_checkpoints`]) and saves the accelerator's state (models, optimizer,
    schedule, RNGs and every object registered with `register_for_checkpointing`) as `checkpoint-<step>`.

    Call it on the main process only.

    Example:
        >>> import tempfile, pathlib, torch
        >>> from accelerate import Accelerator
        >>> accelerator = Accelerator(cpu=True)
        >>> model = accelerator.prepare(torch.nn.Linear(2, 2))
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> save_checkpoint(accelerator, out, 3).name
        'checkpoint-3'
    """
    rotate_checkpoints(output_dir, total_limit)
    path = Path(output_dir) / f"{CHECKPOINT_PREFIX}{step}"
    accelerator.save_state(str(path))
    return path


def resume_from_checkpoint(accelerator, output_dir: str | os.PathLike, checkpoint: str | None) -> int:
    """Loads a checkpoint into the accelerator's prepared objects and returns its global step (0 without one).

    Args:
        accelerator (`accelerate.Accelerator`): The run's accelerator, after `prepare` and
            `register_for_checkpointing`.
        output_dir (`str` or `os.PathLike`): The run's folder (where `"latest"` looks).
        checkpoint (`str`, *optional*): A checkpoint folder, `"latest"` (the highest step in `output_dir`), or
            `None` to start from step 0.

    Raises:
        ValueError: No such checkpoint (see [`find_checkpoint`]; nothing is loaded).

    Example:
        >>> import tempfile, torch
        >>> from accelerate import Accelerator
        >>> accelerator = Accelerator(cpu=True)
        >>> model = accelerator.prepare(torch.nn.Linear(2, 2))
        >>> out = tempfile.mkdtemp()
        >>> _ = save_checkpoint(accelerator, out, 5)
        >>> resume_from_checkpoint(accelerator, out, "latest")  # doctest: +ELLIPSIS
        Resuming from .../checkpoint-5
        5
    """
    if not checkpoint:
        return 0
    path = find_checkpoint(output_dir, checkpoint)
    step = checkpoint_step(path)
    accelerator.print(f"Resuming from {path}")
    accelerator.load_state(str(path))
    return step


# ------------------------------------------------------------------------------------------------ training loop


def train_loop(
    accelerator,
    model: torch.nn.Module,
    compute_loss: Callable[[int], tuple[torch.Tensor, dict[str, float]]],
    params: Iterable[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    lr_scheduler: Any,
    args: argparse.Namespace,
    global_step: int = 0,
    validate: Callable[[int], Any] | None = None,
) -> tuple[int, list[dict[str, float]], float]:
    """Runs optimizer steps from `global_step` to `args.max_train_steps`: accumulation, autocast, gradient clipping,
    the schedule, tracker logs, a tqdm bar with the losses, checkpoints every `args.checkpointing_steps` (rotated to
    `args.checkpoints_total_limit`) and `validate(step)` every `args.validation_steps` (main process).

    Args:
        accelerator (`accelerate.Accelerator`): The run's accelerator.
        model (`torch.nn.Module`): The prepared model (for gradient accumulation).
        compute_loss (`Callable[[int], tuple[torch.Tensor, dict]]`): One step's loss and its logs (keys starting with
            `"loss"` go to the progress bar), given the global step.
        params (`Iterable[torch.nn.Parameter]`): The trained parameters (clipped to `args.max_grad_norm`).
        optimizer, lr_scheduler: The prepared optimizer and schedule.
        args (`argparse.Namespace`): `max_train_steps`, `max_grad_norm`, `output_dir`, `checkpointing_steps`,
            `checkpoints_total_limit` and `validation_steps`.
        global_step (`int`, *optional*, defaults to 0): The step to start from (a resumed checkpoint's).
        validate (`Callable[[int], Any]`, *optional*): Called with the global step for a validation grid.

    Returns:
        `tuple[int, list[dict], float]`: The global step reached, the logs of every step run (with `"step"` and
        `"lr"`) and the seconds taken.

    Example:
        >>> import argparse, tempfile, torch
        >>> from accelerate import Accelerator
        >>> accelerator = Accelerator(cpu=True)
        >>> w = torch.nn.Linear(1, 1, bias=False)
        >>> optimizer = torch.optim.SGD(w.parameters(), lr=0.1)
        >>> schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        >>> w, optimizer, schedule = accelerator.prepare(w, optimizer, schedule)
        >>> args = argparse.Namespace(max_train_steps=3, max_grad_norm=1.0, output_dir=tempfile.mkdtemp(),
        ...                           checkpointing_steps=0, checkpoints_total_limit=None, validation_steps=0)
        >>> def loss_fn(step):
        ...     loss = (w(torch.ones(1)) - 1.0).pow(2).sum()
        ...     return loss, {"loss": loss.item()}
        >>> step, history, seconds = train_loop(accelerator, w, loss_fn, list(w.parameters()), optimizer, schedule, args)
        >>> step, [row["step"] for row in history]
        (3, [1, 2, 3])
    """
    params = list(params)
    progress = tqdm(
        range(args.max_train_steps), initial=global_step, desc="Steps", disable=not accelerator.is_local_main_process
    )
    start, history = time.time(), []
    while global_step < args.max_train_steps:
        with accelerator.accumulate(model):
            with accelerator.autocast():
                loss, logs = compute_loss(global_step)
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(params, args.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
        if accelerator.sync_gradients:
            global_step += 1
            progress.update(1)
            logs["lr"] = lr_scheduler.get_last_lr()[0]
            progress.set_postfix({k: round(v, 5) for k, v in logs.items() if k.startswith("loss")})
            accelerator.log(logs, step=global_step)
            history.append({"step": global_step, **logs})
            if (
                accelerator.is_main_process
                and args.checkpointing_steps
                and global_step % args.checkpointing_steps == 0
            ):
                save_checkpoint(accelerator, args.output_dir, global_step, args.checkpoints_total_limit)
            if (
                accelerator.is_main_process
                and validate
                and args.validation_steps
                and global_step % args.validation_steps == 0
            ):
                validate(global_step)
    progress.close()
    return global_step, history, time.time() - start


def log_validation_grid(accelerator, rows: dict[str, np.ndarray], output_dir: str | os.PathLike, step: int) -> Path:
    """Saves `rows` (prompt -> NHWC images in [0, 1]) as `output_dir/validation/step-<step>.png` and logs the images
    to TensorBoard / W&B when those trackers are on.

    Example:
        >>> import tempfile, types, numpy as np
        >>> rows = {"a red circle": np.zeros((2, 8, 8, 3))}
        >>> log_validation_grid(types.SimpleNamespace(trackers=[]), rows, tempfile.mkdtemp(), 7).name
        'step-7.png'
    """
    from .evaluation import save_comparison_grid

    path = save_comparison_grid(rows, Path(output_dir) / "validation" / f"step-{step}.png", title=f"step {step}")
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.writer.add_images("validation", np.concatenate(list(rows.values())), step, dataformats="NHWC")
        elif tracker.name == "wandb":
            import wandb

            tracker.log({"validation": [wandb.Image(str(path), caption=f"step {step}")]}, step=step)
    return path


# ------------------------------------------------------------------------------------------------ outputs


def run_info(
    method: str,
    concept: str,
    model_path: str,
    world: Any,
    config: dict[str, Any],
    num_processes: int,
    train_seconds: float,
    history: list[dict[str, float]],
    **extra: Any,
) -> dict[str, Any]:
    """The run record the scripts write next to their output (`<method>_config.json`).

    `base_model` is the world's id on the shapes world (its folder path would mean nothing elsewhere) and the model
    path or Hub id otherwise; `extra` keys (e.g. a mask's density) come after the config.

    Example:
        >>> info = run_info("esd", "red", "CompVis/stable-diffusion-v1-4", None, {"lr": 1e-5}, 1, 12.34, [{"loss": 1.0}])
        >>> info["base_model"], info["seconds_per_step"], info["final_logs"]
        ('CompVis/stable-diffusion-v1-4', 12.34, {'loss': 1.0})
    """
    return {
        "method": method,
        "concept": concept,
        "base_model": model_path if world is None else world.world_id,
        "world": None if world is None else {"world_id": world.world_id, "config_hash": world.config_hash},
        "config": config,
        **extra,
        "num_processes": num_processes,
        "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(train_seconds / max(1, len(history)), 4),
        "final_logs": history[-1] if history else {},
    }


def write_eval_results(output_dir: str | os.PathLike, results: dict, table: str, warnings: list[str]) -> None:
    """Writes `eval_results.json` and `eval_results.md` (the table, then one line per uninformative-table reason).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> write_eval_results(out, {"concept": "red"}, "| a |", ["every ASR is 0"])
        >>> (out / "eval_results.md").read_text()
        '| a |\\n\\n- Uninformative: every ASR is 0.\\n'
    """
    output_dir = Path(output_dir)
    (output_dir / "eval_results.json").write_text(json.dumps(results, indent=2))
    notes = "".join(f"\n- Uninformative: {w}." for w in warnings)
    (output_dir / "eval_results.md").write_text(table + "\n" + notes + ("\n" if notes else ""))


def card_metadata(
    library_name: str,
    tags: list[str],
    model_path: str,
    world: Any = None,
    result: dict[str, float] | None = None,
    model_name: str | None = None,
    concept: str | None = None,
) -> dict[str, Any]:
    """Standard Hub card metadata: `library_name`, `pipeline_tag`, tags, `base_model` (the Hub id trained from, or
    the shapes world's recorded id, which is also the card's dataset) and, with a `result`, a `model-index`.

    A local folder that is not a world gets no `base_model` (a path is not a Hub id).

    Example:
        >>> data = card_metadata("transformers", ["esd"], "CompVis/stable-diffusion-v1-4")
        >>> data["base_model"], data["pipeline_tag"]
        ('CompVis/stable-diffusion-v1-4', 'text-to-image')
    """
    data: dict[str, Any] = {"library_name": library_name, "pipeline_tag": "text-to-image", "tags": list(tags)}
    if world is not None:
        data["base_model"] = world.world_id
        data["datasets"] = [world.world_id]
    elif not os.path.isdir(model_path):
        data["base_model"] = model_path
    if result:
        from huggingface_hub import EvalResult

        data["model_name"] = model_name
        data["eval_results"] = [
            EvalResult(
                task_type="text-to-image",
                task_name=f"Concept erasure ({concept})",
                dataset_type="shapes-world",
                dataset_name=world.world_id,
                metric_type=key,
                metric_name=key,
                metric_value=float(result[key]),
            )
            for key in EVAL_METRICS
        ]
    return data


def push_output_dir(
    args: argparse.Namespace, output_dir: str | os.PathLike, repo_id: str, extra_ignore: Iterable[str] = ()
) -> str:
    """Uploads the run's folder to the Hub (`--hub_token`, `--hub_private`), leaving out checkpoints, tracker logs and
    validation grids (plus `extra_ignore`); returns the commit URL.

    Example:
        >>> import argparse
        >>> push_output_dir(argparse.Namespace(hub_token=None, hub_private=False), "out", "me/x")  # doctest: +SKIP
        'https://huggingface.co/me/x/commit/...'
    """
    from ..hub import push_to_hub

    return push_to_hub(
        output_dir,
        repo_id,
        token=args.hub_token,
        private=args.hub_private,
        commit_message="End of training",
        ignore_patterns=[*HUB_IGNORE_PATTERNS, *extra_ignore],
    )
