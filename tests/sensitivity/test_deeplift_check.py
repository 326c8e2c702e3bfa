"""Models Captum's DeepLift would explain wrongly are refused, by name and reason, before training."""
import pytest
import torch
from torch import nn

from derivtrain.data.table import DataSpec
from derivtrain.errors import ConfigError
from derivtrain.models.base import Model
from derivtrain.models.mlp import MLP
from derivtrain.sensitivity.analysis import make_analysis
from derivtrain.sensitivity.deeplift_check import check_deeplift
from derivtrain.sensitivity.explained import ClassScores
from tests.conftest import compose_config

SPEC = DataSpec(task="classification", n_features=6, classes=[0, 1, 2], feature_names=[f"f{i}" for i in range(6)])


class FunctionalReLU(Model):
    """relu applied as a function: no module for DeepLift to hook."""

    def __init__(self, spec):
        super().__init__(spec)
        self.hidden, self.out = nn.Linear(spec.n_features, 16), nn.Linear(16, spec.n_outputs)

    def forward(self, X):
        return self.out(torch.relu(self.hidden(X)))


class ReusedReLU(Model):
    """One ReLU module called after both hidden layers."""

    def __init__(self, spec):
        super().__init__(spec)
        self.a, self.b, self.out = nn.Linear(spec.n_features, 16), nn.Linear(16, 16), nn.Linear(16, spec.n_outputs)
        self.act = nn.ReLU()

    def forward(self, X):
        return self.out(self.act(self.b(self.act(self.a(X)))))


def check(model):
    torch.manual_seed(0)
    check_deeplift(ClassScores(model), SPEC.n_features, torch.device("cpu"))


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_activation_without_a_deeplift_rule(activation):
    with pytest.raises(ConfigError, match=r"analysis method deeplift cannot explain this model: it has no rule for "
                                          r"(GELU|SiLU) \(at model\.layers\.1\); it supports .*ReLU"):
        check(MLP(SPEC, hidden_sizes=[8], activation=activation))


def test_nonlinearity_applied_as_a_function():
    with pytest.raises(ConfigError, match="deeplift cannot explain this model: its attributions miss .* as a function"):
        check(FunctionalReLU(SPEC))


def test_nonlinearity_module_used_twice():
    with pytest.raises(ConfigError, match="deeplift .* the nonlinearity module model.act is called 2 times"):
        check(ReusedReLU(SPEC))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_supported_mlps_pass(activation):
    check(MLP(SPEC, hidden_sizes=[8, 8], activation=activation))


def test_make_analysis_refuses_before_training():
    # what run() does right after building the model: the check runs on the untrained model
    cfg = compose_config("model=mlp", "model.activation=gelu", "analysis=compare")
    with pytest.raises(ConfigError, match="deeplift"):
        make_analysis(cfg.analysis, MLP(SPEC, hidden_sizes=[8], activation="gelu"), SPEC)
    cfg = compose_config("model=mlp", "model.activation=gelu", "analysis=compare",
                         "analysis.methods=[saliency,integrated_gradients]")
    assert make_analysis(cfg.analysis, MLP(SPEC, hidden_sizes=[8], activation="gelu"), SPEC).methods == \
        ["saliency", "integrated_gradients"]
