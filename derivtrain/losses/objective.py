"""The training objective: the data loss of the model's scores plus the penalty on its weights."""
import torch

from derivtrain.losses.penalty import NoPenalty, Penalty, regularized


class Objective:
    def __init__(self, model, loss, penalty: Penalty):
        self.model, self.loss, self.penalty = model, loss, penalty
        # biases are not penalized; the model says which tensors are weights
        self.penalized = list(model.penalized_parameters())
        self.has_penalty = not isinstance(penalty, NoPenalty) and penalty.strength > 0

    def data_loss(self, X: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss(self.model(X), targets)

    def __call__(self, X: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = self.data_loss(X, targets)
        if self.has_penalty:
            loss = regularized(loss, self.penalty, self.penalized)
        return loss
