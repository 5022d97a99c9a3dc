"""augment: exactness against NumPy, seeding, HOG on analytic images, balancing, torch Dataset, CuPy."""
import numpy as np
import pytest

from galfast.images.augment import (Augmenter, CutoutDataset, apply, augment_batch, balance_indices, draw,
                                    flip_batch, hog, hog_image, rot90_batch)


@pytest.fixture
def batch(rng):
    return rng.normal(size=(40, 3, 32, 32)).astype(np.float32)


def test_rot90_and_flips_equal_numpy(batch):
    k = np.arange(40) % 4
    out = rot90_batch(batch, k)
    for i in range(40):
        assert np.array_equal(out[i], np.rot90(batch[i], k[i], axes=(-2, -1)))
    fx, fy = np.arange(40) % 2 == 0, np.arange(40) % 3 == 0
    out = flip_batch(batch, fx, fy)
    for i in range(40):
        e = batch[i]
        e = np.flip(e, -1) if fx[i] else e
        e = np.flip(e, -2) if fy[i] else e
        assert np.array_equal(out[i], e)


def test_draws_applied_exactly_and_same_seed_same_output(batch):
    d = draw(3, batch.shape, noise=True)
    out = apply(batch, d, noise_sigma=0.2)
    for i in range(40):
        e = np.rot90(batch[i], d.k[i], axes=(-2, -1))
        e = np.flip(e, -1) if d.flip_x[i] else e
        e = np.flip(e, -2) if d.flip_y[i] else e
        assert np.array_equal(out[i], e + (d.noise[i] * np.float32(0.2)).astype(np.float32))
    a = augment_batch(batch, 11, noise_sigma=0.1, p_hog=0.3)
    b = augment_batch(batch, 11, noise_sigma=0.1, p_hog=0.3)
    c = augment_batch(batch, 12, noise_sigma=0.1, p_hog=0.3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == batch.shape
    assert set(np.unique(d.k)) == {0, 1, 2, 3}


def test_hog_of_ramps_is_analytic():
    a = 0.5
    ramp = np.tile(np.arange(32, dtype=np.float32) * a, (1, 1, 32, 1))   # I = a · column
    h = hog(ramp, cell=4, n_bins=9)
    assert h.shape == (1, 1, 8, 8, 9)
    # interior cells: gradient 2a (central difference) along the columns: all in bin 0
    assert np.allclose(h[0, 0, 1:-1, 1:-1, 0], 2 * a)
    assert np.allclose(h[0, 0, 1:-1, 1:-1, 1:], 0)
    # border cells hold the zero-gradient edge column (skimage's convention): 3/4 of 2a
    assert np.allclose(h[0, 0, 1:-1, 0, 0], 2 * a * 3 / 4)
    hv = hog(np.swapaxes(ramp, -1, -2), cell=4, n_bins=9)   # gradient along rows: 90° → bin 4 of 9
    assert np.allclose(hv[0, 0, 1:-1, 1:-1, 4], 2 * a) and np.allclose(hv[0, 0, 1:-1, 1:-1, :4], 0)
    img = hog_image(ramp, cell=4, n_bins=9)
    assert img.shape == ramp.shape
    # each cell's image sums to cell² × Σ histogram (templates are normalised)
    cells = img[0, 0].reshape(8, 4, 8, 4).sum(axis=(1, 3))
    assert np.allclose(cells, 16 * h[0, 0].sum(-1), rtol=1e-5)
    assert np.allclose(hog_image(np.zeros((2, 1, 8, 8), np.float32)), 0)


def test_balancing_raises_rare_values(rng):
    y = rng.normal(size=2000)
    idx = balance_indices(y, 0, n_bins=10, max_factor=5)
    assert np.array_equal(np.sort(np.unique(idx)), np.arange(2000))          # every row kept
    before = np.histogram(y, 10)[0]
    after = np.histogram(y[idx], 10)[0]
    assert after.min() / after.max() > 2 * before.min() / before.max()
    assert np.all(after <= before.max()) and np.all(after >= np.minimum(before * 5, before.max()) - 1)
    assert np.array_equal(idx, balance_indices(y, 0, n_bins=10, max_factor=5))


def test_augmenter_on_torch_and_dataset(batch):
    import torch

    aug = Augmenter(noise_sigma="background", seed=4)
    out = aug(torch.from_numpy(batch))
    assert isinstance(out, torch.Tensor) and out.shape == batch.shape
    ref = Augmenter(noise_sigma="background", seed=4)(batch)
    assert np.array_equal(out.numpy(), ref)
    ds = CutoutDataset(batch, np.arange(40.0), Augmenter(seed=0))
    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == 40
    dl = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=False, collate_fn=CutoutDataset.collate)
    xb, yb = next(iter(dl))
    assert xb.shape == (16, 3, 32, 32) and np.array_equal(yb[:, 0].numpy(), np.arange(16.0))
    x0, y0 = ds[3]
    assert x0.shape == (3, 32, 32) and float(y0[0]) == 3.0


def test_cupy_matches_numpy(batch):
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("no GPU")
    a = augment_batch(batch, 5, noise_sigma=0.1)
    b = augment_batch(cupy.asarray(batch), 5, noise_sigma=0.1).get()
    assert np.array_equal(a, b)                       # rot/flip/noise: bit-identical
    ha, hb = hog_image(batch), hog_image(cupy.asarray(batch)).get()
    assert np.mean(np.isclose(ha, hb, rtol=1e-5, atol=1e-6)) > 0.999
