"""run(cfg): the whole story of a training run, top to bottom."""
import json
import random
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from derivtrain.config import validate
from derivtrain.data import build_data
from derivtrain.devices import resolve_device
from derivtrain.errors import ConfigError
from derivtrain.logging import NullLogger, log, make_logger
from derivtrain.losses import Objective
from derivtrain.sensitivity.analysis import make_analysis
from derivtrain.train.checkpoint import load_checkpoint
from derivtrain.train.em import fit_em
from derivtrain.train.distributed import local_device, make_distributed
from derivtrain.train.loop import fit
from derivtrain.train.metrics import evaluate
from derivtrain.train.newton import fit_newton


def run(cfg, run_dir) -> dict:
    """Train, evaluate and write the run folder; returns the final metrics."""
    validate(cfg)  # configuration errors surface before any tensor is built
    run_dir = Path(run_dir)
    resume_state = load_checkpoint(cfg.trainer.resume) if cfg.trainer.resume else None
    device = local_device(resolve_device(cfg.trainer.device))
    if cfg.trainer.cuda_graph and device.type != "cuda":
        raise ConfigError(f"trainer.cuda_graph=true needs a CUDA device, but this run trains on {device}; "
                          "set trainer.device=cuda or drop cuda_graph")
    distributed = make_distributed(cfg.trainer, device)  # one process unless torchrun + trainer=ddp
    seed_everything(cfg.trainer.seed)

    data = build_data(cfg.data, device, seed=cfg.trainer.seed)
    if resume_state is not None:
        check_resumable(resume_state, data.spec, cfg.trainer.resume)
    objective = build_objective(cfg, data)
    model, loss = objective.model, objective.loss
    analysis = make_analysis(cfg.analysis, model, data.spec)  # checked against data and model before training

    if distributed.world_size > 1:
        distributed.broadcast_parameters(model)
    if cfg.trainer.compile:
        model.compile()  # in place: the module, its state_dict keys and its estimator API stay as they are
    purge_step = resume_state["step"] + 1 if resume_state else None
    logger = make_logger(cfg.logger, run_dir, purge_step) if distributed.is_main else NullLogger()
    resolved = OmegaConf.to_container(cfg, resolve=True)
    logger.log_run_start(cfg, getattr(loss, "task", data.spec.task))  # config text, dashboard layout
    saving = dict(checkpoint_path=run_dir / "checkpoints" / "last.pt",
                  checkpoint_extra=dict(config=resolved, spec=data.spec.to_dict(),
                                        probability_link=model.probability_link,
                                        preprocessing={"feature_mean": data.feature_mean.cpu(),
                                                       "feature_scale": data.feature_scale.cpu()}))
    if cfg.optim.name == "em":  # mixtures: closed-form E and M steps, not a gradient loop
        result = fit_em(objective, data, cfg.optim, cfg.trainer, logger, **saving, resume_state=resume_state)
    elif cfg.optim.name == "newton":  # second order: the Hessian from autograd, a line search
        result = fit_newton(objective, data, cfg.optim, cfg.trainer, logger, **saving, resume_state=resume_state)
    else:  # gradient steps: derivtrain/train/loop.py
        result = fit(objective, data, cfg.optim, cfg.trainer, logger, **saving,
                     resume_state=resume_state, diagnostics=cfg.get("diagnostics"), distributed=distributed)

    test_targets = loss.encode_targets(data.test.y, data.spec.n_outputs)
    metrics = {**result.metrics, **evaluate(objective, data.test, test_targets, "test", data.spec.n_classes)}
    distributed.close()
    if not distributed.is_main:  # rank 0 alone analyses and writes the run folder
        return metrics
    metrics.update(analysis(model, data.test, run_dir / "attributions", logger))
    logger.log_results(cfg, metrics)  # test metrics and the HPARAMS row (derivtrain/logging/dashboard.py)
    logger.close()
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info("run folder: %s", run_dir)
    return metrics


def build_objective(cfg, data) -> Objective:
    """The model (with the data's standardization, on the data's device) inside its objective."""
    model = instantiate(cfg.model, _partial_=True)(spec=data.spec)  # partial: spec stays a DataSpec
    loss = instantiate(cfg.loss)
    penalty = instantiate(cfg.regularizer)
    check_compatible(cfg, model, loss, data.spec)
    model.set_standardization(data.feature_mean.cpu(), data.feature_scale.cpu())
    model.probability_link = getattr(loss, "probability_link", None)
    # n_train: the SVM's C (scikit-learn's) becomes the penalty strength alpha = 1/(C n_train)
    return Objective(model.to(data.train.X.device), loss, penalty, n_train=len(data.train))


def check_resumable(state: dict, spec, source) -> None:
    """A checkpoint continues only on data of the same shape: same features, same classes."""
    saved = state.get("spec", {})
    if saved.get("n_features") != spec.n_features or list(saved.get("classes", [])) != list(spec.classes):
        raise ConfigError(f"trainer.resume={source} was trained on {saved.get('n_features')} features and classes "
                          f"{saved.get('classes')}; this data has {spec.n_features} features and classes "
                          f"{list(spec.classes)}; resume with the run's own data settings")


def seed_everything(seed: int) -> None:
    """One seed for the split, initialisation and shuffling; deterministic on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_compatible(cfg, model, loss, spec) -> None:
    """The model and the loss must suit the data's task (a regression model on labels is a mistake)."""
    loss_task = getattr(loss, "task", spec.task)
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
        raise ConfigError(f"{_option(cfg, 'loss')} is for {loss_task}, but {_option(cfg, 'data')} is a "
                          f"{task} problem; pick another loss")
    if cfg.optim.name == "em" and not hasattr(model, "m_step"):
        raise ConfigError(f"optim=em fits mixture models (model=gmm, model=gaussian), not "
                          f"{_option(cfg, 'model')}; use optim=newton, lbfgs, sgd or adam")


def _option(cfg, group: str) -> str:
    """'model=svm' as the user chose it (from Hydra), else the class the config names."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return f"{group}={HydraConfig.get().runtime.choices.get(group)}"
    return f"{group} {cfg[group].get('_target_', '?').rsplit('.', 1)[-1]}"
