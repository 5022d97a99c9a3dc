"""Posterior sampling speed against its baselines, all in this one process, same trained likelihood.

* one log-density gradient: torch autograd on one object (what Pyro's NUTS calls), the network
  as a native PyTensor graph (Numba mode) and the fused Numba Op (galfast's default);
* one object at 4 × (1000 + 1000) with nutpie: the fused Op vs the native PyTensor graph
  (seconds per object, leapfrog steps per draw, diagnostics);
* objects per minute: nutpie one object at a time vs blackjax vmapped over a batch of objects
  (the GPU path, here on the CPU);
* Pyro's NUTS (the thesis' sampler) on the same torch network and prior, one chain, at equal
  bulk ESS per second.

The likelihood: ``--model FILE`` (a NeuralLikelihood), else one trained here on
``galfast.simulate`` JWST+HST photometry (11 bands, default network) and kept in
bench/posterior_results/nl11.safetensors (committed; made by bench/posterior_train.sh).

    python bench/ratios_posterior.py [--model FILE] [--objects 3] [--batch 8] [--no-pyro]

Results, with the command and machine: bench/posterior_results.md.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from common import HERE, bench_size, print_ratio_table

CACHE = HERE / "posterior_results" / "nl11.safetensors"


def likelihood(path=None):
    import galfast
    from galfast.posterior import NeuralLikelihood
    from galfast.sim import simulate

    path = Path(path) if path else CACHE
    if path.exists():
        return galfast.load_model(path)
    sims = simulate(bench_size(20_000, 500), "jwst_hst", seed=11, missing_fraction=0.05, progress=False, n_jobs=2)
    nl = NeuralLikelihood(epochs=60, lr=2e-3, patience=10, n_jobs=2).fit(sims)
    path.parent.mkdir(parents=True, exist_ok=True)
    nl.save(path)
    return nl


def objects(nl, n, seed=99):
    from galfast.sim import simulate

    sims = simulate(max(4 * n, 20), "jwst_hst", seed=seed, missing_fraction=0.05, progress=False)
    flux, err, obs = nl._arrays(nl.to_photometry(sims))
    ok = np.flatnonzero(obs.sum(1) >= 6)[:n]
    return flux[ok], err[ok], obs[ok], nl.theta_array(sims[ok])


def gradient_costs(nl, flux, err, obs, repeats=3000) -> dict:
    """µs per (ln p, ∇ ln p) of one object."""
    import pytensor
    import pytensor.tensor as pt
    import torch

    from galfast.posterior import pymc_export as px
    from galfast.posterior.likelihood import masked_loglike_torch

    theta0 = 0.5 * (nl.theta_min_ + nl.theta_max_)
    out = {}
    t = torch.tensor(theta0[None], requires_grad=True)
    e_t, f_t, m_t = (torch.tensor(a[None]) for a in (err, flux, obs))

    def torch_grad():
        t.grad = None
        mu, cov = nl.network_.mean_and_cov(t)
        masked_loglike_torch(mu, cov, e_t, f_t, m_t)[0].backward()

    for name, fused in (("native PyTensor graph", False), ("fused Numba Op", True)):
        th, f, e, m = pt.dvector("theta"), pt.dvector("flux"), pt.dvector("err"), pt.dvector("mask")
        ll = px.loglike_graph(nl, th, f, e, m, fused=fused)
        fn = pytensor.function([th, f, e, m], [ll, pt.grad(ll, th)], mode="NUMBA")
        fn.trust_input = True
        args = (theta0, flux, err, obs.astype(np.float64))
        fn(*args)
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(*args)
        out[name] = (time.perf_counter() - t0) / repeats * 1e6
    torch_grad()
    t0 = time.perf_counter()
    for _ in range(repeats // 10):
        torch_grad()
    out["torch autograd"] = (time.perf_counter() - t0) / (repeats // 10) * 1e6
    return out


def nutpie_objects(nl, flux, err, obs, fused, **run):
    from galfast.posterior import PosteriorSampler

    s = PosteriorSampler(nl, fused=fused)
    rows = []
    for k in range(len(flux)):
        r = s.sample(flux[k], err[k], obs[k], random_state=k, **run)
        steps = float(r.idata.sample_stats["n_steps"].mean())
        rows.append((r.seconds, steps, r.diagnostics))
    return s.compile_seconds, rows


def pyro_object(nl, flux, err, obs, warmup=300, draws=300):
    """Pyro NUTS (1 chain) on the same network and training prior, in the same coordinates."""
    import arviz as az
    import pyro
    import torch
    from pyro.infer import MCMC, NUTS

    from galfast.posterior.likelihood import masked_loglike_torch
    from galfast.posterior.prior import log_density

    class TorchOps:                       # the array module log_density needs, in torch
        log, exp, stack = torch.log, torch.exp, torch.stack
        sum = staticmethod(lambda x, axis: torch.sum(x, dim=axis))
        max = staticmethod(lambda x, axis: torch.amax(x, dim=axis))

    pr = nl.prior_
    lo, hi = torch.tensor(pr.lo), torch.tensor(pr.hi)
    w, mu_k, lk = (torch.tensor(a) for a in (pr.weights, pr.means, pr.prec_chol))
    e_t, f_t, m_t = (torch.tensor(a[None]) for a in (err, flux, obs))

    def potential(params):
        u = params["u"]
        theta = lo + (hi - lo) * torch.sigmoid(u)
        mu, cov = nl.network_.mean_and_cov(theta[None])
        return -(masked_loglike_torch(mu, cov, e_t, f_t, m_t)[0] + log_density(u, w, mu_k, lk, TorchOps))

    pyro.set_rng_seed(0)
    init = {"u": torch.tensor(pr.means[int(np.argmax(pr.weights))])}
    mcmc = MCMC(NUTS(potential_fn=potential), num_samples=draws, warmup_steps=warmup, initial_params=init,
                disable_progbar=True)
    t0 = time.perf_counter()
    mcmc.run()
    sec = time.perf_counter() - t0
    u = mcmc.get_samples()["u"].numpy()
    theta = pr.lo + (pr.hi - pr.lo) / (1 + np.exp(-u))
    ess = min(float(az.ess(theta[None, :, j])) for j in range(theta.shape[1]))
    return sec, ess


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-pyro", action="store_true")
    ap.add_argument("--no-blackjax", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    nl = likelihood(args.model)
    flux, err, obs, truth = objects(nl, max(args.objects, args.batch))
    print(f"likelihood: {len(nl.bands_)} bands, parameters {nl.parameters_}, hidden {nl.hidden}, "
          f"{nl.n_blocks} trunk blocks")
    g = gradient_costs(nl, flux[0], err[0], obs[0])
    print_ratio_table("one log-density gradient (one object)", {k: 1e6 / v for k, v in g.items()},
                      "torch autograd", unit="gradients/s")
    run = dict(chains=4, tune=1000, draws=1000)
    n = args.objects
    per = {}
    for name, fused in (("nutpie, fused Op", True), ("nutpie, native PyTensor", False)):
        comp, rows = nutpie_objects(nl, flux[:n], err[:n], obs[:n], fused, **run)
        sec = np.array([r[0] for r in rows])
        per[name] = 60.0 / sec.mean()
        print(f"{name}: compile {comp:.0f} s; per object {', '.join(f'{s:.1f}' for s in sec)} s; steps/draw "
              f"{', '.join(f'{r[1]:.0f}' for r in rows)}; passed {sum(r[2]['passed'] for r in rows)}/{n}; "
              f"max R-hat {', '.join(format(r[2]['max_rhat'], '.3f') for r in rows)}; divergences "
              f"{', '.join(str(r[2]['divergences']) for r in rows)}")
        if fused:
            nutpie_ess_rate = np.mean([r[2]["min_ess_bulk"] / r[0] for r in rows])
    if not args.no_blackjax:
        from galfast.posterior.batched import sample_batch

        b = args.batch
        t0 = time.perf_counter()
        sample_batch(nl, flux[:b], err[:b], obs[:b], seeds=np.arange(b), **run)
        first = time.perf_counter() - t0
        res = sample_batch(nl, flux[:b], err[:b], obs[:b], seeds=np.arange(b), **run)
        per[f"blackjax, batch of {b}"] = 60.0 * b / res.seconds
        print(f"blackjax batch of {b}: first call (with XLA compile) {first:.0f} s, then {res.seconds:.0f} s; "
              f"passed {sum(d['passed'] for d in res.diagnostics)}/{b}")
    print_ratio_table("objects per minute, 4 × (1000 + 1000)", per, "nutpie, native PyTensor", unit="objects/min")
    if not args.no_pyro:
        sec, ess = pyro_object(nl, flux[0], err[0], obs[0])
        print_ratio_table("bulk ESS per second, one object (smallest over parameters)",
                          {"Pyro NUTS (1 chain, 300 + 300)": ess / sec, "nutpie, fused Op (4 chains)": nutpie_ess_rate},
                          "Pyro NUTS (1 chain, 300 + 300)", unit="ESS/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
