"""TensorBoard after a SIGKILL and an exact resume: every point the killed run logged up to its last
checkpoint is kept (they reach the disk before that checkpoint is written), and none shows twice."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, run_main

RUN = ["model=logistic", "optim=sgd", "data=synthetic", "trainer.max_epochs=100", "trainer.checkpoint_every_n_epochs=1",
       "trainer.log_every_n_steps=1", "trainer.progress_bar=false", "logger.histogram_every_n_epochs=0"]


@pytest.mark.slow
def test_a_killed_run_keeps_its_points_up_to_its_last_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "derivtrain", *RUN, f"hydra.run.dir={folder}"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (folder / "checkpoints" / "last.pt").exists():  # the first checkpoint: well within
        assert proc.poll() is None and time.time() < deadline, proc.communicate()  # the 5 s between flushes
        time.sleep(0.005)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (folder / "metrics.json").exists():
        pytest.skip("the run ended before the kill")
    resumed = run_main(*RUN, f"trainer.resume={folder}")
    assert resumed.returncode == 0, resumed.stderr
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("classification/train/loss")] == list(range(1, 101))


def test_a_new_event_file_sorts_after_every_earlier_one_in_its_folder():
    """TensorBoard reads a folder's event files in name order: a resume started within the second
    its killed run last wrote (or after a clock step back) still comes after it."""
    import time

    from derivtrain.logging.events import _next_stamp

    later = int(time.time()) + 100
    names = [f"events.out.tfevents.{later:010d}.host.12.34", "events.out.tfevents.bad.name", "other.txt"]
    assert _next_stamp(names) == later + 1
    assert _next_stamp(["other.txt"]) >= int(time.time())
