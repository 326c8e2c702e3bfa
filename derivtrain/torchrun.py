"""`python -m derivtrain.torchrun [torchrun options] -m derivtrain trainer=ddp ...`: torchrun, quiet
when derivtrain refuses a job.

torchrun reports any worker that exits non-zero with ~35 lines: an error-log line, its own
Python traceback and a "derivtrain FAILED" box, around the one line the worker printed. For a
crash that report is useful; for derivtrain's exit 2 (bad input, or a finished job started again:
its run folder already holds a run) the worker's line says everything. So this runs torchrun's
own `main` and, when every failed worker exited 2, adds nothing to their lines and exits 2;
any other failure keeps torchrun's whole report and exit status.
"""
import logging
import sys

EXIT_BAD_INPUT = 2
# the logger that prints "failed (exitcode: 2) local_rank: 0 ..." before the box
_AGENT_LOGGER = "torch.distributed.elastic.multiprocessing.api"


def refused(failures: dict) -> bool:
    """Every failed worker exited with derivtrain's bad-input status."""
    return bool(failures) and all(f.exitcode == EXIT_BAD_INPUT for f in failures.values())


class _HideRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return f"(exitcode: {EXIT_BAD_INPUT})" not in record.getMessage()


def main(argv=None) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import run, parse_args

    logging.getLogger(_AGENT_LOGGER).addFilter(_HideRefusals())
    try:
        run(parse_args(argv))  # torchrun's main without its @record wrapper, which prints the error again
    except ChildFailedError as error:
        if refused(error.failures):
            return EXIT_BAD_INPUT
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
