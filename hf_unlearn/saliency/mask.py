# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Weight-saliency masks (SalUn, [Fan et al., ICLR 2024](https://huggingface.co/papers/2310.12508)).

The saliency of a weight is the absolute value of the gradient of a forgetting loss, accumulated over the forget
data. One *global* threshold (over every selected parameter at once, not per layer) keeps the most salient
`sparsity` fraction of weights updatable; the rest are frozen during unlearning. This is the rule of the reference
code (`Classification/generate_mask.py`): its `with_0.5.pt` mask is `sparsity=0.5` here.

Masks are plain `dict[str, torch.BoolTensor]` keyed by the names of `model.named_parameters()` (`True` = salient =
updatable). They are saved as safetensors and checked against the model they are applied to.

The module is model-agnostic: it works for any `torch.nn.Module` (a classifier, a causal LM, a peft model, a
diffusers UNet) and imports neither the trainers nor the diffusion room.
"""

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn


__all__ = [
    "check_saliency_mask",
    "compute_saliency_mask",
    "default_forget_loss",
    "frozen_weights_fingerprint",
    "load_saliency_mask",
    "mask_density",
    "save_saliency_mask",
]

_FORMAT = "hf_unlearn.saliency_mask"
#: Header key of the fingerprint of the model's frozen weights (see `frozen_weights_fingerprint`).
FINGERPRINT_KEY = "frozen_weights_sha256"


def _check_sparsity(sparsity: float) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)):
        raise TypeError(f"`sparsity` must be a number in (0, 1], got {sparsity!r}.")
    if not 0.0 < float(sparsity) <= 1.0:
        raise ValueError(
            f"`sparsity` must be in (0, 1] (the fraction of weights kept updatable; 0.5 is the SalUn default), "
            f"got {sparsity}."
        )
    return float(sparsity)


def _as_patterns(patterns: str | Sequence[str] | None, field: str) -> list[re.Pattern]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"`{field}` must be a regular expression or a list of them, got {pattern!r}.")
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise ValueError(f"`{field}` pattern {pattern!r} is not a valid regular expression: {err}.") from err
    return compiled


def _selected(name: str, include: list[re.Pattern], exclude: list[re.Pattern]) -> bool:
    if include and not any(p.search(name) for p in include):
        return False
    return not any(p.search(name) for p in exclude)


def _move(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _move(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move(v, device) for v in batch)
    return batch


def default_forget_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    """The default forgetting loss whose gradient defines saliency.

    A dict batch is passed as keyword arguments and the model's own `loss` is used (the language-modelling loss of a
    causal LM when the batch has `labels`); a `(inputs, labels)` pair is scored with cross-entropy on
    `model(inputs)`. The sign is irrelevant (saliency is an absolute value of a summed gradient), so this returns the
    plain loss rather than SalUn's `-CE`.

    Args:
        model (`torch.nn.Module`): The model.
        batch (`dict` or `tuple`): One batch of forget data.

    Returns:
        `torch.Tensor`: A scalar loss.

    Example:
        >>> import torch
        >>> default_forget_loss(torch.nn.Linear(4, 3), (torch.ones(2, 4), torch.tensor([0, 2]))).shape
        torch.Size([])
    """
    if isinstance(batch, Mapping):
        outputs = model(**batch)
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss", None)
        if loss is None:
            raise ValueError(
                f"The model returned no `loss` for a forget batch (batch keys: {sorted(batch)}): give every forget "
                "example `labels` (e.g. build it with hf_unlearn.data.tokenize_qa), or pass `loss_fn`."
            )
        return loss
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        inputs, labels = batch
        logits = model(inputs)
        logits = getattr(logits, "logits", logits)
        return nn.functional.cross_entropy(logits, labels)
    raise TypeError(
        f"Cannot compute a default forget loss for a batch of type {type(batch).__name__}: batches must be dicts "
        "(passed as model(**batch), using its `loss`) or (inputs, labels) pairs; otherwise pass `loss_fn`."
    )


def _iter_batches(forget_data: Any, batch_size: int, data_collator: Callable[[list], Any] | None) -> Iterable[Any]:
    """Batches from a DataLoader (used as is), or from a map-style dataset / list batched with `data_collator`."""
    if isinstance(forget_data, torch.utils.data.DataLoader):
        return forget_data
    if not hasattr(forget_data, "__len__") or not hasattr(forget_data, "__getitem__"):
        raise TypeError(
            "`forget_dataset` must be a map-style dataset (a `datasets.Dataset`, a `torch.utils.data.Dataset` or a "
            f"list of examples) or a `torch.utils.data.DataLoader`, got {type(forget_data).__name__}."
        )
    if len(forget_data) == 0:
        raise ValueError("`forget_dataset` is empty: saliency needs at least one forget example.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}.")
    collate = data_collator if data_collator is not None else torch.utils.data.default_collate
    return torch.utils.data.DataLoader(forget_data, batch_size=batch_size, shuffle=False, collate_fn=collate)


def compute_saliency_mask(
    model: nn.Module,
    forget_dataset: Any,
    sparsity: float = 0.5,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    data_collator: Callable[[list], Any] | None = None,
    batch_size: int = 8,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    trainable_only: bool = True,
) -> dict[str, torch.Tensor]:
    """Computes a SalUn weight-saliency mask.

    The gradient of `loss_fn` is summed over every forget batch (model in `eval()` mode, so dropout is off and
    BatchNorm statistics stay frozen, as in the reference code), its absolute value is ranked over *all* selected
    parameters at once, and exactly `round(sparsity * N)` weights (at least one) are marked salient. Ties at the
    threshold are broken by parameter order, so the mask is deterministic. The model's weights, `requires_grad` flags,
    training mode and existing `.grad` are left as they were.

    Parameters outside `include` (when given) or matching `exclude` are not ranked and get an all-`False` mask, i.e.
    they are frozen during unlearning. Parameters with `requires_grad=False` are skipped when `trainable_only` (for a
    peft model the mask then covers the adapter weights, which are the ones that train).

    Args:
        model (`torch.nn.Module`):
            The model to unlearn from (already trained: a mask computed on random weights is meaningless).
        forget_dataset (`Dataset`, `list` or `torch.utils.data.DataLoader`):
            The forget data. A DataLoader is used as is; anything else is batched with `data_collator`.
        sparsity (`float`, *optional*, defaults to `0.5`):
            Fraction of the selected weights kept updatable, in (0, 1]. `0.5` is the SalUn default (`with_0.5.pt`);
            `1.0` keeps every weight (plain unlearning).
        loss_fn (`Callable[[nn.Module, Any], torch.Tensor]`, *optional*):
            Forgetting loss of one batch. Defaults to [`default_forget_loss`] (the model's own loss for dict batches,
            cross-entropy for `(inputs, labels)` pairs).
        data_collator (`Callable`, *optional*):
            Collate function for a dataset of examples; defaults to `torch.utils.data.default_collate`. Token
            sequences of different lengths need a padding collator (e.g. `hf_unlearn.data.pad_batch`).
        batch_size (`int`, *optional*, defaults to `8`):
            Batch size when `forget_dataset` is not a DataLoader.
        include (`str` or `list[str]`, *optional*):
            Regular expressions (`re.search`) on parameter names; only matching parameters are ranked.
        exclude (`str` or `list[str]`, *optional*):
            Regular expressions on parameter names; matching parameters are not ranked (and stay frozen).
        trainable_only (`bool`, *optional*, defaults to `True`):
            Skip parameters with `requires_grad=False` (they do not move anyway).

    Returns:
        `dict[str, torch.Tensor]`: Parameter name -> boolean tensor of the parameter's shape (on CPU), `True` where
        the weight may be updated.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Linear(4, 3)
        >>> data = [(torch.randn(4), 1), (torch.randn(4), 2)]
        >>> mask = compute_saliency_mask(model, data, sparsity=0.5)
        >>> sorted(mask), sum(int(m.sum()) for m in mask.values())  # 15 weights, 8 kept
        (['bias', 'weight'], 8)
    """
    sparsity = _check_sparsity(sparsity)
    include_p, exclude_p = _as_patterns(include, "include"), _as_patterns(exclude, "exclude")
    loss_fn = loss_fn if loss_fn is not None else default_forget_loss

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad or not trainable_only]
    if not named:
        raise ValueError("The model has no trainable parameters to compute a saliency mask over.")
    ranked = [(n, p) for n, p in named if _selected(n, include_p, exclude_p)]
    if not ranked:
        raise ValueError(
            f"No parameter matches include={include!r} / exclude={exclude!r}; parameter names look like "
            f"{[n for n, _ in named[:3]]}."
        )

    batches = _iter_batches(forget_dataset, batch_size, data_collator)
    device = next(iter(p.device for _, p in ranked))
    saved_grads = {n: p.grad for n, p in named}
    saved_flags = {n: p.requires_grad for n, p in named}
    was_training = model.training
    scores = {n: torch.zeros(p.shape, dtype=torch.float32, device=p.device) for n, p in ranked}
    n_batches = 0
    try:
        model.eval()
        for _, p in named:
            p.grad = None
            p.requires_grad_(True)
        for batch in batches:
            loss = loss_fn(model, _move(batch, device))
            if not torch.isfinite(loss):
                raise ValueError(f"The forget loss is {loss.item()} on batch {n_batches}: saliency would be NaN.")
            grads = torch.autograd.grad(loss, [p for _, p in ranked], allow_unused=True)
            for (n, _), g in zip(ranked, grads):
                if g is not None:
                    scores[n] += g.detach().float()
            n_batches += 1
    finally:
        model.train(was_training)
        for n, p in named:
            p.requires_grad_(saved_flags[n])
            p.grad = saved_grads[n]
    if n_batches == 0:
        raise ValueError("`forget_dataset` yielded no batches: saliency needs at least one forget example.")

    flat = torch.cat([s.abs().flatten().cpu() for s in scores.values()])
    keep = max(1, round(sparsity * flat.numel()))
    selected = _top_k_mask(flat, keep)
    mask: dict[str, torch.Tensor] = {}
    offset = 0
    for n, p in named:
        if n in scores:
            mask[n] = selected[offset : offset + p.numel()].view(p.shape).clone()
            offset += p.numel()
        else:
            mask[n] = torch.zeros(p.shape, dtype=torch.bool)
    return mask


def _top_k_mask(flat: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask with exactly `k` True entries at the largest values (ties broken by position)."""
    if k >= flat.numel():
        return torch.ones_like(flat, dtype=torch.bool)
    threshold = torch.kthvalue(flat, flat.numel() - k + 1).values
    selected = flat > threshold
    missing = k - int(selected.sum())
    if missing > 0:
        ties = torch.nonzero(flat == threshold).flatten()[:missing]
        selected[ties] = True
    return selected


def mask_density(mask: Mapping[str, torch.Tensor]) -> float:
    """Fraction of weights marked salient (updatable) in a mask.

    Example:
        >>> import torch
        >>> mask_density({"w": torch.tensor([True, False, False, True])})
        0.5
    """
    total = sum(m.numel() for m in mask.values())
    return sum(int(m.sum()) for m in mask.values()) / max(total, 1)


def _to_bool(name: str, value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"Mask entry {name!r} must be a tensor of 0/1 values, got {type(value).__name__}.")
    if value.dtype == torch.bool:
        return value.detach().cpu()
    if not bool(((value == 0) | (value == 1)).all()):
        raise ValueError(f"Mask entry {name!r} must hold only 0/1 (or True/False) values.")
    return value.detach().cpu().bool()


def save_saliency_mask(mask: Mapping[str, torch.Tensor], path: str | os.PathLike, metadata: dict | None = None):
    """Saves a mask as a safetensors file (boolean tensors).

    Args:
        mask (`dict[str, torch.Tensor]`): Parameter name -> 0/1 or boolean tensor.
        path (`str` or `os.PathLike`): The file to write (its folder is created). An existing file is not overwritten.
        metadata (`dict`, *optional*): Extra string metadata stored in the file header.

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mkdtemp() + "/mask.safetensors"
        >>> save_saliency_mask({"w": torch.tensor([1, 0])}, path)
        >>> load_saliency_mask(path)["w"].tolist()
        [True, False]
    """
    from safetensors.torch import save_file

    if not mask:
        raise ValueError("Cannot save an empty saliency mask.")
    path = os.fspath(path)
    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; choose a new file name (masks are never overwritten).")
    tensors = {name: _to_bool(name, value).contiguous() for name, value in mask.items()}
    header = {"format": _FORMAT, "density": f"{mask_density(tensors):.6f}"}
    header.update({str(k): str(v) for k, v in (metadata or {}).items()})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, path, metadata=header)


def load_saliency_mask(path: str | os.PathLike, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Loads a mask saved by [`save_saliency_mask`] (or any safetensors file of 0/1 tensors).

    Args:
        path (`str` or `os.PathLike`): The safetensors file.
        model (`torch.nn.Module`, *optional*): The model the mask is for. When given, the mask is checked against it
            with [`check_saliency_mask`], including the `frozen_weights_sha256` fingerprint if the file has one (so a
            mask of another model of the same architecture is refused).

    Returns:
        `dict[str, torch.Tensor]`: Parameter name -> boolean tensor.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No saliency mask file at {path}.")
    mask = {name: _to_bool(name, value) for name, value in load_file(path).items()}
    if model is None:
        return mask
    with safe_open(path, framework="pt") as f:
        fingerprint = (f.metadata() or {}).get(FINGERPRINT_KEY)
    try:
        return check_saliency_mask(mask, model, fingerprint)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def frozen_weights_fingerprint(mask: Mapping[str, Any], model: nn.Module, samples_per_tensor: int = 64) -> str:
    """A hash of the weights a mask keeps frozen: it names the model a mask was computed for.

    Two models of one architecture (the same parameter names and shapes, e.g. two UNets of one config) fit each
    other's masks by shape, so [`check_saliency_mask`] cannot tell them apart; their weights can. Only the
    *non-salient* entries are hashed (up to `samples_per_tensor` evenly spaced ones per tensor, in float32), and those
    never change during masked unlearning, so the fingerprint of a model halfway through a SalUn run (a resumed
    checkpoint) still equals the original's.

    Args:
        mask (`dict[str, torch.Tensor]`): Parameter name -> 0/1 or boolean tensor (`True` = salient).
        model (`torch.nn.Module`): The model.
        samples_per_tensor (`int`, *optional*, defaults to `64`): Frozen entries hashed per tensor.

    Returns:
        `str`: A hex SHA-256 digest.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
        >>> mask = {"weight": torch.tensor([[1, 0, 0], [0, 0, 1]]), "bias": torch.tensor([1, 0])}
        >>> frozen_weights_fingerprint(mask, a) == frozen_weights_fingerprint(mask, b)
        False
    """
    params = dict(model.named_parameters())
    digest = hashlib.sha256()
    for name in sorted(mask):
        if name not in params:
            continue  # check_saliency_mask names the mismatch
        frozen = ~_to_bool(name, mask[name]).to(params[name].device)
        if frozen.shape != params[name].shape:
            continue
        values = params[name].detach()[frozen].float().flatten()
        step = max(1, values.numel() // samples_per_tensor)
        digest.update(name.encode())
        digest.update(values[::step][:samples_per_tensor].cpu().numpy().tobytes())
    return digest.hexdigest()


def check_saliency_mask(
    mask: Mapping[str, Any], model: nn.Module, fingerprint: str | None = None
) -> dict[str, torch.Tensor]:
    """Checks that a mask fits a model and returns it as boolean tensors.

    Every mask entry must name a parameter of `model.named_parameters()` with the same shape, and every trainable
    parameter must have an entry. The error names the first mismatch. With `fingerprint` (the
    [`frozen_weights_fingerprint`] of the model the mask was computed for), a model of the same architecture but other
    weights is refused too.

    Args:
        mask (`dict[str, torch.Tensor]`): Parameter name -> 0/1 or boolean tensor.
        model (`torch.nn.Module`): The model the mask will be applied to.
        fingerprint (`str`, *optional*): The fingerprint of the model the mask was computed for.

    Returns:
        `dict[str, torch.Tensor]`: The mask as boolean CPU tensors.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> sorted(check_saliency_mask({"weight": torch.ones(1, 2), "bias": torch.zeros(1)}, model))
        ['bias', 'weight']
    """
    if not isinstance(mask, Mapping):
        raise TypeError(f"A saliency mask must be a dict of parameter name -> tensor, got {type(mask).__name__}.")
    params = dict(model.named_parameters())
    checked = {}
    for name, value in mask.items():
        if name not in params:
            examples = list(params)[:3]
            raise ValueError(
                f"The saliency mask does not match the model: mask entry {name!r} is not a parameter of the model "
                f"(its parameters are named like {examples}). Was the mask computed for a different model, or "
                "before/after wrapping it with peft? Recompute it on the model you train."
            )
        value = _to_bool(name, value)
        if tuple(value.shape) != tuple(params[name].shape):
            raise ValueError(
                f"The saliency mask does not match the model: entry {name!r} has shape {tuple(value.shape)} but the "
                f"parameter has shape {tuple(params[name].shape)}. Was the mask computed for a different model?"
            )
        checked[name] = value
    for name, param in params.items():
        if param.requires_grad and name not in checked:
            raise ValueError(
                f"The saliency mask does not match the model: trainable parameter {name!r} has no mask entry. "
                "Recompute the mask on the model you train (or freeze that parameter)."
            )
    if fingerprint is not None:
        actual = frozen_weights_fingerprint(checked, model)
        if actual != fingerprint:
            raise ValueError(
                "The saliency mask does not match the model: the mask's parameter names and shapes fit, but its "
                f"frozen weights differ from those of the model it was computed for (fingerprint {actual[:12]} vs "
                f"{fingerprint[:12]}), so it was computed for another model of the same architecture (e.g. another "
                "UNet of the same config). Recompute the mask on the model you train."
            )
    return checked
