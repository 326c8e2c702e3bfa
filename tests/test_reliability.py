"""Killed runs resume bit-identically, interrupts checkpoint, divergence stops cleanly, runs lock."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO, run_main
from tests.lock_holder import hold_lock

RUN = ["trainer.max_epochs=150", "trainer.batch_size=16", "trainer.checkpoint_every_n_epochs=1",
       "optim.schedule=cosine", "logger=none", "trainer.progress_bar=false"]


def final_parameters(folder):
    return torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["model"]


def start(folder, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "derivtrain", *RUN, *extra, f"hydra.run.dir={folder}"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("straight") / "run"
    proc = run_main(*RUN, f"hydra.run.dir={folder}")  # the killed runs are processes; this one need not be
    assert proc.returncode == 0, proc.stderr
    return final_parameters(folder)


def wait_for_checkpoint(folder, proc, timeout=120):
    deadline = time.time() + timeout
    while not (folder / "checkpoints" / "last.pt").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.02)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_moment_then_resume_is_bit_identical(tmp_path, uninterrupted, seed):
    folder = tmp_path / "run"
    proc = start(folder)
    wait_for_checkpoint(folder, proc)
    time.sleep(random.Random(seed).uniform(0.0, 0.8))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = run_main(*RUN, f"trainer.resume={folder}")  # goes on in the same folder
    assert resumed.returncode == 0, resumed.stderr
    assert_same(final_parameters(folder), uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_finishes_the_step_checkpoints_and_prints_the_resume_command(tmp_path, uninterrupted, sig):
    folder = tmp_path / "run"
    proc = start(folder)
    wait_for_checkpoint(folder, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == 130, err
    assert "checkpoint written. Resume with:" in err and f"trainer.resume={folder}" in err
    state = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == state["epoch"] * 25 + state["batch_in_epoch"]  # 398 rows / 16 = 25 batches
    command = err.strip().splitlines()[-1].split()
    assert command[:3] == ["python", "-m", "derivtrain"]
    resumed = run_main(*command[3:])
    assert resumed.returncode == 0, resumed.stderr
    assert_same(final_parameters(folder), uninterrupted)


def test_divergence_stops_naming_the_step_and_keeps_the_last_checkpoint_whose_loss_is_finite(tmp_path):
    import numpy as np
    from sklearn.datasets import load_diabetes

    import derivtrain

    folder = tmp_path / "run"
    # a step too large for least squares: the weights grow geometrically until the loss overflows
    proc = run_main("model=linear", "data=diabetes", "optim=sgd", "optim.lr=2", "optim.momentum=0",
                    "trainer.checkpoint_every_n_epochs=1", "trainer.max_epochs=200", "logger=none",
                    f"hydra.run.dir={folder}")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("derivtrain: error: training diverged at step ") and "Traceback" not in proc.stderr
    assert "parameter: linear." in lines[-1] or "gradient: linear." in lines[-1]
    diverged_at = int(lines[-1].split("at step ")[1].split(":")[0])
    state = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    # the checkpoint of the step before the divergence holds the weights whose loss was not finite
    assert state["step"] == diverged_at - 2 and f"(step {state['step']}) is kept" in lines[-1]
    raw = load_diabetes(scaled=False)
    predictions = derivtrain.load_run(folder).predict(raw.data)
    assert np.isfinite(((predictions - raw.target) ** 2).mean())  # its loss is finite
    assert not (folder / "metrics.json").exists()


def test_skip_step_drops_non_finite_updates_and_finishes(tmp_path):
    from tests.trainer.helpers import fit_config

    # lr so large that the first steps overflow; skipped updates leave the weights as they were
    result, _, model = fit_config(tmp_path, "optim.lr=1e30", "optim.momentum=0", "trainer.on_nonfinite=skip_step",
                                  "trainer.max_epochs=5")
    assert result.epochs == 5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert 0 < result.metrics["train/skipped_steps"] < result.steps  # counted, and in metrics.json


def test_a_run_whose_every_step_was_skipped_fails_in_one_line(tmp_path):
    # counts float32 holds, whose Poisson loss y * log-rate it does not (summed over 40 rows): every
    # step's loss is inf. (Squared error on targets of 1e30 no longer is: they are fitted scaled.)
    rows = "".join(f"{i % 7},{i % 3},{(i % 5 + 1) * 6e37}\n" for i in range(40))
    (tmp_path / "huge.csv").write_text("a,b,y\n" + rows)
    folder = tmp_path / "run"
    proc = run_main("data=csv", f"data.path={tmp_path / 'huge.csv'}", "data.target=y", "model=poisson", "optim=sgd",
                    "trainer.on_nonfinite=skip_step", "trainer.max_epochs=3", "logger.histogram_every_n_epochs=1",
                    f"hydra.run.dir={folder}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "derivtrain: error: every one of the 3 steps had a non-finite loss or gradient and was skipped")
    assert not (folder / "metrics.json").exists()


def test_a_second_process_on_the_same_run_refuses(tmp_path):
    folder = tmp_path / "run"
    first = run_main("trainer.max_epochs=2", "logger=none", f"hydra.run.dir={folder}")
    assert first.returncode == 0, first.stderr
    (folder / "metrics.json").unlink()  # as if it had stopped before the end: resumed in its own folder
    holder = hold_lock(folder)  # another process holds the run
    second = run_main("trainer.max_epochs=4", "logger=none", f"trainer.resume={folder}")
    holder.kill()
    holder.wait()
    assert second.returncode == 2 and f"in use by process {holder.pid}" in second.stderr
    assert (folder / ".derivtrain.lock").read_text() == str(holder.pid)  # a killed owner's lock is free
    third = run_main("trainer.max_epochs=4", "logger=none", f"trainer.resume={folder}")
    assert third.returncode == 0, third.stderr
    assert not (folder / ".derivtrain.lock").exists()


def test_runs_started_together_get_separate_folders(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "derivtrain", "trainer.max_epochs=1", "logger=none"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert len(list(tmp_path.glob("outputs/*/*/metrics.json"))) == 2


def test_resumed_run_has_no_step_twice_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = tmp_path / "run"
    args = ["optim=sgd", "trainer.checkpoint_every_n_epochs=2", "trainer.keep_checkpoints=3", "trainer.log_every_n_steps=1",
            "logger.histogram_every_n_epochs=0"]
    assert run_main(*args, "trainer.max_epochs=6", f"hydra.run.dir={folder}").returncode == 0
    # as if killed after logging steps 5 and 6 but before their checkpoint landed: newest is step 4
    for name in ("checkpoints/last.pt", "checkpoints/step-000000006.pt", "metrics.json"):
        (folder / name).unlink()
    resumed = run_main(*args, "trainer.max_epochs=8", f"trainer.resume={folder}")
    assert resumed.returncode == 0, resumed.stderr
    acc = EventAccumulator(str(folder))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("classification/train/loss")]
    assert steps == list(range(1, 9))  # 5 and 6 logged twice on disk, shown once
