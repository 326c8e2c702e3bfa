"""Adapters around Captum's attribution methods: same call shape as derivtrain's own methods.

Each takes `forward` (ClassScores around the model), standardized inputs X on the run's device,
per-row target class indices (or None), and a baseline row in the model's input space, and returns
(attributions (n, d), per-row convergence delta or None). Rows go through in batches of at most
`batch_size` (IntegratedGradients additionally splits its n_steps x rows into internal batches).
Captum is imported inside each function: only an analysis that uses it pays for the import.
Methods that draw random numbers (permutations, coalitions, noise) draw them from torch's global
generator, so they run inside a forked, seeded generator state and leave the caller's untouched.
"""
import warnings
from contextlib import contextmanager

import torch

from derivtrain.sensitivity.gradients import explained_scores, row_batches


def integrated_gradients(forward, X, target, baseline, n_steps: int = 50, integration: str = "gausslegendre",
                         batch_size: int = 16384):
    """Path integral of the gradient from the baseline to x, times (x - baseline) (Sundararajan 2017).

    Completeness: the attributions of a row sum to s(x) - s(baseline); the delta returned is the
    gap left by the n_steps quadrature, the number to watch when choosing n_steps.
    """
    from captum.attr import IntegratedGradients

    method = IntegratedGradients(forward)
    method.gradient_func = summed_gradients
    return _batched(X, target, batch_size, lambda x, t: method.attribute(
        x, baselines=baseline.expand_as(x), target=t, n_steps=n_steps, method=integration,
        internal_batch_size=batch_size, return_convergence_delta=True))


def deeplift(forward, X, target, baseline, batch_size: int = 16384):
    """DeepLift's rescale rule (Shrikumar et al. 2017): differences from the baseline, layer by layer.

    Needs every nonlinearity as its own nn.Module, used once (see deeplift_check.py).
    """
    from captum.attr import DeepLift

    method = DeepLift(forward)
    with _quiet():  # Captum warns that it sets and removes hooks on every call
        return _batched(X, target, batch_size, lambda x, t: method.attribute(
            x, baselines=baseline.expand_as(x), target=t, return_convergence_delta=True))


def feature_ablation(forward, X, target, baseline, batch_size: int = 16384):
    """s(x) - s(x with feature j set to the baseline's value), one feature at a time."""
    from captum.attr import FeatureAblation

    method = FeatureAblation(forward)
    return _batched(X, target, batch_size, lambda x, t: (method.attribute(
        x, baselines=baseline.expand_as(x), target=t,
        perturbations_per_eval=max(1, batch_size // len(x))), None))


def feature_permutation(forward, X, target, seed: int = 0, batch_size: int = 16384):
    """s(x) - s(x with feature j shuffled across the rows of the batch) (Breiman's importance, per row)."""
    from captum.attr import FeaturePermutation

    method = FeaturePermutation(forward)
    with seeded(seed, X.device):
        return _batched(X, target, batch_size, lambda x, t: (method.attribute(
            x, target=t, perturbations_per_eval=max(1, batch_size // len(x))), None))


def kernel_shap(forward, X, target, baseline, n_samples: int = 200, seed: int = 0, batch_size: int = 16384):
    """Shapley values estimated by a weighted linear regression on sampled coalitions (Lundberg 2017).

    Captum fits one regression per row, so the cost grows with the rows: keep analysis.max_samples
    modest. The regression is solved in torch instead of scikit-learn (weighted_least_squares.py).
    """
    from captum.attr import KernelShap

    from derivtrain.sensitivity.weighted_least_squares import WeightedLeastSquares

    method = KernelShap(forward)
    method.interpretable_model = WeightedLeastSquares()  # the Lime parameter KernelShap fixes to scikit-learn
    with seeded(seed, X.device), _quiet():  # Captum warns that several rows mean several regressions
        return _batched(X, target, batch_size, lambda x, t: (method.attribute(
            x, baselines=baseline.expand_as(x), target=t, n_samples=n_samples,
            perturbations_per_eval=max(1, min(n_samples, batch_size // len(x)))), None))


def noise_tunnel(forward, X, target, baseline, base: str = "integrated_gradients", nt_type: str = "smoothgrad",
                 noise_samples: int = 10, noise_stdev: float = 0.5, n_steps: int = 50,
                 integration: str = "gausslegendre", seed: int = 0, batch_size: int = 16384):
    """Captum's NoiseTunnel: a Captum method averaged over noisy copies of the input.

    nt_type smoothgrad averages the attributions, smoothgrad_sq their squares, vargrad their variance.
    integration: one of Captum's rules; "auto" (the default of analysis=compare) is Gauss-Legendre
    here, since Captum's IntegratedGradients runs inside the tunnel.
    """
    if integration == "auto":
        integration = "gausslegendre"
    if base == "integrated_gradients" and integration == "exact_piecewise":
        raise ValueError("noise_tunnel runs Captum's integrated gradients: integration=exact_piecewise is not one "
                         "of its rules (gausslegendre, riemann_*)")
    from captum.attr import DeepLift, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency

    inner = {"integrated_gradients": IntegratedGradients, "saliency": Saliency, "grad_x_input": InputXGradient,
             "deeplift": DeepLift}[base](forward)
    if base != "deeplift":  # DeepLift's gradients go through its own hooks
        inner.gradient_func = summed_gradients
    extra = {}
    if base == "integrated_gradients":
        extra = dict(n_steps=n_steps, method=integration, internal_batch_size=batch_size)
    if base == "saliency":
        extra = dict(abs=False)  # signed, like derivtrain's smoothgrad; the importance takes |.|
    rows = max(1, batch_size // noise_samples)  # each row is copied noise_samples times in one pass
    with seeded(seed, X.device), _quiet():
        return _batched(X, target, rows, lambda x, t: (_tunnel(NoiseTunnel(inner), x, t, baseline, base, dict(
            nt_type=nt_type, nt_samples=noise_samples, stdevs=float(noise_stdev), **extra)), None))


def _tunnel(tunnel, x, t, baseline, base, kwargs):
    """IntegratedGradients and DeepLift take a baseline; the gradient methods do not."""
    if base in ("integrated_gradients", "deeplift"):
        kwargs["baselines"] = baseline.expand_as(x)
    return tunnel.attribute(x, target=t, **kwargs)


def summed_gradients(forward_fn, inputs, target_ind=None, additional_forward_args=None):
    """A gradient_func for Captum's gradient methods: one autograd call for all rows.

    Captum's own (compute_gradients) hands autograd one output per row through torch.unbind;
    for integrated gradients that is rows x n_steps separate gradient seeds, and it dominates
    the cost (IG on the digits test split, 1 thread: 103 ms with it, 13.5 ms with this). Rows do
    not interact, so the gradient of the summed scores is each row's own gradient (see
    gradients.py): same numbers, one call.
    """
    if additional_forward_args is not None:
        raise ValueError("derivtrain's models take the inputs only")
    with torch.enable_grad():
        scores = forward_fn(*inputs)
        target = None if target_ind is None else torch.as_tensor(target_ind, device=scores.device).expand(len(scores))
        return torch.autograd.grad(explained_scores(scores, target).sum(), inputs)


def _batched(X, target, batch_size, attribute_rows):
    """Run attribute_rows(x, target) on row batches; concatenate attributions and deltas."""
    values, deltas = [], []
    for rows in row_batches(len(X), batch_size):
        out, delta = attribute_rows(X[rows], None if target is None else target[rows])
        values.append(out.detach().to(X.dtype))  # Kernel SHAP comes back float32 whatever went in
        if delta is not None:
            deltas.append(delta.detach().reshape(-1))
    return torch.cat(values), (torch.cat(deltas) if deltas else None)


@contextmanager
def seeded(seed: int, device: torch.device):
    """Fork torch's global generators (CPU, and the run's GPU), seed them, restore them after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


@contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
