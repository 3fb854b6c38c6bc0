# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Run safety for the unlearning trainers: output folders, complete checkpoints, atomic saves, finite weights.

- [`check_output_dir`]: refuse to train into a folder that already holds another run's checkpoints or model, unless
  the user resumes or asks to overwrite (`overwrite_output_dir=True`).
- [`mark_checkpoint_pending`] / [`write_checkpoint_marker`] / [`is_complete_checkpoint`] /
  [`last_complete_checkpoint`]: a checkpoint is marked pending before its first file is written, and complete once
  every rank and callback has written its files and a marker listing them (with sizes) replaces the pending mark; a
  kill during saving leaves it pending (or with missing / truncated files), and resume skips it with a warning.
- [`atomic_folder`]: final saves are written to a staging folder and published with renames, so a kill while
  saving leaves the previous content intact (and a staging folder that the next save removes).
- [`non_finite_parameters`] and [`NonFiniteGuard`]: no non-finite update reaches the weights, and no non-finite
  weights are written.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback
from transformers.utils import logging


logger = logging.get_logger(__name__)

__all__ = [
    "CHECKPOINT_MARKER",
    "CHECKPOINT_PENDING",
    "RUN_MARKER",
    "NonFiniteGuard",
    "atomic_folder",
    "check_output_dir",
    "claim_output_dir",
    "is_complete_checkpoint",
    "last_complete_checkpoint",
    "mark_checkpoint_pending",
    "non_finite_parameters",
    "write_checkpoint_marker",
]

CHECKPOINT_MARKER = "checkpoint_complete.json"
CHECKPOINT_PENDING = "checkpoint_saving"
RUN_MARKER = "hf_unlearn_run.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
_TRAINER_STATE = "trainer_state.json"
# Files a trainer writes into its output folder: their presence means another run's results would be overwritten.
_RUN_FILES = ("trainer_state.json", "training_args.bin", "config.json", "adapter_config.json", RUN_MARKER)
_WEIGHTS_RE = re.compile(r"^(model|adapter_model|pytorch_model)(-\d+-of-\d+)?\.(safetensors|bin)(\.index\.json)?$")
_STAGING_SUFFIX = ".saving"


def _files_with_sizes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (CHECKPOINT_MARKER, CHECKPOINT_PENDING)
    }


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def mark_checkpoint_pending(folder: str | os.PathLike) -> Path:
    """Marks a checkpoint folder as being written (before any of its files): until [`write_checkpoint_marker`]
    replaces this mark, the checkpoint is incomplete, whatever files it already holds.

    Args:
        folder (`str` or `os.PathLike`): The checkpoint folder (created if missing).

    Returns:
        `Path`: The mark's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CHECKPOINT_MARKER).unlink(missing_ok=True)  # an earlier save of this folder no longer describes it
    pending = folder / CHECKPOINT_PENDING
    pending.touch()
    return pending


def write_checkpoint_marker(folder: str | os.PathLike, global_step: int) -> Path:
    """Marks a checkpoint folder complete: writes `checkpoint_complete.json` listing every file and its size.

    Call it once every process has written its part of the checkpoint (the marker is written atomically).

    Args:
        folder (`str` or `os.PathLike`): The checkpoint folder (`<output_dir>/checkpoint-<step>`).
        global_step (`int`): The optimizer step the checkpoint holds.

    Returns:
        `Path`: The marker's path.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp()) / "checkpoint-3"
        >>> folder.mkdir()
        >>> _ = (folder / "model.safetensors").write_bytes(b"weights")
        >>> is_complete_checkpoint(folder)  # a kill before the trainer state was written
        False
        >>> _ = (folder / "trainer_state.json").write_text('{"global_step": 3}')
        >>> _ = write_checkpoint_marker(folder, 3)
        >>> is_complete_checkpoint(folder)
        True
        >>> _ = (folder / "model.safetensors").write_bytes(b"weig")  # truncated by a kill while rewriting it
        >>> is_complete_checkpoint(folder)
        False
    """
    folder = Path(folder)
    marker = folder / CHECKPOINT_MARKER
    _write_json_atomic(marker, {"global_step": int(global_step), "files": _files_with_sizes(folder)})
    (folder / CHECKPOINT_PENDING).unlink(missing_ok=True)
    return marker


def _incomplete_reason(folder: Path) -> str | None:
    """Why `folder` is not a complete checkpoint, or None if it is."""
    if not folder.is_dir():
        return "no such folder"
    if (folder / CHECKPOINT_PENDING).exists():
        return "its save did not finish"
    marker = folder / CHECKPOINT_MARKER
    if marker.is_file():
        try:
            listed = json.loads(marker.read_text(encoding="utf-8"))["files"]
        except (ValueError, KeyError, TypeError):
            return f"its {CHECKPOINT_MARKER} is unreadable"
        for name, size in listed.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, {size} were written"
        return None
    # A checkpoint written by a plain transformers Trainer (no marker): its trainer state is written after the
    # weights, optimizer and scheduler, so a readable state and a weights file mean the save finished.
    try:
        json.loads((folder / _TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"it has no readable {_TRAINER_STATE} (and no {CHECKPOINT_MARKER})"
    if not any(_WEIGHTS_RE.match(p.name) for p in folder.iterdir()):
        return "it has no model weights file"
    return None


def is_complete_checkpoint(folder: str | os.PathLike) -> bool:
    """Whether `folder` is a checkpoint whose save finished (see [`write_checkpoint_marker`]).

    Args:
        folder (`str` or `os.PathLike`): A `checkpoint-<step>` folder.

    Returns:
        `bool`: True if every file listed by its marker is there with its written size (for a checkpoint without
        marker, written by a plain `Trainer`: a readable `trainer_state.json` and a weights file).
    """
    return _incomplete_reason(Path(folder)) is None


def last_complete_checkpoint(output_dir: str | os.PathLike) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest complete `checkpoint-<step>` folder of `output_dir`, and the newer incomplete ones it skipped.

    Args:
        output_dir (`str` or `os.PathLike`): A run's output folder.

    Returns:
        `tuple`: `(checkpoint or None, [(skipped checkpoint, why it is incomplete), ...])`.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None, []
    found = sorted(
        (int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))
    )
    skipped = []
    for _, path in reversed(found):
        reason = _incomplete_reason(path)
        if reason is None:
            return path, skipped
        skipped.append((path, reason))
    return None, skipped


def check_output_dir(
    output_dir: str | os.PathLike, overwrite_output_dir: bool = False, resume_from_checkpoint: Any = None
) -> None:
    """Refuses to train into a folder that holds another run's checkpoints or model (which would be overwritten).

    Args:
        output_dir (`str` or `os.PathLike`): The run's output folder.
        overwrite_output_dir (`bool`, *optional*, defaults to `False`): Allow writing over an earlier run.
        resume_from_checkpoint (`bool` or `str`, *optional*): A resumed run continues its own folder.

    Raises:
        `FileExistsError`: The folder holds `checkpoint-*` folders or a saved model / trainer state, and the run
            neither resumes nor sets `overwrite_output_dir=True`.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> out = Path(tempfile.mkdtemp())
        >>> check_output_dir(out)  # empty: fine
        >>> (out / "checkpoint-10").mkdir()
        >>> check_output_dir(out, resume_from_checkpoint=True)  # resuming: fine
        >>> check_output_dir(out)
        Traceback (most recent call last):
        ...
        FileExistsError: output_dir ... already holds checkpoint-10 ...
    """
    if overwrite_output_dir or resume_from_checkpoint:
        return
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return
    taken = sorted(
        p.name
        for p in output_dir.iterdir()
        if ((p.is_dir() and _CHECKPOINT_RE.match(p.name)) or p.name in _RUN_FILES or _WEIGHTS_RE.match(p.name))
        and not (p.name == RUN_MARKER and _claimed_by_this_process(p))
    )
    if taken:
        shown = ", ".join(taken[:4]) + (f" and {len(taken) - 4} more" if len(taken) > 4 else "")
        raise FileExistsError(
            f"output_dir {output_dir} already holds {shown} from another run; training would overwrite them. "
            "Choose a new output_dir, resume that run with resume_from_checkpoint=True (--resume_from_checkpoint "
            "true), or set overwrite_output_dir=True (--overwrite_output_dir) to write over it."
        )


def _claimed_by_this_process(marker: Path) -> bool:
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        return False


def claim_output_dir(
    output_dir: str | os.PathLike, overwrite_output_dir: bool = False, resume_from_checkpoint: Any = None
) -> Path:
    """[`check_output_dir`], then marks the folder as taken by this run (`hf_unlearn_run.json`, with this pid).

    A second job started with the same `output_dir` is then refused even before the first one writes a checkpoint.
    Call it on the main process only.

    Args:
        output_dir (`str` or `os.PathLike`): The run's output folder (created if missing).
        overwrite_output_dir (`bool`, *optional*, defaults to `False`): Allow writing over an earlier run.
        resume_from_checkpoint (`bool` or `str`, *optional*): A resumed run continues its own folder.

    Returns:
        `Path`: The marker's path.

    Example:
        >>> import tempfile
        >>> out = tempfile.mkdtemp()
        >>> _ = claim_output_dir(out)
        >>> _ = claim_output_dir(out)  # the same process may claim again
        >>> check_output_dir(out)  # another job (another pid) would get a FileExistsError here
    """
    check_output_dir(output_dir, overwrite_output_dir, resume_from_checkpoint)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    marker = output_dir / RUN_MARKER
    if not _claimed_by_this_process(marker):
        _write_json_atomic(marker, {"pid": os.getpid(), "resumed": bool(resume_from_checkpoint)})
    return marker


def _staging(final: Path) -> Path:
    return final.with_name(final.name + _STAGING_SUFFIX)


def _publish(staging: Path, final: Path) -> None:
    """Moves a complete staging folder to `final` with renames (atomic per file; whole-folder if `final` is new)."""
    if not final.exists():
        os.replace(staging, final)
        return
    written = {p.name for p in staging.iterdir()}
    for path in sorted(staging.iterdir()):
        target = final / path.name
        if path.is_dir() and target.is_dir():
            shutil.rmtree(target)
        os.replace(path, target)
    for old in final.iterdir():  # weights of an earlier save that this one does not have (e.g. other shard counts)
        if old.is_file() and _WEIGHTS_RE.match(old.name) and old.name not in written:
            old.unlink()
    staging.rmdir()


@contextmanager
def atomic_folder(final: str | os.PathLike, is_main_process: bool = True) -> Iterator[Path]:
    """Yields a staging folder to write a model into; on success its content replaces `final` by renames.

    A kill while writing leaves `final` exactly as it was (and `<final>.saving`, removed by the next save). Call it on
    every process (the main process publishes; synchronise processes around it in multi-process runs).

    Args:
        final (`str` or `os.PathLike`): The folder the model should end up in.
        is_main_process (`bool`, *optional*, defaults to `True`): Whether this process removes leftovers and
            publishes.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> final = Path(tempfile.mkdtemp()) / "model"
        >>> with atomic_folder(final) as staging:
        ...     _ = (staging / "config.json").write_text("{}")
        >>> sorted(p.name for p in final.iterdir()), final.with_name("model.saving").exists()
        (['config.json'], False)
    """
    final = Path(final)
    staging = _staging(final)
    if is_main_process:
        if staging.exists():
            logger.warning(f"Removing {staging}, left by an interrupted save.")
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    yield staging
    if is_main_process:
        _publish(staging, final)


def non_finite_parameters(model: nn.Module, limit: int = 5) -> list[str]:
    """Names of (up to `limit`) parameters holding NaN or inf.

    Args:
        model (`nn.Module`): The model.
        limit (`int`, *optional*, defaults to `5`): Stop after this many names.

    Returns:
        `list[str]`: Parameter names; empty if every weight is finite.

    Example:
        >>> import torch
        >>> layer = torch.nn.Linear(2, 1)
        >>> non_finite_parameters(layer)
        []
        >>> with torch.no_grad():
        ...     layer.bias.fill_(float("nan"))
        Parameter containing:
        tensor([nan], requires_grad=True)
        >>> non_finite_parameters(layer)
        ['bias']
    """
    params = [(n, p) for n, p in model.named_parameters() if p.numel()]
    if not params:
        return []
    finite = torch.stack([torch.isfinite(p.detach()).all() for _, p in params]).cpu()
    return [n for (n, _), ok in zip(params, finite.tolist(), strict=True) if not ok][:limit]


class NonFiniteGuard(TrainerCallback):
    """Stops training before a non-finite update reaches the weights.

    Before each optimizer step it checks the gradients (after clipping, and after the DDP all-reduce, so every rank
    decides alike; not under fp16, whose gradient scaler skips such steps itself) and the learning rates; after each
    step it checks the weights. On a non-finite value it raises
    `FloatingPointError` naming the step, the fix and where the last finite weights are. The unlearning trainers add
    it themselves; it also works with any `Trainer`.

    Example:
        >>> import tempfile, torch
        >>> from transformers import Trainer, TrainingArguments
        >>> class Regressor(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.linear = torch.nn.Linear(2, 1)
        ...     def forward(self, x, labels=None):
        ...         return {"loss": ((self.linear(x).squeeze(-1) - labels) ** 2).mean() * float("inf")}
        >>> data = [{"x": torch.ones(2), "labels": torch.tensor(1.0)}] * 4
        >>> args = TrainingArguments(tempfile.mkdtemp(), max_steps=2, report_to="none", use_cpu=True)
        >>> trainer = Trainer(Regressor(), args, train_dataset=data, callbacks=[NonFiniteGuard()])
        >>> trainer.train()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FloatingPointError: non-finite gradients before optimizer step 1. The step was not applied...
    """

    _FIX = (
        "Lower learning_rate, keep max_grad_norm clipping on (> 0), check bf16/fp16 overflow, and check the data for "
        "empty answers."
    )

    def on_pre_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
        if optimizer is not None:
            for group in optimizer.param_groups:
                lr = group.get("lr")
                if lr is not None and not math.isfinite(float(lr)):
                    raise FloatingPointError(
                        f"learning rate {lr} before optimizer step {state.global_step + 1}: the update would make "
                        "every weight non-finite. It was not applied; the model holds its last finite weights. Set "
                        "learning_rate to a finite positive value."
                    )
        if getattr(args, "fp16", False):  # fp16's gradient scaler skips steps with inf gradients by design
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None] if model is not None else []
        if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
            raise FloatingPointError(
                f"non-finite gradients before optimizer step {state.global_step + 1}. The step was not applied; the "
                f"model holds its last finite weights. {self._FIX}"
            )

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        bad = non_finite_parameters(model) if model is not None else []
        if bad:
            raise FloatingPointError(
                f"optimizer step {state.global_step + 1} made weights non-finite ({', '.join(bad)}) from finite "
                "gradients (an overflow in the update). Training stopped; no non-finite weights are saved, the last "
                f"saved checkpoint (if any) holds finite weights: resume from it. {self._FIX}"
            )
