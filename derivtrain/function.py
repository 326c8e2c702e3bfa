"""A torch.autograd.Function base whose `apply` skips per-call signature binding.

torch's Function.apply binds every call's arguments to `forward`'s signature (inspect.signature)
when setup_context is defined: ~25 us per call, more than a whole full-batch step of a small
linear model. derivtrain's Functions are always called with every argument positional, so the
binding changes nothing: outside functorch transforms we go straight to the C++ apply. Under
vmap / grad / jacrev (and when torch.compile traces), the stock path runs unchanged.
"""
import torch
from torch._functorch.utils import unwrap_dead_wrappers


class Function(torch.autograd.Function):
    @classmethod
    def apply(cls, *args):
        if torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling():
            return super().apply(*args)
        # skip the signature binding; keep the unwrapping the stock path does
        return super(torch.autograd.Function, cls).apply(*unwrap_dead_wrappers(args))
