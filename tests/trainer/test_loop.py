import threading

import pytest
import torch

from derivtrain.trainer.batches import Batches
from tests.trainer.helpers import fit_config


def params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_minibatches_cover_every_row_once_per_epoch():
    X = torch.arange(10.0).unsqueeze(1)
    batches = Batches(X, torch.arange(10), batch_size=4, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([xb[:, 0] for xb, _, _, _ in batches.epoch()])
    assert len(batches) == 3 and sorted(seen.tolist()) == list(range(10))
    assert not torch.equal(seen, X[:, 0])  # shuffled
    full = Batches(X, torch.arange(10), batch_size=None, generator=torch.Generator())
    (xb, _, _, weight), = list(full.epoch())
    assert xb is X and weight is None  # full batch: the tensor itself, no copy


def test_ranks_split_every_batch_and_weight_their_share():
    X = torch.arange(10.0).unsqueeze(1)
    parts = [list(Batches(X, torch.arange(10), 4, torch.Generator().manual_seed(0), rank, 2).epoch())
             for rank in (0, 1)]
    whole = list(Batches(X, torch.arange(10), 4, torch.Generator().manual_seed(0)).epoch())
    for (a, _, _, wa), (b, _, _, wb), (full, _, _, _) in zip(*parts, whole):
        assert torch.equal(torch.cat([a, b]), full) and wa + wb == 1  # same permutation, disjoint halves
    assert [w for _, _, _, w in parts[0]] == [0.5, 0.5, 0.5]


def test_same_seed_same_parameters_and_other_seed_differs(tmp_path):
    runs = [fit_config(tmp_path, "trainer.max_epochs=3", "trainer.batch_size=64", f"trainer.seed={s}")[2]
            for s in (0, 0, 1)]
    assert torch.equal(params(runs[0]), params(runs[1]))
    assert not torch.equal(params(runs[0]), params(runs[2]))


@pytest.mark.parametrize("optim", ["optim=sgd optim.nesterov=true", "optim=adam optim.lr=0.05",
                                   "optim=adamw optim.lr=0.05", "optim=lbfgs"])
def test_every_optimizer_trains_logistic_regression(tmp_path, optim):
    result, _, _ = fit_config(tmp_path, "model=logistic", *optim.split(), "trainer.max_epochs=25")
    assert result.metrics["train/accuracy"] >= 0.95 and result.metrics["val/accuracy"] >= 0.9


def test_schedules_change_the_learning_rate(tmp_path):
    # optim.lr given: the schedules' arithmetic on a known rate (null scales it to the rows: test_sgd_rate.py)
    _, log, _ = fit_config(tmp_path, "optim.lr=0.1", "optim.schedule=step", "optim.step_size=2", "optim.gamma=0.5",
                           "trainer.max_epochs=6", "trainer.log_every_n_steps=1")
    assert log.values("lr") == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    _, log, _ = fit_config(tmp_path, "optim.lr=0.1", "optim.schedule=cosine", "trainer.max_epochs=10",
                           "trainer.log_every_n_steps=1")
    lrs = log.values("lr")
    assert lrs[0] == pytest.approx(0.1) and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.01
    _, log, _ = fit_config(tmp_path, "optim.schedule=plateau", "optim.patience=0", "optim.lr=5",
                           "trainer.max_epochs=8", "trainer.log_every_n_steps=1")
    assert min(log.values("lr")) < 5  # a too-large step stalls the val loss, plateau cuts lr


def test_gradient_clipping_bounds_the_logged_norm(tmp_path):
    _, log, _ = fit_config(tmp_path, "trainer.gradient_clip_norm=0.01", "trainer.max_epochs=5",
                           "trainer.log_every_n_steps=1")
    norms = log.values("grad_norm")
    assert len(norms) == 5 and max(norms) <= 0.01 + 1e-6


def test_early_stopping_stops_after_patience(tmp_path):
    # min_delta so large that nothing after the first validation counts as an improvement
    result, _, _ = fit_config(tmp_path, "trainer.early_stopping.patience=2",
                              "trainer.early_stopping.min_delta=1e9", "trainer.max_epochs=50")
    assert result.stopped_early and result.epochs == 3


def test_validation_every_n_epochs_and_never(tmp_path):
    _, log, _ = fit_config(tmp_path, "trainer.val_every_n_epochs=2", "trainer.max_epochs=6")
    assert len(log.values("val/loss")) == 3
    _, log, _ = fit_config(tmp_path, "trainer.val_every_n_epochs=0", "trainer.max_epochs=6")
    assert log.values("val/loss") == []


def test_validation_nothing_reads_is_thinned_to_30_and_ends_on_the_final_numbers(tmp_path):
    """optim=sgd (no early stopping): at most 30 validations a run, evenly spread, and the curve ends at
    the last step on the report's final numbers."""
    result, log, _ = fit_config(tmp_path, "trainer.max_epochs=62")
    steps = [step for tag, _, step in log.scalars if tag == "val/loss"]
    assert steps == [*range(3, 61, 3), 62] and result.steps == 62
    assert log.values("val/loss")[-1] == result.metrics["val/loss"]


def test_validation_a_decision_reads_runs_every_epoch(tmp_path):
    _, log, _ = fit_config(tmp_path, "trainer.max_epochs=40", "trainer.early_stopping.patience=100")
    assert [step for tag, _, step in log.scalars if tag == "val/loss"] == list(range(1, 41))


def test_log_every_n_steps(tmp_path):
    result, log, _ = fit_config(tmp_path, "trainer.batch_size=32", "trainer.max_epochs=2",
                                "trainer.log_every_n_steps=5")
    assert result.steps == 2 * 13  # 398 training rows in batches of 32
    assert [s for k, _, s in log.scalars if k == "train/loss"] == [5, 10, 15, 20, 25]


def test_resume_continues_exactly(tmp_path):
    common = ["trainer.batch_size=50", "trainer.val_every_n_epochs=1"]
    _, _, straight = fit_config(tmp_path / "a", *common, "trainer.max_epochs=4")
    fit_config(tmp_path / "b", *common, "trainer.max_epochs=2")
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert state["epoch"] == 2
    result, _, resumed = fit_config(tmp_path / "c", *common, "trainer.max_epochs=4", resume_state=state)
    assert result.epochs == 4 and torch.equal(params(straight), params(resumed))


def test_checkpoint_every_n_epochs_writes_during_training(tmp_path):
    fit_config(tmp_path, "trainer.checkpoint_every_n_epochs=1", "trainer.max_epochs=2")
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] == 2


def test_batch_shuffling_hands_out_contiguous_views_in_a_new_order():
    X = torch.arange(10.0).unsqueeze(1)
    batches = Batches(X, torch.arange(10), 4, torch.Generator().manual_seed(0), shuffle="batches")
    epochs = [[xb for xb, _, _, _ in batches.epoch()] for _ in range(6)]
    for epoch in epochs:
        assert sorted(torch.cat(epoch)[:, 0].tolist()) == list(range(10))
        assert all(xb.untyped_storage().data_ptr() == X.untyped_storage().data_ptr() for xb in epoch)  # views
    orders = {tuple(int(xb[0, 0]) for xb in epoch) for epoch in epochs}
    assert len(orders) > 1  # the block order changes between epochs


@pytest.mark.parametrize("overrides", [["trainer.precision=bf16"], ["trainer.shuffle=batches", "trainer.batch_size=32"]])
def test_precision_and_shuffle_modes_train(tmp_path, overrides):
    result, _, _ = fit_config(tmp_path, *overrides, "trainer.max_epochs=20")
    assert result.metrics["val/accuracy"] >= 0.93


@pytest.mark.parametrize("ahead", [False, True])  # the batches gathered in the loop's thread, or on the gather thread
def test_a_stop_mid_epoch_checkpoints_its_position_and_resumes_exactly(tmp_path, monkeypatch, ahead):
    import derivtrain.trainer.batches as batches
    import derivtrain.trainer.loop as loop
    from derivtrain.trainer.interrupt import StopRequests, TrainingInterrupted

    epochs_ahead = []
    if ahead:  # these rows are below the size that starts the thread: start it anyway
        class Ahead(loop.GradientLoop):
            def __init__(self, ctx, gather_ahead=False):
                super().__init__(ctx, True)

        def counted(batch, indices, **kwargs):
            epochs_ahead.append(len(indices))
            yield from gathered_ahead(batch, indices, **kwargs)

        gathered_ahead = batches.gathered_ahead
        monkeypatch.setattr(loop, "GradientLoop", Ahead)
        monkeypatch.setattr(batches, "gathered_ahead", counted)

    class StopAfterEleven(StopRequests):
        """Reports a SIGTERM from the 11th look on: the loop looks after every step and at every
        epoch's end, so the 11th look is after step 10 (8 steps + 1 end of epoch 1, then 2)."""

        looks = 0

        @property
        def signal_name(self):
            StopAfterEleven.looks += 1
            return "SIGTERM" if StopAfterEleven.looks >= 11 else None

        @signal_name.setter
        def signal_name(self, value):
            pass

    common = ["trainer.batch_size=50", "trainer.max_epochs=4"]
    _, _, straight = fit_config(tmp_path / "a", *common)
    monkeypatch.setattr(loop, "StopRequests", StopAfterEleven)
    with pytest.raises(TrainingInterrupted, match="SIGTERM at epoch 2, step 10"):
        fit_config(tmp_path / "b", *common)
    monkeypatch.setattr(loop, "StopRequests", StopRequests)
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 2, 10)  # 8 batches per epoch
    assert bool(epochs_ahead) == ahead  # the runs from scratch (their range test's probe too) took the thread
    epochs_ahead.clear()
    result, _, resumed = fit_config(tmp_path / "c", *common, resume_state=state)
    assert result.steps == 32 and torch.equal(params(straight), params(resumed))
    # ahead: the resumed epoch's last 6 batches, then 2 whole epochs, from the thread; none left running
    assert epochs_ahead == ([6, 8, 8] if ahead else [])
    assert not [t for t in threading.enumerate() if t.name == "derivtrain-gather"]


@pytest.mark.parametrize("skip", [0, 2])
def test_sparse_rows_gathered_are_the_dense_batches(skip):
    """shuffle=rows on CSR rows gathers each batch's rows (scipy's gather): the batches, targets and
    their order are the dense ones' for the same permutation (a resumed epoch's skip included)."""
    dense = torch.rand(23, 5) * (torch.rand(23, 5) < 0.4)
    sparse_rows = dense.to_sparse_csr()
    weight = torch.rand(23)
    make = lambda X: Batches(X, torch.arange(23), 4, torch.Generator().manual_seed(3), sample_weight=weight)
    expected, got = list(make(dense).epoch(skip)), list(make(sparse_rows).epoch(skip))
    assert len(got) == len(expected) == 6 - skip
    for (xd, yd, wd, _), (xs, ys, ws, _) in zip(expected, got):
        assert xs.layout == torch.sparse_csr and torch.equal(xs.to_dense(), xd)
        assert torch.equal(ys, yd) and torch.equal(ws, wd)
