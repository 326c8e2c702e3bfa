"""Standardization's compiled passes (derivtrain/data/compiled_standardize.py) give what numpy's give:
the moments to rounding, the standardized rows bit for bit (the same float64 operations, then the
same rounding), on real rows read in a random split order, in ranges shared out over two threads;
and a whole build of a run's data is the same either way."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import derivtrain.compiled as compiled
import derivtrain.data.compiled_standardize as compiled_standardize
import derivtrain.threads as threads
from derivtrain.data.standardize import dense_moments

needs_module = pytest.mark.skipif(compiled._ahead_of_time() is None, reason="no ahead-of-time module here")


@pytest.fixture
def small_ranges(monkeypatch):
    """digits (115k numbers) taken as large, in ranges of 300 rows on two threads."""
    monkeypatch.setattr(compiled_standardize, "SMALL", 0)
    monkeypatch.setattr(compiled_standardize, "_RANGE", 300)
    monkeypatch.setattr(threads, "available", lambda: 2)


@needs_module
@pytest.mark.parametrize("source", [np.float64, np.float32])
@pytest.mark.parametrize("out", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["C", "columns of a wider array"])
def test_the_compiled_passes_give_numpys_numbers(small_ranges, source, out, layout, monkeypatch):
    monkeypatch.setattr(compiled, "_jit", lambda name: pytest.fail(f"{name}: not the module's loop"))
    X = load_digits().data.astype(source) * 3.0 + 1e4  # far from zero for its spread: cancellation would show
    if source == np.float64:  # a raw column 3e7 + N(0, 1): centred in float64 it keeps its spread
        X[:, 5] = 3e7 + np.random.default_rng(1).standard_normal(len(X))
    if layout != "C":
        X = np.hstack([X, np.ones((len(X), 3), dtype=source)])[:, 1:-2]
    offset = 5  # a rank's rows start at source row 5 (derivtrain/data/shards.py)
    rows = np.random.default_rng(0).permutation(np.arange(offset, len(X) + offset))[:1500]
    count, mean, m2 = compiled_standardize.compiled_moments(X, rows, offset)
    ref_count, ref_mean, ref_m2 = dense_moments(lambda a, b: X[rows[a:b] - offset].astype(np.float64), len(rows),
                                                X.shape[1])
    assert count == ref_count == 1500
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-14)
    np.testing.assert_allclose(m2, ref_m2, rtol=1e-9, atol=1e-9 * ref_m2.max())
    mean_t = torch.as_tensor(ref_mean)
    scale_t = torch.as_tensor(np.where(ref_m2 > 0, np.sqrt(ref_m2 / count), 1.0))
    got = compiled_standardize.compiled_standardized(X, rows, offset, mean_t, scale_t, out)
    expected = torch.as_tensor(X[rows - offset], dtype=torch.float64).sub_(mean_t).div_(scale_t).to(out)
    assert got.dtype == out and torch.equal(got, expected)
    if source == np.float64:
        column = got[:, 5 - (layout != "C")].double()
        assert abs(float(column.std()) - 1.0) < 0.01 and len(torch.unique(column)) > 1000


def test_a_table_the_loops_cannot_take_goes_to_numpy(small_ranges):
    X = load_digits().data
    rows = np.arange(len(X))
    for table in (X.astype(np.int64), X.astype(np.float16)):
        assert compiled_standardize.compiled_moments(table, rows, 0) is None
    read_only = X.copy()
    read_only.flags.writeable = False
    assert compiled_standardize.compiled_moments(read_only, rows, 0) is None


@needs_module
def test_a_runs_data_is_the_same_built_either_way(small_ranges, monkeypatch):
    from derivtrain.data import build_data
    from tests.conftest import compose_config

    import derivtrain.data.in_memory as in_memory

    taken = []
    moments, standardized = in_memory.compiled_moments, in_memory.compiled_standardized
    monkeypatch.setattr(in_memory, "compiled_moments", lambda *a: taken.append(moments(*a)) or taken[-1])
    monkeypatch.setattr(in_memory, "compiled_standardized", lambda *a: taken.append(standardized(*a)) or taken[-1])
    cfg = compose_config("model=logistic", "data=digits")  # its table: a view of scikit-learn's array
    fast = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert len(taken) == 4 and all(part is not None for part in taken)  # the moments, three splits
    monkeypatch.setattr(compiled_standardize, "available", lambda build=True: False)
    plain = build_data(cfg.data, torch.device("cpu"), seed=0)
    torch.testing.assert_close(fast.feature_mean, plain.feature_mean, rtol=1e-14, atol=0)
    for name in ("train", "val", "test"):
        a, b = getattr(fast, name), getattr(plain, name)
        assert torch.allclose(a.X, b.X, rtol=1e-6, atol=1e-6) and torch.equal(a.y, b.y)


@needs_module
def test_the_estimators_standardizer_takes_the_compiled_moments(small_ranges, monkeypatch):
    """derivtrain.Estimator's mean and scale (estimator/arrays.py) from the compiled moments: scikit-
    learn's StandardScaler's to rounding, constant features kept at scale 1."""
    from sklearn.preprocessing import StandardScaler

    import derivtrain.estimator.arrays as arrays

    taken = []
    moments = arrays.compiled_moments
    monkeypatch.setattr(arrays, "compiled_moments", lambda *a: taken.append(moments(*a)) or taken[-1])
    X = load_digits().data  # its first column is constant (0)
    mean, scale = arrays.weighted_standardizer(X, None)
    reference = StandardScaler().fit(X)
    assert taken and taken[0] is not None
    np.testing.assert_allclose(mean, reference.mean_, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(scale, reference.scale_, rtol=1e-12)
    assert scale[0] == 1.0
