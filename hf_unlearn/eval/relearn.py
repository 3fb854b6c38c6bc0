# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Relearning attack: fine-tune a copy of a model briefly on a sample of the forget set and re-evaluate.

If a few steps of plain fine-tuning on a handful of forget items bring the forget metrics back much faster than they
rise for a model that never saw the forget set (the retain model), the knowledge was hidden rather than removed.
The protocol follows the SimNPO authors' relearning code (a seeded sample of forget items, plain causal-LM loss,
AdamW) and reports the metrics as a function of the number of relearn steps, e.g. `{0, 10, 25, 50}`:

- the sample: `num_samples` forget items drawn without replacement with `seed`;
- the loss: mean token cross-entropy of the answer tokens (EOS included) given the question, as the world models
  were fine-tuned (for documents, of every token); batches of `batch_size` items cycle through the sample, reshuffled each pass (seeded);
- the optimiser: AdamW at a constant `learning_rate`, no weight decay; all weights, or a LoRA adapter (`peft`);
- at each requested step (0 = before any update) `evaluate(model)` is called and its result recorded.

The user's model is never modified (the attack trains a deep copy). Nothing here imports the trainers: relearning
is plain fine-tuning, and `evaluate` can be any benchmark (TOFU's forget metrics in
[`~hf_unlearn.scripts.robustness`]).

Example:
    >>> from hf_unlearn.eval.relearn import check_relearn_steps
    >>> check_relearn_steps("0,10,25,50")
    [0, 10, 25, 50]
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


__all__ = ["check_relearn_steps", "relearn_attack", "sample_forget_rows"]


def check_relearn_steps(steps: str | Sequence[int]) -> list[int]:
    """Parses and checks relearn steps: non-negative integers, strictly increasing (`"0,10,25"` or `[0, 10, 25]`).

    Args:
        steps (`str` or `Sequence[int]`): Comma-separated string or a sequence of integers.

    Returns:
        `list[int]`: The steps.

    Example:
        >>> check_relearn_steps([0, 5])
        [0, 5]
    """
    if isinstance(steps, str):
        try:
            steps = [int(s) for s in steps.split(",") if s.strip()]
        except ValueError as err:
            raise ValueError(
                f"relearn steps must be comma-separated integers such as 0,10,25,50; got {steps!r}."
            ) from err
    steps = list(steps)
    if not steps:
        raise ValueError("relearn steps must name at least one step, e.g. 0,10,25,50.")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
        raise ValueError(f"relearn steps must be integers, got {steps!r}.")
    if any(s < 0 for s in steps):
        raise ValueError(f"relearn steps must be >= 0 (0 = before relearning), got {steps}.")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ValueError(f"relearn steps must be strictly increasing (e.g. 0,10,25,50), got {steps}.")
    return steps


def sample_forget_rows(rows: Sequence[Mapping[str, Any]], num_samples: int, seed: int = 0) -> list[int]:
    """The indices of a seeded sample of `num_samples` forget items, drawn without replacement, sorted.

    Example:
        >>> sample_forget_rows([{}] * 10, 3, seed=0) == sample_forget_rows([{}] * 10, 3, seed=0)
        True
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"the relearn sample size must be a positive integer, got {num_samples!r}.")
    if num_samples > len(rows):
        raise ValueError(
            f"the relearn sample ({num_samples} items) is larger than the forget set ({len(rows)} items); "
            f"choose a sample size of at most {len(rows)}."
        )
    return sorted(random.Random(seed).sample(range(len(rows)), num_samples))


def relearn_attack(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    forget_rows: Sequence[Mapping[str, Any]],
    evaluate: Callable[[Any], Any],
    steps: str | Sequence[int] = (0, 10, 25, 50),
    num_samples: int = 8,
    learning_rate: float = 1e-5,
    batch_size: int = 4,
    seed: int = 0,
    template: str = "auto",
    max_length: int | None = None,
    use_lora: bool = False,
    lora_r: int = 8,
    lora_alpha: int = 16,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Fine-tunes a copy of `model` on a sample of the forget set and calls `evaluate` at the given steps.

    Args:
        model (`PreTrainedModel`): The model to attack (not modified).
        tokenizer (`PreTrainedTokenizerBase`): Its tokenizer (needs a pad token).
        forget_rows (`Sequence[Mapping]`): The forget set: QA rows with `question` and `answer` (the loss is on the
            answer), or documents with `text` (MUSE's forget articles; every token is scored). A `datasets.Dataset`
            works too.
        evaluate (`Callable[[model], Any]`): Called on the relearned model at each step; its result is recorded.
        steps (`str` or `Sequence[int]`, *optional*, defaults to `(0, 10, 25, 50)`): Optimizer steps at which to
            evaluate, strictly increasing, `>= 0`; training stops at the last one.
        num_samples (`int`, *optional*, defaults to `8`): Forget items to relearn on (at most the forget set's size).
        learning_rate (`float`, *optional*, defaults to `1e-5`): AdamW learning rate (constant), `> 0`.
        batch_size (`int`, *optional*, defaults to `4`): Items per step, at most `num_samples`.
        seed (`int`, *optional*, defaults to `0`): Seeds the sample, the batch order and LoRA's initialisation.
        template (`str`, *optional*, defaults to `"auto"`): The QA template ([`~hf_unlearn.data.get_template`]).
        max_length (`int`, *optional*): Truncate longer examples (default: the model's context).
        use_lora (`bool`, *optional*, defaults to `False`): Train a LoRA adapter on every linear layer instead of all
            weights.
        lora_r (`int`, *optional*, defaults to `8`): LoRA rank.
        lora_alpha (`int`, *optional*, defaults to `16`): LoRA alpha.
        progress (`bool`, *optional*, defaults to `True`): Show a progress bar.

    Returns:
        `list[dict]`: One `{"step": s, "loss": mean training loss of the steps since the previous point (None at
        step 0), "result": evaluate(model)}` per requested step, plus `"sample_indices"` in the first entry.

    Example:
        >>> curve = relearn_attack(model, tokenizer, forget_rows, lambda m: evaluate_tofu(m, tokenizer, world),
        ...                        steps=[0, 10, 25], num_samples=8, learning_rate=1e-4)  # doctest: +SKIP
        >>> [point["step"] for point in curve]  # doctest: +SKIP
        [0, 10, 25]
    """
    import torch
    from tqdm.auto import tqdm

    from ..data.collate import pad_batch, require_pad_token
    from ..data.muse import tokenize_texts
    from ..data.templates import get_template, model_max_length, tokenize_qa

    steps = check_relearn_steps(steps)
    rows = list(forget_rows)
    indices = sample_forget_rows(rows, num_samples, seed)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ValueError(f"the relearn learning rate must be > 0 (e.g. 1e-5), got {learning_rate!r}.")
    if not math.isfinite(learning_rate):
        raise ValueError(f"the relearn learning rate must be finite, got {learning_rate!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= num_samples:
        raise ValueError(
            f"the relearn batch size must be an integer from 1 to the sample size ({num_samples}), got {batch_size!r}."
        )
    missing = [i for i in indices if not ({"question", "answer"} <= set(rows[i]) or "text" in rows[i])]
    if missing:
        raise ValueError(
            f"forget row {missing[0]} needs 'question' and 'answer' fields (QA) or a 'text' field (a document); it "
            f"has {sorted(rows[missing[0]])}."
        )
    pad_id = require_pad_token(tokenizer)
    max_length = max_length or model_max_length(model)
    examples = []
    for i in indices:
        if {"question", "answer"} <= set(rows[i]):
            tpl = get_template(template, tokenizer)
            examples.append(tokenize_qa(tokenizer, rows[i]["question"], rows[i]["answer"], tpl, max_length=max_length))
        else:  # a document (MUSE's forget articles): every token is a label, cut at the context
            examples.append(tokenize_texts(tokenizer, [rows[i]["text"]], max_length=max_length, add_eos=True)[0])

    torch.manual_seed(seed)
    attacked = copy.deepcopy(model)
    if use_lora:
        from peft import LoraConfig, get_peft_model

        attacked = get_peft_model(
            attacked, LoraConfig(r=lora_r, lora_alpha=lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM")
        )
    params = [p for p in attacked.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    device = next(attacked.parameters()).device
    order_rng = random.Random(seed)
    order: list[int] = []

    def next_batch() -> dict[str, torch.Tensor]:
        nonlocal order
        if len(order) < batch_size:
            shuffled = list(range(len(examples)))
            order_rng.shuffle(shuffled)
            order = order + shuffled
        chosen, order = order[:batch_size], order[batch_size:]
        batch = pad_batch([examples[i] for i in chosen], pad_id)
        return {k: v.to(device) for k, v in batch.items()}

    curve: list[dict[str, Any]] = []
    losses: list[float] = []
    done = 0
    bar = tqdm(total=steps[-1], desc="relearning", disable=not progress)
    try:
        for target in steps:
            attacked.train()
            while done < target:
                loss = attacked(**next_batch()).loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                done += 1
                bar.update(1)
            attacked.eval()
            curve.append(
                {"step": target, "loss": sum(losses) / len(losses) if losses else None, "result": evaluate(attacked)}
            )
            losses = []
    finally:
        bar.close()
    curve[0]["sample_indices"] = indices
    return curve
