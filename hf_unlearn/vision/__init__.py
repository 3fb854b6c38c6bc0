# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Classification unlearning (SalUn's image-classification setting): data, a small CNN, Retrain / FT / GA / RL /
SalUn / l1-sparse, the UA / RA / TA / MIA-Efficacy metrics and a multi-seed benchmark against Retrain.

Runs offline on scikit-learn's bundled digits; CIFAR-10 loads through `datasets`
(the Hub id `uoft-cs/cifar10` or a local copy; no torchvision).
"""

from .benchmark import (
    ClassificationUnlearningConfig,
    format_markdown,
    plot_results,
    run_classification_benchmark,
    save_results,
    summary_scalars,
)
from .data import ClassificationData, ForgetSplit, load_cifar10, load_digits_data, make_forget_split
from .methods import (
    UNLEARNING_METHODS,
    finetune,
    gradient_ascent,
    l1_sparse,
    random_labels,
    retrain,
    salun,
    train_classifier,
)
from .metrics import METRIC_NAMES, accuracy, average_gap, evaluate_unlearning, svc_mia_efficacy, true_class_confidence
from .models import SmallCNN


__all__ = [
    "METRIC_NAMES",
    "UNLEARNING_METHODS",
    "ClassificationData",
    "ClassificationUnlearningConfig",
    "ForgetSplit",
    "SmallCNN",
    "accuracy",
    "average_gap",
    "evaluate_unlearning",
    "finetune",
    "format_markdown",
    "gradient_ascent",
    "l1_sparse",
    "load_cifar10",
    "load_digits_data",
    "make_forget_split",
    "plot_results",
    "random_labels",
    "retrain",
    "run_classification_benchmark",
    "salun",
    "save_results",
    "summary_scalars",
    "svc_mia_efficacy",
    "train_classifier",
    "true_class_confidence",
]
