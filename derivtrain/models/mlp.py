"""Multi-layer perceptron: Linear -> activation -> dropout, repeated, then a linear head.

Backpropagation is the chain rule applied layer by layer from the loss back to the inputs;
autograd does it here, the custom losses feed it their hand-written first step.
"""
from torch import nn

from derivtrain.errors import ConfigError, choice_error
from derivtrain.models.base import Model

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "silu": nn.SiLU}


class MLP(Model):
    # a network's loss is the task's likelihood: cross-entropy for labels, squared error for values
    natural_losses = {"classification": "cross_entropy", "regression": "mse"}

    def __init__(self, spec, hidden_sizes=(64,), activation: str = "relu", dropout: float = 0.0):
        super().__init__(spec)
        if activation not in ACTIVATIONS:
            raise choice_error("model.activation", activation, ACTIVATIONS)
        if not 0 <= dropout < 1:
            raise ConfigError(f"model.dropout={dropout} must be in [0, 1)")
        layers, width = [], spec.n_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, int(size)), ACTIVATIONS[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        layers.append(nn.Linear(width, spec.n_outputs))
        self.layers = nn.Sequential(*layers)

    def output_layer(self):
        return self.layers[-1]

    def forward(self, X):
        return self.scores_of(self.layers(X))
