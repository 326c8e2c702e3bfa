"""`python -m derivtrain.torchrun [torchrun options] -m derivtrain trainer=ddp ...`: torchrun, quiet
when derivtrain refuses a job.

torchrun reports any worker that exits non-zero with ~35 lines: an error-log line, its own
Python traceback and a "derivtrain FAILED" box, around the one line the worker printed. For a
crash that report is useful; for derivtrain's exit 2 (bad input, or a finished job started again:
its run folder already holds a run) the worker's line says everything. So this runs torchrun's
own `main` and, when every failed worker exited 2, adds nothing to their lines and exits 2;
any other failure keeps torchrun's whole report and exit status.

A multi-node job also ends with a race: the node whose agent hosts the rendezvous store may close
it before the other agent has said goodbye, and that agent then logs a C++ stack trace and a
warning that it "failed to shutdown the rendezvous" (seen under load; the job's result is
unchanged). That teardown notice is left out here too; the workers' own logging is untouched. The same race
can end the other node's run with a RendezvousConnectionError (exit 1): its agent polls the store
while its worker is still starting, after the store's node has refused and gone. So a node whose
workers were all refused keeps its process, and the store, LINGER_S longer: the other nodes'
workers reach the same refusal within a second or two of it.
"""
import logging
import os
import sys
import time

EXIT_BAD_INPUT = 2
LINGER_S = 5.0  # after a refusal: the other nodes' agents still read the rendezvous store this node may host
# the logger that prints "failed (exitcode: 2) local_rank: 0 ..." before the box
_AGENT_LOGGER = "torch.distributed.elastic.multiprocessing.api"
_RENDEZVOUS_LOGGER = "torch.distributed.elastic.rendezvous.dynamic_rendezvous"


def refused(failures: dict) -> bool:
    """Every failed worker exited with derivtrain's bad-input status."""
    return bool(failures) and all(f.exitcode == EXIT_BAD_INPUT for f in failures.values())


class _Hide(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def _load_torch_quietly() -> None:
    """torch's C++ logging level is read once, when torch loads: errors only for this agent
    process (the store's teardown trace), the variable put back so the workers it starts inherit
    the user's own setting."""
    before = os.environ.get("TORCH_CPP_LOG_LEVEL")
    os.environ["TORCH_CPP_LOG_LEVEL"] = before or "ERROR"
    try:
        import torch.distributed.run  # noqa: F401
    finally:
        if before is None:
            del os.environ["TORCH_CPP_LOG_LEVEL"]


def main(argv=None) -> int:
    _load_torch_quietly()
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import run, parse_args

    logging.getLogger(_AGENT_LOGGER).addFilter(_Hide(f"(exitcode: {EXIT_BAD_INPUT})"))
    logging.getLogger(_RENDEZVOUS_LOGGER).addFilter(_Hide("has failed to shutdown the rendezvous"))
    try:
        run(parse_args(argv))  # torchrun's main without its @record wrapper, which prints the error again
    except ChildFailedError as error:
        if refused(error.failures):
            time.sleep(LINGER_S)
            return EXIT_BAD_INPUT
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
