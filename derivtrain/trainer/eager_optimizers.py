"""torch.optim optimizers that run without importing torch._dynamo.

torch.optim's Optimizer wraps add_param_group, zero_grad, state_dict and load_state_dict in
torch._disable_dynamo, and every optimizer's step in a helper that inserts graph breaks for
torch.compile: both import torch._dynamo on their first call. That import loads ~800 modules (sympy,
torch.fx, torch.distributed.fsdp...): 1.1-1.5 s on this machine, as long as importing torch itself,
a quarter of a whole `python -m derivtrain model=mlp data=breast_cancer` run (4.4 s), paid by every
gradient run, whose step loop never compiles the optimizer.

eager(cls) is cls with those five methods calling the functions torch's decorators wrap (each
decorator keeps its function as __wrapped__: functools.wraps): the same update, state and
checkpoints, with step run under no_grad as torch's wrapper runs it (differentiable=False: the
default, which derivtrain never changes). Where a model is compiled (trainer.compile=true)
torch._dynamo is loaded anyway and its graph breaks matter, so build_optimizer keeps the stock
class; so does a torch whose methods keep no __wrapped__ function (nothing to call around).
"""
import inspect

import torch

_DECORATED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict", "step")
_EAGER: dict = {}  # cls -> its eager subclass, built once


def for_run(cls: type, compiled: bool) -> type:
    """The class a run builds: torch's own where the model is compiled (trainer.compile), else eager(cls)."""
    return cls if compiled else eager(cls)


def eager(cls: type) -> type:
    """A subclass of the optimizer class cls whose methods skip torch._dynamo, or cls itself where this
    torch's methods cannot be unwrapped."""
    if cls not in _EAGER:
        _EAGER[cls] = _subclass(cls)
    return _EAGER[cls]


def _subclass(cls: type) -> type:
    inner = {name: inspect.unwrap(getattr(cls, name)) for name in _DECORATED}
    if any(function is getattr(cls, name) for name, function in inner.items()):
        return cls  # a method with no decorator to skip: this torch differs from the one measured
    add_param_group, zero_grad, state_dict, load_state_dict, step = (inner[name] for name in _DECORATED)

    def eager_step(self, closure=None):
        with torch.set_grad_enabled(self.defaults.get("differentiable", False)):
            return step(self, closure)

    methods = dict(add_param_group=lambda self, group: add_param_group(self, group),
                   zero_grad=lambda self, set_to_none=True: zero_grad(self, set_to_none),
                   state_dict=lambda self: state_dict(self),
                   load_state_dict=lambda self, state: load_state_dict(self, state),
                   step=eager_step, __doc__=cls.__doc__, __module__=__name__)
    return type(cls.__name__, (cls,), methods)
