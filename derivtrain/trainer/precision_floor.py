"""The smallest relative gap a solver's precision can certify on a problem: optim.tol's floor.

A certificate compares P(W) with a dual bound D at weights that went through rounding: the rows
X (float64 for the certified solver on the CPU, float32 elsewhere), the iterate's arithmetic
(optim.dtype) and the model's weights (their dtype). Each moves a score z_i = w . x_i + b by
about u ||w|| ||x_i||, u = u_X + u_W + sqrt(d + 1) u_T the unit roundoffs (the last one: the
dot product's own sum). What that costs the objective depends on the loss:

    smooth loss   second order: at the optimum the gradient is zero, so the cost is
                  1/2 sum_i c_i l''(z_i) dz_i^2 <= 1/2 (u ||W|| R_2)^2, R_2^2 = sum_i c_i ||x_i||^2
    a kink        first order on the rows at a kink (about d + 1 of them, generically; the
                  support vectors on the margin): L u ||W|| R_max (d + 1) / n

and the float64 sums over n rows add u_64 log2(n) |P|. Twice that (P and D each carry it),
relative to |P|, is the floor. ||W|| is bounded before iterating by the penalty alone:
alpha/2 ||W||^2 <= P(W*) <= P(0), and an L1 part alpha r ||W||_1 <= P(0).

During the solve each certificate carries a bound on its own rounding (derivtrain/convex/
certificate.py:rounding_error: large where the numbers summed dwarf P, e.g. regression targets
around 1e7 fitted to residuals of 0.1); the tolerance is raised to twice that where it is higher,
since no gap below it can be shown. The estimate is meant to err low rather than high: a floor
set too low costs a few iterations that end on "no step improves" (the certified solver keeps
its best iterate), one set too high would stop a run short of what it could certify.
"""
import math

import torch

def unit_roundoff(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def lipschitz(score_loss, objective_at_zero: float) -> float:
    """A bound on |d loss / d z| per row: the datafit's own where its derivative is bounded (a hinge
    or the logistic loss moves at most 1 per unit of score, Crammer-Singer and the softmax two
    scores' worth, Weston-Watkins K - 1 hinges'); for the unbounded ones (squared error, squared
    hinge, Poisson) twice the root of twice the mean loss at zero: the residuals' scale."""
    limit = getattr(score_loss, "slope_limit", None)  # a plugin's datafit may not subclass ConvexDatafit
    if limit is not None:
        return float(limit)
    return 2.0 * max(1.0, math.sqrt(2.0 * max(objective_at_zero, 0.0)))


def row_norms(X: torch.Tensor, c: torch.Tensor, reduce, squares=None):
    """(sum_i c_i ||x_i||^2, max_i ||x_i||) over every rank's rows, in float64 (dense or CSR); squares:
    row_squares(X), where the caller has them."""
    squares = row_squares(X) if squares is None else squares
    mean_square = float(reduce.all_sum((c.to(torch.float64) * squares).sum()))
    largest = squares.max() if len(squares) else squares.new_zeros(())
    return mean_square, math.sqrt(float(reduce.all_max(largest)))


def row_squares(X: torch.Tensor) -> torch.Tensor:
    """||x_i||^2 of every row, float64 (n,), dense or CSR (dual coordinate descent's step sizes too)."""
    from derivtrain.data import sparse

    if sparse.is_sparse(X):
        ones = torch.ones(X.shape[1], 1, dtype=torch.float64, device=X.device)
        return (sparse.astype(sparse.squared(X), torch.float64) @ ones).reshape(-1)
    # a block of rows at a time in float64 (convex/passes.py): 100k x 50, 44 -> 4 ms, the same sums
    from derivtrain.convex.passes import block, block_rows

    squares, step = torch.empty(len(X), dtype=torch.float64, device=X.device), block_rows(X)
    for a in range(0, len(X), step):
        rows = block(X, a, step)
        torch.sum(rows * rows, dim=1, out=squares[a:a + len(rows)])
    return squares


def weight_bound(penalty, objective_at_zero: float) -> float:
    """A bound on ||W||_F at the optimum, from P(W*) <= P(0) and the penalty alone."""
    return penalty.weight_bound(objective_at_zero)  # derivtrain/convex/penalty.py


def relative_floor(problem, rows, weights: float, objective: float, dtypes, d: int, n: int) -> float:
    """The floor (module docstring). rows: row_norms(); dtypes: (X's, W's, the iterate's)."""
    u_x, u_w, u_t = (unit_roundoff(t) for t in dtypes)
    u = u_x + u_w + math.sqrt(d + 1) * u_t
    mean_square, largest = rows
    if problem.loss.nonsmooth or problem.penalty.pieces() is not None:
        scores = lipschitz(problem.loss, objective) * u * weights * largest * min(1.0, (d + 1) / max(n, 1))
    else:
        scores = 0.5 * (u * weights) ** 2 * mean_square
    sums = unit_roundoff(torch.float64) * math.log2(n + 1) * abs(objective)
    return 2 * (scores + sums) / max(abs(objective), torch.finfo(torch.float64).tiny)


class Floor:
    """optim.tol as a run can honour it: raised to the floor before iterating; then, at each
    certificate, to twice the certificate's own rounding bound (Certificate.error) where that is
    higher: a gap below it is not one the solver can show. One warning line, when the fit ends."""

    def __init__(self, ctx, problem, X, y, c, reduce, squares=None):
        """squares: row_squares(X), where the solver has them already (a pass over X saved)."""
        self.asked = float(ctx.optim.tol)
        zero = torch.zeros(len(y), problem.linear.out_features, dtype=torch.float64, device=c.device)
        at_zero = float(reduce.all_sum((c.to(torch.float64) * problem.loss.values(zero, y)).sum()))
        # rows as the data holds them, the model's weights, the iterate's arithmetic (optim.dtype)
        self.dtypes = (ctx.data.train.X.dtype, problem.linear.weight.dtype,
                       getattr(torch, ctx.optim.get("dtype", "float64")))
        n = int(reduce.all_sum(torch.tensor(float(len(y)), dtype=torch.float64, device=c.device)))
        weights = weight_bound(problem.penalty, at_zero)
        rows = row_norms(X, c, reduce, squares)
        self.floor = relative_floor(problem, rows, weights, at_zero, self.dtypes, X.shape[1], n)
        self.tol = max(self.asked, self.floor)

    def at(self, certificate) -> float:
        """The tolerance for this certificate's iterate (never lowered again)."""
        own = 2 * certificate.error / max(abs(certificate.primal), torch.finfo(torch.float64).tiny)
        self.tol = max(self.tol, own)
        return self.tol

    def announce(self) -> None:
        if self.tol > self.asked:
            from derivtrain.logging import log

            names = "/".join(sorted({str(t).replace("torch.", "") for t in self.dtypes}))
            log.warning("optim.tol=%g is below the gap this problem can certify in %s (~%.2g, from the rounding "
                        "of the rows, the weights and the objective); used optim.tol=%.2g",
                        self.asked, names, self.tol, self.tol)
