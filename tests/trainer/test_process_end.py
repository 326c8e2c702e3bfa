"""A torchrun worker's end (trainer/distributed.py:end_process): exit 0, what it printed and logged
flushed, no interpreter teardown; a process that never joined a group ends the usual way."""
import subprocess
import sys

from tests.conftest import REPO

WORKER = """
import logging, sys
import derivtrain.trainer.distributed as distributed
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
sys.stdout.write("metrics without a newline")  # buffered: lost unless end_process flushes
logging.getLogger("derivtrain").info("logged line")
distributed._joined_a_group = {joined}
import atexit
atexit.register(lambda: print("teardown ran"))
distributed.end_process()
sys.exit(3)  # reached only when end_process returns
"""


def _end(joined: bool):
    return subprocess.run([sys.executable, "-c", WORKER.format(joined=joined)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_a_worker_that_joined_a_group_exits_0_with_its_output_and_without_teardown():
    proc = _end(True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "metrics without a newline"  # flushed; the atexit handler never ran
    assert "logged line" in proc.stderr


def test_a_single_process_run_ends_the_usual_way():
    proc = _end(False)
    assert proc.returncode == 3
    assert proc.stdout == "metrics without a newline" + "teardown ran\n"
