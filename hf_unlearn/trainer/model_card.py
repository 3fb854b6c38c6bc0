# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Model cards written by the unlearning trainers, as TRL's trainers do: `create_model_card` is overridden, so
`trainer.save_model(...)` and `trainer.push_to_hub()` both write our card (`README.md`) next to the weights.

The card's YAML metadata uses the Hub's standard keys only: `base_model`, `datasets`, `library_name` (`transformers`,
or `peft` for a LoRA adapter; a merged model is `transformers`), `pipeline_tag`, `tags` (`unlearning`, the method,
`salun` when a [`~hf_unlearn.SalUnMask`] callback ran, `lora`) and results in `model-index` form. The body lists the
method's hyperparameters (every field its config adds to `TrainingArguments`, plus the usual training ones).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any

from transformers import TrainingArguments


__all__ = ["ModelCardMixin", "is_hub_id"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# TrainingArguments fields that matter for reproducing an unlearning run (the method's own fields are added).
_TRAINING_KEYS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "warmup_steps",
    "max_grad_norm",
    "seed",
)
_TRAINING_ARGUMENT_FIELDS = {f.name for f in dataclasses.fields(TrainingArguments)}


def is_hub_id(name: str | os.PathLike | None) -> bool:
    """Whether `name` can stand in card metadata as a Hub repo id (`org/name` or `name`), i.e. is not a local path.

    Example:
        >>> is_hub_id("locuslab/TOFU"), is_hub_id("/tmp/model"), is_hub_id("outputs/run/model"), is_hub_id(None)
        (True, False, False, False)
    """
    if not name:
        return False
    name = str(name)
    return bool(_HUB_ID.match(name)) and not os.path.exists(name) and name.count("/") <= 1


def _is_peft(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return False
    return isinstance(model, PeftModel)


class ModelCardMixin:
    """Adds our model card to a [`~transformers.Trainer`] subclass (used by [`~hf_unlearn.UnlearnTrainer`]).

    `create_model_card` remembers what it is told (dataset, forget split, results, ...), so later saves write the same
    card; `save_model` writes it into every folder it saves to (main process only).
    """

    _card_template: str = "unlearned_llm"

    def _card_info(self) -> dict[str, Any]:
        if not hasattr(self, "_model_card_info"):
            self._model_card_info: dict[str, Any] = {}
        return self._model_card_info

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Saves the model as [`~transformers.Trainer.save_model`] does, then writes the model card next to it."""
        super().save_model(output_dir, _internal_call=_internal_call)
        if self.args.should_save:
            self.create_model_card(output_dir=output_dir or self.args.output_dir)

    def card_hyperparameters(self) -> dict[str, Any]:
        """The run's hyperparameters for the card: the config's own fields (beyond `TrainingArguments`) and the
        usual training settings; SalUn's sparsity when a mask callback ran."""
        args = self.args
        own = [f.name for f in dataclasses.fields(args) if f.name not in _TRAINING_ARGUMENT_FIELDS]
        values = {k: getattr(args, k) for k in (*_TRAINING_KEYS, *own)}
        if values.get("max_steps", -1) <= 0:
            values.pop("max_steps", None)
        for mask in self._saliency_callbacks():
            values["salun_sparsity"] = mask.sparsity
        return {k: v for k, v in values.items() if v is not None}

    def _saliency_callbacks(self) -> list[Any]:
        from ..saliency import SalUnMask

        return [cb for cb in self.callback_handler.callbacks if isinstance(cb, SalUnMask)]

    def _base_model_name(self, model: Any) -> str | None:
        if _is_peft(model):
            name = next(iter(model.peft_config.values())).base_model_name_or_path
            if name:
                return name
            model = model.get_base_model()
        return getattr(getattr(model, "config", None), "_name_or_path", None) or None

    def _card_results(self, info: dict[str, Any]) -> list[Any]:
        """`EvalResult`s: the explicit `eval_results`, else the last evaluation logged by the trainer."""
        from huggingface_hub import EvalResult

        results = dict(info.get("eval_results") or {})
        dataset_type = info.get("dataset_name") if is_hub_id(info.get("dataset_name")) else "forget-retain"
        split = info.get("forget_split")
        source = info.get("dataset_name") or info.get("world") or "forget set"
        dataset_name = f"{source} {split}" if split else source
        if not results:
            evals = [log for log in self.state.log_history if any(k.startswith("eval_") for k in log)]
            if evals:
                skip = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}
                results = {
                    k[len("eval_") :]: v for k, v in evals[-1].items() if k.startswith("eval_") and k not in skip
                }
                dataset_name = f"{dataset_name} (evaluation set of the training loss)"
        return [
            EvalResult(
                task_type="text-generation",
                task_name="Machine unlearning",
                dataset_type=dataset_type,
                dataset_name=dataset_name,
                dataset_split=split,
                metric_type=key,
                metric_name=key,
                metric_value=float(value),
            )
            for key, value in results.items()
            if isinstance(value, (int, float)) and math.isfinite(float(value))
        ]

    def create_model_card(
        self,
        model_name: str | None = None,
        dataset_name: str | None = None,
        tags: str | list[str] | None = None,
        *,
        base_model: str | None = None,
        forget_split: str | None = None,
        eval_results: dict[str, float] | None = None,
        world: str | None = None,
        merged: bool = False,
        output_dir: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> Path | None:
        """Writes our unlearning card to `output_dir/README.md` (default `args.output_dir`) on the main process.

        Called by `save_model` and `push_to_hub` (which passes `model_name` and `tags`); call it yourself to add the
        dataset and results. Values given are remembered for later saves of this trainer.

        Args:
            model_name (`str`, *optional*): Name used in the card title and model index.
            dataset_name (`str`, *optional*): Hub id of the forget/retain data (e.g. `"locuslab/TOFU"`); a local path
                or free text is written in the card body only.
            tags (`str` or `list[str]`, *optional*): Extra tags.
            base_model (`str`, *optional*): Hub id the model came from; defaults to the model's `_name_or_path` (the
                adapter's base for peft), kept in the metadata only when it is a Hub id.
            forget_split (`str`, *optional*): The forget split (e.g. `"forget10"`).
            eval_results (`dict[str, float]`, *optional*): Results for the model index (e.g. `forget_quality`);
                defaults to the last evaluation the trainer logged.
            world (`str`, *optional*): The offline world the run used (id and hash), written in the card body.
            merged (`bool`, *optional*, defaults to `False`): The card of a merged LoRA model (`library_name:
                transformers`).
            output_dir (`str`, *optional*): The model folder; defaults to `args.output_dir`.
            **kwargs: Other `ModelCardData` keys (e.g. `license`, `language`).

        Returns:
            `Path` or `None`: The card's path (`None` on other processes).
        """
        info = self._card_info()
        given = {
            "model_name": model_name,
            "dataset_name": dataset_name,
            "base_model": base_model,
            "forget_split": forget_split,
            "eval_results": eval_results,
            "world": world,
        }
        info.update({k: v for k, v in given.items() if v is not None})
        info.setdefault("extra", {}).update(kwargs)
        if not self.is_world_process_zero():
            return None
        from ..hub import save_model_card

        model = self.accelerator.unwrap_model(self.model)
        is_adapter = _is_peft(model) and not merged
        base = info.get("base_model") or self._base_model_name(model)
        tag_set = {*self._tag_names, "hf_unlearn", "unlearning", self._name.lower()}
        tag_set |= {tags} if isinstance(tags, str) else set(tags or [])
        if _is_peft(model):
            tag_set.add("lora")
        if self._saliency_callbacks():
            tag_set.add("salun")
        card_data: dict[str, Any] = {
            "library_name": "peft" if is_adapter else "transformers",
            "pipeline_tag": "text-generation",
            "tags": sorted(tag_set),
            **info["extra"],
        }
        if is_hub_id(base):
            card_data["base_model"] = base
        if is_hub_id(info.get("dataset_name")):
            card_data["datasets"] = [info["dataset_name"]]
        name = info.get("model_name") or f"{self._name}-unlearned"
        results = self._card_results(info)
        if results:
            card_data["model_name"] = name
            card_data["eval_results"] = results
        return save_model_card(
            Path(output_dir or self.args.output_dir),
            self._card_template,
            card_data,
            model_name=name,
            method=self._name,
            paper=self._paper,
            base_model=card_data.get("base_model"),
            base_model_source=None if is_hub_id(base) else base,
            forget_split=info.get("forget_split"),
            dataset_name=info.get("dataset_name"),
            world=info.get("world"),
            eval_results={r.metric_name: r.metric_value for r in results},
            hyperparameters=self.card_hyperparameters(),
            reference_mode=getattr(self, "ref_mode", None),
            is_peft=is_adapter,
            merged=merged and _is_peft(model),
            salun=bool(self._saliency_callbacks()),
            repo_id=self.args.hub_model_id,
        )
