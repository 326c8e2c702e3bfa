"""A minibatch epoch's permutation (derivtrain/trainer/batches.py: permutation): drawn on the CPU as
int32 and widened, it must be torch.randperm's own int64 permutation and leave the generator where
randperm leaves it, or resumed runs and runs of older versions would train on other batches. And the
gather thread that runs ahead of the step (gathered_ahead): the batches in order, an epoch left early
stops it, an error on it reaches the step's thread."""
import threading

import pytest
import torch

from derivtrain.trainer.batches import Batches, gathered_ahead, permutation


@pytest.mark.parametrize("n", [0, 1, 4097, 875_000])
def test_the_permutation_is_randperms_and_leaves_the_generator_as_randperm_does(n):
    ours, theirs = torch.Generator().manual_seed(n), torch.Generator().manual_seed(n)
    drawn = permutation(n, ours, torch.device("cpu"))
    assert drawn.dtype == torch.int64 and torch.equal(drawn, torch.randperm(n, generator=theirs))
    assert torch.equal(ours.get_state(), theirs.get_state())


def test_an_epoch_of_shuffled_rows_takes_every_row_once_in_the_permutations_order():
    X = torch.arange(10_000, dtype=torch.float32).reshape(5_000, 2)
    y = torch.arange(5_000)
    batches = Batches(X, y, 512, torch.Generator().manual_seed(3), shuffle="rows")
    order = torch.randperm(5_000, generator=torch.Generator().manual_seed(3))
    taken = torch.cat([targets for _, targets, _, _ in batches.epoch()])
    assert torch.equal(taken, order)
    assert torch.equal(torch.cat([rows for rows, _, _, _ in Batches(
        X, y, 512, torch.Generator().manual_seed(3), shuffle="rows").epoch()]), X[order])


def _gather_threads() -> list:
    return [t for t in threading.enumerate() if t.name == "derivtrain-gather"]


def test_the_gather_thread_hands_over_every_batch_in_order_and_ends_with_the_epoch():
    X = torch.randn(3_000, 7)
    indices = list(torch.randperm(3_000, generator=torch.Generator().manual_seed(1)).split(128))
    batches = list(gathered_ahead(lambda idx: X.index_select(0, idx), indices))
    assert len(batches) == len(indices)
    assert all(torch.equal(rows, X[idx]) for rows, idx in zip(batches, indices))
    assert not _gather_threads()


def test_an_epoch_left_early_stops_the_gather_thread_a_few_batches_on():
    asked = []

    def batch(idx):
        asked.append(idx)
        return idx

    epoch = gathered_ahead(batch, list(range(1_000)))
    assert [next(epoch) for _ in range(3)] == [0, 1, 2]
    epoch.close()  # a stop request, or an error in the step
    assert not _gather_threads()
    assert 3 <= len(asked) <= 3 + 1 + 1  # the batches taken, the one waiting, the one being made


def test_an_error_on_the_gather_thread_is_raised_in_the_step_thread_at_its_batch():
    def batch(idx):
        if idx == 4:
            raise MemoryError("no room for batch 4")
        return idx

    epoch = gathered_ahead(batch, list(range(10)))
    assert [next(epoch) for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(MemoryError, match="batch 4"):
        next(epoch)
    assert not _gather_threads()


def test_csr_rows_are_gathered_ahead_on_the_gather_thread_into_the_same_batches(monkeypatch):
    import derivtrain.trainer.batches as batches

    dense = torch.randn(2_000, 30).clamp_min_(1.0)  # mostly zeros: a text-like CSR table
    rows, y = dense.to_sparse_csr(), torch.arange(2_000)
    threads, take = [], batches.take_rows

    def recorded(X, idx):
        threads.append(threading.current_thread().name)
        return take(X, idx)

    monkeypatch.setattr(batches, "take_rows", recorded)
    epochs = [list(Batches(rows, y, 256, torch.Generator().manual_seed(5), ahead=ahead).epoch())
              for ahead in (False, True)]
    assert threads == ["MainThread"] * 8 + ["derivtrain-gather"] * 8
    for (inline, y_inline, _, _), (ahead, y_ahead, _, _) in zip(*epochs):
        assert torch.equal(inline.to_dense(), ahead.to_dense()) and torch.equal(y_inline, y_ahead)
        assert torch.equal(inline.to_dense(), dense[y_inline])
