"""Penalties on the weights and the regularized objective, with hand-written derivatives.

A penalty is defined by its value and its (sub)gradient. One autograd Function turns any penalty
into `data_loss + strength * penalty(weights)` in a single node: the backward pass hands the data
loss its gradient unchanged and each weight `strength * grad(w)`.
"""
from abc import ABC, abstractmethod
from typing import Iterable, Sequence

import torch
from torch.autograd import Function


class Penalty(ABC):
    """Base class: subclasses define `value(params)` and `grad(param)` in plain tensor ops."""

    def __init__(self, strength: float = 0.0):
        self.strength = float(strength)

    @abstractmethod
    def value(self, params: Sequence[torch.Tensor]) -> torch.Tensor:
        """The penalty (without strength) of all `params` together, a scalar."""

    @abstractmethod
    def grad(self, param: torch.Tensor) -> torch.Tensor:
        """Its (sub)gradient with respect to one of them."""

    def __call__(self, params) -> torch.Tensor:
        """The penalty of a tensor or an iterable of tensors (without strength), differentiable."""
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        return PenaltyFunction.apply(self, *params)


class NoPenalty(Penalty):
    """regularizer=none: the objective is the data loss alone (Objective skips the penalty)."""

    def __init__(self, strength: float = 0.0):
        super().__init__(0.0)

    def value(self, params):
        return torch.zeros(())

    def grad(self, param):
        return torch.zeros_like(param)


class PenaltyFunction(Function):
    @staticmethod
    def forward(penalty: Penalty, *params):
        return penalty.value(params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.penalty = inputs[0]
        ctx.save_for_backward(*inputs[1:])

    @staticmethod
    def backward(ctx, grad_output):
        params = ctx.saved_tensors
        grads = [grad_output * ctx.penalty.grad(p) if need else None
                 for p, need in zip(params, ctx.needs_input_grad[1:])]
        return (None, *grads)


class RegularizedObjective(Function):
    """data_loss + strength * penalty(params) as one node of the graph."""

    @staticmethod
    def forward(data_loss, penalty: Penalty, *params):
        return data_loss + penalty.strength * penalty.value(params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.penalty = inputs[1]
        ctx.save_for_backward(*inputs[2:])

    @staticmethod
    def backward(ctx, grad_output):
        params = ctx.saved_tensors
        scale = grad_output * ctx.penalty.strength
        grads = [scale * ctx.penalty.grad(p) if need else None
                 for p, need in zip(params, ctx.needs_input_grad[2:])]
        return (grad_output, None, *grads)


def regularized(data_loss: torch.Tensor, penalty: Penalty, params: Iterable[torch.Tensor]) -> torch.Tensor:
    return RegularizedObjective.apply(data_loss, penalty, *params)
