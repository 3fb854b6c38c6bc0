# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Evaluation during training: TOFU or MUSE metrics as `TrainerCallback`s, logged through the Trainer.

[`EvalMetricsCallback`] runs an evaluation function on the model being trained and logs its numbers with
`trainer.log`, so every `report_to` integration (TensorBoard, W&B, ...) and `trainer.state.log_history` get them. The
keys are `eval_<prefix>_<metric>` (e.g. `eval_tofu_forget_quality`), which makes them usable as
`metric_for_best_model`, with or without the `eval_` part (`metric_for_best_model="tofu_forget_quality"`,
`greater_is_better=True`) and so with `load_best_model_at_end=True`. It runs

- whenever the Trainer evaluates (`eval_strategy="steps"` / `"epoch"`, with an `eval_dataset`): the metrics are added
  to that evaluation's metrics, which is what `metric_for_best_model` and `load_best_model_at_end` read;
- and/or every `eval_steps` optimizer steps (`eval_steps=` of the callback; no `eval_dataset` needed, logging only).

With several processes (DDP), the main process evaluates the whole evaluation set and the numbers are broadcast to
the other ranks, so every rank logs and compares the same numbers as a single-process run (and the best checkpoint
is the same on every rank). The model must be whole on the main process (not under DeepSpeed ZeRO-3 / FSDP).

Like TRL's callbacks that log (`WinRateCallback`), these take the trainer: build the trainer, then
`trainer.add_callback(callback)`. Nothing here imports the trainers: any `transformers.Trainer` works.

Example:
    >>> from hf_unlearn.eval import TofuEvaluator
    >>> from hf_unlearn.eval.callbacks import TofuEvalCallback
    >>> evaluator = TofuEvaluator(tokenizer, world, eval_sets=("forget",))  # doctest: +SKIP
    >>> trainer.add_callback(TofuEvalCallback(trainer, evaluator, retain_results=retain))  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    >>> [h["eval_tofu_forget_quality"] for h in trainer.state.log_history if "eval_tofu_forget_quality" in h]
    ... # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback


if TYPE_CHECKING:
    from transformers import Trainer

    from .tofu import TofuEvaluator

__all__ = [
    "DEFAULT_MUSE_METRICS",
    "DEFAULT_TOFU_METRICS",
    "EvalMetricsCallback",
    "MuseEvalCallback",
    "TofuEvalCallback",
]

#: The TOFU summary numbers logged by default (open-unlearning's names where they exist).
DEFAULT_TOFU_METRICS = (
    "forget_quality",
    "model_utility",
    "forget_Q_A_Prob",
    "forget_Q_A_ROUGE",
    "forget_truth_ratio",
    "privleak",
    "extraction_strength",
)
#: The MUSE summary numbers logged by default.
DEFAULT_MUSE_METRICS = (
    "forget_verbmem_ROUGE",
    "forget_knowmem_ROUGE",
    "retain_knowmem_ROUGE",
    "privleak",
    "extraction_strength",
)


class EvalMetricsCallback(TrainerCallback):
    """Runs `evaluate(model)` during training and logs the numbers through the Trainer as `eval_<prefix>_<metric>`.

    Args:
        trainer (`transformers.Trainer`): The trainer this callback is added to (its `log` is used).
        evaluate (`Callable[[model], Mapping[str, Any]]`): Returns the metrics of a model, e.g. the `summary` of a
            TOFU evaluation. Non-numeric and `None` values are skipped.
        prefix (`str`, *optional*, defaults to `"tofu"`): Key prefix after `eval_`.
        eval_steps (`int`, *optional*): Also evaluate every this many optimizer steps (besides the Trainer's own
            evaluations). `None`: only when the Trainer evaluates.
        metrics (`Sequence[str]`, *optional*): Which keys of `evaluate`'s result to log; `None` logs every number.

    Example:
        >>> callback = EvalMetricsCallback(trainer, lambda m: {"score": 1.0}, prefix="mine", eval_steps=10)
        ... # doctest: +SKIP
        >>> trainer.add_callback(callback)  # logs eval_mine_score every 10 steps  # doctest: +SKIP
    """

    def __init__(
        self,
        trainer: Trainer,
        evaluate: Callable[[Any], Mapping[str, Any]],
        prefix: str = "tofu",
        eval_steps: int | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        if trainer is None or not hasattr(trainer, "log"):
            raise TypeError("trainer must be the transformers.Trainer this callback is added to (its log() is used).")
        if not callable(evaluate):
            raise TypeError(f"evaluate must be a callable taking the model, got {type(evaluate).__name__}.")
        if not isinstance(prefix, str) or not prefix or prefix.startswith("eval"):
            raise ValueError(f"prefix must be a non-empty name such as 'tofu' (without 'eval_'), got {prefix!r}.")
        if eval_steps is not None and (
            isinstance(eval_steps, bool) or not isinstance(eval_steps, int) or eval_steps < 1
        ):
            raise ValueError(f"eval_steps must be a positive integer or None, got {eval_steps!r}.")
        self.trainer = trainer
        self.evaluate = evaluate
        self.prefix = prefix
        self.eval_steps = eval_steps
        self.metrics = None if metrics is None else list(metrics)
        self._last: tuple[int, dict[str, float]] | None = None

    def compute(self, model: Any, step: int) -> dict[str, float]:
        """The prefixed metrics of `model` at `step` (the main process evaluates, the others receive its numbers)."""
        if self._last is not None and self._last[0] == step:  # the Trainer's evaluation and eval_steps coincide
            return self._last[1]
        from accelerate.utils import broadcast_object_list

        accelerator = self.trainer.accelerator
        payload: list[Any] = [None]
        if accelerator.is_main_process:
            result = self.evaluate(accelerator.unwrap_model(model))
            keys = self.metrics if self.metrics is not None else list(result)
            missing = [k for k in keys if k not in result]
            if missing:
                raise KeyError(f"the evaluation returned no {missing}; it has {sorted(result)}.")
            payload = [
                {
                    f"eval_{self.prefix}_{k}": float(result[k])
                    for k in keys
                    if isinstance(result[k], numbers.Real)
                    and not isinstance(result[k], bool)
                    and math.isfinite(result[k])
                }
            ]
        if accelerator.num_processes > 1:
            broadcast_object_list(payload, from_process=0)
        self._last = (step, payload[0])
        return payload[0]

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self.eval_steps is None or state.global_step % self.eval_steps:
            return
        logs = self.compute(model, state.global_step)
        self.trainer.log(dict(logs))

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, float] | None = None,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        already_logged = self._last is not None and self._last[0] == state.global_step
        logs = self.compute(model if model is not None else self.trainer.model, state.global_step)
        if metrics is not None:
            metrics.update(logs)  # the dict the Trainer reads metric_for_best_model from
        if not already_logged:
            self.trainer.log(dict(logs))


class TofuEvalCallback(EvalMetricsCallback):
    """TOFU metrics during training (see [`EvalMetricsCallback`]), from a [`~hf_unlearn.eval.TofuEvaluator`] built
    once (the data is tokenised once for the whole run).

    Args:
        trainer (`transformers.Trainer`): The trainer this callback is added to.
        evaluator ([`~hf_unlearn.eval.TofuEvaluator`]): What to evaluate (sets, forget split, generation length).
        retain_results (*optional*): The retain model's results (dict or JSON path) or per-item forget truth ratios;
            gives forget quality.
        eval_steps (`int`, *optional*): Also evaluate every this many optimizer steps.
        metrics (`Sequence[str]`, *optional*, defaults to [`DEFAULT_TOFU_METRICS`]): Summary keys to log (those the
            evaluation does not compute, e.g. forget quality without `retain_results`, are skipped).
        prefix (`str`, *optional*, defaults to `"tofu"`): Key prefix after `eval_`.

    Example:
        >>> trainer.add_callback(TofuEvalCallback(trainer, TofuEvaluator(tokenizer, world), retain_results=retain,
        ...                                       eval_steps=20))  # doctest: +SKIP
    """

    def __init__(
        self,
        trainer: Trainer,
        evaluator: TofuEvaluator,
        retain_results: Any = None,
        eval_steps: int | None = None,
        metrics: Sequence[str] = DEFAULT_TOFU_METRICS,
        prefix: str = "tofu",
    ) -> None:
        if not callable(evaluator):
            raise TypeError(f"evaluator must be a TofuEvaluator, got {type(evaluator).__name__}.")
        wanted = list(metrics)

        def evaluate(model: Any) -> dict[str, Any]:
            summary = evaluator(model, retain_results=retain_results)["summary"]
            return {k: summary[k] for k in wanted if summary.get(k) is not None}

        super().__init__(trainer, evaluate, prefix=prefix, eval_steps=eval_steps)


class MuseEvalCallback(EvalMetricsCallback):
    """MUSE metrics during training (see [`EvalMetricsCallback`]) through [`~hf_unlearn.eval.evaluate_muse`].

    Args:
        trainer (`transformers.Trainer`): The trainer this callback is added to.
        tokenizer (`PreTrainedTokenizerBase`): The model's tokenizer.
        data (`str` or `os.PathLike`): MUSE data (a Hub id or a built mini-MUSE world folder).
        retain_results (*optional*): The retain model's MUSE results (for PrivLeak).
        eval_steps (`int`, *optional*): Also evaluate every this many optimizer steps.
        metrics (`Sequence[str]`, *optional*, defaults to [`DEFAULT_MUSE_METRICS`]): Summary keys to log.
        prefix (`str`, *optional*, defaults to `"muse"`): Key prefix after `eval_`.
        **muse_kwargs: Passed to `evaluate_muse` (e.g. `max_items`, `batch_size`).

    Example:
        >>> trainer.add_callback(MuseEvalCallback(trainer, tokenizer, "path/to/muse-world", eval_steps=20))
        ... # doctest: +SKIP
    """

    def __init__(
        self,
        trainer: Trainer,
        tokenizer: Any,
        data: Any,
        retain_results: Any = None,
        eval_steps: int | None = None,
        metrics: Sequence[str] = DEFAULT_MUSE_METRICS,
        prefix: str = "muse",
        **muse_kwargs: Any,
    ) -> None:
        from .muse import evaluate_muse

        wanted = list(metrics)

        def evaluate(model: Any) -> dict[str, Any]:
            summary = evaluate_muse(
                model, tokenizer, data, retain_results=retain_results, progress=False, **muse_kwargs
            )["summary"]
            return {k: summary[k] for k in wanted if summary.get(k) is not None}

        super().__init__(trainer, evaluate, prefix=prefix, eval_steps=eval_steps)
