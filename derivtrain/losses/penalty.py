"""Penalties on the weights, each defined by its value and its hand-written (sub)gradient.

A penalty is math, not graph plumbing: subclasses say `value(params)` and `grad(param)` in plain
tensor ops, and whether that gradient is itself differentiable (`twice_differentiable`). One
autograd Function, PenaltyFunction, turns any of them into a differentiable scalar; the
regularized objective (derivtrain/losses/regularized.py) uses the same two methods.

    L2Penalty()(w)                      # 1/2 ||w||^2, differentiable, double backward included
    L1Penalty()([w1, w2])               # ||w1||_1 + ||w2||_1, subgradient 0 at 0
"""
from abc import ABC, abstractmethod
from typing import Iterable, Sequence, Union

import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.losses.first_order import first_order_only

Params = Union[torch.Tensor, Iterable[torch.Tensor]]


class Penalty(ABC):
    """Base class: `value(params)` (without strength) and `grad(param)`, plus `strength`."""

    #: whether the penalty has a gradient everywhere (L1's kink at 0 does not): smooth-only methods need it
    differentiable = True
    #: whether grad() is differentiable, so double backward through the penalty is meaningful
    twice_differentiable = False
    #: convex, keeping derivtrain/convex/penalty.py's contract through convex_dual: linear models
    #: penalized by it are solved to a certificate (derivtrain/convex/plan.py asks this)
    convex = False
    #: each part homogeneous of a known degree p (R(c w) = c^p R(w)), so that `rescale` can restate
    #: the penalty for scaled regression targets (derivtrain/losses/targets.py); a plugin's: not known
    homogeneous = False

    def __init__(self, strength: float = 0.0):
        self.strength = float(strength)

    def rescale(self, factor) -> None:
        """In place: each part of degree p gets its strength times factor(p) (`homogeneous` ones)."""
        raise NotImplementedError(f"{type(self).__name__} does not know its degree of homogeneity")

    @abstractmethod
    def value(self, params: Sequence[torch.Tensor]) -> torch.Tensor:
        """The penalty (without strength) of all `params` together, a scalar."""

    @abstractmethod
    def grad(self, param: torch.Tensor) -> torch.Tensor:
        """Its (sub)gradient with respect to one of them."""

    def convex_dual(self, shape):
        """The penalty (strength included) on weights of `shape` as derivtrain/convex/penalty.py's
        contract, where `convex` is True; None otherwise."""
        return None

    def __call__(self, params: Params) -> torch.Tensor:
        """The penalty of a tensor or an iterable of tensors (without strength), differentiable."""
        params = as_list(params)
        return PenaltyFunction.apply(self, *params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength})"


def as_list(params: Params) -> list:
    params = [params] if isinstance(params, torch.Tensor) else list(params)
    if not params:
        raise ValueError("a penalty needs at least one tensor")
    return params


class NoPenalty(Penalty):
    """regularizer=none: the objective is the data loss alone (Objective skips the penalty)."""

    twice_differentiable = True
    homogeneous = True

    def __init__(self, strength: float = 0.0):
        super().__init__(0.0)

    def rescale(self, factor) -> None:
        return None  # nothing to restate

    def value(self, params):
        return torch.zeros((), dtype=params[0].dtype, device=params[0].device)

    def grad(self, param):
        return torch.zeros_like(param)


def _penalty_grads(ctx, grad_output):
    params = ctx.saved_tensors
    return (None, *[grad_output * ctx.penalty.grad(p) if need else None
                    for p, need in zip(params, ctx.needs_input_grad[1:])])


class PenaltyFunction(Function):
    """penalty.value(params) with backward grad_output * penalty.grad(p) for each p.

    Double backward works when the penalty is twice differentiable (its grad() is written in
    differentiable ops on p); otherwise the backward is first order only and says so.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(penalty: Penalty, *params):
        return penalty.value(params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.penalty = inputs[0]
        ctx.save_for_backward(*inputs[1:])

    @staticmethod
    def backward(ctx, grad_output):
        if ctx.penalty.twice_differentiable:
            return _penalty_grads(ctx, grad_output)
        return first_order_only(_penalty_grads, ctx, (grad_output,),
                                f"{type(ctx.penalty).__name__}: its subgradient jumps where a weight is 0")

