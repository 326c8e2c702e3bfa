"""optim=auto gives a large table minibatches (derivtrain/trainer/auto_batch.py), stops their epochs
with scikit-learn's tolerance (a gain must beat 1e-4 of the best), says what it chose, and leaves
small tables, named optimizers, chosen batch sizes and convex models as they were."""
import json
import re
from types import SimpleNamespace

import pytest

from derivtrain.trainer.auto_batch import AUTO_BATCH_ROWS, AUTO_BATCH_SIZE, auto_batch_size
from derivtrain.trainer.early_stopping import EarlyStopping
from tests.conftest import run_main

MLP = SimpleNamespace(model=object())


def _options(name="auto", batch_size=None):
    return SimpleNamespace(name=name), SimpleNamespace(batch_size=batch_size)


def test_minibatches_only_above_the_threshold_under_auto_with_no_batch_size_chosen():
    assert auto_batch_size(*_options(), MLP, AUTO_BATCH_ROWS + 1)[0] == AUTO_BATCH_SIZE
    size, why = auto_batch_size(*_options(), MLP, AUTO_BATCH_ROWS)
    assert size is None and why.startswith("optim=auto: full batch (4096 training rows <= 4096")
    assert auto_batch_size(*_options("adam"), MLP, 10**6) == (None, None)  # a named optimizer: as asked
    assert auto_batch_size(*_options(batch_size=64), MLP, 10**6) == (64, None)  # the user's batch size
    assert auto_batch_size(*_options(), MLP, 10**6, in_memory=False) == (None, None)  # chunks from disk
    mixture = SimpleNamespace(model=SimpleNamespace(m_step=None))
    assert auto_batch_size(*_options(), mixture, 10**6) == (None, None)


def test_a_relative_margin_counts_small_gains_as_none_but_keeps_the_best_weights():
    stopper = EarlyStopping("val/loss", patience=3, min_rel_delta=1e-3)
    losses = [1.0, 0.9, 0.8999, 0.8998, 0.8997]  # after 0.9, each gain is ~1e-4 of the best: not enough
    stops = [stopper.update({"val/loss": v}, epoch=i + 1) for i, v in enumerate(losses)]
    assert stops == [False, False, False, False, True] and stopper.best == pytest.approx(0.8997)
    plain = EarlyStopping("val/loss", patience=3)
    assert not any(plain.update({"val/loss": v}) for v in losses)  # any gain counts without the margin


def _cli(tmp_path, *args):
    folder = tmp_path / "run"
    args = args if any(a.startswith("model=") for a in args) else ("model=mlp", *args)
    proc = run_main(*args, "logger=none", "trainer.progress_bar=false", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return proc.stderr, json.loads((folder / "metrics.json").read_text())


def test_a_large_table_trains_on_minibatches_and_stops_on_the_tolerance(tmp_path):
    log, metrics = _cli(tmp_path, "data=synthetic", "data.n_samples=20000")
    assert "optim=auto: minibatches of 1024 rows (14000 training rows > 4096" in log
    epochs = metrics["train/epochs"]
    assert metrics["train/steps"] == epochs * 14  # 14000 rows in batches of 1024: 14 steps an epoch
    stop = re.search(r"stopped at epoch (\d+): val/loss did not improve by more than 0.0001 of its best "
                     r"for 10 validations", log)
    assert stop and int(stop.group(1)) == epochs < 1000, log
    assert metrics["test/accuracy"] > 0.93 and "stationary" not in log


def test_a_small_table_keeps_full_batch_and_says_so(tmp_path):
    log, metrics = _cli(tmp_path, "data=breast_cancer")
    assert "optim=auto: full batch (399 training rows <= 4096" in log
    assert metrics["train/steps"] == metrics["train/epochs"]  # one step an epoch
    assert "did not improve for 20 validations" in log or "stationary" in log


def test_the_range_test_probes_the_minibatches_the_run_trains_on(tmp_path):
    import torch

    from derivtrain.data import build_data
    from derivtrain.run import build_objective
    from derivtrain.trainer.fitting import make_context
    from derivtrain.trainer.loop import GradientLoop
    from derivtrain.trainer.lr_range import find_lr
    from tests.conftest import compose_config
    from tests.trainer.helpers import RecordingLogger

    cfg = compose_config("model=mlp", "data=synthetic", "data.n_samples=8000")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    loop = GradientLoop(make_context(cfg, build_objective(cfg, data), data, RecordingLogger()))
    assert loop.batches.batch_size == AUTO_BATCH_SIZE and not loop.batches.full_batch
    seen = []
    original = loop.loss_and_gradients
    loop.loss_and_gradients = lambda X, *rest: seen.append(len(X)) or original(X, *rest)
    find_lr(loop)
    # 5600 training rows: the probe steps on one epoch's batches, five of 1024 and one of 480
    assert len(seen) == 9 * 10 and set(seen) == {AUTO_BATCH_SIZE, 5600 - 5 * AUTO_BATCH_SIZE}


def test_a_convex_model_on_a_large_table_keeps_its_certified_solver(tmp_path):
    log, metrics = _cli(tmp_path, "model=logistic", "data=synthetic", "data.n_samples=20000")
    assert "minibatches" not in log and "full batch (" not in log
    assert metrics["train/converged"] is True and "train/optimality_gap" in metrics
