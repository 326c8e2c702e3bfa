"""Ctrl-C and SIGTERM from the moment the run folder is claimed: a stop before the first step exits
130 saying there is nothing to resume and leaves no folder (the process is the point: subprocesses)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO


def start(folder, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.Popen([sys.executable, "-m", "derivtrain", *args, f"hydra.run.dir={folder}"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_during_set_up_exits_130_with_nothing_to_resume(tmp_path, sig):
    folder = tmp_path / "run"
    # set-up (TensorBoard's import, the data, the checks) takes a good part of a second after the claim
    proc = start(folder, "model=logistic", "optim=sgd", "trainer.max_epochs=100000", "logger=tensorboard")
    deadline = time.time() + 120
    while not folder.exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    if "checkpoint written" in err:  # the machine was fast enough to take a first step: then it resumes
        assert (folder / "checkpoints" / "last.pt").exists()
        return
    assert lines[-1].startswith(f"derivtrain: interrupted ({signal.Signals(sig).name} before the first step): "
                                "nothing was trained, so there is nothing to resume"), err
    assert not folder.exists()
