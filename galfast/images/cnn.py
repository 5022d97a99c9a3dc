"""The seed paper's convolutional network (Fu et al., Fig. 5), in PyTorch.

One convolutional branch per band — ``n_conv`` blocks of 3×3 convolution (padding 1) +
BatchNorm + ReLU + 2×2 max-pooling — whose flattened outputs are concatenated (the 3-band
network merges its three branches here; the 1-band network is the same with one branch), then
``n_dense`` fully connected ReLU layers of ``dense_units``, dropout (0.5) right before the linear
output layer, one output per target.  The seed's chosen structure is 3 convolutional and 4 dense
layers, with filters and units tuned in 4–64 and 8–64.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["DustNet", "conv_branch"]


def conv_branch(n_conv: int, filters: int) -> nn.Sequential:
    """``n_conv`` × [Conv2d 3×3 → BatchNorm2d → ReLU → MaxPool2d 2] on a 1-plane input."""
    layers, c_in = [], 1
    for _ in range(int(n_conv)):
        layers += [nn.Conv2d(c_in, int(filters), 3, padding=1), nn.BatchNorm2d(int(filters)),
                   nn.ReLU(), nn.MaxPool2d(2)]
        c_in = int(filters)
    return nn.Sequential(*layers)


class DustNet(nn.Module):
    """forward(x: (N, B, H, W)) → (N, n_out); one conv branch per band, merged before the dense
    layers."""

    def __init__(self, n_bands: int, size: int, n_out: int, *, n_conv: int = 3, filters: int = 32,
                 n_dense: int = 4, dense_units: int = 64, dropout: float = 0.5):
        super().__init__()
        if size % (2 ** n_conv):
            raise ValueError(f"cut-out size {size} is not divisible by 2**n_conv = {2 ** n_conv}")
        self.branches = nn.ModuleList(conv_branch(n_conv, filters) for _ in range(int(n_bands)))
        side = size // 2 ** n_conv
        width = int(n_bands) * int(filters) * side * side
        dense = []
        for _ in range(int(n_dense)):
            dense += [nn.Linear(width, int(dense_units)), nn.ReLU()]
            width = int(dense_units)
        dense += [nn.Dropout(float(dropout)), nn.Linear(width, int(n_out))]
        self.head = nn.Sequential(*dense)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [branch(x[:, b:b + 1]).flatten(1) for b, branch in enumerate(self.branches)]
        return self.head(torch.cat(feats, dim=1))
