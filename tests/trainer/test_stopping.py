"""The gradient loop stops when training is done, and says what stopped it (issue 27, items 3-4).

Each stop reason is checked against what the run itself recorded: a stop on early stopping is
printed only when the monitored metric really went `patience` validations without a better
value, a stop on stationarity only when the measured gradient norm fell below its tolerance, a
certificate only when finish's own certificate (measured again) meets optim.tol.
"""
import json
import math
import re

import pytest
import torch

from derivtrain.trainer.lr_range import CANDIDATES, SAFETY, find_lr
from derivtrain.trainer.loop import GradientLoop
from tests.conftest import compose_config, run_main
from tests.trainer.helpers import fit_config

LOGCOSH = "loss._target_=tests.smooth_plugins.LogCoshLoss"


def _cli(tmp_path, *args):
    folder = tmp_path / "run"
    proc = run_main(*args, "logger=none", "trainer.progress_bar=false", f"hydra.run.dir={folder}")
    return proc, folder


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_default_mlp_on_diabetes_stops_early_on_its_best_weights(tmp_path):
    proc, folder = _cli(tmp_path, "model=mlp", "data=diabetes")
    assert proc.returncode == 0, proc.stderr
    assert "MSELoss" in (folder / ".hydra" / "config.yaml").read_text()  # the natural loss, composed
    stop = re.search(r"stopped at epoch (\d+): val/loss did not improve for 20 validations", proc.stderr)
    best = re.search(r"restored the weights of epoch (\d+), the best val/loss", proc.stderr)
    metrics = _metrics(folder)
    assert stop and best, proc.stderr
    # the reason happened: 20 validations (one per epoch) after the best one, well before the cap of 1000
    assert int(stop.group(1)) == metrics["train/epochs"] == int(best.group(1)) + 20 < 1000
    assert metrics["test/r2"] >= 0.45 and "found by a range test" in proc.stderr


def test_default_mlp_on_digits_reaches_the_target_before_the_cap(tmp_path):
    proc, folder = _cli(tmp_path, "model=mlp", "data=digits")
    assert proc.returncode == 0, proc.stderr
    metrics = _metrics(folder)
    assert metrics["test/accuracy"] >= 0.97 and metrics["train/epochs"] < 1000
    assert f"stopped at epoch {metrics['train/epochs']}: val/loss did not improve" in proc.stderr


def test_restored_weights_are_the_best_validation(tmp_path):
    result, logger, _ = fit_config(tmp_path, "model=mlp", "data=diabetes", "loss=mse", "trainer.max_epochs=200",
                                   natural=True)
    curve = logger.values("val/loss")
    assert result.stopped_by == "early_stopping" and len(curve) == result.epochs
    best_epoch = min(range(len(curve)), key=curve.__getitem__) + 1
    assert best_epoch == result.epochs - 20
    # the final metrics are measured on the restored weights: the best validation loss, not the last one
    assert result.metrics["val/loss"] == pytest.approx(min(curve), rel=1e-5)
    assert min(curve) < curve[-1]


def test_stationarity_stops_when_the_gradient_norm_fell_below_its_tolerance(tmp_path):
    result, logger, _ = fit_config(tmp_path, "model=logistic", "optim=adam", "optim.lr=0.05", "regularizer.strength=0.1",
                                   "trainer.gradient_tol=0.01", "trainer.max_epochs=2000", "data=breast_cancer",
                                   "trainer.log_every_n_steps=1")
    norms = logger.values("grad_norm")  # logged every step (full batch, one step an epoch)
    assert result.stopped_by == "stationarity" and result.epochs < 2000
    assert norms[-1] <= 0.01 * norms[0] and all(n > 0.01 * norms[0] for n in norms[:-1])


def test_the_epoch_cap_is_said_as_such(tmp_path):
    proc, folder = _cli(tmp_path, "model=mlp", "optim=adam", "trainer.max_epochs=5")
    assert proc.returncode == 0 and _metrics(folder)["train/epochs"] == 5
    assert "stopped at the epoch cap trainer.max_epochs=5 (no other stopping test is on)" in proc.stderr
    assert "did not improve" not in proc.stderr and "stationary" not in proc.stderr


def test_a_certificate_stop_is_a_certified_gap(tmp_path):
    proc, folder = _cli(tmp_path, "model=logistic", "optim=adam", "optim.lr=0.05", "optim.tol=0.01",
                        "trainer.max_epochs=3000")
    metrics = _metrics(folder)
    assert proc.returncode == 0 and "(certificate)" in proc.stderr and metrics["train/epochs"] < 3000
    assert metrics["train/optimality_gap"] <= 0.01 and metrics["train/converged"] is True


def test_the_range_test_leaves_the_run_as_it_found_it(tmp_path):
    from derivtrain.run import build_objective
    from derivtrain.data import build_data
    from derivtrain.trainer.fitting import make_context
    from tests.trainer.helpers import RecordingLogger

    cfg = compose_config("model=mlp", "data=diabetes", "loss=mse")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    objective = build_objective(cfg, data)
    loop = GradientLoop(make_context(cfg, objective, data, RecordingLogger()))
    before = {k: v.clone() for k, v in objective.model.state_dict().items()}
    shuffle = loop.shuffle.get_state()
    lr = find_lr(loop)
    assert any(math.isclose(lr, c / SAFETY) for c in CANDIDATES)
    assert all(torch.equal(before[k], v) for k, v in objective.model.state_dict().items())
    assert torch.equal(shuffle, loop.shuffle.get_state()) and not loop.optimizer.state


def test_logcosh_plugin_loss_on_defaults_is_lbfgs_and_matches_optim_lbfgs(tmp_path):
    proc, folder = _cli(tmp_path, "model=linear", "data=diabetes", LOGCOSH)
    assert proc.returncode == 0, proc.stderr
    assert "optim=auto: L-BFGS" in proc.stderr and "(stationary)" in proc.stderr
    reference, other = _cli(tmp_path / "lbfgs", "model=linear", "data=diabetes", LOGCOSH, "optim=lbfgs")
    assert reference.returncode == 0
    assert abs(_metrics(folder)["test/r2"] - _metrics(other)["test/r2"]) <= 0.02
    assert _metrics(folder)["test/r2"] > 0.45  # model=linear with squared error: 0.52


def test_logcosh_is_log_cosh():
    from tests.smooth_plugins import LogCoshLoss

    r = torch.linspace(-30, 30, 101, dtype=torch.float64)
    expected = torch.log(torch.cosh(r)).mean()  # cosh(30) ~ 5e12: no overflow in float64
    assert torch.allclose(LogCoshLoss()(r, torch.zeros_like(r)), expected, rtol=1e-12)


def test_newton_that_found_no_decrease_says_why_and_is_not_converged(tmp_path):
    proc, folder = _cli(tmp_path, "model=linear", "data=diabetes", LOGCOSH, "optim=newton")
    assert proc.returncode == 0
    assert "after 0 steps (the weights are the starting ones)" in proc.stderr and "nearly singular" in proc.stderr
    assert "converged in" not in proc.stderr and _metrics(folder)["train/converged"] is False
    r2_line = [line for line in proc.stderr.splitlines() if "val/r2=" in line]
    assert len(r2_line) == 1 and "< 0" in r2_line[0] and "optim=auto" in r2_line[0]
