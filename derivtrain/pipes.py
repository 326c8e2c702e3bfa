"""`python -m derivtrain.plugins | head`: when the reader leaves early, stop without a traceback."""
import functools
import os
import sys


def quiet_on_broken_pipe(main):
    """Wrap an entry point. Python's own advice: point stdout at devnull so the flush at exit
    raises nothing more, and exit 1 (the output was not all delivered)."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            try:
                return main(*args, **kwargs)
            finally:
                sys.stdout.flush()  # here, not at exit, where the error would only be printed
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
    return wrapper
