"""The networks of the book.

``StabilityCNN`` is the Lazarus base network exactly as published (two 3x3 conv
layers with ReLU and 2x2 max-pooling, then 4096 -> 256 -> 10; no BatchNorm, no
dropout, PyTorch default initialisation; 1,070,794 parameters).
"""

from __future__ import annotations

import torch
from torch import nn


class StabilityCNN(nn.Module):
    """The Lazarus CIFAR-10 network (``research/lazarus_published_code.md`` section 1.1)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 8 * 8, 256)
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts per tensor name, plus ``total``."""
    counts = {name: p.numel() for name, p in model.named_parameters()}
    counts["total"] = sum(counts.values())
    return counts
