"""The training objective: the data loss of the model's scores plus the penalty on its weights.

    objective(X, targets) = loss(model(X), targets) + strength * penalty(model's weights)

Two ways to compute it, same value and gradients:
  composed  the model, the loss Function and the regularized-objective Function, chained by
            autograd; any model, loss and penalty.
  fused     a LinearSVM trained by the (binary or one-vs-rest) hinge with an L2 penalty or none:
            one Function over a feature-major copy of the full batch that reads X once forward
            and once backward (derivtrain/losses/linear_svm.py). Chosen here, when the model,
            loss and penalty are those, and used for a batch X seen before: full-batch training.
"""
import torch

from derivtrain.losses.hinge import HingeLoss
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.linear_svm import FullBatchLinearSVM
from derivtrain.losses.penalty import NoPenalty, Penalty
from derivtrain.losses.regularized import regularized
from derivtrain.models.svm import LinearSVM


class Objective:
    def __init__(self, model, loss, penalty: Penalty, n_train: int | None = None, fuse: bool = True):
        self.model, self.loss, self.penalty = model, loss, penalty
        if n_train is not None and hasattr(model, "regularization_strength"):
            # the SVM's C (scikit-learn's parametrisation) becomes our strength alpha = 1/(C n_train)
            penalty.strength = model.regularization_strength(n_train, penalty.strength)
        # biases are not penalized; the model says which tensors are weights
        self.penalized = list(model.penalized_parameters())
        self.has_penalty = not isinstance(penalty, NoPenalty) and penalty.strength > 0
        self.twice_differentiable = (getattr(loss, "twice_differentiable", True)
                                     and (not self.has_penalty or penalty.twice_differentiable))
        self.fused = FullBatchLinearSVM(model.linear, penalty) if fuse and fusable(model, loss, penalty) else None

    @torch.no_grad()
    def penalty_value(self) -> float:
        """strength * penalty(weights) at the current weights, on the host (0.0 without a penalty)."""
        if not self.has_penalty:
            return 0.0
        return self.penalty.strength * self.penalty.value(self.penalized).item()

    def data_loss(self, X: torch.Tensor, targets: torch.Tensor, sample_weight=None) -> torch.Tensor:
        """The loss of the model's scores; with per-row `sample_weight`, their weighted mean (the loss
        must take a sample_weight argument: derivtrain/losses/reduction.py)."""
        if sample_weight is None:
            return self.loss(self.model(X), targets)
        return self.loss(self.model(X), targets, sample_weight=sample_weight)

    def __call__(self, X: torch.Tensor, targets: torch.Tensor, sample_weight=None) -> torch.Tensor:
        if sample_weight is None and self.fused is not None and self.fused.ready(X, targets):
            return self.fused()
        return self.composed(X, targets, sample_weight)

    def composed(self, X: torch.Tensor, targets: torch.Tensor, sample_weight=None) -> torch.Tensor:
        """The objective through the composed path, for any X (never builds the fused copy)."""
        loss = self.data_loss(X, targets, sample_weight)
        if self.has_penalty:
            loss = regularized(loss, self.penalty, self.penalized)
        return loss


def fusable(model, loss, penalty) -> bool:
    """Whether the fused linear-SVM Function computes exactly this objective."""
    return (isinstance(model, LinearSVM) and type(loss) is HingeLoss
            and loss.one_vs_rest(model.linear.out_features) and loss.class_weight is None
            and loss.reduction == "mean" and type(penalty) in (L2Penalty, NoPenalty))
