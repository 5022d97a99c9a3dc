"""PropertyRegressor speed against a straightforward PyTorch baseline, all in this one process.

Data: the bundled demo catalogue's rows resampled with fresh flux noise (11 JWST+HST bands +
z), targets log M*, log SFR, A_V, one network per target (3 hidden layers), $GALFAST_BENCH_THREADS
(default 2) threads; sizes times $GALFAST_BENCH_SCALE (default 1).

* inference on 10⁶ objects: ``PropertyRegressor.predict`` end to end (features, 3 networks,
  flags, astropy Table; also with ``precision="bfloat16"`` and with smaller 2×64 networks) vs
  the baseline a user would write — the same weights in three ``nn.Sequential`` models applied
  under ``torch.no_grad`` to the whole standardised float32 feature array at once;
* training per epoch on 100,000 objects: ``PropertyRegressor.fit`` (one loop for the three
  networks, features and noise re-drawn on the fly) vs three ``nn.Sequential`` trained one after
  the other with a ``DataLoader(TensorDataset, batch_size=256, shuffle=True)``, MAE loss, Adam
  (the papers' recipe), same batch size;
* with ``--full``: one complete ``fit`` on 100,000 objects with the default settings (early
  stopping) — the number behind "training in minutes".

    python bench/ratios_props.py [--full]        # or: python bench/ratios.py props

Results, with the commands, date and machine: bench/props_results/speed.md.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import bench_size, bench_threads, best_time, interleaved_best, print_ratio_table, thread_limits

HIDDEN = (128, 128, 128)
TARGETS = ("log_mstar", "log_sfr", "av")


def resampled(n, seed):
    """(Photometry, truths) of n rows drawn from the demo catalogue with re-drawn noise."""
    from astropy.table import Table

    from galfast.bands import JWST_HST_BANDS
    from galfast.datasets import load_demo_catalog
    from galfast.photometry import Photometry
    from galfast.props.targets import floor_log_sfr

    t = load_demo_catalog()
    base = Photometry.from_table(t, JWST_HST_BANDS, id_column="id", z_column="z")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(t), n)
    noise = rng.standard_normal((n, base.n_bands)).astype(np.float32)
    flux = base.flux[rows] + noise * base.flux_err[rows]
    phot = Photometry.from_arrays(flux, base.flux_err[rows], base.bands, ids=np.arange(n), z=base.z[rows])
    truth = Table({k: np.asarray(t[k], dtype=float)[rows] for k in TARGETS})
    truth["log_sfr"] = floor_log_sfr(truth["log_sfr"], np.asarray(t["log_mstar"], dtype=float)[rows])
    return phot, truth


def sequential_copy(reg):
    """The fitted stacked networks as T independent ``nn.Sequential`` with the same weights."""
    import torch
    from torch import nn

    nets = []
    for m in range(reg.model_.n_models):
        layers = []
        for i, (w, b) in enumerate(zip(reg.model_.weights, reg.model_.biases)):
            lin = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[m].T)
                lin.bias.copy_(b[m])
            layers.append(lin)
            if i < len(reg.model_.weights) - 1:
                layers.append(nn.ReLU())
        nets.append(nn.Sequential(*layers).eval())
    return nets


def baseline_train_epoch(x, y, n_targets, batch_size=256, seed=0):
    """One epoch of the papers' recipe: T separate Sequential nets, DataLoader, MAE, Adam."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    for t in range(n_targets):
        sizes = [x.shape[1], *HIDDEN]
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loader = DataLoader(TensorDataset(x, y[:, t:t + 1]), batch_size=batch_size, shuffle=True)
        for xb, yb in loader:
            loss = (net(xb) - yb).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()


def standardised(reg, phot):
    """The fitted regressor's standardised float32 feature tensor of ``phot``."""
    import torch

    from galfast.props.features import photometry_arrays

    f, e, o, _ = photometry_arrays(phot, reg.bands_)
    return reg.features_.transform_torch(*(torch.from_numpy(a) for a in (f, e, o, phot.z.astype(np.float32))))


def main(n_infer: int | None = None, n_train: int | None = None, full: bool = False, rounds: int = 3) -> dict:
    """Defaults: 10⁶ inference and 100,000 training objects, times ``$GALFAST_BENCH_SCALE``."""
    import torch  # noqa: F401  (imported first, so that thread_limits holds torch's threads too)

    n_infer = bench_size(1_000_000, 1000) if n_infer is None else n_infer
    n_train = bench_size(100_000, 1000) if n_train is None else n_train
    threads = bench_threads()
    with thread_limits(threads):
        return _run(n_infer, n_train, full, rounds, threads)


def _run(n_infer, n_train, full, rounds, threads) -> dict:
    import torch

    from galfast.props import PropertyRegressor

    out = {}
    phot_tr, y_tr = resampled(n_train, seed=1)
    reg = PropertyRegressor(targets=TARGETS, hidden=HIDDEN, epochs=3, patience=100, n_jobs=threads).fit(phot_tr, y_tr)

    # ------------------------------------------------------------------ inference
    phot_inf, _ = resampled(n_infer, seed=2)
    n_small = min(5000, n_train)
    small = PropertyRegressor(targets=TARGETS, hidden=(64, 64), epochs=1, n_jobs=threads).fit(
        phot_tr.select(np.arange(n_small)), y_tr[:n_small])
    nets = sequential_copy(reg)
    x = standardised(reg, phot_inf)
    reg.predict(phot_inf.select(np.arange(min(10000, n_infer))))                       # warm-up

    def networks_only():
        with torch.inference_mode():
            for s in range(0, n_infer, 8192):
                reg.model_(x[s:s + 8192])

    def baseline():
        with torch.no_grad():
            return [net(x) for net in nets]

    # interleaved rounds, best time of each (the shared machine's load drifts)
    best = interleaved_best({"ours": lambda: reg.predict(phot_inf), "nets": networks_only,
                             "bf16": lambda: reg.predict(phot_inf, precision="bfloat16"),
                             "small": lambda: small.predict(phot_inf), "base": baseline}, rounds)
    n_check = min(50000, n_infer)
    pred = reg.predict(phot_inf.select(np.arange(n_check)))
    ours_mu = (np.asarray(pred["log_mstar"]) - reg.target_mean_[0]) / reg.target_scale_[0]
    assert np.allclose(baseline()[0][:n_check, 0].numpy(), ours_mu, atol=1e-4)      # same numbers
    out["infer_ours_per_s"] = n_infer / best["ours"]
    out["infer_networks_only_per_s"] = n_infer / best["nets"]
    out["infer_ours_bf16_per_s"] = n_infer / best["bf16"]
    out["infer_ours_64x2_per_s"] = n_infer / best["small"]
    out["infer_baseline_per_s"] = n_infer / best["base"]
    base_label = "baseline nn.Sequential ×3, whole array, no_grad"
    print_ratio_table(
        f"inference, {n_infer:,} objects, 3 targets, {threads} threads, best of {rounds} interleaved rounds:",
        {"PropertyRegressor.predict (features+nets+flags+table)": out["infer_ours_per_s"],
         "its networks alone (blocks of 8192, inference_mode)": out["infer_networks_only_per_s"],
         "predict(precision='bfloat16')": out["infer_ours_bf16_per_s"],
         "predict, hidden=(64, 64) networks": out["infer_ours_64x2_per_s"],
         base_label: out["infer_baseline_per_s"]}, base_label)

    # ------------------------------------------------------------------ training per epoch
    x = standardised(reg, phot_tr)
    yy = torch.from_numpy(((np.column_stack([y_tr[t] for t in TARGETS]) - reg.target_mean_)
                           / reg.target_scale_).astype(np.float32))
    n_fit = int(0.8 * n_train)
    best = {"bs256": np.inf, "bs512": np.inf, "base": np.inf}
    for _ in range(rounds):      # interleaved; PropertyRegressor's own epoch time (history_)
        for bs in (256, 512):
            r = PropertyRegressor(targets=TARGETS, hidden=HIDDEN, epochs=1, patience=100, batch_size=bs,
                                  calibrate=False, n_jobs=threads).fit(phot_tr, y_tr)
            best[f"bs{bs}"] = min(best[f"bs{bs}"], r.history_["seconds"])
        best["base"] = min(best["base"], best_time(
            lambda: baseline_train_epoch(x[:n_fit], yy[:n_fit], len(TARGETS)), 1))
    out["train_epoch_ours_bs256_s"] = best["bs256"]
    out["train_epoch_ours_bs512_s"] = best["bs512"]
    out["train_epoch_baseline_s"] = best["base"]
    base_label = "baseline 3× Sequential + DataLoader, batch 256, MAE"
    print_ratio_table(
        f"training, one epoch on {n_fit:,} rows (80 % of {n_train:,}), 3 targets, best of {rounds} "
        f"(s/epoch: batch 256 {best['bs256']:.2f}, batch 512 {best['bs512']:.2f}, "
        f"baseline {best['base']:.2f}):",
        {"PropertyRegressor.fit, batch 256 (noise re-drawn)": n_fit / best["bs256"],
         "PropertyRegressor.fit, batch 512 (default)": n_fit / best["bs512"],
         base_label: n_fit / best["base"]}, base_label, unit="rows/s")

    if full:
        r = PropertyRegressor(targets=TARGETS, n_jobs=threads).fit(phot_tr, y_tr)
        out["full_fit_s"] = r.history_["seconds"]
        out["full_fit_epochs"] = r.history_["epochs_run"]
        print(f"full default fit on {n_train:,} objects: {r.history_['epochs_run']} epochs, "
              f"{r.history_['seconds'] / 60:.1f} min")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="also one complete default fit (minutes)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best of each (default 3)")
    args = ap.parse_args()
    main(full=args.full, rounds=args.rounds)
