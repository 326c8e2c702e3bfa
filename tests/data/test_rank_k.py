"""X^T diag(w) X as one symmetric rank-k update (derivtrain/data/rank_k.py) equals the product
it replaces, on every path: numpy's syrk, torch's chunks, negative weights, float32, and the
estimator takes a float64 array without copying it."""
import numpy as np
import pytest
import torch

from derivtrain.data import rank_k
from derivtrain.estimator.arrays import training_data
from derivtrain.data.table import DataSpec


def _exact(X, w):
    Xn, wn = X.double().numpy(), w.double().numpy()
    return torch.from_numpy(Xn.T @ (Xn * wn[:, None]))


@pytest.mark.parametrize("syrk", [True, False])
@pytest.mark.parametrize("n", [1, 7, 20_011])  # 20_011 rows of 51: chunks of 10_280 and a short last one
def test_gram_is_the_weighted_product_on_both_paths(monkeypatch, syrk, n):
    monkeypatch.setattr(rank_k, "_blas_syrk", lambda X, work: syrk)
    g = torch.Generator().manual_seed(n)
    X = torch.randn(n, 51, generator=g, dtype=torch.float64)
    w = torch.rand(n, generator=g, dtype=torch.float64)
    w[0] = 0.0  # a row of no curvature
    out = rank_k.weighted_gram(X, w)
    torch.testing.assert_close(out, _exact(X, w), rtol=1e-12, atol=1e-10)
    assert torch.equal(out, out.T)  # both triangles, exactly symmetric



@pytest.mark.parametrize("syrk", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rows_of_no_curvature_are_left_out_and_the_product_is_the_same(monkeypatch, syrk, dtype):
    """A squared hinge's curvature: most rows past the margin (0). Only the others are read, chunk by
    chunk across a chunk's end, into the scaled buffer (float32 blocks of float64 rows too)."""
    monkeypatch.setattr(rank_k, "_blas_syrk", lambda X, work: syrk)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30_001, 51, generator=g, dtype=torch.float64)
    w = torch.rand(30_001, generator=g, dtype=torch.float64) * (torch.rand(30_001, generator=g) < 0.4)
    read, chunk = [], rank_k._scaled_chunk

    def spy(X, roots, buffer, a, taken):
        read.append(len(taken[a:a + len(roots)]))
        return chunk(X, roots, buffer, a, taken)

    monkeypatch.setattr(rank_k, "_scaled_chunk", spy)
    out = rank_k.weighted_gram(X, w, dtype)
    assert 0 < sum(read) == int((w > 0).sum()) < 0.5 * len(X) and len(read) >= 2  # only those rows, in chunks
    torch.testing.assert_close(out.double(), _exact(X, w), rtol=1e-12 if dtype == torch.float64 else 1e-5,
                               atol=1e-9 if dtype == torch.float64 else 1e-1)
    assert out.dtype == dtype and torch.equal(out, out.T)

def test_negative_weights_and_float32_and_views():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 12, generator=g, dtype=torch.float64)
    w = torch.randn(300, generator=g, dtype=torch.float64)  # not a curvature: the general product
    torch.testing.assert_close(rank_k.weighted_gram(X, w), _exact(X, w))
    w = w.abs()
    view = X[::2, 1:]  # not contiguous
    torch.testing.assert_close(rank_k.weighted_gram(view, w[::2]), _exact(view, w[::2]))
    single = rank_k.weighted_gram(X.float(), w.float())
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), _exact(X, w), rtol=1e-5, atol=1e-4)
    assert rank_k.weighted_gram(X[:0], w[:0]).abs().sum() == 0


def test_estimator_rows_are_the_callers_array_or_one_standardized_copy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4)) * 3 + 1
    before = X.copy()
    spec = DataSpec("regression", 4, [], [f"x{i}" for i in range(4)])
    y = rng.standard_normal(50)
    plain = training_data(X, y, None, spec, False, torch.device("cpu"))
    assert plain.train.X.data_ptr() == X.ctypes.data  # no copy: float64, C order, writable
    standardized = training_data(X, y, None, spec, True, torch.device("cpu"))
    assert standardized.train.X.data_ptr() != X.ctypes.data
    expected = (before - before.mean(0)) / before.std(0)
    np.testing.assert_allclose(standardized.train.X.numpy(), expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(X, before)  # the caller's array is never written
    X.setflags(write=False)  # read-only (a memory map): copied, never aliased
    frozen = training_data(X, y, None, spec, False, torch.device("cpu"))
    assert frozen.train.X.data_ptr() != X.ctypes.data and torch.equal(frozen.train.X, plain.train.X)
    fortran = training_data(np.asfortranarray(before), y, None, spec, True, torch.device("cpu"))
    assert fortran.train.X.is_contiguous()  # its mean sums in another order: equal to rounding
    torch.testing.assert_close(fortran.train.X, standardized.train.X, rtol=1e-13, atol=1e-13)
    single = training_data(before.astype(np.float32), y, None, spec, True, torch.device("cpu"))
    assert single.train.X.dtype == torch.float64


@pytest.mark.parametrize("syrk", [True, False])
def test_every_class_block_in_one_call_is_each_class_alone(monkeypatch, syrk):
    """weighted_grams (K columns of curvature: one-vs-rest, a preconditioner's diagonal blocks) gives
    each column's weighted_gram bit for bit, in X's dtype or float32; a column of both signs too."""
    monkeypatch.setattr(rank_k, "_blas_syrk", lambda X, work: syrk)
    g = torch.Generator().manual_seed(3)
    X = torch.randn(2_500, 23, generator=g, dtype=torch.float64)
    W = torch.rand(2_500, 4, generator=g, dtype=torch.float64)
    W[:, 2] = 0.0  # a class no row curves
    for dtype in (None, torch.float32):
        together = rank_k.weighted_grams(X, W, dtype)
        assert together.shape == (4, 23, 23) and together.dtype == (dtype or X.dtype)
        for k in range(4):
            assert torch.equal(together[k], rank_k.weighted_gram(X, W[:, k], dtype))
    W[:, 1] -= 0.5  # curvatures of both signs: each column by itself
    torch.testing.assert_close(rank_k.weighted_grams(X, W)[1], _exact(X, W[:, 1]))


def test_float32_keeps_says_whether_each_columns_mean_is_within_100_spreads():
    """The decision numpy's population std gives, on digits' raw pixels (constant columns of 0
    among them), a column shifted to 3e7 + its spread (float32 keeps none of it), and one whose
    mean sits just inside and just outside 100 spreads."""
    from sklearn.datasets import load_digits

    pixels = load_digits().data
    noise = np.random.default_rng(0).standard_normal((4000, 3))

    def reference(X):
        sample = X[::max(1, len(X) // 4096)]
        return bool((np.abs(sample.mean(axis=0)) <= 100 * sample.std(axis=0)).all())

    cases = {"digits": pixels, "shifted": pixels + np.r_[3e7, np.zeros(63)],
             "inside": noise + [0.0, 99.0 * noise[:, 1].std(), 0.0],
             "outside": noise + [0.0, 101.0 * noise[:, 1].std(), 0.0]}
    found = {name: rank_k.float32_keeps(torch.from_numpy(X)) for name, X in cases.items()}
    assert found == {name: reference(X) for name, X in cases.items()}
    assert found == {"digits": True, "shifted": False, "inside": True, "outside": False}
