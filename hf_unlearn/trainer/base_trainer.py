# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The shared base of the LLM unlearning trainers: forget/retain batches, reference models, metrics, model cards.

A method subclasses [`UnlearnTrainer`] and implements one function, `forget_loss`, from the forget answers'
log-probabilities; everything else (retain term, reference model in its three forms, logging, NaN guard, evaluation
with the same loss, LoRA, model cards) lives here.
"""

from __future__ import annotations

import copy
import gc
import math
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer, TrainerCallback
from transformers.utils import logging

from ..data.templates import IGNORE_INDEX
from ..data.unlearn import ForgetRetainCollator, ForgetRetainDataset
from .base_config import UnlearnConfig
from .inputs import check_vocabulary, prepare_unlearning_dataset
from .losses import kl_divergence, mean_sequence_nll, sequence_log_probs
from .model_card import ModelCardMixin
from .safety import (
    NonFiniteGuard,
    atomic_folder,
    claim_output_dir,
    is_complete_checkpoint,
    last_complete_checkpoint,
    mark_checkpoint_pending,
    non_finite_parameters,
    write_checkpoint_marker,
)


logger = logging.get_logger(__name__)

__all__ = ["UnlearnTrainer"]


def _is_peft_model(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return False
    return isinstance(model, PeftModel)


class _PairingEpochCallback(TrainerCallback):
    """Moves forget/retain datasets to the epoch's retain permutation at every epoch start (resume-safe)."""

    def __init__(self, datasets: list[ForgetRetainDataset]) -> None:
        self.datasets = datasets

    def on_epoch_begin(self, args, state, control, **kwargs):
        epoch = math.floor((state.epoch or 0.0) + 1e-6)
        for ds in self.datasets:
            ds.set_epoch(epoch)


class _CheckpointMarker(TrainerCallback):
    """Marks each checkpoint complete once every process (and every other callback's `on_save`) has written it."""

    def on_save(self, args, state, control, **kwargs):
        from accelerate import PartialState

        PartialState().wait_for_everyone()
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_checkpoint_marker(folder, state.global_step)
        PartialState().wait_for_everyone()


class UnlearnTrainer(ModelCardMixin, Trainer):
    """Base trainer for LLM unlearning: `loss = forget_weight * forget_loss + retain_weight * retain_loss`.

    Subclasses set `_name`, `_paper`, `config_class`, `requires_reference` and implement
    [`~UnlearnTrainer.forget_loss`]. Batches are `{"forget": {...}, "retain": {...}}` dicts produced by
    [`~hf_unlearn.data.ForgetRetainDataset`] and [`~hf_unlearn.data.ForgetRetainCollator`].

    Reference model (methods with `requires_reference=True`, or `retain_loss_type="kl"`), in order of precedence:

    1. `args.precompute_ref_log_probs=True`: the reference log-probs of every forget example are computed once
       before training (with `ref_model`, else the adapter-disabled base of a peft model, else the model as given),
       stored in the dataset, and no reference model is kept.
    2. `ref_model` given: that model, frozen and prepared by accelerate (`evaluation_mode=True`, or the DeepSpeed /
       FSDP equivalents).
    3. A peft model: the base model with adapters disabled; no copy is made.
    4. Otherwise a frozen copy of the model (under DeepSpeed ZeRO-3, reloaded from `model.name_or_path` so it is
       sharded too), prepared as in 2.

    Args:
        model (`PreTrainedModel`, `PeftModel` or `str`): The model to unlearn from, or a path / Hub id.
        args ([`UnlearnConfig`], *optional*): The method's config; defaults to `config_class(output_dir=...)`.
        train_dataset (`DatasetDict` or [`~hf_unlearn.data.ForgetRetainDataset`]): The forget/retain data: a
            `DatasetDict(forget=..., retain=...)` (or a dict of two `datasets.Dataset`s) in TRL's standard formats
            (prompt-completion, conversational `messages`, `question`/`answer`, plain `text`), tokenised with
            `processing_class`, cut to `args.max_length` and paired by the trainer; or an explicit
            `ForgetRetainDataset`.
        eval_dataset (same types as `train_dataset`, *optional*): Evaluated with the training loss.
        processing_class (`PreTrainedTokenizerBase`, *optional*): The tokenizer (its pad id is used for padding and
            it is saved with the model).
        data_collator (`Callable`, *optional*): Defaults to [`~hf_unlearn.data.ForgetRetainCollator`].
        ref_model (`PreTrainedModel` or `str`, *optional*): An explicit reference model (must not be `model`).
        peft_config (`peft.PeftConfig`, *optional*): Wrap `model` with this adapter config (LoRA unlearning).
        callbacks (`list[TrainerCallback]`, *optional*): Extra callbacks.
        optimizers (`tuple`, *optional*): `(optimizer, scheduler)` as in [`~transformers.Trainer`].
    """

    _tag_names: ClassVar[tuple[str, ...]] = ("hf_unlearn", "unlearning")
    _name: str = "Unlearning"
    _paper: ClassVar[dict[str, str]] = {}
    config_class: type[UnlearnConfig] = UnlearnConfig
    requires_reference: bool = False

    def __init__(
        self,
        model: PreTrainedModel | nn.Module | str,
        args: UnlearnConfig | None = None,
        train_dataset: ForgetRetainDataset | Mapping[str, Any] | None = None,
        eval_dataset: ForgetRetainDataset | Mapping[str, Any] | None = None,
        processing_class: Any = None,
        data_collator: Any = None,
        ref_model: PreTrainedModel | nn.Module | str | None = None,
        peft_config: Any = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple[Any, Any] = (None, None),
    ) -> None:
        if type(self).forget_loss is UnlearnTrainer.forget_loss:
            raise TypeError(f"{type(self).__name__} must implement `forget_loss` (UnlearnTrainer is a base class).")
        if isinstance(model, str):
            model = self._load_model(model)
        if args is None:
            name = getattr(getattr(model, "config", None), "_name_or_path", "") or "model"
            args = self.config_class(output_dir=f"{Path(name).name}-{self._name}")
        if not isinstance(args, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs args of type {self.config_class.__name__} (got {type(args).__name__}); "
                f"build it with {self.config_class.__name__}(output_dir=..., ...)."
            )
        if ref_model is not None and ref_model is model:
            raise ValueError(
                "`ref_model` is the same object as `model`. Pass a separate copy, or pass `ref_model=None` to let "
                "the trainer make a frozen copy (or use the adapter-disabled base of a peft model)."
            )
        if isinstance(ref_model, str):
            ref_model = self._load_model(ref_model)

        # ---- LoRA / peft ------------------------------------------------------------------------------------
        if peft_config is not None:
            if _is_peft_model(model):
                raise ValueError(
                    "`model` is already a PeftModel and `peft_config` was given too; pass only one of them."
                )
            from peft import get_peft_model

            model = get_peft_model(model, peft_config)
        if _is_peft_model(model) and (getattr(args, "activation_checkpointing", False) or args.gradient_checkpointing):
            # Without this, LoRA weights after a checkpointed block get no gradient (open-unlearning #178).
            model.enable_input_require_grads()

        # ---- data ---------------------------------------------------------------------------------------------
        train_dataset = prepare_unlearning_dataset(train_dataset, "train_dataset", model, processing_class, args)
        eval_dataset = prepare_unlearning_dataset(eval_dataset, "eval_dataset", model, processing_class, args)
        for name, ds in (("train_dataset", train_dataset), ("eval_dataset", eval_dataset)):
            if ds is not None and args.uses_retain and not ds.has_retain:
                raise ValueError(
                    f"{name} has no retain examples but the loss has a retain term (retain_weight="
                    f"{args.retain_weight}, retain_loss_type={args.retain_loss_type!r}). Pass a retain set, or set "
                    "retain_weight=0 / retain_loss_type='none'."
                )
        check_vocabulary(model, processing_class, [ds for ds in (train_dataset, eval_dataset) if ds is not None])
        if data_collator is None:
            data_collator = ForgetRetainCollator(pad_token_id=self._pad_token_id(model, processing_class))

        # ---- reference model ----------------------------------------------------------------------------------
        needs_ref = self.requires_reference or (args.uses_retain and args.retain_loss_type == "kl")
        if args.precompute_ref_log_probs and not self.requires_reference:
            raise ValueError(
                f"precompute_ref_log_probs=True has no effect for {type(self).__name__}: its forget loss uses no "
                "reference model. Drop the flag."
            )
        self.ref_mode: str | None = None
        if needs_ref:
            if args.precompute_ref_log_probs:
                self.ref_mode = "precomputed"
            elif ref_model is not None:
                self.ref_mode = "model"
            elif _is_peft_model(model):
                self.ref_mode = "adapter"
            else:
                self.ref_mode = "model"
                ref_model = self._copy_reference(model)
        elif ref_model is not None:
            logger.warning(f"{type(self).__name__} does not use a reference model; `ref_model` is ignored.")
            ref_model = None

        super().__init__(
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            callbacks=callbacks,
            optimizers=optimizers,
        )
        # Our loss is a mean over sequences with nested batches: let Trainer divide by accumulation steps.
        self.model_accepts_loss_kwargs = False
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}

        if args.disable_dropout:
            from trl.trainer.utils import disable_dropout_in_model

            disable_dropout_in_model(self.model)
            if ref_model is not None:
                disable_dropout_in_model(ref_model)

        self.ref_model: nn.Module | None = None
        if ref_model is not None:
            ref_model.requires_grad_(False)
            ref_model.eval()
            if self.ref_mode == "precomputed":  # used once below, then dropped: not registered with accelerate
                self.ref_model = ref_model.to(self.args.device)
            else:
                self.ref_model = self._prepare_reference(ref_model)

        if self.ref_mode == "precomputed":
            from transformers.integrations import is_deepspeed_zero3_enabled

            if is_deepspeed_zero3_enabled():
                raise ValueError(
                    "precompute_ref_log_probs=True is not supported under DeepSpeed ZeRO-3 (the weights are only "
                    "gathered inside the DeepSpeed engine); drop the flag to use a sharded reference copy."
                )
            done: list[ForgetRetainDataset] = []
            for ds in (train_dataset, eval_dataset):  # always recomputed: a dataset may come from another trainer
                if ds is not None and not any(ds is d for d in done):
                    ds.set_ref_log_probs(self.compute_ref_log_probs(ds))
                    done.append(ds)
            self.ref_model = None  # released: nothing but the cached log-probs is needed from now on
            del ref_model

        pairing = [ds for ds in (train_dataset, eval_dataset) if isinstance(ds, ForgetRetainDataset)]
        if pairing:
            self.add_callback(_PairingEpochCallback(pairing))
        self.add_callback(NonFiniteGuard())

    # ------------------------------------------------------------------------------------------------------------
    # construction helpers
    @staticmethod
    def _load_model(path: str) -> PreTrainedModel:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(path, dtype="auto")

    @staticmethod
    def _pad_token_id(model: Any, processing_class: Any) -> int:
        for source in (processing_class, getattr(model, "config", None)):
            pad = getattr(source, "pad_token_id", None)
            if pad is not None:
                return int(pad)
        for source in (processing_class, getattr(model, "config", None)):
            eos = getattr(source, "eos_token_id", None)
            if isinstance(eos, list):
                eos = eos[0] if eos else None
            if eos is not None:
                return int(eos)  # padding positions are masked (attention 0, labels -100), so any id works
        raise ValueError(
            "cannot pad batches: neither the tokenizer (processing_class) nor the model config has a pad or eos "
            "token. Pass `processing_class=tokenizer` with `tokenizer.pad_token` set."
        )

    def _copy_reference(self, model: nn.Module) -> nn.Module:
        """A frozen copy of the pre-unlearning model (reloaded, so it is sharded too, under DeepSpeed ZeRO-3)."""
        from transformers.integrations import is_deepspeed_zero3_enabled

        if is_deepspeed_zero3_enabled():
            name = getattr(getattr(model, "config", None), "_name_or_path", "")
            if not name:
                raise ValueError(
                    "under DeepSpeed ZeRO-3 the reference model is reloaded from `model.config._name_or_path`, which "
                    "is empty. Pass `ref_model=<path>`, or unlearn a peft (LoRA) model."
                )
            return self._load_model(name)
        ref = copy.deepcopy(model)
        ref.requires_grad_(False)
        return ref.eval()

    def _prepare_reference(self, ref_model: nn.Module) -> nn.Module:
        if self.is_deepspeed_enabled:
            from trl.models.utils import prepare_deepspeed

            return prepare_deepspeed(ref_model, self.accelerator)
        if self.is_fsdp_enabled:
            from trl.models.utils import prepare_fsdp

            return prepare_fsdp(ref_model, self.accelerator)
        return self.accelerator.prepare_model(ref_model, evaluation_mode=True)

    # ------------------------------------------------------------------------------------------------------------
    # forwards
    @staticmethod
    def _concat(batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Right-pads several batches to one length and stacks them (one forward instead of several)."""
        if len(batches) == 1:
            return {k: batches[0][k] for k in ("input_ids", "attention_mask", "labels")}
        length = max(b["input_ids"].shape[1] for b in batches)
        out: dict[str, list[torch.Tensor]] = {"input_ids": [], "attention_mask": [], "labels": []}
        for b in batches:
            pad = length - b["input_ids"].shape[1]
            out["input_ids"].append(nn.functional.pad(b["input_ids"], (0, pad), value=0))
            out["attention_mask"].append(nn.functional.pad(b["attention_mask"], (0, pad), value=0))
            out["labels"].append(nn.functional.pad(b["labels"], (0, pad), value=IGNORE_INDEX))
        return {k: torch.cat(v, dim=0) for k, v in out.items()}

    def _forward_logits(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> list[torch.Tensor]:
        """Logits of each batch, from one forward over their concatenation."""
        joint = self._concat(batches)
        logits = model(input_ids=joint["input_ids"], attention_mask=joint["attention_mask"], use_cache=False).logits
        sizes = [b["input_ids"].shape[0] for b in batches]
        return [
            chunk[:, : b["input_ids"].shape[1]]
            for chunk, b in zip(torch.split(logits, sizes, dim=0), batches, strict=True)
        ]

    @contextmanager
    def _reference_context(self, model: nn.Module) -> Iterator[nn.Module]:
        """Yields the module that computes reference outputs (under `no_grad`)."""
        with torch.no_grad():
            if self.ref_model is not None:
                yield self.ref_model
            elif self.ref_mode == "adapter" or (
                self.ref_mode == "precomputed" and _is_peft_model(self._unwrap(model))
            ):
                peft_model = self._unwrap(model)
                with peft_model.disable_adapter():
                    yield peft_model
            elif self.ref_mode == "precomputed":
                yield model
            else:
                raise ValueError(
                    f"{type(self).__name__} needs a reference model but has none (mode={self.ref_mode!r}); this "
                    "happens with precompute_ref_log_probs=True and a batch that lacks `ref_log_probs`, or with "
                    "retain_loss_type='kl' after the reference was released. Rebuild the trainer."
                )

    def _unwrap(self, model: nn.Module) -> nn.Module:
        return self.accelerator.unwrap_model(model) if hasattr(self, "accelerator") else model

    def reference_log_probs(self, model: nn.Module, forget: dict[str, torch.Tensor]) -> torch.Tensor:
        """Summed reference log-probs of the forget answers: cached if precomputed, else a no-grad forward."""
        if self.ref_mode == "precomputed":
            if "ref_log_probs" not in forget:
                raise ValueError(
                    "precompute_ref_log_probs=True but the batch has no `ref_log_probs`: pass the datasets to the "
                    "trainer (train_dataset / eval_dataset) so their reference log-probs are computed at start."
                )
            return forget["ref_log_probs"].to(torch.float32)
        with self._reference_context(model) as ref:
            logits = self._forward_logits(ref, [forget])[0]
            return sequence_log_probs(logits, forget["labels"])[0]

    @torch.no_grad()
    def compute_ref_log_probs(self, dataset: ForgetRetainDataset, batch_size: int | None = None) -> torch.Tensor:
        """Reference log-probabilities of every forget example of `dataset` (every rank computes all of them).

        Args:
            dataset ([`~hf_unlearn.data.ForgetRetainDataset`]): The paired dataset.
            batch_size (`int`, *optional*): Defaults to `args.per_device_eval_batch_size`.

        Returns:
            `torch.Tensor`: `(len(dataset),)` summed log-probs of the forget answers.
        """
        from tqdm.auto import tqdm

        model = self.model
        was_training = model.training
        model.eval()
        batch_size = batch_size or self.args.per_device_eval_batch_size
        collate = self.data_collator
        values = []
        try:
            starts = range(0, len(dataset.forget), batch_size)
            for start in tqdm(
                starts, desc="Precomputing reference log-probs", disable=not self.is_world_process_zero()
            ):
                rows = [{"forget": dataset.forget[i]} for i in range(start, min(start + batch_size, len(dataset)))]
                with self._reference_context(model) as ref:
                    device = next(ref.parameters()).device
                    forget = {k: v.to(device) for k, v in collate(rows)["forget"].items()}
                    logits = self._forward_logits(ref, [forget])[0]
                values.append(sequence_log_probs(logits, forget["labels"])[0].float().cpu())
        finally:
            model.train(was_training)
        return torch.cat(values)

    # ------------------------------------------------------------------------------------------------------------
    # loss
    def forget_loss(
        self, model: nn.Module, forget: dict[str, torch.Tensor], log_probs: torch.Tensor, num_tokens: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The method's forget term (before `forget_weight`) and any extra metrics (per-sequence or scalar tensors).

        Args:
            model (`nn.Module`): The (wrapped) model, for methods that need more forwards.
            forget (`dict`): The forget batch (`input_ids`, `attention_mask`, `labels`, `index`, ...).
            log_probs (`torch.Tensor`): `(batch,)` summed log-probs of the forget answers under the model.
            num_tokens (`torch.Tensor`): `(batch,)` number of answer tokens.
        """
        raise TypeError(f"{type(self).__name__} is abstract: subclasses implement `forget_loss`.")

    def retain_loss(self, model: nn.Module, retain: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        """The retain term: mean per-sequence NLL of the retain answers, or the KL from the reference."""
        if self.args.retain_loss_type == "nll":
            return mean_sequence_nll(logits, retain["labels"])
        with self._reference_context(model) as ref:
            ref_logits = self._forward_logits(ref, [retain])[0]
        # KL over every real token of the retain sequence (prompt and answer), as in TOFU's KL baseline.
        full_labels = retain["input_ids"].masked_fill(retain["attention_mask"] == 0, IGNORE_INDEX)
        return kl_divergence(logits, ref_logits, labels=full_labels)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, Any]]:
        """`forget_weight * forget_loss + retain_weight * retain_loss`; logs each term; refuses NaN/inf losses."""
        mode = "train" if model.training else "eval"
        loss, metrics = self._compute_loss(model, inputs)
        self._store_metrics(metrics, loss, mode)
        return (loss, {"metrics": metrics}) if return_outputs else loss

    def _compute_loss(self, model: nn.Module, inputs: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if "forget" not in inputs:
            raise ValueError(
                f"batch has keys {sorted(inputs)} but needs a 'forget' entry; use ForgetRetainDataset and "
                "ForgetRetainCollator (the default collator)."
            )
        forget = inputs["forget"]
        use_retain = self.args.uses_retain
        if use_retain and "retain" not in inputs:
            raise ValueError("the loss has a retain term but the batch has no 'retain' entry; pass a retain set.")
        batches = [forget, inputs["retain"]] if use_retain else [forget]
        logits = self._forward_logits(model, batches)
        log_probs, num_tokens = sequence_log_probs(logits[0], forget["labels"])
        if bool((num_tokens == 0).any()):
            raise ValueError(
                "a forget example has no answer tokens (all labels -100); per-token averages would divide by zero. "
                "Drop empty answers or raise max_length."
            )
        f_loss, metrics = self.forget_loss(model, forget, log_probs, num_tokens)
        metrics = {
            "forget/loss": f_loss.detach(),
            "forget/log_probs": log_probs.detach(),
            "forget/nll": (-log_probs / num_tokens).detach(),
            **{k: v.detach() for k, v in metrics.items()},
        }
        loss = self.args.forget_weight * f_loss
        if use_retain:
            r_loss = self.retain_loss(model, inputs["retain"], logits[1])
            metrics["retain/loss"] = r_loss.detach()
            loss = loss + self.args.retain_weight * r_loss
        return loss, metrics

    def _store_metrics(self, metrics: dict[str, torch.Tensor], loss: torch.Tensor, mode: str) -> None:
        """Gathers all metrics across processes in one collective, stores them, and refuses a NaN/inf loss."""
        names = sorted(metrics)
        local = torch.stack([metrics[n].float().mean() for n in names] + [loss.detach().float()])
        # `gather`, not `gather_for_metrics`: rows are per-process means, not samples to de-duplicate.
        gathered = self.accelerator.gather(local.unsqueeze(0)).reshape(-1, len(names) + 1)
        means = gathered.mean(0).tolist()
        if not math.isfinite(means[-1]):
            detail = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, means, strict=False))
            raise FloatingPointError(
                f"{type(self).__name__}: the {mode} loss is {means[-1]} at global step {self.state.global_step} "
                f"({detail}). The step was not applied, so the model holds its last finite weights. Lower "
                "learning_rate, check bf16/fp16 overflow, or raise max_grad_norm clipping; check the data for "
                "empty answers."
            )
        for name, value in zip(names, means, strict=False):
            self._metrics[mode][name].append(value)

    # ------------------------------------------------------------------------------------------------------------
    # evaluation and logging
    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor, None, None]:
        """Evaluation uses the training loss on paired forget/retain batches."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def evaluation_loop(self, *args: Any, **kwargs: Any):
        """Runs Trainer's loop, then adds every averaged loss term to the returned metrics (`eval_forget/loss`...)."""
        output = super().evaluation_loop(*args, **kwargs)
        prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
        for key, values in self._metrics["eval"].items():
            if values:
                output.metrics[f"{prefix}_{key}"] = sum(values) / len(values)
        self._metrics["eval"].clear()
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the averaged loss terms since the last log (with an `eval_` prefix during evaluation)."""
        mode = "train" if self.model.training else "eval"
        metrics = {key: sum(val) / len(val) for key, val in self._metrics[mode].items() if val}
        if mode == "eval":
            metrics = {f"eval_{key}": val for key, val in metrics.items()}
        logs = {**logs, **metrics}
        super().log(logs, start_time)
        self._metrics[mode].clear()

    def _set_signature_columns_if_needed(self) -> None:  # nested batches: never drop "forget"/"retain"
        self._signature_columns = ["forget", "retain"]

    def end_distributed(self) -> None:
        """Leaves the process group cleanly at the end of a multi-process run; a no-op in one process.

        Waits for every rank, drops this trainer's and the accelerator's references to the DDP-wrapped model, then
        destroys the process group. A rank that exits while a DDP wrapper still holds the gloo group can abort in
        interpreter teardown ("terminate called without an active exception", SIGABRT) after all its work is saved,
        which fails the whole launch. Call it last: the trainer cannot run distributed steps afterwards.
        """
        self.accelerator.wait_for_everyone()
        self.accelerator.free_memory()
        self.model_wrapped = self.model
        gc.collect()
        self.accelerator.state.destroy_process_group()

    # ------------------------------------------------------------------------------------------------------------
    # training, checkpoints and saving
    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any):
        """[`~transformers.Trainer.train`], with a safe output folder and resume from the last complete checkpoint.

        - A new run (no `resume_from_checkpoint`) refuses an `output_dir` that holds another run's checkpoints or
          model unless `args.overwrite_output_dir=True`.
        - `resume_from_checkpoint=True` resumes from the newest *complete* checkpoint; newer ones left incomplete by a
          kill during saving are skipped with a warning. A path to an incomplete checkpoint is refused.
        """
        self._claim_output_dir(resume_from_checkpoint)
        if resume_from_checkpoint is True:
            found, skipped = last_complete_checkpoint(self.args.output_dir)
            for path, reason in skipped:
                logger.warning(
                    f"Skipping {path}: incomplete ({reason}; a kill during saving?). Resuming from "
                    f"{found if found is not None else 'nothing'} instead; {path.name} will be written again."
                )
            if found is None:
                raise ValueError(
                    f"resume_from_checkpoint=True but {self.args.output_dir} has no complete checkpoint-* folder"
                    + (f" (incomplete: {', '.join(p.name for p, _ in skipped)})" if skipped else "")
                    + ". Start a new run (drop resume_from_checkpoint), or pass the path of a complete checkpoint."
                )
            resume_from_checkpoint = str(found)
        elif isinstance(resume_from_checkpoint, (str, os.PathLike)) and not is_complete_checkpoint(
            resume_from_checkpoint
        ):
            found, _ = last_complete_checkpoint(Path(resume_from_checkpoint).parent)
            raise ValueError(
                f"resume_from_checkpoint={os.fspath(resume_from_checkpoint)!r} is not a complete checkpoint (missing, "
                "or its save was interrupted). "
                + (f"The last complete one is {found}; " if found is not None else "")
                + "pass resume_from_checkpoint=True to pick the last complete checkpoint of output_dir."
            )
        # the completeness marker is written after every other callback's `on_save` (e.g. SalUnMask's mask file)
        self.callback_handler.remove_callback(_CheckpointMarker)
        self.callback_handler.add_callback(_CheckpointMarker())
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def _claim_output_dir(self, resume_from_checkpoint: Any) -> None:
        """The main process checks and claims `output_dir`; every process raises the same error if it is taken."""
        from accelerate.utils import broadcast_object_list

        error = [None]
        if self.args.should_save:
            try:
                claim_output_dir(self.args.output_dir, self.args.overwrite_output_dir, resume_from_checkpoint)
            except FileExistsError as err:
                error = [str(err)]
        if self.accelerator.num_processes > 1:
            broadcast_object_list(error)
        if error[0] is not None:
            raise FileExistsError(error[0])

    def _check_finite_before_saving(self, where: str) -> None:
        bad = non_finite_parameters(self._unwrap(self.model))
        if bad:
            raise FloatingPointError(
                f"refusing to write non-finite weights ({', '.join(bad)}) to {where}: nothing was written. Resume "
                "from the last checkpoint with a lower learning_rate (see the earlier FloatingPointError)."
            )

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        self._check_finite_before_saving(f"checkpoint-{self.state.global_step}")
        if self.args.should_save:  # incomplete until _CheckpointMarker replaces this mark after every on_save
            mark_checkpoint_pending(Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}")
        super()._save_checkpoint(model, trial)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Saves the model (and tokenizer) to `output_dir` atomically: a kill while saving leaves the folder as it was.

        The files are written to `<output_dir>.saving` and then moved into `output_dir` by renames; non-finite weights
        are refused (nothing is written).

        Args:
            output_dir (`str`, *optional*): Defaults to `args.output_dir`.
        """
        where = output_dir or self.args.output_dir
        self._check_finite_before_saving(where)
        if _internal_call:  # checkpoints: completeness is tracked by their marker
            super().save_model(output_dir, _internal_call=True)
            return
        with atomic_folder(where, is_main_process=self.args.should_save) as staging:
            self.accelerator.wait_for_everyone()
            super().save_model(str(staging), _internal_call=True)
            self.accelerator.wait_for_everyone()
        self.accelerator.wait_for_everyone()
        if self.args.push_to_hub:
            self.push_to_hub(commit_message="Model save", revision=self.args.hub_revision)

    def save_merged_model(self, output_dir: str | os.PathLike) -> Path:
        """Merges a LoRA adapter into the base weights and saves a plain HF model (and tokenizer) to `output_dir`.

        The merge happens on a copy, so the trainer's peft model (and its adapter) stay usable.

        Args:
            output_dir (`str` or `os.PathLike`): A new folder for the merged model (written atomically).

        Returns:
            `Path`: `output_dir`.
        """
        model = self._unwrap(self.model)
        if not _is_peft_model(model):
            raise ValueError("save_merged_model needs a peft (LoRA) model; for a full model use `save_model`.")
        output_dir = Path(output_dir)
        self._check_finite_before_saving(str(output_dir))
        with atomic_folder(output_dir, is_main_process=self.args.should_save) as staging:
            if self.args.should_save:
                merged = copy.deepcopy(model).merge_and_unload()
                merged.save_pretrained(staging)
                if self.processing_class is not None:
                    self.processing_class.save_pretrained(staging)
                self.create_model_card(output_dir=staging, merged=True)
            self.accelerator.wait_for_everyone()
        return output_dir
