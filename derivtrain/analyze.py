"""`python -m derivtrain.analyze run=<run folder> analysis=<option> [analysis.<key>=...]`

Runs a sensitivity analysis on a saved run: the trained model from checkpoints/last.pt, the test
split rebuilt from the run's own data config and seed (the same rows it was evaluated on). Writes
into a new folder of its own: out=<folder> (new or empty), by default `<run>-analysis` beside the
run (`<run>-analysis-2`, ... when taken): the attributions, importance.csv, its own metrics.json
and, when the run logged to TensorBoard, the figures' event file; then prints the analysis
metrics. The run folder itself, a finished record of training, is never written to (it may be a
shared or copied folder: see derivtrain/writes.py).

Arguments: run=<folder> (required), out=<folder>, trainer.device=<device>, and `analysis` overrides
exactly as for `python -m derivtrain`. Exit codes as for `python -m derivtrain`.
"""
import json
import os
import shutil
import sys
from pathlib import Path

from derivtrain.errors import UserError
from derivtrain.pipes import quiet_on_broken_pipe
from derivtrain.writes import write_text

USAGE = ("python -m derivtrain.analyze run=<run folder> analysis=<option> [analysis.<key>=<value> ...] "
         "[out=<folder>] [trainer.device=<device>]")


def analyze(run, overrides=(), out=None) -> dict:
    """Analyze the run folder `run` with `analysis` overrides; returns the analysis metrics."""
    import torch
    from hydra import compose, initialize_config_dir

    from derivtrain.config import register_schemas, validate
    from derivtrain.config.targets import target_plan_of
    from derivtrain.data import build_data
    from derivtrain.devices import resolve_device
    from derivtrain.logging import make_logger
    from derivtrain.paths import config_dir
    from derivtrain.saved import build_model, read_saved_run, run_folder_of, trusted_config
    from derivtrain.sensitivity.analysis import make_analysis

    run = Path(run)
    saved = read_saved_run(run)  # a run folder is data: its code comes from the options it records
    run_dir = run_folder_of(run) or run.parent
    register_schemas()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        composed = compose(config_name="config", overrides=list(overrides))
    cfg = trusted_config(saved)
    cfg.analysis = composed.analysis  # its ${trainer.seed} now resolves to the run's seed
    if any(o.startswith("trainer.device=") for o in overrides):
        cfg.trainer.device = composed.trainer.device
    validate(cfg)
    if cfg.analysis.method == "none":
        raise UserError(f"choose a method: analysis=<option> (e.g. analysis=integrated_gradients); usage: {USAGE}")

    device = resolve_device(cfg.trainer.device)
    model = build_model(saved).eval().to(device)
    model.probability_link = saved.state.get("probability_link")
    data = build_data(cfg.data, device, seed=cfg.trainer.seed, dtype=model.weight_dtype,  # the rows as it trained on them
                      targets=target_plan_of(cfg))
    if not torch.allclose(model.feature_mean, data.feature_mean.to(model.feature_mean), rtol=1e-5, atol=1e-6):
        raise UserError(f"the data of {run_dir} has changed since training (its training rows standardize "
                        "differently): the test split cannot be rebuilt")
    analysis = make_analysis(cfg.analysis, model, data.spec)
    out, created = claim_out_folder(Path(out) if out is not None else None, run_dir)
    try:
        logger = make_logger(cfg.logger, out)
        try:
            metrics = analysis(model, data.test, out, logger)
        finally:
            logger.close()
        write_text(out, "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    except BaseException:  # a failed analysis leaves nothing: the folder (if it made it) or what it wrote
        shutil.rmtree(out, ignore_errors=True)
        if not created:
            out.mkdir(exist_ok=True)
        raise
    return metrics


def claim_out_folder(out: Path | None, run_dir: Path) -> tuple:
    """(the analysis's own folder, whether this call made it). The default is made now (mkdir: of
    two processes one gets a name); out=<folder> may exist only as an empty real folder."""
    if out is not None:
        out = Path(os.path.abspath(out))
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise UserError(f"out={out} is a file or a link; name a new folder for the analysis")
        if out.is_dir() and any(out.iterdir()):
            raise UserError(f"out={out} already holds files (an analysis never overwrites a run's or an earlier "
                            "analysis's files); name a new or empty folder")
        if out == run_dir.absolute():
            raise UserError(f"out={out} is the run folder itself; name a new folder for the analysis")
        existed = out.is_dir()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"out={out} cannot be created ({err.strerror or err}); name another folder") from None
        return out, not existed
    base = run_dir.absolute()
    for number in range(1, 1000):
        candidate = base.with_name(f"{base.name}-analysis" + (f"-{number}" if number > 1 else ""))
        try:
            candidate.mkdir()
            return candidate, True
        except FileExistsError:
            continue
        except OSError as err:
            raise UserError(f"cannot create {candidate} for the analysis ({err.strerror or err}); "
                            "name a folder with out=<folder>") from None
    raise UserError(f"{base}-analysis ... -999 all exist; name a folder with out=<folder>")


def parse_args(argv) -> tuple:
    """run=..., out=... are ours; analysis overrides and trainer.device go to Hydra's composition."""
    run, out, overrides = None, None, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise UserError(f"unexpected argument {arg!r}; usage: {USAGE}")
        if key == "run":
            run = value
        elif key == "out":
            out = value
        elif key.lstrip("+~").split(".")[0] == "analysis" or key == "trainer.device":
            overrides.append(arg)
        else:
            raise UserError(f"{key} cannot be changed when analyzing a saved run (only analysis, "
                            f"trainer.device, run, out); usage: {USAGE}")
    if run is None:
        raise UserError(f"which run? usage: {USAGE}")
    return run, out, overrides


@quiet_on_broken_pipe
def main(argv=None) -> None:
    from derivtrain.cli import _exit_for  # the exit-code contract of `python -m derivtrain`
    from derivtrain.logging import configure_logging
    from derivtrain.usage import module_help, print_help, wants_help

    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv):
        sys.exit(print_help(module_help(__name__)))
    os.environ["HYDRA_FULL_ERROR"] = "1"
    configure_logging()
    try:
        run, out, overrides = parse_args(argv)
        metrics = analyze(run, overrides, out)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - mapped to exit codes like the training CLI
        _exit_for(exc)
    from derivtrain.logging.progress import format_number

    width = max(map(len, metrics))
    print("\n".join(f"{k:<{width}}  {format_number(v)}" if isinstance(v, float) else f"{k:<{width}}  {v}"
                    for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    main()
