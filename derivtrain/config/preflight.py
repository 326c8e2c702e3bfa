"""The one pre-flight check of a composed config: every configuration error before any tensor is built.

First what the values alone tell, group by group (each group's checks live with its schemas in
derivtrain/config/schemas/); then what needs the classes the config names, imported here and not
before (the options' code, plugins' included); last what needs the fitter optim picks.
"""
from derivtrain.config.path_checks import PATH_KEYS, check_path, check_path_keys, wants_path
from derivtrain.config.precision import check_precision
from derivtrain.config.schemas import GROUPS
from derivtrain.config.schemas.analysis import check_analysis
from derivtrain.config.schemas.data import check_data, check_data_reading
from derivtrain.config.schemas.model import check_regularizer, check_svm_and_hinge
from derivtrain.config.schemas.optim import check_full_batch, check_optim
from derivtrain.config.schemas.sweep import check_sweep_config
from derivtrain.config.schemas.trainer import (check_cuda_graph, check_device_name, check_diagnostics,
                                               check_logger, check_trainer)
from derivtrain.config.sizes import check_sizes
from derivtrain.config.values import check_values
from derivtrain.errors import ConfigError, did_you_mean


def validate(cfg) -> str:
    """Check values that the schemas' types cannot; raise ConfigError naming key, value and choices.
    Returns the fitter optim picks (derivtrain/trainer/fitters.py), which the run then uses."""
    check_groups(cfg)
    check_values(cfg)  # interpolations, finiteness, seeds, ranges the code each value reaches accepts
    check_sizes(cfg)  # size keys capped, and what they allocate within the memory available
    check_data(cfg.data, folds_in_process=wants_path(cfg))
    check_trainer(cfg.trainer)
    check_optim(cfg.optim)
    check_logger(cfg.logger)
    check_regularizer(cfg.regularizer)
    check_path_keys(cfg.regularizer)
    check_svm_and_hinge(cfg)
    if "diagnostics" in cfg:
        check_diagnostics(cfg.diagnostics)
    if "sweep" in cfg:
        check_sweep_config(cfg.sweep)
    check_analysis(cfg.analysis)
    check_device_name(cfg.trainer.device)
    fitter = check_code(cfg)
    check_path(cfg, fitter)
    check_cuda_graph(cfg.trainer, cfg.optim, fitter)
    check_data_reading(cfg, fitter)
    if fitter != "gradient":
        check_full_batch(cfg.optim, cfg.trainer, fitter)
        check_precision(cfg, fitter)
        warn_epoch_diagnostics(cfg, fitter)
    return fitter


def check_groups(cfg) -> None:
    for key in cfg:
        if key not in GROUPS:
            raise ConfigError(f"unknown top-level key {key}; {did_you_mean(key, GROUPS, 'config groups')}")


def check_code(cfg) -> str:
    """The code the config names takes its keys, keeps its contract and suits the solver; returns
    the fitter optim picks (derivtrain/trainer/fitters.py)."""
    from derivtrain.config.signature import check_target  # imports the chosen options' code (plugins too)

    check_target(cfg.model, "model", supplied=("spec",))
    check_target(cfg.loss, "loss")
    check_target(cfg.regularizer, "regularizer", ignored=PATH_KEYS)
    check_target(cfg.data, "data", ignored=("test_size", "val_size", "standardize", "chunk_rows", "out_of_core",
                                            "cv_folds", "fold"))
    from derivtrain.config.solver import check_solver  # needs the classes check_target imported
    from derivtrain.contracts import check_contracts

    check_contracts(cfg)
    return check_solver(cfg)


def warn_epoch_diagnostics(cfg, fitter: str) -> None:
    """diagnostics.hessian_every_n_epochs runs at the gradient loop's epoch ends; a full-batch solver
    has none, so the key would log nothing: say so (one line) rather than nothing."""
    every = cfg.get("diagnostics", {}).get("hessian_every_n_epochs", 0) if "diagnostics" in cfg else 0
    if every:
        from derivtrain.logging import log

        chosen = f"optim={cfg.optim.name}" + (f" (here: the {fitter} solver)" if cfg.optim.name == "auto" else "")
        log.warning("diagnostics.hessian_every_n_epochs=%s logs the sharpness at the gradient loop's epoch ends; "
                    "%s has no epochs, so nothing is logged (use optim=sgd or optim=adam to log it)", every, chosen)
