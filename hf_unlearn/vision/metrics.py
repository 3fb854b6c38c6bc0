# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Unlearning metrics for classifiers, as in SalUn / "Model Sparsity Can Simplify Machine Unlearning".

- **UA** (unlearning accuracy) = 100 - accuracy on the forget set.
- **RA** = accuracy on the retain set; **TA** = accuracy on the test set.
- **MIA-Efficacy**: a confidence-based membership-inference attack (`evaluation/SVC_MIA.py` of the reference code):
  an `SVC(C=3, gamma="auto", kernel="rbf")` is trained on the softmax probability of the true class, with retain
  examples (as many as test examples) as members and test examples as non-members; the efficacy is the percentage of
  forget examples it predicts to be non-members.
- **Avg. Gap** = mean |metric - Retrain's metric| over the four metrics (lower is better).
"""

import torch
from torch import nn

from .data import ClassificationData, ForgetSplit


__all__ = [
    "METRIC_NAMES",
    "accuracy",
    "average_gap",
    "evaluate_unlearning",
    "svc_mia_efficacy",
    "true_class_confidence",
]

METRIC_NAMES = ("UA", "RA", "TA", "MIA")


@torch.no_grad()
def _logits(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    was_training = model.training
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    out = torch.cat([model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy in percent.

    Example:
        >>> import torch
        >>> model = torch.nn.Flatten()
        >>> accuracy(model, torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([1, 1]))
        50.0
    """
    if len(y) == 0:
        raise ValueError("Cannot compute an accuracy on an empty set.")
    return 100.0 * (_logits(model, x).argmax(-1) == y).float().mean().item()


def true_class_confidence(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax probability of the true class, the feature of the confidence-based MIA."""
    return _logits(model, x).softmax(-1).gather(1, y[:, None]).squeeze(1)


def svc_mia_efficacy(
    model: nn.Module,
    members: tuple[torch.Tensor, torch.Tensor],
    non_members: tuple[torch.Tensor, torch.Tensor],
    target: tuple[torch.Tensor, torch.Tensor],
) -> float:
    """MIA-Efficacy: % of `target` (forget) examples a confidence-based SVC attack calls non-members.

    The attacker is `sklearn.svm.SVC(C=3, gamma="auto", kernel="rbf")` fit on the true-class confidence of
    `members` (label 1) and `non_members` (label 0), balanced to the smaller of the two, as in the SalUn code.

    Args:
        model (`torch.nn.Module`): The classifier under attack.
        members (`tuple[Tensor, Tensor]`): Images and labels known to be training members (retain examples).
        non_members (`tuple[Tensor, Tensor]`): Images and labels never trained on (test examples).
        target (`tuple[Tensor, Tensor]`): The forget examples.

    Returns:
        `float`: Efficacy in percent (higher = the forget set looks more like unseen data).
    """
    from sklearn.svm import SVC

    n = min(len(members[1]), len(non_members[1]))
    if n == 0 or len(target[1]) == 0:
        raise ValueError("The MIA needs non-empty member, non-member and target sets.")
    feat_in = true_class_confidence(model, members[0][:n], members[1][:n])
    feat_out = true_class_confidence(model, non_members[0][:n], non_members[1][:n])
    features = torch.cat([feat_in, feat_out]).numpy()[:, None]
    labels = torch.cat([torch.ones(n), torch.zeros(n)]).numpy()
    attacker = SVC(C=3, gamma="auto", kernel="rbf")
    attacker.fit(features, labels)
    predicted = attacker.predict(true_class_confidence(model, *target).numpy()[:, None])
    return 100.0 * float((predicted == 0).mean())


def evaluate_unlearning(model: nn.Module, data: ClassificationData, split: ForgetSplit) -> dict[str, float]:
    """UA, RA, TA and MIA-Efficacy of a model for one forget split (a `ValueError` if its weights are not finite).

    Example:
        >>> import torch
        >>> from hf_unlearn.vision import SmallCNN, load_digits_data, make_forget_split
        >>> data = load_digits_data()
        >>> metrics = evaluate_unlearning(SmallCNN(), data, make_forget_split(data, "class"))
        >>> sorted(metrics)
        ['MIA', 'RA', 'TA', 'UA']
    """
    bad = next((n for n, p in model.named_parameters() if not torch.isfinite(p).all()), None)
    if bad is not None:
        raise ValueError(f"The model diverged (parameter {bad!r} is not finite): lower the learning rate.")
    x_f, y_f = data.x_train[split.forget], data.y_train[split.forget]
    x_r, y_r = data.x_train[split.retain], data.y_train[split.retain]
    x_t, y_t = data.x_test[split.test], data.y_test[split.test]
    # members: the first |test| retain examples in a fixed random order (the retain set is ordered by nothing)
    order = torch.randperm(len(y_r), generator=torch.Generator().manual_seed(0))
    return {
        "UA": 100.0 - accuracy(model, x_f, y_f),
        "RA": accuracy(model, x_r, y_r),
        "TA": accuracy(model, x_t, y_t),
        "MIA": svc_mia_efficacy(model, (x_r[order], y_r[order]), (x_t, y_t), (x_f, y_f)),
    }


def average_gap(metrics: dict[str, float], reference: dict[str, float]) -> float:
    """Mean absolute difference to the reference (Retrain) over UA, RA, TA and MIA.

    Example:
        >>> average_gap({"UA": 5, "RA": 100, "TA": 90, "MIA": 10}, {"UA": 3, "RA": 100, "TA": 92, "MIA": 14})
        2.0
    """
    return sum(abs(metrics[k] - reference[k]) for k in METRIC_NAMES) / len(METRIC_NAMES)
