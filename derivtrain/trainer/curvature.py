"""Curvature of a training objective without forming the Hessian: H v products and its top eigenvalue.

    hvp(loss_fn, params, v)                       # H v, by double backward (Pearlmutter's trick)
    top_eigenvalue(loss_fn, params)               # lambda_max(H) by Lanczos ("sharpness")
    objective_sharpness(objective, X, targets)    # the same for a derivtrain Objective

`loss_fn()` recomputes the scalar loss from the current values of `params`. H v costs about two
gradient evaluations and never builds the (P x P) matrix: differentiate g(theta) . v, where
g = dL/dtheta is kept differentiable (create_graph=True); the result is d(g . v)/dtheta = H v.

Kinked losses (the hinge, L1) have no second derivative: their backward refuses double
backward (derivtrain.losses.first_order). For them H v is estimated from gradients alone by a central
difference, (g(theta + eps v) - g(theta - eps v)) / (2 eps). What that measures: where no
margin is within eps of its kink, the data term is linear there, contributes exactly 0, and only
the smooth part remains (for the SVM: alpha, the L2 strength); margins within eps contribute
~1/eps each, so the estimate is the curvature of the loss smoothed over a step of size eps.
method="auto" uses double backward when the Objective says it is twice differentiable, and the
finite difference otherwise.
"""
from typing import Callable, List, Optional, Sequence

import torch

from derivtrain.config.schemas.trainer import HESSIAN_METHODS as METHODS  # diagnostics.hessian_method

Vectors = List[torch.Tensor]


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def hvp(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], vector: Sequence[torch.Tensor],
        method: str = "exact", eps: Optional[float] = None) -> Vectors:
    """H v for the Hessian H of loss_fn() with respect to params; v shaped like params.

    method: "exact" (double backward) or "finite_difference" (central difference of gradients with
    step eps * v / ||v||; eps defaults to cbrt(machine epsilon) * (1 + ||theta||), the step that
    balances truncation and rounding error for a smooth function).
    """
    params = list(params)
    if method == "exact":
        grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
        directional = _dot(grads, vector)
        if not directional.requires_grad:  # the gradient does not depend on params: H = 0
            return [torch.zeros_like(p) for p in params]
        second = torch.autograd.grad(directional, params, allow_unused=True)
        return [torch.zeros_like(p) if h is None else h for p, h in zip(params, second)]
    if method == "finite_difference":
        return _finite_difference_hvp(loss_fn, params, list(vector), eps)
    raise ValueError(f"method={method!r} is not valid for hvp; choices: exact, finite_difference")


def _finite_difference_hvp(loss_fn, params, vector, eps) -> Vectors:
    v_norm = torch.sqrt(_dot(vector, vector)).item()
    if v_norm == 0:
        return [torch.zeros_like(p) for p in params]
    if eps is None:
        theta_norm = torch.sqrt(_dot(params, params)).item()
        eps = torch.finfo(params[0].dtype).eps ** (1 / 3) * (1 + theta_norm)
    step = eps / v_norm  # theta +- step * v moves theta by eps
    saved = [p.detach().clone() for p in params]
    try:
        grads = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, p0, v in zip(params, saved, vector):
                    p.copy_(p0).add_(v, alpha=sign * step)
            grads.append(torch.autograd.grad(loss_fn(), params))
    finally:
        with torch.no_grad():  # restored bit for bit, not by subtracting the step again
            for p, p0 in zip(params, saved):
                p.copy_(p0)
    return [(gp - gm) / (2 * step) for gp, gm in zip(*grads)]


def top_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], iterations: int = 20,
                   method: str = "exact", algorithm: str = "lanczos", seed: int = 0,
                   eps: Optional[float] = None) -> float:
    """The largest eigenvalue of the Hessian of loss_fn() with respect to params.

    algorithm="lanczos" (default): `iterations` steps of Lanczos with full reorthogonalization; the
    largest Ritz value converges to lambda_max, the algebraically largest eigenvalue, and is exact
    once iterations >= the number of parameters. algorithm="power": power iteration, which converges
    to the eigenvalue of largest magnitude (the same for a convex objective), more slowly.
    """
    params = [p for p in params if p.requires_grad]
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    dim = sum(sizes)
    dtype = params[0].dtype

    def matvec(x: torch.Tensor) -> torch.Tensor:
        vs = [part.view(shape).to(dtype) for part, shape in zip(x.split(sizes), shapes)]
        out = hvp(loss_fn, params, vs, method=method, eps=eps)
        return torch.cat([o.reshape(-1) for o in out]).to(torch.float64)

    if algorithm == "lanczos":
        return largest_eigenvalue(matvec, dim, iterations, params[0].device, seed)
    if algorithm == "power":
        return _power_iteration(matvec, _start(dim, params[0].device, seed), iterations)
    raise ValueError(f"algorithm={algorithm!r} is not valid; choices: lanczos, power")


def largest_eigenvalue(matvec, dim: int, iterations: int = 20, device=None, seed: int = 0) -> float:
    """lambda_max of a symmetric (dim x dim) operator given by matvec (float64 vectors in and out):
    min(iterations, dim) steps of Lanczos from a seeded random start (top_eigenvalue's; also the rows'
    covariance for SGD's default rate, derivtrain/trainer/sgd_rate.py)."""
    return _lanczos_max(matvec, _start(dim, device, seed), min(iterations, dim))


def _start(dim: int, device, seed: int) -> torch.Tensor:
    """A unit vector from a seeded generator (every rank of a run draws the same one)."""
    start = torch.randn(dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)
    return start / start.norm()


def _lanczos_max(matvec, q: torch.Tensor, steps: int) -> float:
    """Largest eigenvalue of the tridiagonal matrix Lanczos builds in `steps` products (in float64)."""
    # the basis vectors as rows of one matrix, written in place (stacking them anew each step copied
    # O(steps^2 dim) numbers: 22 of SGD's rate's 69 ms on 100k sparse columns)
    basis, alphas, betas = q.new_empty(steps, len(q)), [], []
    basis[0] = q
    for j in range(steps):
        w = matvec(basis[j])
        alphas.append(torch.dot(w, basis[j]))
        Q = basis[:j + 1]
        # full reorthogonalization, twice ("twice is enough"): keeps the Ritz values free of ghosts
        w = w - Q.t() @ (Q @ w)
        w = w - Q.t() @ (Q @ w)
        beta = w.norm()
        if j == steps - 1 or beta <= 1e-10 * max(1.0, abs(alphas[-1].item())):
            break  # an invariant subspace: its eigenvalues are exact
        betas.append(beta)
        basis[j + 1] = w / beta
    k = len(alphas)
    T = torch.diag(torch.stack(alphas))
    if k > 1:
        off = torch.stack(betas[:k - 1])
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigvalsh(T.cpu())[-1].item()


def _power_iteration(matvec, v: torch.Tensor, iterations: int, tol: float = 1e-6) -> float:
    value = 0.0
    for _ in range(iterations):
        w = matvec(v)
        new_value = torch.dot(v, w).item()  # Rayleigh quotient of the unit vector v
        norm = w.norm()
        if norm == 0:
            return 0.0
        v = w / norm
        if abs(new_value - value) <= tol * max(1.0, abs(new_value)):
            return new_value
        value = new_value
    return value


def objective_sharpness(objective, X: torch.Tensor, targets: torch.Tensor, iterations: int = 20,
                        method: str = "auto", max_samples: Optional[int] = None, seed: int = 0) -> float:
    """Top Hessian eigenvalue of a derivtrain Objective (data loss + penalty) on (X, targets).

    method="auto": double backward if objective.twice_differentiable, else finite differences.
    max_samples: use the first rows only (each Lanczos step costs two passes over them).
    The model is put in eval mode (no dropout noise in the products) and restored after.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not valid; choices: {', '.join(METHODS)}")
    if method == "auto":
        method = "exact" if objective.twice_differentiable else "finite_difference"
    if max_samples is not None and X.shape[0] > max_samples:
        X, targets = X[:max_samples], targets[:max_samples]
    model = objective.model
    was_training = model.training
    model.eval()
    try:
        # the composed path: the fused one would copy this X feature-major for a few products
        loss_fn = getattr(objective, "composed", objective)
        return top_eigenvalue(lambda: loss_fn(X, targets), list(model.parameters()), iterations=iterations,
                              method=method, seed=seed)
    finally:
        model.train(was_training)


def sharpness_tag(objective, method: str = "auto") -> str:
    """The TensorBoard tag that says what objective_sharpness measured: the Hessian's top eigenvalue
    (exact Hessian-vector products of a twice-differentiable objective), or, for a kinked objective
    (hinge, L1) measured by finite differences of subgradients, the top curvature of the objective
    smoothed over the difference step: not a Hessian (away from the kinks an SVM's is alpha)."""
    twice = objective.twice_differentiable
    if method == "exact" or (method == "auto" and twice):
        return "diagnostics/hessian_top_eigenvalue"
    return "diagnostics/smoothed_curvature_top_eigenvalue"
