# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""`SalUnMask`: SalUn weight saliency inside any `transformers.Trainer`."""

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging

from .guard import SaliencyMaskGuard
from .mask import (
    _check_sparsity,
    check_saliency_mask,
    compute_saliency_mask,
    load_saliency_mask,
    mask_density,
    save_saliency_mask,
)


logger = logging.get_logger(__name__)

__all__ = ["MASK_FILE_NAME", "SalUnMask"]

MASK_FILE_NAME = "salun_mask.safetensors"


def _broadcast_mask(mask: dict[str, torch.Tensor] | None, model: nn.Module) -> dict[str, torch.Tensor]:
    """Sends rank 0's mask to every rank (other ranks pass `None`). Names/shapes come from the model."""
    import torch.distributed as dist

    names = [n for n, p in model.named_parameters() if p.requires_grad]  # the order compute_saliency_mask uses
    params = dict(model.named_parameters())
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    if dist.get_rank() == 0:
        if mask is None:
            raise RuntimeError("Rank 0 has no saliency mask to broadcast.")
        names = list(mask)
        flat = torch.cat([mask[n].flatten() for n in names]).to(torch.uint8).to(device)
        size = torch.tensor([flat.numel()], device=device)
    else:
        size = torch.zeros(1, dtype=torch.long, device=device)
    dist.broadcast(size, src=0)
    if dist.get_rank() != 0:
        flat = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
    dist.broadcast(flat, src=0)
    flat = flat.cpu().bool()
    if dist.get_rank() == 0:
        return mask
    if sum(params[n].numel() for n in names) != flat.numel():
        raise ValueError("The saliency mask broadcast from rank 0 does not fit this rank's model.")
    out, offset = {}, 0
    for n in names:
        out[n] = flat[offset : offset + params[n].numel()].view(params[n].shape)
        offset += params[n].numel()
    return out


class SalUnMask(TrainerCallback):
    """Restricts a `Trainer` run to the salient weights ([SalUn](https://huggingface.co/papers/2310.12508)).

    At the start of training the callback loads or computes a weight-saliency mask (see [`compute_saliency_mask`])
    and from then on keeps every non-salient weight **bit-identical** to its value at train begin: the gradients of
    those entries are masked *as they are computed* (a parameter hook, so the global-norm gradient clipping, gradient
    accumulation and the DDP all-reduce only see masked gradients), and after every optimizer step their values are
    written back and their optimizer state (momentum, Adam moments) zeroed, so neither weight decay (coupled or
    AdamW's decoupled) nor momentum can move them. Works with any `Trainer` subclass (e.g. the hf_unlearn LLM
    trainers: SimNPO + SalUn).

    Mask names are those of `model.named_parameters()` of the model given to the `Trainer`. For a **peft** model the
    mask covers the trainable adapter weights (the frozen base weights never move anyway). Note that LoRA's `B` starts
    at zero, so every `lora_A` saliency is zero at the start: with a fresh adapter the mask selects `lora_B` entries
    first. Under **DDP** (2+ processes) the mask is computed on rank 0 only and broadcast, so all ranks use the same
    mask. DeepSpeed and FSDP are rejected with a clear error (they step sharded master copies of the weights).

    Args:
        mask (`dict[str, torch.Tensor]`, `str` or `os.PathLike`, *optional*):
            A precomputed mask (parameter name -> 0/1 or boolean tensor, `True` = updatable) or the path of a
            safetensors file written by [`save_saliency_mask`]. Exclusive with `forget_dataset`.
        forget_dataset (`Dataset`, `list` or `DataLoader`, *optional*):
            Forget data to compute the mask from at train begin, with the trained model. Exclusive with `mask`.
        sparsity (`float`, *optional*, defaults to `0.5`):
            Fraction of weights kept updatable, in (0, 1] (SalUn's default `with_0.5` mask).
        loss_fn (`Callable[[nn.Module, Any], torch.Tensor]`, *optional*):
            Forgetting loss of one forget batch; defaults to the model's own loss (`model(**batch).loss`) for dict
            batches and cross-entropy for `(inputs, labels)` pairs.
        data_collator (`Callable`, *optional*):
            Collate function for `forget_dataset` (a padding collator for token sequences).
        batch_size (`int`, *optional*, defaults to `8`):
            Batch size for the saliency pass.
        include (`str` or `list[str]`, *optional*):
            Regular expressions on parameter names: only matching parameters are ranked; the others are frozen.
        exclude (`str` or `list[str]`, *optional*):
            Regular expressions on parameter names: matching parameters are not ranked and are frozen.
        save_path (`str` or `os.PathLike`, *optional*):
            Where to save the computed mask (safetensors, main process only). Never overwrites a file: a new run
            whose `save_path` exists is refused at train begin.

    Checkpoints and resume: with every checkpoint the mask in use is saved as `salun_mask.safetensors` in the
    checkpoint folder. A run resumed from a checkpoint (global step > 0 at train begin) restores that mask instead
    of recomputing it from the resumed weights (which would select other weights, so the resumed run would differ
    from an uninterrupted one); if the checkpoint has no mask, it falls back to `save_path`, and otherwise refuses
    with a clear error.

    Example:
        >>> import tempfile, torch
        >>> from torch.utils.data import Dataset
        >>> from transformers import Trainer, TrainingArguments
        >>> class Regressor(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.linear = torch.nn.Linear(4, 1)
        ...     def forward(self, x, labels=None):
        ...         return {"loss": ((self.linear(x).squeeze(-1) - labels) ** 2).mean()}
        >>> data = [{"x": torch.randn(4), "labels": torch.tensor(1.0)} for _ in range(8)]
        >>> model = Regressor()
        >>> before = model.linear.weight.detach().clone()
        >>> callback = SalUnMask(forget_dataset=data[:2], sparsity=0.5)
        >>> args = TrainingArguments(tempfile.mkdtemp(), max_steps=3, weight_decay=0.1, report_to="none", use_cpu=True)
        >>> _ = Trainer(model=model, args=args, train_dataset=data, callbacks=[callback]).train()  # doctest: +ELLIPSIS
        {...}
        >>> frozen = ~callback.mask["linear.weight"]
        >>> torch.equal(model.linear.weight.detach()[frozen], before[frozen])
        True
    """

    def __init__(
        self,
        mask: Mapping[str, torch.Tensor] | str | os.PathLike | None = None,
        *,
        forget_dataset: Any | None = None,
        sparsity: float = 0.5,
        loss_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
        data_collator: Callable[[list], Any] | None = None,
        batch_size: int = 8,
        include: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        save_path: str | os.PathLike | None = None,
    ):
        if (mask is None) == (forget_dataset is None):
            raise ValueError(
                "SalUnMask needs exactly one of `mask` (a precomputed mask or its safetensors path) and "
                "`forget_dataset` (to compute the mask at train begin)."
            )
        if isinstance(mask, (str, os.PathLike)):
            mask = load_saliency_mask(mask)
        elif mask is not None and not isinstance(mask, Mapping):
            raise TypeError(f"`mask` must be a dict of tensors or a safetensors path, got {type(mask).__name__}.")
        if forget_dataset is not None and hasattr(forget_dataset, "__len__") and len(forget_dataset) == 0:
            raise ValueError("`forget_dataset` is empty: saliency needs at least one forget example.")
        if forget_dataset is not None and loss_fn is None and hasattr(forget_dataset, "__getitem__"):
            first = forget_dataset[0]
            if isinstance(first, Mapping) and "labels" not in first:
                raise ValueError(
                    f"`forget_dataset` examples have no `labels` (keys: {sorted(first)}), so the default saliency "
                    "loss (the model's own loss) cannot be computed. Add `labels` to every forget example (e.g. "
                    "hf_unlearn.data.tokenize_qa), or pass `loss_fn=`."
                )
        self.sparsity = _check_sparsity(sparsity)
        self.mask: dict[str, torch.Tensor] | None = dict(mask) if mask is not None else None
        self.forget_dataset = forget_dataset
        self.loss_fn = loss_fn
        self.data_collator = data_collator
        self.batch_size = batch_size
        self.include = include
        self.exclude = exclude
        self.save_path = save_path
        self.guard: SaliencyMaskGuard | None = None

    def _resumed_mask(self, args: TrainingArguments, state: TrainerState) -> dict[str, torch.Tensor]:
        """The mask saved with the checkpoint this run resumed from (or at `save_path` by the first run)."""
        checkpoint = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}", MASK_FILE_NAME)
        for path in (checkpoint, self.save_path):
            if path is not None and os.path.isfile(path):
                logger.info(f"SalUnMask: resumed at step {state.global_step}; using the saved mask {path}.")
                return load_saliency_mask(path)
        raise ValueError(
            f"SalUnMask: this run resumes at global step {state.global_step}, but there is no saved mask at "
            f"{checkpoint}"
            + (f" or {self.save_path}" if self.save_path is not None else "")
            + ". Recomputing it from "
            "the resumed weights would pick other weights than the interrupted run did. Pass the first run's mask: "
            "SalUnMask(mask='path/to/salun_mask.safetensors')."
        )

    def _resolve_mask(self, model: nn.Module, args: TrainingArguments, state: TrainerState) -> dict[str, torch.Tensor]:
        import torch.distributed as dist

        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        is_main = not distributed or dist.get_rank() == 0
        if self.mask is not None:
            return check_saliency_mask(self.mask, model)
        if state.global_step > 0:
            return check_saliency_mask(self._resumed_mask(args, state), model)
        if self.save_path is not None and os.path.exists(self.save_path):
            raise FileExistsError(
                f"`save_path` {self.save_path} already exists; choose a new file (a mask is never overwritten), or "
                "pass it as `mask=` to reuse it."
            )
        mask = None
        if is_main:
            mask = compute_saliency_mask(
                model,
                self.forget_dataset,
                sparsity=self.sparsity,
                loss_fn=self.loss_fn,
                data_collator=self.data_collator,
                batch_size=self.batch_size,
                include=self.include,
                exclude=self.exclude,
            )
        if distributed:
            mask = _broadcast_mask(mask, model)
        if is_main and self.save_path is not None:
            save_saliency_mask(mask, self.save_path, metadata={"sparsity": self.sparsity})
        return check_saliency_mask(mask, model)

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        model = kwargs.get("model")
        if model is None:
            raise ValueError("SalUnMask needs the model: the Trainer passes it to callbacks as `model`.")
        if getattr(args, "deepspeed", None) or getattr(args, "fsdp", None):
            raise ValueError(
                "SalUnMask does not support DeepSpeed or FSDP (they shard parameters and step their own master "
                "copies, so frozen weights cannot be kept bit-identical). Use DDP (`accelerate launch --multi_gpu`) "
                "or a single process."
            )
        if self.guard is not None:
            self.guard.remove()
        self.mask = self._resolve_mask(model, args, state)
        optimizer = kwargs.get("optimizer")
        self.guard = SaliencyMaskGuard(model, self.mask, optimizer=None).attach()
        if optimizer is not None:
            self.guard.restore(optimizer)
        logger.info(
            f"SalUnMask: {mask_density(self.mask):.1%} of {len(self.mask)} parameter tensors' weights are updatable."
        )

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        folder = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        if self.mask is not None and state.is_world_process_zero and os.path.isdir(folder):
            path = os.path.join(folder, MASK_FILE_NAME)
            if os.path.exists(path):  # left by an interrupted save of this checkpoint, which is being rewritten
                os.remove(path)
            save_saliency_mask(self.mask, path, metadata={"sparsity": self.sparsity})

    def on_pre_optimizer_step(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.guard is not None:
            self.guard.mask_gradients()

    def on_optimizer_step(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.guard is not None:
            self.guard.restore(kwargs.get("optimizer"))

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.guard is not None:
            self.guard.restore(kwargs.get("optimizer"))
            self.guard.remove()
            self.guard = None
