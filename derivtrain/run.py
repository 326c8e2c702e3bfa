"""run(plan): the whole story of a training run, top to bottom, in three named phases.

    set_up   data, model inside its objective, logger, what a checkpoint carries (the plan, made
             once before: the config validated, the fitter chosen; derivtrain/config/plan.py)
    fit      the fitter that optim names (derivtrain/trainer/fitters.py), then `finish`
    report   test metrics, analysis, TensorBoard hparams, metrics.json and split.npz
"""
import json
import random
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from derivtrain.config.plan import Plan, as_plan
from derivtrain.config.path_checks import path_data_config, penalty_config, wants_path
from derivtrain.config.precision import run_dtype
from derivtrain.config.targets import target_plan_of
from derivtrain.data import build_data
from derivtrain.devices import resolve_device
from derivtrain.errors import ConfigError
from derivtrain.logging import NullLogger, log, make_logger
from derivtrain.losses import Objective
from derivtrain.losses.targets import fitted_penalty
from derivtrain.registry import chosen_options
from derivtrain.resume import load_resume
from derivtrain.saved import check_same_targets, check_weights, with_target_statistics
from derivtrain.sensitivity.analysis import make_analysis
from derivtrain.sweep.selection import check_monitor_available
from derivtrain.trainer.distributed import local_device, make_distributed
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.fitting import Checkpointer, FitContext
from derivtrain.trainer.interrupt import StopRequests, TrainingInterrupted
from derivtrain.trainer.solver_checkpoints import first_step_logged_again
from derivtrain.trainer.metrics import evaluate
from derivtrain.writes import replacing, write_text


@dataclass
class Session:
    """Everything set_up builds: what the fit and the report work on."""

    plan: Plan
    run_dir: Path
    data: Any
    objective: Objective
    analysis: Any
    logger: Any
    distributed: Any
    resume_state: dict | None
    checkpoint_extra: dict
    stop: Any = None  # the run's StopRequests (derivtrain/trainer/interrupt.py)

    @property
    def cfg(self):
        return self.plan.cfg


def run(plan, run_dir, stop_requests=None, before_fit=None) -> dict:
    """Train, evaluate and write the run folder; returns the final metrics. `plan`: launch's Plan,
    or a task config, which is then validated here (derivtrain/config/plan.py).

    Ctrl-C and SIGTERM are caught from the start of set-up (derivtrain/trainer/interrupt.py; the CLI
    passes its own `stop_requests`, installed before it claims the folder): a stop before the
    first step raises TrainingInterrupted with nothing saved, a later one after a checkpoint.
    `before_fit()` runs once set-up has passed every check (the CLI writes .hydra/ there)."""
    with nullcontext(stop_requests) if stop_requests is not None else StopRequests() as stop:
        session = set_up(as_plan(plan), Path(run_dir), stop)
        if stop.signal_name:
            raise TrainingInterrupted(f"{stop.signal_name} before the first step", saved=False)
        if before_fit is not None:
            before_fit()
        result = fit(session)
        if stop.signal_name:  # during the final checkpoint: it is written, the report is not
            raise TrainingInterrupted(f"{stop.signal_name} after the last step")
        stop.immediate = True  # the report (analysis may take minutes) stops at once: the checkpoint is there
        return report(session, result.metrics)


def set_up(plan: Plan, run_dir: Path, stop=None) -> Session:
    cfg = plan.cfg  # validated: configuration errors surfaced before any tensor is built
    resume_state, resume_record = load_resume(cfg, run_dir) if cfg.trainer.resume else (None, {})
    if resume_state is None:
        check_new_folder(run_dir)
    device = local_device(resolve_device(cfg.trainer.device))
    if cfg.trainer.cuda_graph and device.type != "cuda":
        raise ConfigError(f"trainer.cuda_graph=true needs a CUDA device, but this run trains on {device}; "
                          "set trainer.device=cuda or drop cuda_graph")
    distributed = make_distributed(cfg.trainer, device)  # one process unless torchrun + trainer=ddp
    seed_everything(cfg.trainer.seed)

    data = build_data(path_data_config(cfg), device, seed=cfg.trainer.seed, distributed=distributed,  # ddp: this rank's rows
                      dtype=run_dtype(cfg, device),  # float64 for the certified solver on the CPU
                      targets=target_plan_of(cfg))  # regression targets centred (and scaled) in float64
    if resume_state is not None:
        check_resumable(resume_state, data.spec, cfg.trainer.resume)
    objective = build_objective(cfg, data)
    model = objective.model
    if resume_state is not None:
        resume_state["model"] = with_target_statistics(resume_state["model"])  # a checkpoint older than them
        check_weights(model, resume_state["model"], f"trainer.resume={cfg.trainer.resume}")
        check_same_targets(resume_state["model"], data, cfg.trainer.resume)
    analysis = make_analysis(cfg.analysis, model, data.spec)  # checked against data and model before training
    check_monitor_available(cfg.get("sweep"), objective, data.spec)  # what a sweep selects on, before training
    if distributed.world_size > 1:
        distributed.broadcast_parameters(model)
    if cfg.trainer.compile:
        model.compile()  # in place: the module, its state_dict keys and its estimator API stay as they are
    if stop is not None and stop.signal_name:
        return Session(plan, run_dir, data, objective, analysis, NullLogger(), distributed, resume_state, {})

    purge_step = first_step_logged_again(resume_state) if resume_state else None
    logger = make_logger(cfg.logger, run_dir, purge_step) if distributed.is_main else NullLogger()
    logger.log_run_start(cfg, objective.loss.task)  # config text, dashboard layout
    extra = dict(config=OmegaConf.to_container(cfg, resolve=True), spec=data.spec.to_dict(),
                 options=chosen_options(cfg), probability_link=model.probability_link,
                 preprocessing={"feature_mean": data.feature_mean.cpu(), "feature_scale": data.feature_scale.cpu(),
                                "target_mean": data.target_mean, "target_scale": data.target_scale},
                 **resume_record)
    return Session(plan, run_dir, data, objective, analysis, logger, distributed, resume_state, extra, stop)


def fit(session: Session):
    """The fitter optim names, on the session's objective and data (its FitResult, finished)."""
    cfg = session.cfg
    checkpoints = Checkpointer(session.run_dir / "checkpoints" / "last.pt", session.checkpoint_extra,
                               keep=cfg.trainer.keep_checkpoints, is_main=session.distributed.is_main,
                               flush_log=session.logger.flush)
    ctx = FitContext(session.objective, session.data, cfg.optim, cfg.trainer, session.logger, checkpoints,
                     resume_state=session.resume_state, distributed=session.distributed,
                     diagnostics=cfg.get("diagnostics"), stop=session.stop)
    if wants_path(cfg):  # regularizer.path: many strengths, each certified, one chosen (derivtrain/path/)
        from derivtrain.path.phase import fit_path

        return fit_path(ctx, cfg, session.run_dir if session.distributed.is_main else None)
    return fit_objective(ctx, session.plan.fitter)


def report(session: Session, metrics: dict) -> dict:
    """Test metrics, then (rank 0 alone) the analysis and the run folder's files."""
    data, objective = session.data, session.objective
    test_targets = objective.loss.encode_targets(data.test.y, data.spec.n_outputs)
    metrics = {**metrics, **evaluate(objective, data.test, test_targets, "test", data.spec.n_classes)}
    session.distributed.close()
    if not session.distributed.is_main:
        return metrics
    logger = session.logger
    metrics.update(session.analysis(objective.model, data.test, session.run_dir / "attributions", logger,
                                    root=session.run_dir))
    logger.log_results(session.cfg, metrics)  # test metrics and the HPARAMS row (derivtrain/logging/dashboard.py)
    logger.close()
    write_split(session.run_dir, data)
    write_text(session.run_dir, "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info("run folder: %s", session.run_dir)
    return metrics


def write_split(run_dir: Path, data) -> None:
    """split.npz: train/val/test as row indices into the source table, so anyone can recompute on
    the same rows."""
    with replacing(run_dir, "split.npz", "wb") as f:
        np.savez(f, **{name: np.asarray(rows, dtype=np.int64) for name, rows in data.indices.items()})


def build_objective(cfg, data) -> Objective:
    """The model (with the data's standardization, on the data's device) inside its objective."""
    model = instantiate(cfg.model, _partial_=True)(spec=data.spec)  # partial: spec stays a DataSpec
    loss = instantiate(cfg.loss)
    penalty = instantiate(penalty_config(cfg.regularizer))  # without regularizer.path's keys
    check_compatible(cfg, model, loss, data.spec)
    model.set_standardization(data.feature_mean.cpu(), data.feature_scale.cpu())
    model.set_target_scaling(data.target_mean, data.target_scale)  # predictions in the data's units
    model.probability_link = loss.probability_link
    # the penalty's strength alpha; model=svm's C (scikit-learn's) sets it to 1/(C n_train) instead
    penalty.strength = model.regularization_strength(data.train.total_rows, penalty.strength)
    fitted_penalty(penalty, data.target_scale, loss)  # scaled targets: the same problem in fitted units
    dtype = data.train.X.dtype if isinstance(data.train.X, torch.Tensor) else torch.float32
    return Objective(model.to(device=data.feature_mean.device, dtype=dtype), loss, penalty)


def check_resumable(state: dict, spec, source) -> None:
    """A checkpoint continues only on data of the same shape: same features, same classes."""
    saved = state.get("spec", {})
    if saved.get("n_features") != spec.n_features or list(saved.get("classes", [])) != list(spec.classes):
        raise ConfigError(f"trainer.resume={source} was trained on {saved.get('n_features')} features and classes "
                          f"{saved.get('classes')}; this data has {spec.n_features} features and classes "
                          f"{list(spec.classes)}; resume with the run's own data settings")


def check_new_folder(run_dir: Path) -> None:
    """A new run never writes into a folder that holds a run (the CLI claims a new, empty folder)."""
    if (run_dir / "metrics.json").exists() or (run_dir / "checkpoints").exists():
        raise ConfigError(f"{run_dir} already holds a run, which is never overwritten; pick a new folder "
                          f"(to continue that run: trainer.resume={run_dir})")


def seed_everything(seed: int) -> None:
    """One seed for the split, initialisation and shuffling; deterministic on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_compatible(cfg, model, loss, spec) -> None:
    """The model and the loss must suit the data's task (a regression model on labels is a mistake)."""
    loss_task = loss.task
    # a density model reads only the features: labelled data suit it too (their labels are ignored)
    task = "density" if "density" in model.tasks else spec.task
    if task not in model.tasks:
        hint = " (data without a target suit model=gmm or model=gaussian)" if task == "density" else ""
        raise ConfigError(f"{_option(cfg, 'model')} is for {'/'.join(model.tasks)}, but "
                          f"{_option(cfg, 'data')} is a {task} problem; pick another model or data{hint}")
    if loss_task != task and task == "density":
        raise ConfigError(f"{_option(cfg, 'loss')} is for {loss_task}, but {_option(cfg, 'model')} is a density "
                          "model; use loss=density")
    if loss_task != task:
        natural = model.natural_losses.get(task)  # a file's task is known only once read: name the loss to add
        fix = f"add loss={natural} (the model's natural loss for {task})" if natural else "pick another loss"
        raise ConfigError(f"{_option(cfg, 'loss')} is for {loss_task}, but {_option(cfg, 'data')} is a "
                          f"{task} problem; {fix}")
    if cfg.optim.name == "em" and not hasattr(model, "m_step"):
        raise ConfigError(f"optim=em fits mixture models (model=gmm, model=gaussian), not "
                          f"{_option(cfg, 'model')}; use optim=auto, newton, lbfgs, sgd or adam")


def _option(cfg, group: str) -> str:
    """'model=svm' as the user chose it (from Hydra), else the class the config names."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return f"{group}={HydraConfig.get().runtime.choices.get(group)}"
    return f"{group} {cfg[group].get('_target_', '?').rsplit('.', 1)[-1]}"
