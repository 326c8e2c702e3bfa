"""First-order-only backward passes that fail loudly, not silently, when differentiated again.

A kinked function (the hinge, |w|) has a derivative that is piecewise constant: its second derivative
is zero almost everywhere and undefined at the kink. Its backward is therefore computed without
recording a graph. If the caller asked for a graph anyway (create_graph=True, gradgradcheck,
a Hessian-vector product), the gradients returned pass through `NoSecondDerivative`, a node wired
to every tensor the gradient depends on, so any attempt to differentiate them reaches it and raises
`NoSecondDerivativeError` naming the function and the way out.

torch's own `once_differentiable` attaches its error node to detached copies only, so
`torch.autograd.grad(..., inputs=...)` prunes the node and returns zeros without a word; wiring
the node to the real inputs is why this module exists.
"""
import functools

import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding


class NoSecondDerivativeError(RuntimeError):
    """Raised when a first-order-only backward is differentiated (double backward)."""


class NoSecondDerivative(Function):
    """Identity on `value` whose backward raises; `depends_on` only ties it into the graph."""

    generate_vmap_rule = True

    @staticmethod
    def forward(message: str, value: torch.Tensor, *depends_on: torch.Tensor) -> torch.Tensor:
        return value.clone()  # a fresh output: an autograd.Function must not hand back an input

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.message = inputs[0]

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NoSecondDerivativeError(ctx.message)


def first_order_only(backward, ctx, grad_outputs, reason: str):
    """Run `backward(ctx, *grad_outputs)` without a graph; guard its results if a graph was asked for."""
    with torch.no_grad():
        grads = backward(ctx, *grad_outputs)
    if not torch.is_grad_enabled():  # plain .backward(): nothing will differentiate these
        return grads
    depends_on = [t for t in (*grad_outputs, *ctx.saved_tensors)
                  if isinstance(t, torch.Tensor) and t.requires_grad]
    if not depends_on:
        return grads
    message = (f"{reason}; it has no second derivative, so this double backward is undefined. "
               "derivtrain.trainer.curvature estimates curvature for it by finite differences of the gradient "
               "(method='finite_difference', what method='auto' picks for it).")
    single = not isinstance(grads, tuple)
    guarded = tuple(None if g is None else NoSecondDerivative.apply(message, g, *depends_on)
                    for g in ((grads,) if single else grads))
    return guarded[0] if single else guarded


def once_differentiable(reason: str):
    """Decorator for an autograd.Function's backward: first order only, with `reason` in the error."""

    def decorate(backward):
        @functools.wraps(backward)
        def wrapper(ctx, *grad_outputs):
            return first_order_only(backward, ctx, grad_outputs, reason)

        return wrapper

    return decorate
