"""The `derivtrain` logger: the one Python logger derivtrain configures (Hydra's job logging is
off, libraries keep theirs)."""
import logging
import sys

log = logging.getLogger("derivtrain")


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is at each message, not as it was when configured (a caller
    that redirects stderr, such as an in-process test, gets the messages)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler's __init__ sets it; the property always wins
        pass


def configure_logging() -> None:
    if not log.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("[derivtrain] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
