"""galfast.props.networks: stacked MLPs, Gaussian NLL, output split."""
import math

import torch

from galfast.props.networks import SIGMA_MIN, StackedMLP, gaussian_nll, split_outputs


def test_stacked_mlp_equals_independent_networks():
    torch.manual_seed(0)
    net = StackedMLP(5, (7, 3), 2, n_models=3)
    x = torch.randn(11, 5)
    out = net(x)
    assert out.shape == (3, 11, 2)
    for m in range(3):
        h = x
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            h = h @ w[m] + b[m]
            if i < len(net.weights) - 1:
                h = torch.relu(h)
        assert torch.allclose(out[m], h, atol=1e-6)
    with torch.inference_mode():       # the in-place inference path gives the same numbers
        assert torch.allclose(net(x), out, atol=1e-6)


def test_gaussian_nll_is_minus_log_normal_density():
    mu, sigma, y = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]), torch.tensor([1.0, -1.0])
    expected = [0.5, math.log(2.0) + 0.5]                      # log σ + ½ ((y − μ)/σ)²
    assert torch.allclose(gaussian_nll(mu, sigma, y), torch.tensor(expected))


def test_split_outputs_per_target_and_joint():
    out = torch.zeros(3, 4, 2)                                 # 3 networks (targets), 4 rows, (μ, s)
    out[:, :, 0] = torch.arange(3.0)[:, None]
    mu, sigma = split_outputs(out, 3, per_target=True, gaussian=True)
    assert mu.shape == (4, 3) and torch.equal(mu[0], torch.arange(3.0))
    assert torch.allclose(sigma, torch.full((4, 3), math.log(2.0) + SIGMA_MIN))    # softplus(0)
    joint = torch.arange(24.0).reshape(1, 4, 6)
    mu, sigma = split_outputs(joint, 3, per_target=False, gaussian=False)
    assert sigma is None and torch.equal(mu, joint[0, :, :3])
