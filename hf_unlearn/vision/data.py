# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Image-classification data for unlearning benchmarks: scikit-learn digits (bundled, real) and CIFAR-10 (through
`datasets`, from the Hub or a local copy; no torchvision).

Everything is held in memory as tensors (digits is 1,797 8x8 images), so the unlearning loops index batches directly.
"""

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


__all__ = [
    "CIFAR10_HUB_ID",
    "ClassificationData",
    "ForgetSplit",
    "load_cifar10",
    "load_digits_data",
    "make_forget_split",
]


@dataclass
class ClassificationData:
    """Train/test tensors of an image-classification dataset.

    Args:
        x_train (`torch.Tensor`): Training images, `(N, C, H, W)` float.
        y_train (`torch.Tensor`): Training labels, `(N,)` long.
        x_test (`torch.Tensor`): Test images.
        y_test (`torch.Tensor`): Test labels.
        num_classes (`int`): Number of classes.
        name (`str`): Dataset name.
        train_rows (`torch.Tensor`, *optional*): For each training example, its row in the full data set as loaded
            (for digits, the row order of `sklearn.datasets.load_digits()`), so that forget sets can be written as
            rows other tools can reuse. `None` means the training set is the full data set in order.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    name: str
    train_rows: torch.Tensor | None = None
    total_rows: int | None = None

    @property
    def n_rows(self) -> int:
        """Rows of the full data set as loaded (`total_rows`, else training plus test examples)."""
        return self.total_rows if self.total_rows is not None else len(self.y_train) + len(self.y_test)

    def train_positions(self, rows: list[int] | torch.Tensor) -> torch.Tensor:
        """Positions in the training set of full-data-set `rows`; a `ValueError` names rows that are not training
        examples here (e.g. test rows of this split).

        Example:
            >>> data = load_digits_data(seed=0)
            >>> rows = data.train_rows[[3, 1]].tolist()
            >>> data.train_positions(rows).tolist()
            [3, 1]
        """
        rows = torch.as_tensor(rows, dtype=torch.long)
        train_rows = self.train_rows if self.train_rows is not None else torch.arange(len(self.y_train))
        lookup = torch.full((self.n_rows,), -1, dtype=torch.long)
        lookup[train_rows] = torch.arange(len(train_rows))
        outside = rows[(rows < 0) | (rows >= self.n_rows)]
        if len(outside):
            raise ValueError(f"rows {outside[:10].tolist()} are outside the data set's {self.n_rows} rows.")
        positions = lookup[rows]
        missing = rows[positions < 0]
        if len(missing):
            raise ValueError(
                f"{len(missing)} selected rows (e.g. {missing[:5].tolist()}) are not training examples of this "
                "train/test split; use the data split (seed, train_fraction) the selection was made on."
            )
        return positions

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


@dataclass
class ForgetSplit:
    """Which training examples to forget, and the test examples the unlearned model is scored on.

    Args:
        forget (`torch.Tensor`): Boolean mask over the training set, `True` = forget.
        test (`torch.Tensor`): Boolean mask over the test set used for TA and the MIA shadow non-members (class-wise
            forgetting removes the forgotten class, as the SalUn code does).
        mode (`str`): `"random"`, `"class"` or `"rows"` (a given forget set, e.g. a worst-case selection).
    """

    forget: torch.Tensor
    test: torch.Tensor
    mode: str

    @property
    def retain(self) -> torch.Tensor:
        return ~self.forget


def load_digits_data(seed: int = 0, test_fraction: float = 0.2, train_fraction: float = 1.0) -> ClassificationData:
    """Loads scikit-learn's bundled 8x8 digits (1,797 real images, 10 classes; no download).

    Args:
        seed (`int`, *optional*, defaults to `0`): Seed of the stratified train/test split.
        test_fraction (`float`, *optional*, defaults to `0.2`): Fraction of the images held out for testing.
        train_fraction (`float`, *optional*, defaults to `1.0`):
            Fraction of the remaining images used for training (stratified). Smaller values widen the gap between
            training and test confidence, which makes random forgetting measurable (see the SalUn reference notes).

    Returns:
        [`ClassificationData`]: Images scaled to [0, 1], shape `(N, 1, 8, 8)`.

    Example:
        >>> data = load_digits_data(seed=0)
        >>> data.x_train.shape, data.x_test.shape, data.num_classes
        (torch.Size([1437, 1, 8, 8]), torch.Size([360, 1, 8, 8]), 10)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction}.")
    if not 0.0 < train_fraction <= 1.0:
        raise ValueError(f"`train_fraction` must be in (0, 1], got {train_fraction}.")
    digits = load_digits()
    x = digits.images.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    rows = np.arange(len(y))  # split alongside: the same permutation as splitting (x, y) alone
    x_tr, x_te, y_tr, y_te, r_tr, _ = train_test_split(
        x, y, rows, test_size=test_fraction, stratify=y, random_state=seed
    )
    if train_fraction < 1.0:
        x_tr, _, y_tr, _, r_tr, _ = train_test_split(
            x_tr, y_tr, r_tr, train_size=train_fraction, stratify=y_tr, random_state=seed
        )
    return ClassificationData(
        x_train=torch.from_numpy(x_tr).unsqueeze(1),
        y_train=torch.from_numpy(y_tr),
        x_test=torch.from_numpy(x_te).unsqueeze(1),
        y_test=torch.from_numpy(y_te),
        num_classes=10,
        name="digits",
        train_rows=torch.from_numpy(r_tr),
        total_rows=len(y),
    )


CIFAR10_HUB_ID = "uoft-cs/cifar10"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _cifar10_split(ds: Any, source: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The `img` / `label` columns of one CIFAR-10 split as normalised `(N, 3, 32, 32)` images and labels."""
    missing = [c for c in ("img", "label") if c not in ds.column_names]
    if missing:
        raise ValueError(
            f"The {split!r} split of {source!r} has columns {ds.column_names}, not {missing}: CIFAR-10 in the Hub "
            f"format ({CIFAR10_HUB_ID}) has an `img` image column and a `label` class column."
        )
    images = [np.asarray(img.convert("RGB")) for img in ds["img"]]
    shapes = sorted({im.shape for im in images})
    if shapes != [(32, 32, 3)]:
        raise ValueError(
            f"The {split!r} images of {source!r} have shapes {shapes[:3]}; CIFAR-10 images are 32x32 RGB."
        )
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return (x - mean) / std, torch.tensor(ds["label"], dtype=torch.long)


def load_cifar10(source: str = CIFAR10_HUB_ID) -> ClassificationData:
    """Loads CIFAR-10 through `datasets` (no torchvision): the Hub dataset `uoft-cs/cifar10`, or a local copy.

    The Hub dataset has `train` (50,000) and `test` (10,000) splits with an `img` column (32x32 RGB images) and a
    `label` column (10 classes). Images are scaled to [0, 1] and normalised with the usual CIFAR-10 channel
    statistics. The SalUn paper trains a ResNet-18; the [`SmallCNN`] used here is a CPU-sized stand-in.

    Args:
        source (`str`, *optional*, defaults to `"uoft-cs/cifar10"`): A Hub dataset id, a local folder holding the
            Hub repository's files (e.g. from `huggingface-cli download uoft-cs/cifar10 --repo-type dataset
            --local-dir DIR`), or a `DatasetDict.save_to_disk` folder. The Hub id needs network access the first time;
            afterwards the `datasets` cache serves it, also with `HF_DATASETS_OFFLINE=1`.

    Returns:
        [`ClassificationData`]: Images of shape `(N, 3, 32, 32)`; rows of the full data set are rows of the `train`
        split (the test split is separate).

    Example:
        >>> data = load_cifar10()  # doctest: +SKIP
        >>> data.x_train.shape, data.num_classes  # doctest: +SKIP
        (torch.Size([50000, 3, 32, 32]), 10)
    """
    import datasets

    if not isinstance(source, str) or not source:
        raise TypeError(f"`source` must be a Hub dataset id or a local folder, got {source!r}.")
    try:
        if os.path.isfile(os.path.join(source, "dataset_dict.json")):
            splits = datasets.load_from_disk(source)
        else:
            splits = datasets.load_dataset(source)
    except (OSError, ValueError) as err:  # ConnectionError (offline / no network), FileNotFoundError, bad files
        raise ValueError(
            f"CIFAR-10 could not be loaded from {source!r} ({type(err).__name__}: {err}). The Hub id "
            f"{CIFAR10_HUB_ID!r} needs network access the first time (then the datasets cache serves it); on a "
            "machine without network pass a local copy instead: a folder with the Hub repository's files "
            f"(`huggingface-cli download {CIFAR10_HUB_ID} --repo-type dataset --local-dir DIR`, elsewhere) or a "
            "`save_to_disk` folder."
        ) from err
    missing = [name for name in ("train", "test") if name not in splits]
    if missing:
        raise ValueError(f"{source!r} has splits {sorted(splits)}; CIFAR-10 needs 'train' and 'test'.")
    x_tr, y_tr = _cifar10_split(splits["train"], source, "train")
    x_te, y_te = _cifar10_split(splits["test"], source, "test")
    label = splits["train"].features["label"]
    num_classes = label.num_classes if isinstance(label, datasets.ClassLabel) else int(max(y_tr.max(), y_te.max())) + 1
    return ClassificationData(
        x_tr,
        y_tr,
        x_te,
        y_te,
        num_classes=num_classes,
        name="cifar10",
        train_rows=torch.arange(len(y_tr)),
        total_rows=len(y_tr),
    )


def make_forget_split(
    data: ClassificationData,
    mode: str = "random",
    fraction: float = 0.1,
    forget_class: int = 0,
    seed: int = 0,
    rows: list[int] | torch.Tensor | None = None,
    forget_classes: list[int] | None = None,
) -> ForgetSplit:
    """Chooses the forget set.

    Args:
        data ([`ClassificationData`]): The dataset.
        mode (`str`, *optional*, defaults to `"random"`):
            `"random"`: a uniformly random `fraction` of the training set; `"class"`: every training example of
            `forget_class` (whose test examples are then left out of TA and the MIA shadow set); `"rows"`: the
            training examples at `rows` of the full data set (see [`ClassificationData.train_positions`]).
        fraction (`float`, *optional*, defaults to `0.1`): Forget fraction for random forgetting, in (0, 1).
        forget_class (`int`, *optional*, defaults to `0`): The class to forget for class-wise forgetting.
        seed (`int`, *optional*, defaults to `0`): Seed of the random choice.
        rows (`list[int]`, *optional*): Full-data-set rows to forget (mode `"rows"`).
        forget_classes (`list[int]`, *optional*): With mode `"rows"`, classes whose test examples are left out of
            TA and the MIA shadow set (a class-wise selection).

    Returns:
        [`ForgetSplit`]: Boolean masks over the training and test sets.

    Example:
        >>> data = load_digits_data()
        >>> split = make_forget_split(data, "random", fraction=0.1, seed=0)
        >>> int(split.forget.sum()), bool(split.test.all())
        (144, True)
    """
    n = len(data.y_train)
    if mode == "random":
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"`fraction` must be in (0, 1) for random forgetting, got {fraction}.")
        g = torch.Generator().manual_seed(seed)
        forget = torch.zeros(n, dtype=torch.bool)
        forget[torch.randperm(n, generator=g)[: max(1, round(fraction * n))]] = True
        test = torch.ones(len(data.y_test), dtype=torch.bool)
    elif mode == "class":
        if not 0 <= forget_class < data.num_classes:
            raise ValueError(f"`forget_class` must be in [0, {data.num_classes}), got {forget_class}.")
        forget = data.y_train == forget_class
        test = data.y_test != forget_class
    elif mode == "rows":
        if rows is None:
            raise ValueError("mode='rows' needs `rows` (full-data-set rows to forget).")
        forget = torch.zeros(n, dtype=torch.bool)
        forget[data.train_positions(rows)] = True
        test = torch.ones(len(data.y_test), dtype=torch.bool)
        for c in forget_classes or []:
            if not 0 <= c < data.num_classes:
                raise ValueError(f"`forget_classes` entries must be in [0, {data.num_classes}), got {c}.")
            test &= data.y_test != c
    else:
        raise ValueError(f"`mode` must be 'random', 'class' or 'rows', got {mode!r}.")
    if not forget.any():
        raise ValueError("The forget set is empty: check `fraction` / `forget_class`.")
    if forget.all():
        raise ValueError("The forget set is the whole training set: nothing would be retained.")
    return ForgetSplit(forget=forget, test=test, mode=mode)
