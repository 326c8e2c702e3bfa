"""Trained models to explain, built in-process (no CLI start-up) and shared across the tests."""
import copy
from types import SimpleNamespace

import pytest
import torch

from derivtrain.data import build_data
from derivtrain.logging import NullLogger
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.fitting import make_context
from tests.conftest import compose_config

# Only the first 3 of 10 features carry signal (data.n_informative). For the truth about the data to
# be the truth about the model, the model must not fit the 7 noise features: no label noise, and an
# L2 penalty strong enough that a 64-unit MLP does not memorise noise (with 10% flipped labels and
# the default 1e-3 it leans on noise features about as much as on the weakest informative one).
# Data seed 8 gives the three informative features moderate, unequal signal (|corr| 0.5 to 0.7).
INFORMATIVE = ("data=synthetic", "data.n_features=10", "data.n_informative=3", "data.seed=8",
               "data.n_samples=1000", "data.noise=0.0", "regularizer.strength=0.01")


def train(tmp_path, *overrides):
    """(model in eval mode, data, cfg): what `python -m derivtrain overrides...` trains, logger aside."""
    cfg = compose_config("logger=none", *overrides)
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    fit_objective(make_context(cfg, objective, data, NullLogger(), tmp_path / "last.pt"))
    return SimpleNamespace(model=objective.model.eval(), data=data, cfg=cfg)


def as_float64(trained):
    """A float64 copy of the model and its test inputs: closed forms checked to 1e-5 and tighter."""
    return copy.deepcopy(trained.model).double(), trained.data.test.X.double()


@pytest.fixture(scope="session")
def logistic_wine(tmp_path_factory):
    return train(tmp_path_factory.mktemp("lw"), "model=logistic", "data=wine", "trainer.max_epochs=50")


@pytest.fixture(scope="session")
def logistic_binary(tmp_path_factory):
    return train(tmp_path_factory.mktemp("lb"), "model=logistic", "data=breast_cancer", "trainer.max_epochs=50")


@pytest.fixture(scope="session")
def linear_diabetes(tmp_path_factory):
    return train(tmp_path_factory.mktemp("ld"), "model=linear", "data=diabetes", "trainer.max_epochs=50")


@pytest.fixture(scope="session")
def mlp_digits(tmp_path_factory):
    return train(tmp_path_factory.mktemp("md"), "model=mlp", "data=digits", "trainer.max_epochs=25")


@pytest.fixture(scope="session")
def tanh_mlp_digits(tmp_path_factory):
    return train(tmp_path_factory.mktemp("mt"), "model=mlp", "model.activation=tanh", "data=digits",
                 "trainer.max_epochs=25")


@pytest.fixture(scope="session", params=["logistic", "mlp"])
def informative_model(request, tmp_path_factory):
    return train(tmp_path_factory.mktemp(request.param), f"model={request.param}", *INFORMATIVE,
                 "trainer.max_epochs=100")
