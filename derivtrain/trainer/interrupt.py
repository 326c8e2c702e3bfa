"""Ctrl-C and SIGTERM: finish the step in flight, write a checkpoint, then stop with exit code 130.

From the command line's first instruction (derivtrain/__main__.py) until a run claims its folder,
nothing is written: a stop there ends the process at once (`stop_at_once`, one line, exit 130). A
sweep's stop between its jobs raises instead (`stops_raise`): its records unwind and say where the
finished jobs are.
From the claim on (derivtrain/launch.py, derivtrain/run.py) StopRequests holds the signals: a stop
that comes before the first step ends the run with nothing to resume; one that comes later, at the
next step (or iteration of Newton, EM, the certified solver) boundary, after a checkpoint.

The handlers only set a flag; the loop looks at it between steps (a Python attribute read, no
device work), so a step is never cut in half and the checkpoint resumes exactly.
"""
import os
import signal
import sys
import threading
from contextlib import contextmanager


class TrainingInterrupted(Exception):
    """Raised after a stop request: by a fitter once its checkpoint is written (saved=True), or
    before the first step, when there is nothing to save or resume (saved=False)."""

    def __init__(self, message: str, saved: bool = True):
        super().__init__(message)
        self.saved = saved


class StoppedBeforeTheRun(KeyboardInterrupt):
    """Ctrl-C or SIGTERM before a run claimed its folder: nothing was written, nothing is resumed."""

    def __init__(self, signal_name: str):
        super().__init__(f"{signal_name} before the run began: nothing was written")
        self.signal_name = signal_name


def stop_at_once(signum, frame):
    """Before anything is written: the one line, then the process ends (os._exit: nothing to unwind).
    Raising here instead, wherever the process was, let code that catches every exception swallow
    the stop or leave a module half imported: tests/test_signals.py's SIGTERM 0.3 s into the imports
    then ended in an ImportError traceback, or was lost and the whole run went on (exit 0)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe, or the very write this signal cut into
            pass  # (a reentrant flush): the exit goes on
    try:
        os.write(2, f"derivtrain: interrupted ({StoppedBeforeTheRun(signal.Signals(signum).name)})\n".encode())
    except OSError:  # no stderr left to say it on
        pass
    os._exit(130)


def raise_stop(signum, frame):
    raise StoppedBeforeTheRun(signal.Signals(signum).name)


def stop_at_once_on_signals() -> None:
    """SIGINT and SIGTERM end the process in one line, exit 130, wherever it is; Python's own SIGTERM
    would end it with no message (exit 143)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_at_once)


@contextmanager
def stops_raise():
    """Within: SIGINT and SIGTERM raise StoppedBeforeTheRun (a KeyboardInterrupt) where the process is,
    for work whose context managers must unwind (a sweep's claim and records between its jobs); the
    handlers before are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class StopRequests:
    def __init__(self):
        self.signal_name = None
        self.immediate = False  # after training (the report): stop at once, the checkpoint is written
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._request)
        return self

    def _request(self, signum, frame):
        if self.signal_name is not None or self.immediate:  # a second Ctrl-C: stop now, as Python would
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
