"""One derivative check: torch's gradcheck / gradgradcheck verdict plus the largest error seen.

torch.autograd.gradcheck answers pass or fail; the table also shows how far the hand-written
derivative is from finite differences, measured here the same way (central differences, float64):
  gradient:  max |d f / d x  -  (f(x + h e_i) - f(x - h e_i)) / 2h|            over every coordinate i
  Hessian:   max |H v  -  (grad f(x + h v) - grad f(x - h v)) / 2h|           for a random unit v
"""
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from derivtrain.losses.first_order import NoSecondDerivativeError

STEP = 1e-6  # float64 central differences: truncation ~h^2, rounding ~1e-16/h; both ~1e-10 here


@dataclass
class Result:
    function: str
    check: str
    max_abs_error: Optional[float]
    passed: Optional[bool]  # None: not applicable (a first-order-only function)
    note: str = ""


def _flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def gradient_error(f: Callable, inputs: Sequence[torch.Tensor]) -> float:
    analytic = _flat(torch.autograd.grad(f(*inputs), inputs))
    numeric = []
    with torch.no_grad():
        for x in inputs:
            flat = x.view(-1)
            for i in range(flat.numel()):
                original = flat[i].item()
                flat[i] = original + STEP
                up = f(*inputs).item()
                flat[i] = original - STEP
                down = f(*inputs).item()
                flat[i] = original
                numeric.append((up - down) / (2 * STEP))
    return (analytic - torch.tensor(numeric, dtype=analytic.dtype)).abs().max().item()


def hessian_error(f: Callable, inputs: Sequence[torch.Tensor], seed: int = 0) -> float:
    g = torch.Generator().manual_seed(seed)
    v = [torch.randn(x.shape, generator=g, dtype=x.dtype) for x in inputs]
    norm = torch.sqrt(sum((t * t).sum() for t in v))
    v = [t / norm for t in v]
    grads = torch.autograd.grad(f(*inputs), inputs, create_graph=True)
    directional = sum((a * b).sum() for a, b in zip(grads, v))
    if directional.requires_grad:
        second = torch.autograd.grad(directional, inputs, allow_unused=True)
        analytic = _flat([torch.zeros_like(x) if h is None else h for x, h in zip(inputs, second)])
    else:  # the gradient does not depend on the inputs (a linear function): the Hessian is 0
        analytic = torch.zeros(sum(x.numel() for x in inputs), dtype=inputs[0].dtype)
    saved = [x.detach().clone() for x in inputs]
    sides = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for x, x0, d in zip(inputs, saved, v):
                x.copy_(x0 + sign * STEP * d)
        sides.append(_flat(torch.autograd.grad(f(*inputs), inputs)))
    with torch.no_grad():
        for x, x0 in zip(inputs, saved):
            x.copy_(x0)
    return (analytic - (sides[0] - sides[1]) / (2 * STEP)).abs().max().item()


def check_gradient(name: str, f: Callable, inputs: Sequence[torch.Tensor]) -> Result:
    passed = torch.autograd.gradcheck(f, tuple(inputs), eps=STEP, raise_exception=False)
    return Result(name, "gradcheck", gradient_error(f, inputs), passed)


def check_second_derivative(name: str, f: Callable, inputs: Sequence[torch.Tensor],
                            twice_differentiable: bool) -> Result:
    """gradgradcheck where the function is twice differentiable; elsewhere, that it refuses clearly."""
    if not twice_differentiable:
        try:
            hessian_error(f, inputs)
        except NoSecondDerivativeError:
            return Result(name, "gradgradcheck", None, None, "first order only (kink): refused as documented")
        return Result(name, "gradgradcheck", None, False,
                      "declared first order only, but double backward did not refuse")
    passed = torch.autograd.gradgradcheck(f, tuple(inputs), eps=STEP, raise_exception=False)
    return Result(name, "gradgradcheck", hessian_error(f, inputs), passed)
