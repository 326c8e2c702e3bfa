"""The regularized objective data_loss + strength * penalty(weights) as one node of the graph.

The backward pass hands the data loss its gradient unchanged and each weight
`strength * penalty.grad(w)`: the sum rule, then the penalty's hand-written derivative. Which
tensors are weights is the model's call (Model.penalized_parameters: biases are not penalized).
Subgradients at kinks are the penalty's (see its file); double backward works when the penalty is
twice differentiable (L2), and is refused with a clear error otherwise.
"""
from typing import Iterable

import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.losses.first_order import first_order_only
from derivtrain.losses.penalty import Penalty


def _regularized_grads(ctx, grad_output):
    params = ctx.saved_tensors
    scale = grad_output * ctx.penalty.strength
    grads = [scale * ctx.penalty.grad(p) if need else None
             for p, need in zip(params, ctx.needs_input_grad[2:])]
    return (grad_output if ctx.needs_input_grad[0] else None, None, *grads)


class RegularizedObjective(Function):
    """data_loss + penalty.strength * penalty.value(params); gradients by the penalty's grad()."""

    generate_vmap_rule = True

    @staticmethod
    def forward(data_loss: torch.Tensor, penalty: Penalty, *params: torch.Tensor) -> torch.Tensor:
        return data_loss + penalty.strength * penalty.value(params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.penalty = inputs[1]
        ctx.save_for_backward(*inputs[2:])

    @staticmethod
    def backward(ctx, grad_output):
        if ctx.penalty.twice_differentiable:
            return _regularized_grads(ctx, grad_output)
        return first_order_only(_regularized_grads, ctx, (grad_output,),
                                f"{type(ctx.penalty).__name__}: its subgradient jumps where a weight is 0")


def regularized(data_loss: torch.Tensor, penalty: Penalty, params: Iterable[torch.Tensor]) -> torch.Tensor:
    """data_loss + penalty.strength * penalty(params), differentiable in all of them."""
    return RegularizedObjective.apply(data_loss, penalty, *params)
