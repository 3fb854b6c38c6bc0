# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Classification unlearning methods, following the SalUn reference code (`Classification/unlearn/*.py`).

Every method starts from a copy of the original model (the input model is never modified) and trains with SGD
(momentum 0.9, weight decay 5e-4) at a constant learning rate:

- **Retrain**: train from scratch on the retain set (the gold standard, "exact unlearning").
- **FT**: fine-tune on the retain set.
- **GA**: gradient ascent on the forget set (minimise -CE).
- **RL**: random labelling. Each epoch makes one pass over the forget set with fresh uniformly random labels, then one
  pass over the retain set with the true labels (the CIFAR-10 code's sequential form).
- **SalUn**: RL restricted to the salient weights: a saliency mask (|∇ CE| over the forget set, global top
  `sparsity` fraction, [`compute_saliency_mask`]) is computed first, and a [`SaliencyMaskGuard`] keeps every other
  weight bit-identical (the hard constraint, so weight decay and momentum cannot move them).
- **l1-sparse**: FT plus α_t·‖θ‖₁ with α_t decaying linearly from `l1_alpha` to 0 over the epochs.
"""

import copy
from collections.abc import Callable

import torch
from torch import nn

from ..saliency import SaliencyMaskGuard, compute_saliency_mask
from .data import ClassificationData, ForgetSplit


__all__ = [
    "UNLEARNING_METHODS",
    "finetune",
    "gradient_ascent",
    "l1_sparse",
    "random_labels",
    "retrain",
    "salun",
    "train_classifier",
]


def _sgd(model: nn.Module, lr: float, weight_decay: float = 5e-4, momentum: float = 0.9) -> torch.optim.SGD:
    if lr <= 0:
        raise ValueError(f"The learning rate must be positive, got {lr}.")
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def _batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 40,
    lr: float = 0.05,
    batch_size: int = 64,
    weight_decay: float = 5e-4,
    seed: int = 0,
) -> nn.Module:
    """Trains `model` in place with SGD (momentum 0.9) and a cosine learning-rate schedule.

    Args:
        model (`torch.nn.Module`): The classifier.
        x (`torch.Tensor`): Images.
        y (`torch.Tensor`): Labels.
        epochs (`int`, *optional*, defaults to `40`): Passes over the data.
        lr (`float`, *optional*, defaults to `0.05`): Peak learning rate.
        batch_size (`int`, *optional*, defaults to `64`): Batch size.
        weight_decay (`float`, *optional*, defaults to `5e-4`): SGD weight decay.
        seed (`int`, *optional*, defaults to `0`): Seed of the batch order.

    Returns:
        `torch.nn.Module`: The trained model (the same object).

    Example:
        >>> import torch
        >>> from hf_unlearn.vision import SmallCNN, accuracy, load_digits_data
        >>> data = load_digits_data()
        >>> _ = torch.manual_seed(0)
        >>> model = train_classifier(SmallCNN(width=8), data.x_train, data.y_train, epochs=5, lr=0.1)
        >>> accuracy(model, data.x_test, data.y_test) > 80
        True
    """
    if len(y) == 0:
        raise ValueError("Cannot train on an empty set.")
    g = torch.Generator().manual_seed(seed)
    optimizer = _sgd(model, lr, weight_decay)
    steps = epochs * ((len(y) + batch_size - 1) // batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    model.train()
    for _ in range(epochs):
        for idx in _batches(len(y), batch_size, g):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    model.eval()
    return model


def retrain(
    model_factory: Callable[[], nn.Module],
    data: ClassificationData,
    split: ForgetSplit,
    epochs: int = 40,
    lr: float = 0.05,
    batch_size: int = 64,
    seed: int = 0,
) -> nn.Module:
    """Retrain: a fresh model trained on the retain set only (same recipe as the original model)."""
    torch.manual_seed(seed)
    model = model_factory()
    return train_classifier(
        model, data.x_train[split.retain], data.y_train[split.retain], epochs, lr, batch_size, seed=seed
    )


def _ce_epochs(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    l1_alpha: float = 0.0,
    ascent: bool = False,
) -> nn.Module:
    """Epochs of SGD on cross-entropy (or on -cross-entropy with `ascent`), with an optional decaying ℓ1 term."""
    g = torch.Generator().manual_seed(seed)
    optimizer = _sgd(model, lr)
    model.train()
    for epoch in range(epochs):
        alpha = l1_alpha * (1.0 - epoch / epochs)
        for idx in _batches(len(y), batch_size, g):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            if ascent:
                loss = -loss
            if alpha > 0:
                loss = loss + alpha * sum(p.abs().sum() for p in model.parameters())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def finetune(
    model: nn.Module,
    data: ClassificationData,
    split: ForgetSplit,
    lr: float = 0.01,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
) -> nn.Module:
    """FT: fine-tunes a copy of `model` on the retain set."""
    model = copy.deepcopy(model)
    return _ce_epochs(model, data.x_train[split.retain], data.y_train[split.retain], epochs, lr, batch_size, seed)


def l1_sparse(
    model: nn.Module,
    data: ClassificationData,
    split: ForgetSplit,
    lr: float = 0.01,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    l1_alpha: float = 5e-4,
) -> nn.Module:
    """ℓ1-sparse: FT with an ℓ1 penalty α_t·‖θ‖₁, α_t decaying linearly from `l1_alpha` to 0."""
    model = copy.deepcopy(model)
    x, y = data.x_train[split.retain], data.y_train[split.retain]
    return _ce_epochs(model, x, y, epochs, lr, batch_size, seed, l1_alpha=l1_alpha)


def gradient_ascent(
    model: nn.Module,
    data: ClassificationData,
    split: ForgetSplit,
    lr: float = 1e-3,
    epochs: int = 5,
    batch_size: int = 64,
    seed: int = 0,
) -> nn.Module:
    """GA: gradient ascent on the forget set (minimises -CE) on a copy of `model`."""
    model = copy.deepcopy(model)
    x, y = data.x_train[split.forget], data.y_train[split.forget]
    return _ce_epochs(model, x, y, epochs, lr, batch_size, seed, ascent=True)


def random_labels(
    model: nn.Module,
    data: ClassificationData,
    split: ForgetSplit,
    lr: float = 0.01,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    mask: dict[str, torch.Tensor] | None = None,
) -> nn.Module:
    """RL: each epoch, one pass over the forget set with random labels, then one over the retain set.

    Args:
        model (`torch.nn.Module`): The original model (copied, not modified).
        data ([`ClassificationData`]): The dataset.
        split ([`ForgetSplit`]): The forget/retain split.
        lr (`float`, *optional*, defaults to `0.01`): Learning rate.
        epochs (`int`, *optional*, defaults to `10`): Epochs.
        batch_size (`int`, *optional*, defaults to `64`): Batch size.
        seed (`int`, *optional*, defaults to `0`): Seed of batch order and random labels.
        mask (`dict[str, torch.Tensor]`, *optional*): A saliency mask; only its `True` weights may change (SalUn).

    Returns:
        `torch.nn.Module`: The unlearned copy.
    """
    model = copy.deepcopy(model)
    x_f, y_f = data.x_train[split.forget], data.y_train[split.forget]
    x_r, y_r = data.x_train[split.retain], data.y_train[split.retain]
    g = torch.Generator().manual_seed(seed)
    optimizer = _sgd(model, lr)
    guard = SaliencyMaskGuard(model, mask, optimizer).attach() if mask is not None else None
    model.train()
    try:
        for _ in range(epochs):
            for x, y, relabel in ((x_f, y_f, True), (x_r, y_r, False)):
                for idx in _batches(len(y), batch_size, g):
                    target = torch.randint(0, data.num_classes, (len(idx),), generator=g) if relabel else y[idx]
                    loss = nn.functional.cross_entropy(model(x[idx]), target)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
    finally:
        if guard is not None:
            guard.remove()
    model.eval()
    return model


def salun(
    model: nn.Module,
    data: ClassificationData,
    split: ForgetSplit,
    lr: float = 0.01,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    sparsity: float = 0.5,
) -> nn.Module:
    """SalUn: RL on the `sparsity` fraction of weights most salient for the forget set.

    Example:
        >>> import torch
        >>> from hf_unlearn.vision import SmallCNN, load_digits_data, make_forget_split, train_classifier
        >>> data = load_digits_data()
        >>> split = make_forget_split(data, "class", forget_class=0)
        >>> _ = torch.manual_seed(0)
        >>> original = train_classifier(SmallCNN(width=8), data.x_train, data.y_train, epochs=3)
        >>> unlearned = salun(original, data, split, epochs=2)
        >>> pairs = list(zip(original.parameters(), unlearned.parameters()))
        >>> changed, total = sum(int((p != q).sum()) for p, q in pairs), sum(p.numel() for p, _ in pairs)
        >>> 0 < changed <= round(0.5 * total)  # only salient weights moved
        True
    """
    x_f, y_f = data.x_train[split.forget], data.y_train[split.forget]
    forget = torch.utils.data.TensorDataset(x_f, y_f)
    mask = compute_saliency_mask(model, forget, sparsity=sparsity, batch_size=256)
    return random_labels(model, data, split, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed, mask=mask)


UNLEARNING_METHODS: dict[str, Callable[..., nn.Module]] = {
    "FT": finetune,
    "GA": gradient_ascent,
    "RL": random_labels,
    "SalUn": salun,
    "l1-sparse": l1_sparse,
}
