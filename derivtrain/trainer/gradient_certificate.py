"""The duality gap of a proximal Newton iterate from the gradient pass its step makes anyway.

The certificate's dual point is theta = l'(z) (derivtrain/convex/certificate.py), and its dual value
needs V = -X^T (c theta) = -X^T G: the smooth part's gradient, which every step backprojects to
choose its working set. What stops a solver from reading V off it is the bias's constraint
sum_i c_i theta_i = 0: with the bias off its optimum, balance_rows rescales theta and the rescaled
point needs a pass of its own over X (~25 ms at 100k x 50; a third of a sparse lasso's fit). So the
bias is made optimal first (settle_bias: Newton on the K biases alone, O(n) a step, no pass over
X), then X^T G is taken at those scores and the certificate is the usual one to rounding: the same
dual point (balance_rows leaves a theta balanced to 1e-12 as it is), value and rounding bound.
The regularization paths (derivtrain/path/smooth_path.py, prox_path.py) certify their points the
same way, with these functions. `reduce`: trainer=ddp's sums over every rank's rows; None in one
process.
"""
import torch

from derivtrain.convex.certificate import Certificate, rounding_error
from derivtrain.trainer.smooth_part import smooth_part

BALANCED = 1e-12  # balance_rows's own tolerance: below it theta is left as it is
_BIAS_STEPS = 8


def _sum(reduce, t: torch.Tensor) -> torch.Tensor:
    return t if reduce is None else reduce.all_sum(t)


def imbalance(smooth, reduce=None) -> float:
    """max over score columns of |sum_i c_i theta_i| / sum_i c_i |theta_i| (sums over every rank's rows)."""
    G = smooth.G  # c theta, row by row
    sums = _sum(reduce, torch.stack([G.sum(dim=0), G.abs().sum(dim=0)]))
    return float((sums[0].abs() / sums[1].clamp_min(torch.finfo(G.dtype).tiny)).max())


def _bias_move(smooth, reduce):
    """Newton's step on the K biases alone, or None where there is none: independent columns take K
    scalar steps (none where a column has no curvature); the softmax's coupled K x K bias Hessian is
    singular along (1, ..., 1), which the softmax does not see: its pseudo-inverse takes the step
    orthogonal to it (on any device: lstsq's CUDA driver assumes full rank)."""
    g, D = _sum(reduce, smooth.G.sum(dim=0)), _sum(reduce, smooth.D.sum(dim=0))
    if D.dim() == 1:
        return -g / D if bool((D > 0).all()) else None
    move = -(torch.linalg.pinv(D, hermitian=True) @ g)
    return move if bool(torch.isfinite(move).all()) else None


def settle_bias(loss, z, y, c, T, smooth, reduce=None):
    """(T, z, smooth) with the bias moved to its optimum for T's weights: Newton steps on the biases
    alone (_bias_move), each kept only if the loss does not rise; ends once the imbalance is under
    BALANCED or the steps run out. Every sum is over every rank's rows (trainer=ddp), so each rank
    moves its bias alike."""
    for _ in range(_BIAS_STEPS):
        if imbalance(smooth, reduce) <= BALANCED:
            break
        move = _bias_move(smooth, reduce)
        if move is None:
            break
        trial = smooth_part(loss, z + move, y, c)
        if not _total(reduce, trial.value) <= _total(reduce, smooth.value):
            break
        T = T.clone()
        T[:, -1] += move
        z, smooth = z + move, trial
    return T, z, smooth


def gradient_certificate(problem, primal: float, smooth, XtG: torch.Tensor, z, y, c, W, reduce=None):
    """The certificate at an iterate whose bias is settled, V = -XtG (XtG = X^T G over every rank's
    rows, (K, d), float64); None where it is not (the caller certifies with a pass of its own)."""
    if XtG.dtype != torch.float64 or imbalance(smooth, reduce) > BALANCED:
        return None
    V = -XtG
    scale = problem.penalty.feasible_scale(V)
    conjugates = _sum(reduce, (c * problem.loss.conjugate(scale * smooth.theta, y)).sum())
    dual = (-conjugates - problem.penalty.conjugate(scale * V)).item()
    return Certificate(primal, dual, rounding_error(problem, z, y, c, reduce, W, theta=smooth.theta))


def _total(reduce, value: float) -> float:
    return float(_sum(reduce, torch.tensor(value, dtype=torch.float64)))
