"""attribute(model, X, method): any method by name, on a derivtrain model, returning an Attribution.

The keyword arguments a method function declares are the options it takes (n_steps, noise_samples,
...); the analysis config passes each method exactly those of its keys.
"""
import inspect
from dataclasses import dataclass
from typing import Optional

import torch

import derivtrain.sensitivity.captum_methods as captum_methods
import derivtrain.sensitivity.gradients as gradients
import derivtrain.sensitivity.integrated_gradients as integrated_gradients
from derivtrain.sensitivity.explained import ClassScores, baseline_input, target_indices

METHOD_FUNCTIONS = {
    "saliency": gradients.saliency,
    "grad_x_input": gradients.grad_x_input,
    "smoothgrad": gradients.smoothgrad,
    "integrated_gradients": integrated_gradients.integrated_gradients,  # exact or Captum's
    "deeplift": captum_methods.deeplift,
    "feature_ablation": captum_methods.feature_ablation,
    "feature_permutation": captum_methods.feature_permutation,
    "kernel_shap": captum_methods.kernel_shap,
    "noise_tunnel": captum_methods.noise_tunnel,
}
# what attribute() itself supplies to the method functions, not options of a method
_SUPPLIED = ("forward", "X", "target", "baseline")


@dataclass
class Attribution:
    method: str
    values: torch.Tensor  # (n, d), with respect to the model's standardized input
    targets: Optional[torch.Tensor]  # (n,) class index explained per row; None for regression
    delta: Optional[torch.Tensor]  # (n,) completeness gap (integrated_gradients, deeplift)
    baseline: Optional[torch.Tensor]  # (1, d) in the model's input space, for methods that use one


def options_of(method: str) -> tuple:
    """The option names a method takes (beyond the inputs, target and baseline)."""
    params = inspect.signature(METHOD_FUNCTIONS[method]).parameters
    return tuple(name for name in params if name not in _SUPPLIED)


def uses_baseline(method: str) -> bool:
    return "baseline" in inspect.signature(METHOD_FUNCTIONS[method]).parameters


def attribute(model, X: torch.Tensor, method: str, target="predicted", y=None, baseline="mean",
              **options) -> Attribution:
    """Attributions of `method` for the rows X (standardized features, on the model's device).

    target: "predicted", "true" (needs y), a class label, or a tensor of class indices.
    baseline: "mean" (z = 0), "zero" (raw zeros), raw values per feature, or a (1, d) tensor in
    the model's input space. options: the method's own keywords (see options_of(method)).
    """
    if method not in METHOD_FUNCTIONS:
        raise ValueError(f"unknown method {method!r}; choices: {', '.join(METHOD_FUNCTIONS)}")
    unknown = set(options) - set(options_of(method))
    if unknown:
        raise TypeError(f"{method} takes no option {', '.join(sorted(unknown))}; it takes {', '.join(options_of(method))}")
    forward = ClassScores(model)
    was_training = model.training
    model.eval()  # rows must not interact (dropout, batch statistics) for per-row gradients
    try:
        with torch.no_grad():
            scores = forward(X)
        targets = target_indices(target, scores, y, model.classes_)
        base = baseline_input(baseline, model, X) if uses_baseline(method) else None
        extra = {"baseline": base} if base is not None else {}
        out = METHOD_FUNCTIONS[method](forward, X, targets, **extra, **options)
    finally:
        model.train(was_training)
    values, delta = out if isinstance(out, tuple) else (out, None)
    return Attribution(method=method, values=values.detach(), targets=targets, delta=delta, baseline=base)
