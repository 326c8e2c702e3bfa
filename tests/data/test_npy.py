"""data=npy: features memory-mapped and read in chunks, against the same arrays in memory."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from derivtrain.data import build_data
from derivtrain.data.mapped import MappedNpy, MappedRows, apply_in_chunks
from derivtrain.data.out_of_core import chunked_moments, split_ranges
from derivtrain.trainer.chunked_batches import ChunkedBatches
from derivtrain.trainer.fitting import make_context
from tests.conftest import compose_config, run_main
from tests.peak_memory import SAMPLED_RUN, peaks


def save(folder, X, y=None, name="X.npy"):
    np.save(folder / name, X)
    if y is not None:
        np.save(folder / "y.npy", y)
    return folder / name


@pytest.fixture
def cancer_npy(tmp_path):
    """Breast cancer, rows shuffled once (splits keep file order), as X.npy and y.npy."""
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    save(tmp_path, X[order], y[order])
    return tmp_path, X[order], y[order]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_come_out_standardized_like_numpy(tmp_path, dtype):
    X = np.random.default_rng(1).normal(3, 5, size=(1000, 7)).astype(dtype)
    source = MappedNpy(save(tmp_path, X))
    mean, std = chunked_moments(source, 100, 900, chunk_rows=64)
    np.testing.assert_allclose(mean.numpy(), X[100:900].astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(std.numpy(), X[100:900].astype(np.float64).std(0), rtol=1e-10)
    rows = MappedRows(source, 100, 900, mean.float(), std.float(), chunk_rows=64)
    expected = (X[100:900].astype(np.float64) - mean.numpy()) / std.numpy()
    np.testing.assert_allclose(rows[:].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(torch.cat(list(rows.chunks())).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(rows[10:20].numpy(), expected[10:20], atol=1e-5)
    assert [len(c) for c in rows.chunks()] == [64] * 12 + [32]


def test_scores_in_chunks_equal_scores_in_memory(tmp_path):
    X = np.random.default_rng(2).normal(size=(500, 4)).astype(np.float32)
    rows = MappedRows(MappedNpy(save(tmp_path, X)), 0, 500, torch.zeros(4), torch.ones(4), chunk_rows=37)
    model = torch.nn.Linear(4, 3)
    with torch.no_grad():
        torch.testing.assert_close(apply_in_chunks(model, rows), model(torch.from_numpy(X)))


def test_splits_are_contiguous_and_cover_every_row():
    train, val, test = split_ranges(1000, test_size=0.2, val_size=0.1)
    assert (train, val, test) == ((0, 700), (700, 800), (800, 1000))


def _epoch_rows(batches, skip=0):
    return [(X.clone(), t.clone()) for X, t, _, _ in batches.epoch(skip)]


@pytest.mark.parametrize("shuffle", ["rows", "batches"])
def test_an_epoch_visits_every_row_once_in_a_new_order(tmp_path, shuffle):
    n = 1000
    X = np.arange(n, dtype=np.float32)[:, None].repeat(2, axis=1)  # each row holds its own index
    rows = MappedRows(MappedNpy(save(tmp_path, X)), 0, n, torch.zeros(2), torch.ones(2), chunk_rows=250)
    batches = ChunkedBatches(rows, torch.arange(n), 64, torch.Generator().manual_seed(0), shuffle=shuffle)
    first, second = _epoch_rows(batches), _epoch_rows(batches)
    assert len(first) == len(batches) == 4 * 4  # 250 rows -> chunks of 192 (3 whole batches of 64)...
    for epoch in (first, second):
        seen = torch.cat([x[:, 0] for x, _ in epoch]).long()
        assert sorted(seen.tolist()) == list(range(n))  # every row once
        assert all(torch.equal(x[:, 0].long(), t) for x, t in epoch)  # targets travel with their rows
        assert max(len(t) for _, t in epoch) == 64
    assert not torch.equal(torch.cat([t for _, t in first]), torch.cat([t for _, t in second]))


@pytest.mark.parametrize("shuffle", ["rows", "batches"])
def test_a_resumed_epoch_continues_the_same_batches(tmp_path, shuffle):
    n = 700
    X = np.random.default_rng(3).normal(size=(n, 3)).astype(np.float32)
    rows = MappedRows(MappedNpy(save(tmp_path, X)), 0, n, torch.zeros(3), torch.ones(3), chunk_rows=128)
    make = lambda: ChunkedBatches(rows, torch.arange(n), 32, torch.Generator().manual_seed(5), shuffle=shuffle)
    whole = _epoch_rows(make())
    for skip in (1, 4, 9, len(whole) - 1):
        resumed = _epoch_rows(make(), skip=skip)
        assert len(resumed) == len(whole) - skip
        assert all(torch.equal(a[1], b[1]) and torch.equal(a[0], b[0]) for a, b in zip(resumed, whole[skip:]))


@pytest.mark.parametrize("shuffle", ["rows", "batches"])
def test_ranks_split_every_batch_of_one_process(tmp_path, shuffle):
    n = 600
    X = np.random.default_rng(4).normal(size=(n, 2)).astype(np.float32)
    rows = MappedRows(MappedNpy(save(tmp_path, X)), 0, n, torch.zeros(2), torch.ones(2), chunk_rows=100)
    make = lambda rank, world: ChunkedBatches(rows, torch.arange(n), 50, torch.Generator().manual_seed(1),
                                              rank=rank, world_size=world, shuffle=shuffle)
    single = [t for _, t, _, _ in make(0, 1).epoch()]
    parts = [list(make(r, 2).epoch()) for r in (0, 1)]
    for whole, (_, t0, _, w0), (_, t1, _, w1) in zip(single, *parts):
        assert torch.equal(torch.cat([t0, t1]), whole) and w0 + w1 == pytest.approx(1.0)


def test_build_data_reads_the_splits_in_file_order(cancer_npy):
    folder, X, y = cancer_npy
    cfg = compose_config("data=npy", f"data.path={folder / 'X.npy'}", f"data.target={folder / 'y.npy'}",
                         "trainer.batch_size=64", "data.chunk_rows=100", "data.out_of_core=true")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    n_train = len(y) - round(0.2 * len(y)) - round(0.1 * len(y))
    assert (len(data.train), len(data.val), len(data.test)) == (n_train, round(0.1 * len(y)), round(0.2 * len(y)))
    np.testing.assert_allclose(data.feature_mean.numpy(), X[:n_train].mean(0), rtol=1e-6)
    assert data.spec.classes == [0, 1] and data.spec.n_features == 30
    torch.testing.assert_close(data.test.y, torch.as_tensor(y[-len(data.test):]))
    expected = (X[-len(data.test):] - X[:n_train].mean(0)) / X[:n_train].std(0)
    np.testing.assert_allclose(data.test.X[:].numpy(), expected, atol=1e-4)


def test_svm_trains_from_npy_files_through_the_cli(cancer_npy):
    folder, X, y = cancer_npy
    run = folder / "run"
    proc = run_main("data=npy", f"data.path={folder / 'X.npy'}", f"data.target={folder / 'y.npy'}", "model=svm",
                   "trainer.batch_size=64", "data.chunk_rows=128", "data.out_of_core=true", "trainer.max_epochs=20", "logger=none",
                   f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/accuracy"] >= 0.94
    from derivtrain import load_run

    model = load_run(run)  # the standardization fitted chunk by chunk travels with the model
    test = slice(len(y) - round(0.2 * len(y)), None)
    assert (model.predict(X[test]) == y[test]).mean() == pytest.approx(metrics["test/accuracy"], abs=1e-6)


def test_training_matches_the_same_rows_in_memory(cancer_npy, tmp_path):
    """One chunk, one batch per epoch: the chunked path must give the full-batch path's parameters
    (the rows come in a shuffled order, so only the summation order differs)."""
    from dataclasses import replace

    from derivtrain.logging import NullLogger
    from derivtrain.run import build_objective, seed_everything
    from derivtrain.trainer.loop import fit

    folder, X, y = cancer_npy
    n_train = len(y) - round(0.2 * len(y))
    cfg = compose_config("data=npy", f"data.path={folder / 'X.npy'}", f"data.target={folder / 'y.npy'}",
                         "model=svm", "optim=sgd", "trainer.max_epochs=20", f"trainer.batch_size={n_train}", "data.out_of_core=true",
                         "data.val_size=0")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    in_memory = replace(data, train=replace(data.train, X=data.train.X[:]))
    trained = []
    for which, batch_size in ((data, n_train), (in_memory, None)):
        seed_everything(0)
        objective = build_objective(cfg, which)
        cfg.trainer.batch_size = batch_size
        fit(make_context(cfg, objective, which, NullLogger(), tmp_path / f"{batch_size}.pt"))
        trained.append(objective.model)
    assert isinstance(data.train.X, MappedRows) and isinstance(in_memory.train.X, torch.Tensor)
    for (name, a), (_, b) in zip(trained[0].named_parameters(), trained[1].named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)




@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    """A 160 MB file trains with about the memory of a 0.8 MB one: chunks are released once read."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    sizes = {"big": 400_000, "small": 2_000}
    for name, n in sizes.items():
        X = np.lib.format.open_memmap(tmp_path / f"X_{name}.npy", mode="w+", dtype=np.float32, shape=(n, 100))
        for a in range(0, n, 50_000):
            X[a:a + 50_000] = rng.normal(size=(min(50_000, n - a), 100))
        X.flush()
        del X
        np.save(tmp_path / f"y_{name}.npy", rng.integers(0, 2, size=n))
    peak = {}
    for name in sizes:
        proc = subprocess.run([sys.executable, "-c", SAMPLED_RUN, "data=npy",
                               f"data.path={tmp_path / f'X_{name}.npy'}", f"data.target={tmp_path / f'y_{name}.npy'}",
                               "model=svm", "trainer.max_epochs=1", "trainer.batch_size=1024", "data.chunk_rows=4096", "data.out_of_core=true", "logger=none",
                               f"hydra.run.dir={tmp_path / f'run_{name}'}"], capture_output=True, text=True)
        assert "PEAK" in proc.stdout, proc.stderr
        peak[name] = peaks(proc.stdout)[0]  # (anonymous, file-mapped) bytes
    file_bytes = sizes["big"] * 100 * 4
    anon, mapped = (big - small for big, small in zip(peak["big"], peak["small"]))
    assert anon < 0.2 * file_bytes and mapped < 0.2 * file_bytes, (anon, mapped, file_bytes)
