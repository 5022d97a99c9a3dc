"""The networks: M independent MLPs evaluated together, with a mean (MAE) or Gaussian head.

``StackedMLP(n_models=M, …)`` holds M fully-connected ReLU networks with identical shapes and
separate weights, stored as (M, n_in, n_out) weight and (M, n_out) bias tensors.  One network
per target (``per_target=True``, as both papers found best) is M = T networks
with 1 (MAE) or 2 (Gaussian) outputs each; a single multi-output network is M = 1 with T or 2T
outputs.  Either way one training loop (one feature computation, one optimizer) serves all T.

The Gaussian head returns a mean and σ = softplus(s) + σ_min (in standardised target units);
:func:`gaussian_nll` is −log N(y | μ, σ²) up to a constant.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["StackedMLP", "gaussian_nll", "split_outputs", "SIGMA_MIN"]

#: floor of the predicted σ, in standardised target units
SIGMA_MIN = 1e-3


class StackedMLP(nn.Module):
    """M independent MLPs (ReLU hidden layers, linear output) evaluated in one pass.

    forward(x: (N, n_in)) → (M, N, n_out)
    """

    def __init__(self, n_in: int, hidden, n_out: int, n_models: int = 1):
        super().__init__()
        sizes = [int(n_in), *[int(h) for h in hidden], int(n_out)]
        self.n_models = int(n_models)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(a)   # torch.nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(self.n_models, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(self.n_models, b).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one addmm chain per network: cheaper than batched bmm on CPU and cache-friendly for
        # the row blocks predict() feeds (activations of a block stay in L2)
        grad = torch.is_grad_enabled()
        outs = []
        for m in range(self.n_models):
            h = torch.addmm(self.biases[0][m], x, self.weights[0][m])
            for w, b in zip(self.weights[1:], self.biases[1:]):
                h = torch.addmm(b[m], torch.relu(h) if grad else h.relu_(), w[m])
            outs.append(h)
        return torch.stack(outs)


def gaussian_nll(mu: torch.Tensor, sigma: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Element-wise −log N(y | μ, σ²) without the constant ½ log 2π."""
    r = (y - mu) / sigma
    return torch.log(sigma) + 0.5 * r * r


def split_outputs(out: torch.Tensor, n_targets: int, per_target: bool, gaussian: bool):
    """(μ, σ) of shape (N, T) from a :class:`StackedMLP` output; σ is None without a Gaussian head."""
    if per_target:
        mu = out[:, :, 0].transpose(0, 1)
        raw = out[:, :, 1].transpose(0, 1) if gaussian else None
    else:
        mu = out[0, :, :n_targets]
        raw = out[0, :, n_targets:2 * n_targets] if gaussian else None
    sigma = None if raw is None else torch.nn.functional.softplus(raw) + SIGMA_MIN
    return mu, sigma
