"""Training loop: Adam, mini-batches, early stopping per target, noise augmentation.

Every epoch each training batch is re-drawn: fluxes get a fresh Gaussian realisation of their
quoted errors (f' = f + ε·σ_f·noise_scale, ε ~ N(0, 1)) and, with ``band_dropout`` > 0, each
observed band is marked not-observed with that probability, so that the network learns the
missing-band mask convention.  The validation set is never augmented.  With one network per
target each network keeps the weights of its own best validation epoch and training stops when
every network has gone ``patience`` epochs without improving.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from .networks import gaussian_nll, split_outputs

__all__ = ["TrainData", "fit_network"]

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Tensors of one split: flux, err (N, B) float32 µJy; obs (N, B) bool; z (N,) or None;
    y (N, T) standardised targets (0 where unknown); ymask (N, T) bool (target known)."""

    flux: torch.Tensor
    err: torch.Tensor
    obs: torch.Tensor
    z: torch.Tensor | None
    y: torch.Tensor
    ymask: torch.Tensor

    def __len__(self):
        return self.flux.shape[0]

    def to(self, device) -> "TrainData":
        return TrainData(*(None if t is None else t.to(device) for t in
                           (self.flux, self.err, self.obs, self.z, self.y, self.ymask)))

    def rows(self, idx) -> "TrainData":
        return TrainData(*(None if t is None else t[idx] for t in
                           (self.flux, self.err, self.obs, self.z, self.y, self.ymask)))


def per_target_loss(mu, sigma, y, ymask, loss: str) -> torch.Tensor:
    """(T,) mean loss of each target over rows where it is known."""
    if loss == "gaussian_nll":
        elem = gaussian_nll(mu, sigma, y)
    else:
        elem = (mu - y).abs()
    elem = torch.where(ymask, elem, torch.zeros((), dtype=elem.dtype, device=elem.device))
    return elem.sum(0) / ymask.sum(0).clamp_min(1)


def _evaluate(model, features, data: TrainData, n_targets, per_target, loss, batch_size=65536):
    gaussian = loss == "gaussian_nll"
    tot = torch.zeros(n_targets, dtype=torch.float64)
    cnt = torch.zeros(n_targets, dtype=torch.float64)
    with torch.inference_mode():
        for s in range(0, len(data), batch_size):
            d = data.rows(slice(s, s + batch_size))
            x = features.transform_torch(d.flux, d.err, d.obs, d.z)
            mu, sigma = split_outputs(model(x), n_targets, per_target, gaussian)
            n = d.ymask.sum(0).double().cpu()
            tot += per_target_loss(mu, sigma, d.y, d.ymask, loss).double().cpu() * n
            cnt += n
    return (tot / cnt.clamp_min(1)).numpy()


def fit_network(model, features, train: TrainData, val: TrainData, *, per_target: bool, loss: str,
                epochs: int, batch_size: int, lr: float, patience: int, noise_augment: bool,
                noise_scale: float, band_dropout: float, generator: torch.Generator,
                progress: bool = False) -> dict:
    """Train ``model`` in place (its best weights restored at the end); return the history
    {"train_loss": [...], "val_loss": [[per target]...], "best_epoch": [...], "seconds": s}."""
    n_targets = train.y.shape[1]
    gaussian = loss == "gaussian_nll"
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    params = list(model.parameters())
    best = [p.detach().clone() for p in params]
    best_loss = np.full(n_targets, np.inf)
    best_epoch = np.zeros(n_targets, dtype=int)
    best_total = np.inf
    history = {"train_loss": [], "val_loss": []}
    n = len(train)
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch")
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=generator).to(train.flux.device)
        running, steps = 0.0, 0
        for s in range(0, n, batch_size):
            d = train.rows(perm[s:s + batch_size])
            flux, obs = d.flux, d.obs
            if noise_augment:
                eps = torch.randn(flux.shape, generator=generator).to(flux.device)
                flux = flux + eps * d.err * noise_scale
            if band_dropout > 0:
                keep = torch.rand(obs.shape, generator=generator).to(obs.device) >= band_dropout
                obs = obs & keep
            x = features.transform_torch(flux, d.err, obs, d.z)
            mu, sigma = split_outputs(model(x), n_targets, per_target, gaussian)
            lt = per_target_loss(mu, sigma, d.y, d.ymask, loss)
            total = lt.sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            running += float(total.detach())
            steps += 1
        model.eval()
        vl = _evaluate(model, features, val, n_targets, per_target, loss)
        history["train_loss"].append(running / max(steps, 1))
        history["val_loss"].append(vl.tolist())
        improved = vl < best_loss - 1e-5
        if per_target:
            for t in np.flatnonzero(improved):
                for b, p in zip(best, params):
                    b[t].copy_(p.detach()[t])
        else:   # one network: improve on the summed validation loss
            improved[:] = vl.sum() < best_total - 1e-5
            if improved[0]:
                best_total = vl.sum()
                for b, p in zip(best, params):
                    b.copy_(p.detach())
        best_loss = np.where(improved, vl, best_loss)
        best_epoch = np.where(improved, epoch, best_epoch)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(val=f"{vl.sum():.4f}")
        log.info("epoch %d train %.4f val %s", epoch, history["train_loss"][-1], np.round(vl, 4))
        if np.all(epoch - best_epoch >= patience):
            break
    if bar is not None:
        bar.close()
    with torch.no_grad():
        for b, p in zip(best, params):
            p.copy_(b)
    history["best_epoch"] = best_epoch.tolist()
    history["best_val_loss"] = best_loss.tolist()
    history["epochs_run"] = len(history["train_loss"])
    history["seconds"] = time.perf_counter() - t0
    return history
