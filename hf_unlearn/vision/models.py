# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""A small CNN for CPU-sized classification unlearning (digits 8x8, or CIFAR-10 32x32)."""

import torch
from torch import nn


__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """Two 3x3 convolutions, a 2x2 max-pool and a two-layer head.

    Args:
        in_channels (`int`, *optional*, defaults to `1`): Image channels (1 for digits, 3 for CIFAR-10).
        num_classes (`int`, *optional*, defaults to `10`): Number of classes.
        width (`int`, *optional*, defaults to `32`): Channels of the first convolution (the second has twice as many).
        image_size (`int`, *optional*, defaults to `8`): Height = width of the input images.
        hidden (`int`, *optional*, defaults to `128`): Units of the hidden fully connected layer.

    Example:
        >>> import torch
        >>> SmallCNN()(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, width: int = 32, image_size: int = 8, hidden: int = 128
    ):
        super().__init__()
        if image_size % 2:
            raise ValueError(f"`image_size` must be even (one 2x2 pooling), got {image_size}.")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * (image_size // 2) ** 2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
