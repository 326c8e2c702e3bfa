"""A smooth path point's certificate from the pass its Newton step already made.

The certificate's dual point is theta = l'(z), the loss's derivative at the iterate's scores, and
the dual value needs V = -X^T (c theta): exactly the data part of the gradient that Newton's step
backprojects anyway. What keeps the certified solver from reusing it is the bias's constraint
sum_i c_i theta_i = 0 (derivtrain/convex/certificate.py): an iterate whose bias is not optimal to
rounding has a theta that balance_rows must rescale, and a rescaled theta needs its own pass over
X. So a path makes the bias exact first (exact_bias: Newton on the bias alone, an O(n) pass over
the scores, no pass over X), and then the gradient it backprojects is the dual's V (measured on
100k x 50 logistic: the certificate's own pass, balance_rows and the rounding bound's autograd were
~15 ms of a point's ~55 ms).

The dual value is the one derivtrain/convex/certificate.py computes for a smooth loss at a
balanced theta (balance_rows leaves a theta whose residual is under its 1e-12 alone), with the
same rounding bound, so the gap is the certified solver's to rounding.
"""
import torch

from derivtrain.convex.certificate import Certificate, rounding_error
from derivtrain.trainer.smooth_part import smooth_part

_BALANCED = 1e-12  # balance_rows's own stopping test: a residual below it leaves theta as it is
_BIAS_STEPS = 8


def bias_residual(smooth, c) -> float:
    """|sum_i c_i theta_i| relative to sum_i c_i |theta_i| (the worst score column)."""
    G = smooth.G  # c theta
    scale = G.abs().sum(dim=0).max().clamp_min(torch.finfo(G.dtype).tiny)
    return float(G.sum(dim=0).abs().max() / scale)


def exact_bias(loss, z, y, c, T, smooth):
    """(T, z, smooth) with the bias at its optimum for T's weights: Newton on the K biases alone
    (each step: the rows' G and D summed, a K x K solve), kept only while the loss does not rise.
    Stops as soon as the residual is under _BALANCED; otherwise returns the best it reached."""
    for _ in range(_BIAS_STEPS):
        if bias_residual(smooth, c) <= _BALANCED:
            break
        g = smooth.G.sum(dim=0)
        D = smooth.D.sum(dim=0)
        H = torch.diag(D) if D.dim() == 1 else D
        # the multinomial's bias Hessian is singular along (1, ..., 1): the pseudo-inverse takes
        # the step orthogonal to it, which the softmax does not see (on any device, as lstsq's
        # CUDA driver assumes full rank)
        step = -(torch.linalg.pinv(H, hermitian=True) @ g) if H.shape[0] > 1 else -g / H[0]
        if not torch.isfinite(step).all():
            break
        moved = z + step
        trial = smooth_part(loss, moved, y, c)
        if not trial.value <= smooth.value:
            break
        T = T.clone()
        T[:, -1] += step
        z, smooth = moved, trial
    return T, z, smooth


def from_gradient(problem, primal: float, smooth, data_gradient, z, y, c, W):
    """The certificate at a balanced iterate, V read off `data_gradient` = X^T (c theta) for
    [W | b] (float64); None when theta is not balanced (the caller certifies the usual way)."""
    if data_gradient.dtype != torch.float64 or bias_residual(smooth, c) > _BALANCED:
        return None
    theta, V = smooth.theta, -data_gradient[:, :-1]
    scale = problem.penalty.feasible_scale(V)
    loss_part = (c * problem.loss.conjugate(scale * theta, y)).sum()
    dual = (-loss_part - problem.penalty.conjugate(scale * V)).item()
    return Certificate(primal, dual, rounding_error(problem, z, y, c, None, W, theta=theta))
