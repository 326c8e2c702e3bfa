"""Ctrl-C and SIGTERM: finish the step in flight, write a checkpoint, then stop with exit code 130.

The handlers only set a flag; the loop looks at it between steps (a Python attribute read, no
device work), so a step is never cut in half and the checkpoint resumes exactly.
"""
import signal
import threading


class TrainingInterrupted(Exception):
    """Raised by the loop after it has written its checkpoint."""


class StopRequests:
    def __init__(self):
        self.signal_name = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._request)
        return self

    def _request(self, signum, frame):
        if self.signal_name is not None:  # a second Ctrl-C: stop now, as Python would
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
