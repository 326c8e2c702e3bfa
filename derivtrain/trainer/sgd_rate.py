"""SGD's learning rate where optim.lr is null (optim=sgd's default): scaled to the rows.

A step of SGD on a linear model's mean loss moves the scores in two ways, and momentum beta carries
each step on to 1 / (1 - beta) times it:

- a row's own score, by lr |l'| ||x||^2 / B (B rows a batch). Standardized dense rows have mean
  ||x||^2 = d, their number of columns; sparse rows (scaled, not centred) at least that. At 100,000
  tf-idf columns and B = 4096 the fixed rate 0.1 moved a row's own score by ~24 a step, momentum
  included, and 5 epochs reached test accuracy 0.747 against LinearSVC's 0.764
  (scripts/cli_scale_sparse.py); rates 0.003-0.01 reached 0.763.
- every score together, along the direction in which the columns move together, where a step of the
  mean gradient acts as on a loss of curvature c lambda_max: lambda_max the largest eigenvalue of
  the rows' covariance, c the loss's bound on its second derivative (its convex datafit's
  `curvature_limit` for the model's scores: the binary logistic 1/4, squared error and the squared
  hinge 2; 1 for a kinked one, the softmax and others that declare none). Standardized columns give
  lambda_max = 1 when they are uncorrelated and up to d when they move together. The heavy ball is
  stable only for lr c lambda_max < 2 (1 + beta) (3.8 at beta = 0.9). On the 1.25M x 100 rows of
  scripts/bench_cli_scale.py (lambda_max 47.5, the hinge) the rate 0.1 is past it: 3 epochs of
  batches of 4096 ended at 5.1x the optimum's objective (0.548 against 0.108, the loss rising from
  epoch 2 to 3), 30 full-batch epochs at 2.7x; in batches, 0.04 ended at 2.7x, 0.03 within 1.9e-3 of
  the optimum, 0.021 within 2.5e-3, 0.01 within 3e-4, all at the optimum's test accuracy. On 60k of
  those rows in batches of 1024 the squared hinge at 0.1 diverged (an objective of 3e11 after 3
  epochs); at 0.011 it ended 1.9 % above the optimum. The covariance and not the second moments
  E[x x^T]: sparse rows are scaled, not centred, and their mean direction, a shift of every score that
  the bias takes too, did not behave as the bound says. digits stored as svmlight (pixel means up to
  3 std) has second moments' lambda_max 103 and covariance's 7.3; in batches of 64 the rate 0.04
  (the own-score bound) ended 20 epochs at 0.219 (the optimum 0.124), 1 / 103 at 0.276, 2 epochs at
  0.62 against 0.78.

The rate taken,

    min(0.1, (1 - beta) B / mean ||x||^2, 1 / (c lambda_max)),

moves a mean row's own score by at most 1 a step, momentum included, and takes along the columns'
main direction gradient descent's classic step 1 / L, a quarter of the heavy ball's limit. Rows with
no more columns than a batch has rows and uncorrelated columns keep 0.1, the rate the default was
before; so does breast_cancer's logistic regression (lambda_max 13.8, c = 1/4: 0.29). Other models
than a linear one keep 0.1: their first layer's scale is not the only one. The mean is taken over
the first SAMPLE_ROWS training rows (in the split's random order; summed over ranks), lambda_max
over the first EIGEN_ROWS of them by LANCZOS_STEPS steps of Lanczos (the products in X's dtype): the
whole rate 8 ms on 875k x 100 rows; on 140k x 100k sparse ones 28 ms, Lanczos on the rows' side
(covariance_eigenvalue), against 42 ms on the columns' (one thread, medians of 7).
"""
import torch

from derivtrain.data.mapped import rows_in_memory
from derivtrain.data.sparse import backproject, rows_between, times_transposed
from derivtrain.trainer.curvature import largest_eigenvalue
from derivtrain.trainer.precision_floor import row_squares

BASE_RATE = 0.1
SAMPLE_ROWS = 1 << 16
EIGEN_ROWS = 1 << 13
# Lanczos steps for lambda_max: 12 reached it to 4 digits on the sparse bench's rows (5: 30.1 of 37.1, 8: 37.13),
# 60k dense synthetic rows and digits (5 steps already); each step costs two products and a
# reorthogonalization against the steps before (100k sparse columns: 12 steps 21 ms, 20 steps 45 ms)
LANCZOS_STEPS = 12


def scaled_rate(model, X: torch.Tensor, batch_size: int, momentum: float, all_sum, curvature=None,
                one_process: bool = False) -> tuple:
    """(rate, how): the rate for optim=sgd with optim.lr=null, and how the log says it was chosen;
    curvature: the loss's curvature_limit (None: 1); one_process: X holds every row (no other rank)."""
    if not _plain_linear(model):
        return BASE_RATE, "SGD's rate for a model that is not linear"
    rows = rows_in_memory(X, SAMPLE_ROWS)  # the first rows (a view; out of core: read)
    squares = row_squares(rows)
    totals = all_sum(torch.stack([squares.sum(), squares.new_tensor(float(len(squares)))]))
    mean_square = (totals[0] / totals[1].clamp_min(1.0)).item()
    largest = covariance_eigenvalue(rows_between(rows, 0, EIGEN_ROWS), all_sum, one_process)
    tiny, c = torch.finfo(torch.float64).tiny, 1.0 if curvature is None else float(curvature)
    own = (1.0 - momentum) * batch_size / max(mean_square, tiny)
    along = 1.0 / max(c * largest, tiny)
    how = (f"scaled to the rows (mean squared norm {mean_square:.3g}, largest eigenvalue of their covariance "
           f"{largest:.3g}, the loss's curvature at most {c:g}, batches of {batch_size}, momentum {momentum:g})")
    return min(BASE_RATE, own, along), how


def loss_curvature(objective, model):
    """The loss's bound on each score's second derivative, as its convex datafit declares it for a
    plain linear model's scores (the softmax's datafit, or a kinked loss's, none), or None."""
    if not _plain_linear(model):
        return None
    return getattr(objective.loss.convex_dual(model.linear.out_features), "curvature_limit", None)


def _plain_linear(model) -> bool:
    """A LinearModel whose forward is the affine map itself (a plugin may subclass it with its own)."""
    from derivtrain.models.base import LinearModel

    return isinstance(model, LinearModel) and type(model).forward is LinearModel.forward


def covariance_eigenvalue(X: torch.Tensor, all_sum, one_process: bool = False) -> float:
    """lambda_max of the covariance of the rows of X (dense or CSR), summed over ranks by all_sum; 0
    where no rank holds a row. The products in X's dtype, the mean's part in float64.

    Where one process holds every row and there are more columns than rows (tf-idf rows: 8192 of
    them against 100k columns), Lanczos runs on the rows' side: the centred rows' Gram matrix
    Xc Xc^T / n has the covariance Xc^T Xc / n's nonzero eigenvalues, and its vectors are n long,
    not d. The products are the same two a step; the reorthogonalization against the steps before,
    which read up to 12 float64 vectors of d numbers four times a step, shrinks with them (the
    first 8192 of 140k x 100k sparse rows, one thread, medians of 7: 35 -> 22 ms, the same
    eigenvalue to 6 digits). Other ranks' rows would be other
    coordinates of those vectors, so a distributed run keeps the columns' side."""
    n = all_sum(torch.tensor(float(X.shape[0]), dtype=torch.float64, device=X.device)).item()
    if n == 0:
        return 0.0
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    mean = all_sum(backproject(ones, X)[0].to(torch.float64)) / n

    def covariance(v: torch.Tensor) -> torch.Tensor:
        scores = times_transposed(X, v.to(X.dtype).unsqueeze(0))  # (n, 1)
        second = all_sum(backproject(scores, X)[0].to(torch.float64)) / n
        return second - mean * (mean @ v)

    def centred_gram(u: torch.Tensor) -> torch.Tensor:
        v = backproject(u.to(X.dtype).unsqueeze(1), X)[0].to(torch.float64) - mean * u.sum()  # Xc^T u
        return (times_transposed(X, v.to(X.dtype).unsqueeze(0))[:, 0].to(torch.float64) - mean @ v) / n  # Xc v / n

    if one_process and X.shape[0] < X.shape[1]:
        return largest_eigenvalue(centred_gram, X.shape[0], LANCZOS_STEPS, X.device)
    return largest_eigenvalue(covariance, X.shape[1], LANCZOS_STEPS, X.device)
