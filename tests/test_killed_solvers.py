"""The default solvers stopped by SIGTERM or killed by SIGKILL mid-solve, then resumed, end where the
uninterrupted run ends, bit for bit, in as many iterations, and TensorBoard shows each iteration's
point once, with the uninterrupted run's value (the process is the point: subprocesses). On 50
columns optim=auto gives the SVM dual coordinate descent (derivtrain/trainer/dual_cd_choice.py),
on 40 the interior point."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO, run_main

# ~25 interior-point iterations of a few tenths of a second; ~400 epochs of dual coordinate descent of a
# few thousandths at optim.tol=1e-5 (at the default 1e-4, 86 epochs in blocks of rows, dual_cd_order.py,
# ended in ~0.3 s after the first checkpoint: the signal came after the solve): time to signal mid-solve
SOLVE = ["data=synthetic", "data.n_samples=100000", "trainer.checkpoint_every_n_epochs=3",
         "trainer.progress_bar=false", "logger.histogram_every_n_epochs=0"]
DUAL_CD, INTERIOR_POINT = ["data.n_features=50", "optim.tol=1e-5"], ["data.n_features=40"]
TAG = "classification.more/train/objective"  # the penalized objective: under <task>.more (logging/dashboard.py)


def start(folder, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "derivtrain", *SOLVE, *extra, f"hydra.run.dir={folder}"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outcome(folder):
    """(final weights, iterations, TensorBoard's (step, value) points of the objective)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    steps = json.loads((folder / "metrics.json").read_text())["train/steps"]
    weights = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["model"]
    return weights, steps, [(e.step, e.value) for e in events.Scalars(TAG)]


def assert_same(resumed, straight):
    weights, steps, points = resumed
    assert steps == straight[1]
    assert weights.keys() == straight[0].keys()
    for name in weights:
        assert torch.equal(weights[name], straight[0][name]), name
    assert points == straight[2]  # every iteration once, with the uninterrupted run's value


@pytest.fixture(scope="module", params=[DUAL_CD, INTERIOR_POINT], ids=["dual_cd", "interior_point"])
def solver(request):
    return request.param


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, solver):
    folder = tmp_path_factory.mktemp("straight") / "run"
    proc = run_main(*SOLVE, *solver, f"hydra.run.dir={folder}")  # the stopped solves are processes; this need not be
    assert proc.returncode == 0, proc.stderr
    assert json.loads((folder / "metrics.json").read_text())["train/converged"]
    return folder


@pytest.fixture(scope="module")
def straight(straight_run):
    return outcome(straight_run)


def stop_after_a_checkpoint(folder, proc, sig, delay=0.0):
    deadline = time.time() + 200
    while not (folder / "checkpoints" / "last.pt").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=200)
    if proc.returncode == 0 or (folder / "metrics.json").exists():
        pytest.skip("the solve ended before the signal arrived")
    return err


@pytest.mark.slow
def test_sigterm_mid_solve_then_resume_is_the_uninterrupted_run(straight, solver, tmp_path):
    folder = tmp_path / "run"
    proc = start(folder, *solver)
    err = stop_after_a_checkpoint(folder, proc, signal.SIGTERM)
    assert proc.returncode == 130 and "checkpoint written. Resume with:" in err, err
    assert "solver" in torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    resumed = run_main(*SOLVE, *solver, f"trainer.resume={folder}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same(outcome(folder), straight)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_mid_solve_leaves_a_checkpoint_that_resumes_exactly(straight, solver, tmp_path, seed):
    folder = tmp_path / "run"
    proc = start(folder, *solver)
    stop_after_a_checkpoint(folder, proc, signal.SIGKILL, delay=random.Random(seed).uniform(0.0, 0.6))
    assert proc.returncode == -signal.SIGKILL
    resumed = run_main(*SOLVE, *solver, f"trainer.resume={folder}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same(outcome(folder), straight)


@pytest.mark.slow
def test_killed_after_the_final_checkpoint_resumes_to_the_same_end(straight_run, straight, solver, tmp_path):
    """A kill between the final checkpoint and metrics.json (the report's numbers): the resumed run
    ends where the solve ended, in no more iterations, and logs none of its points again."""
    folder = tmp_path / "run"
    shutil.copytree(straight_run, folder)
    (folder / "metrics.json").unlink()
    assert torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["solver"]  # the end's solver state
    resumed = run_main(*SOLVE, *solver, f"trainer.resume={folder}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same(outcome(folder), straight)
    assert json.loads((folder / "metrics.json").read_text())["train/converged"]
