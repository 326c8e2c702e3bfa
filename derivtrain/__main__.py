"""`python -m derivtrain [overrides]` and the `derivtrain` command (pyproject: derivtrain.__main__:entry)."""
import os
import sys

from derivtrain.trainer.interrupt import stop_at_once_on_signals


def entry() -> None:
    # Before torch loads its OpenMP runtime: idle pool threads sleep instead of spinning. With the
    # default (active) policy, a parallel region on a machine whose cores are busy waits for
    # descheduled spinning threads: measured on 2 loaded cores, the certified solver on 100k x 50
    # took 20 s on two threads against 1.5 s on one; passive, two threads took 1.5 s. A user's own
    # setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        # First of all (the imports and the config checks take seconds): Ctrl-C or SIGTERM now ends in
        # one line, exit 130, nothing written, instead of a traceback or a silent exit 143. A run takes
        # the signals over when it claims its folder (derivtrain/launch.py: StopRequests). Inside the
        # try: a signal the instant after the handlers are in is this one line too.
        stop_at_once_on_signals()
        from derivtrain.cli import main

        main()  # it reports its own stops (derivtrain/cli.py); these come during the imports or --help
        distributed = sys.modules.get("derivtrain.trainer.distributed")  # loaded by a run, not by --help
        if distributed is not None:
            distributed.end_process()  # a torchrun worker: exit 0 without the teardown that can abort
    except KeyboardInterrupt as exc:
        print(f"derivtrain: interrupted ({exc})" if str(exc) else "derivtrain: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    entry()
