"""A minibatch's shuffled dense rows through the compiled gather (derivtrain/data/compiled_gather.py):
the same rows as torch's index_select, bit for bit, on real rows; torch's path where the gather does
not apply; and the gather-ahead thread of a minibatch epoch takes it."""
import pytest
import torch
from sklearn.datasets import load_digits

import derivtrain.compiled as compiled
import derivtrain.trainer.batches as batches
from derivtrain.data.compiled_gather import compiled_rows

needs_module = pytest.mark.skipif(compiled._ahead_of_time() is None, reason="no ahead-of-time module here")


def _digits(dtype) -> torch.Tensor:
    return torch.as_tensor(load_digits().data, dtype=dtype).contiguous()


@needs_module
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("width", [64, 7])  # a row of whole cache lines, and one shorter than a line
def test_the_compiled_gather_gives_index_selects_rows(monkeypatch, dtype, width):
    monkeypatch.setattr(compiled, "_jit", lambda name: pytest.fail(f"{name}: not the module's loop"))
    X = _digits(dtype)[:, :width].contiguous()
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    order[:2] = torch.tensor([len(X) - 1, 0])  # the last row and the first
    for idx in (order, order[:5], order[:0]):
        got = compiled_rows(X, idx)
        assert got.dtype == dtype and torch.equal(got, X.index_select(0, idx))


def test_rows_the_gather_cannot_take_go_to_torch():
    X = _digits(torch.float64)
    idx = torch.arange(10)
    assert compiled_rows(X[:, ::2], idx) is None  # not contiguous
    assert compiled_rows(X.half(), idx) is None
    assert compiled_rows(X.long(), idx) is None
    assert compiled_rows(X, idx.int()) is None  # the module takes int64 indices only


def test_without_the_module_the_gather_is_torchs(monkeypatch):
    monkeypatch.setattr("derivtrain.data.compiled_gather.available", lambda build: False)
    assert compiled_rows(_digits(torch.float32), torch.arange(3)) is None


@needs_module
@pytest.mark.parametrize("ahead", [True, False])  # on a second thread, or in the loop's own
def test_a_minibatch_epoch_gathers_through_the_compiled_loop(monkeypatch, ahead):
    X, y = _digits(torch.float32), torch.arange(1797) % 2
    calls = []
    real = batches.compiled_rows
    monkeypatch.setattr(batches, "compiled_rows", lambda X, idx: calls.append(len(idx)) or real(X, idx))
    monkeypatch.setattr(batches, "take_rows", lambda X, idx: pytest.fail("torch's gather ran"))
    weight = torch.rand(1797, dtype=torch.float64)  # sample weights travel with their rows (the same thread)
    generator = torch.Generator().manual_seed(0)
    seen = list(batches.Batches(X, y, 256, generator, sample_weight=weight, ahead=ahead).epoch())
    assert calls == [256] * 7 + [1797 - 7 * 256]
    rows, targets, weights = (torch.cat([batch[i] for batch in seen]) for i in range(3))
    order = torch.randperm(1797, generator=torch.Generator().manual_seed(0))
    # every row once, in the epoch's order, with its own target and weight
    assert torch.equal(rows, X[order]) and torch.equal(targets, y[order]) and torch.equal(weights, weight[order])
    assert all(share is None for *_, share in seen)
