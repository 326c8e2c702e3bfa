"""Gradient checking for every loss, regularizer and model, plugins' included.

    python -m derivtrain.gradcheck loss=hinge
    python -m derivtrain.gradcheck loss=squared_hinge model=mlp data=wine regularizer=elastic_net

The same Hydra config as `python -m derivtrain` (same folders, schemas and plugins, same
overrides) is composed and built; every hand-written derivative in it is compared with finite
differences in float64 by torch.autograd.gradcheck, and second derivatives by gradgradcheck where
the function is twice differentiable (first-order-only ones must refuse double backward clearly).
Prints one row per check: function, check, max abs error, pass/fail.

Exit codes: 0 all pass; 1 a check failed; 2 bad configuration (one line on stderr).
"""
import os
import sys

from derivtrain.gradcheck.gradients import Result
from derivtrain.pipes import quiet_on_broken_pipe

__all__ = ["main", "format_table", "Result"]


def compose_config(overrides: list):
    """The config `python -m derivtrain <overrides>` would run, and the option chosen per group."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from derivtrain.config import register_schemas
    from derivtrain.paths import config_dir

    register_schemas()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="check"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def _verdict(result: Result) -> str:
    if result.passed is None:
        return "n/a: " + result.note
    if result.passed:
        return "pass"
    return "FAIL" + (": " + result.note if result.note else "")


def format_table(results: list) -> str:
    header = ("function", "check", "max abs error", "result")
    rows = [(r.function, r.check, "-" if r.max_abs_error is None else f"{r.max_abs_error:.2e}", _verdict(r))
            for r in results]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(4)]
    line = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


@quiet_on_broken_pipe
def main(argv=None) -> int:
    from derivtrain.config import validate
    from derivtrain.error_messages import describe_user_error
    from derivtrain.usage import module_help, print_help, wants_help

    argv = sys.argv[1:] if argv is None else list(argv)
    if wants_help(argv):
        return print_help(module_help(__name__))
    try:
        cfg, choices = compose_config(argv)
        validate(cfg)
        import torch

        from derivtrain.gradcheck.probes import run_probes

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a dozen rows: parallel regions would only add overhead
        try:
            results = run_probes(cfg, choices)
        finally:
            torch.set_num_threads(threads)
    except Exception as exc:  # noqa: BLE001 - configuration errors become one line and exit code 2
        message = describe_user_error(exc)
        if message is None:
            raise
        if os.environ.get("DERIVTRAIN_DEBUG") == "1":
            import traceback

            traceback.print_exception(exc)
        print(f"derivtrain.gradcheck: error: {message}", file=sys.stderr)
        return 2
    print(format_table(results))
    failed = [r for r in results if r.passed is False]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed or not applicable"
          + (f"; {len(failed)} FAILED" if failed else ""))
    return 1 if failed else 0
