"""Another process that holds a folder's lock as derivtrain does (flock on <folder>/.derivtrain.lock),
for tests of what a second process does meanwhile. It imports neither derivtrain nor torch."""
import subprocess
import sys

_HOLD = """
import fcntl, os, sys, time
fd = os.open(os.path.join(sys.argv[1], ".derivtrain.lock"), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
if sys.argv[2] == "pid":
    os.write(fd, str(os.getpid()).encode())
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def hold_lock(folder, write_pid: bool = True, seconds: float = 120) -> subprocess.Popen:
    """Start the holder and wait until it holds the lock; `write_pid=False`: a holder paused before
    it wrote its pid. Kill it (proc.kill(); proc.wait()) to release the lock."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), "pid" if write_pid else "-", str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc
