"""The `derivtrain` logger: the one Python logger derivtrain configures (Hydra's job logging is
off, libraries keep theirs)."""
import logging
import sys

log = logging.getLogger("derivtrain")


def configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[derivtrain] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
