"""Run exactly what `python -m derivtrain` runs, in this process, and hand back what a test compares."""
from dataclasses import dataclass

import numpy as np
import torch

import derivtrain
from derivtrain.data import build_data
from derivtrain.run import run
from tests.conftest import compose_config


@dataclass
class Fitted:
    metrics: dict
    model: object  # derivtrain.load_run of the run folder
    X_train: np.ndarray  # the training rows the model saw, standardized (float64)
    X_train_raw: np.ndarray  # the same rows in the user's units
    y_train: np.ndarray
    folder: object


def run_in_process(tmp_path, *overrides, name="run") -> Fitted:
    """run(cfg) on the composed config (logger=none unless overridden), then reload its folder."""
    cfg = compose_config("logger=none", *overrides)
    folder = tmp_path / name
    metrics = run(cfg, folder)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)  # the same split, rebuilt
    X = data.train.X.double()
    raw = X * data.feature_scale.double() + data.feature_mean.double()
    return Fitted(metrics=metrics, model=derivtrain.load_run(folder), X_train=X.numpy(), X_train_raw=raw.numpy(),
                  y_train=data.train.y.numpy(), folder=folder)


def relative_error(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())
