"""The training objective: the data loss of the model's scores plus the penalty on its weights.

    objective(X, targets) = loss(model(X), targets) + strength * penalty(model's weights)

Two ways to compute it, same value and gradients:
  composed  the model, the loss Function and the regularized-objective Function, chained by
            autograd; any model, loss and penalty, any batch.
  fused     a LinearSVM trained by the (binary or one-vs-rest) hinge with an L2 penalty or none,
            on one full batch: one Function over a feature-major copy of that batch that reads X
            once forward and once backward (derivtrain/losses/linear_svm.py). The gradient loop
            asks for it once, when it trains full batch in float32 (`use_full_batch`), and then
            calls `full_batch()` every step.
  by hand   the same model on minibatches of dense rows: value and gradients in closed form,
            no graph (derivtrain/losses/linear_svm_rows.py); the loop asks `by_hand_on(X)` once
            and then calls `step_by_hand(X, targets)` in place of objective(X).backward().
`strength` is the penalty's own: the SVM's C is turned into it where the objective is built
(derivtrain/run.py: build_objective).
"""
import torch

from derivtrain.data.sparse import is_sparse
from derivtrain.losses.hinge import HingeLoss
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.linear_svm import FullBatchLinearSVM
from derivtrain.losses.linear_svm_rows import value_and_grad
from derivtrain.losses.penalty import NoPenalty, Penalty
from derivtrain.losses.regularized import regularized
from derivtrain.losses.targets import units as target_units
from derivtrain.models.svm import LinearSVM


class Objective:
    def __init__(self, model, loss, penalty: Penalty):
        self.model, self.loss, self.penalty = model, loss, penalty
        # biases are not penalized; the model says which tensors are weights
        self.penalized = list(model.penalized_parameters())
        self.has_penalty = not isinstance(penalty, NoPenalty) and penalty.strength > 0
        self.twice_differentiable = loss.twice_differentiable and (not self.has_penalty or penalty.twice_differentiable)
        self.fused = None

    @property
    def units(self) -> float:
        """Data units per fitted unit of this objective: s^k when the targets are fitted scaled by s
        (derivtrain/losses/targets.py), else 1. Reported objectives are multiplied by it."""
        return target_units(self.model, self.loss)

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
        loss = self.data_loss(X, targets, sample_weight)
        if self.has_penalty:
            loss = regularized(loss, self.penalty, self.penalized)
        return loss

    composed = __call__  # the name the fused path is measured against

    def use_full_batch(self, X: torch.Tensor, targets: torch.Tensor) -> bool:
        """Train on this one batch through the fused Function from now on, where it computes exactly
        this objective; returns whether it does. X's feature-major copy is made here, once."""
        if not fusable(self.model, self.loss, self.penalty) or X.requires_grad or X.layout != torch.strided:
            return False  # (sparse rows: the linear layer's own sparse products are the fast path)
        self.fused = FullBatchLinearSVM(self.model.linear, self.penalty, X, targets)
        return True

    def full_batch(self) -> torch.Tensor:
        """The objective on the batch given to use_full_batch, through the fused Function."""
        return self.fused()

    def by_hand_on(self, X: torch.Tensor) -> bool:
        """Whether step_by_hand computes exactly this objective on rows of X (dense, or CSR on the
        CPU; no graph)."""
        rows_fit = X.layout == torch.strided or (is_sparse(X) and X.device.type == "cpu")
        return (fusable(self.model, self.loss, self.penalty) and rows_fit
                and not X.requires_grad and X.dtype == self.model.linear.weight.dtype)

    def step_by_hand(self, X: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The objective on rows X, its gradients written to the parameters' .grad (which
        zero_grad(set_to_none=True) left empty): what objective(X, targets).backward() gives."""
        linear = self.model.linear
        alpha = self.penalty.strength if self.has_penalty else 0.0
        value, linear.weight.grad, linear.bias.grad = value_and_grad(X, targets, linear.weight, linear.bias,
                                                                     alpha)
        return value


def fusable(model, loss, penalty) -> bool:
    """Whether the fused linear-SVM Function computes exactly this objective."""
    return (isinstance(model, LinearSVM) and type(loss) is HingeLoss
            and loss.one_vs_rest(model.linear.out_features) and loss.class_weight is None
            and loss.reduction == "mean" and type(penalty) in (L2Penalty, NoPenalty))
