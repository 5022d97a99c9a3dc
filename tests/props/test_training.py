"""galfast.props.training: early stopping with the best weights restored, noise augmentation."""
import numpy as np
import pytest
import torch

from galfast.props import PropertyRegressor
from galfast.props.features import FeatureMaker, photometry_arrays
from galfast.props.networks import split_outputs
from galfast.props.training import per_target_loss

from .toy import toy_universe


def validation_loss(reg, phot, truth):
    """(T,) loss of the model's current weights on (phot, truth), computed from public pieces."""
    f, e, o, _ = photometry_arrays(phot, reg.bands_)
    y = (np.column_stack([truth[t] for t in reg.targets_]) - reg.target_mean_) / reg.target_scale_
    x = reg.features_.transform_torch(torch.from_numpy(f), torch.from_numpy(e), torch.from_numpy(o),
                                      torch.from_numpy(phot.z.astype(np.float32)))
    with torch.inference_mode():
        mu, sigma = split_outputs(reg.model_(x), len(reg.targets_), reg.per_target, reg.loss == "gaussian_nll")
        yt = torch.from_numpy(y.astype(np.float32))
        return per_target_loss(mu, sigma, yt, torch.isfinite(yt), reg.loss).numpy()


@pytest.mark.parametrize("per_target", [True, False])
def test_early_stopping_stops_and_restores_best_weights(per_target):
    """On a problem that converges, training stops `patience` epochs after the last improvement,
    long before `epochs`, and the weights left in the model are those of the best validation loss
    (of each network with per_target=True), not those of the last epoch."""
    phot, truth, _ = toy_universe(2000, seed=2)
    tr, va = np.arange(1500), np.arange(1500, 2000)
    epochs, patience = 300, 4
    reg = PropertyRegressor(targets=("log_mstar", "av"), per_target=per_target, hidden=(32, 32), epochs=epochs,
                            patience=patience, lr=3e-3, batch_size=256, n_jobs=1).fit(
        phot.select(tr), truth[tr], validation=(phot.select(va), truth[va]))
    h = reg.history_
    val = np.array(h["val_loss"])
    assert h["epochs_run"] == len(val) < epochs / 3
    assert h["epochs_run"] == max(h["best_epoch"]) + patience + 1
    assert np.all(np.array(h["best_val_loss"]) < val[0] - 0.5)              # it did converge
    assert np.allclose(h["best_val_loss"], val[h["best_epoch"], [0, 1]])
    if per_target:        # each network: its own best epoch
        assert np.allclose(h["best_val_loss"], val.min(0), atol=1e-5)
    else:                 # one network: the best summed loss
        assert h["best_epoch"][0] == h["best_epoch"][1]
        assert np.sum(h["best_val_loss"]) == pytest.approx(val.sum(1).min(), abs=1e-5)
    # the validation loss of the weights left in the model is the best one, not the last epoch's
    now = validation_loss(reg, phot.select(va), truth[va])
    assert np.allclose(now, h["best_val_loss"], rtol=1e-5, atol=1e-6)
    assert np.all(now < val[-1] - 1e-4) if per_target else now.sum() < val[-1].sum() - 1e-4


def _record_training_inputs(monkeypatch, reg, phot, truth):
    """Fit ``reg`` while recording the (augmented) fluxes the training loop feeds the networks;
    return per epoch the noise ε = (f' − f)/σ_f, rows in input order (one batch per epoch)."""
    calls = []
    orig = FeatureMaker.transform_torch

    def recording(self, flux, err, obs, z=None):
        if not torch.is_inference_mode_enabled():        # training batches (validation runs in inference mode)
            calls.append((flux.clone(), err.clone(), z.clone()))
        return orig(self, flux, err, obs, z)

    monkeypatch.setattr(FeatureMaker, "transform_torch", recording)
    reg.fit(phot, truth)
    monkeypatch.undo()
    z32 = phot.z.astype(np.float32)
    order = np.argsort(z32)
    assert np.unique(z32).size == z32.size                     # rows are identified by their z
    out = []
    for flux, err, z in calls:
        rows = order[np.searchsorted(z32[order], z.numpy())]
        assert np.array_equal(z32[rows], z.numpy())
        eps = np.full(phot.flux.shape, np.nan)
        eps[rows] = (flux.numpy() - phot.flux[rows].astype(np.float32)) / err.numpy()
        out.append(eps)
    return out


def test_noise_augmentation_redraws_every_epoch_reproducibly(monkeypatch):
    phot, truth, _ = toy_universe(600, seed=1)
    kw = dict(targets=("av",), hidden=(16,), epochs=3, patience=100, batch_size=1024, n_jobs=1)
    a = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, **kw), phot, truth)
    assert len(a) == 3                                           # one training batch per epoch
    rows = np.isfinite(a[0][:, 0])
    assert rows.sum() == 480                                     # the training rows (80 %)
    for eps in a:
        assert np.array_equal(np.isfinite(eps[:, 0]), rows)
        assert abs(eps[rows].mean()) < 0.05 and abs(eps[rows].std() - 1) < 0.05     # ε ~ N(0, 1)
    # re-drawn each epoch: independent noise for the same rows
    for i, j in ((0, 1), (1, 2), (0, 2)):
        assert abs(np.corrcoef(a[i][rows].ravel(), a[j][rows].ravel())[0, 1]) < 0.1
    # the same random_state draws the same noise again; another one draws other noise
    b = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, **kw), phot, truth)
    assert all(np.array_equal(x, w, equal_nan=True) for x, w in zip(a, b))
    c = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=6, **kw), phot, truth)
    assert not np.allclose(np.nan_to_num(a[0]), np.nan_to_num(c[0]))
    # noise_scale scales ε; without augmentation the fluxes are the catalogue's
    half = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, noise_scale=0.5, **kw), phot, truth)
    assert abs(half[0][rows].std() - 0.5) < 0.03
    off = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, noise_augment=False, **kw),
                                  phot, truth)
    assert all(np.all(eps[rows] == 0) for eps in off)
