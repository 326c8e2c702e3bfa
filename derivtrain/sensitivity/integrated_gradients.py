"""Integrated gradients (Sundararajan et al. 2017): which integration computes the path integral.

    analysis.integration=auto             exact_piecewise where the model is piecewise linear,
                                          gausslegendre (Captum) otherwise
    analysis.integration=exact_piecewise  the integral piece by piece between the ReLU switching
                                          points (piecewise_ig.py); ReLU MLPs and linear models only
    analysis.integration=gausslegendre|riemann_*   Captum's quadrature with analysis.n_steps points

A ReLU network's gradient along the path jumps wherever a unit switches, so a quadrature rule's
completeness gap shrinks only like 1 / n_steps there, while the piecewise integral is exact
whatever n_steps is. Smooth models (tanh, GELU, ...) have no pieces; Gauss-Legendre converges
fast on them (gap < 1e-5 at 64 steps on the digits MLP).
"""
import derivtrain.sensitivity.captum_methods as captum_methods
from derivtrain.sensitivity.piecewise_ig import exact_integrated_gradients, hidden_layers

EXACT = "exact_piecewise"


def resolve_integration(model, integration: str, key: str = "integration") -> str:
    """The integration that runs for this model: "auto" made concrete; ValueError if exact_piecewise
    is asked of a model that is not piecewise linear (the message names the setting as `key`)."""
    piecewise = model is not None and hidden_layers(model) is not None
    if integration == "auto":
        return EXACT if piecewise else "gausslegendre"
    if integration == EXACT and not piecewise:
        raise ValueError(f"{key}={EXACT} needs a model made of Linear and ReLU layers (model=mlp with "
                         f"model.activation=relu, or a linear model), not {_described(model)}; use {key}=auto")
    return integration


def integrated_gradients(forward, X, target, baseline, n_steps: int = 50, integration: str = "auto",
                         batch_size: int = 16384):
    """Attributions (n, d) and the per-row completeness gap sum(attributions) - (s(x) - s(baseline)).

    n_steps is the number of quadrature points of Captum's rules; exact_piecewise takes one
    gradient per linear piece of the path instead, however many that is.
    """
    model = getattr(forward, "model", None)  # ClassScores around the model; anything else goes to Captum
    rule = resolve_integration(model, integration)
    if rule == EXACT:
        return exact_integrated_gradients(forward, hidden_layers(model), X, target, baseline, batch_size)
    return captum_methods.integrated_gradients(forward, X, target, baseline, n_steps, rule, batch_size)


def _described(model) -> str:
    """"MLP with Tanh": the model's class and the layers that make it not piecewise linear."""
    odd = sorted({type(m).__name__ for m in getattr(model, "layers", [])} - {"Linear", "ReLU", "Dropout"})
    return type(model).__name__ + (f" with {', '.join(odd)}" if odd else "")
