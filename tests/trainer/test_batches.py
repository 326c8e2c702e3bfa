"""A minibatch epoch's permutation (derivtrain/trainer/batches.py: permutation): drawn on the CPU as
int32 and widened, it must be torch.randperm's own int64 permutation and leave the generator where
randperm leaves it, or resumed runs and runs of older versions would train on other batches."""
import pytest
import torch

from derivtrain.trainer.batches import Batches, permutation


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
