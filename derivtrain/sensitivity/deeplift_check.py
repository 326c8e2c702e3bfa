"""Can Captum's DeepLift explain this model? Checked on the untrained model, before training.

DeepLift replaces the gradient of each nonlinearity by a ratio of differences, through hooks on
nonlinearity *modules*. It silently falls back to plain gradients where it sees none, so three
kinds of model give wrong attributions without any error from Captum:

- a nonlinearity module it has no rule for (GELU, SiLU, ...);
- a nonlinearity module called twice in one forward (its hooks keep one input, not two);
- a nonlinearity applied as a function (torch.relu, F.gelu) inside forward: no module, no hook.

The first two are visible in the module tree and in one forward pass; the third shows up as a
broken completeness (attributions not summing to s(x) - s(baseline)) on a few random rows.
"""
import torch

from derivtrain.errors import ConfigError

# |delta| / (1 + |s(x) - s(baseline)|) above this means DeepLift's rules did not cover the model
_COMPLETENESS_TOLERANCE = 1e-3


def check_deeplift(forward, n_features: int, device, seed: int = 0) -> None:
    from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR

    supported = tuple(SUPPORTED_NON_LINEAR)
    for name, module in forward.named_modules():
        is_activation = type(module).__module__ == "torch.nn.modules.activation"
        if is_activation and not isinstance(module, supported):
            raise _error(f"it has no rule for {type(module).__name__} (at {name}); it supports "
                         f"{', '.join(sorted(t.__name__ for t in supported))}")

    generator = torch.Generator().manual_seed(int(seed))
    dtype = next((p.dtype for p in forward.parameters()), torch.float32)
    X = torch.randn(16, n_features, generator=generator).to(device=device, dtype=dtype)
    calls = _count_calls(forward, X, supported)
    reused = [name for name, count in calls.items() if count > 1]
    if reused:
        raise _error(f"the nonlinearity module {reused[0]} is called {calls[reused[0]]} times in one forward "
                     "pass; DeepLift needs a separate module for each use")

    from derivtrain.sensitivity.captum_methods import deeplift

    scores = forward(X)
    target = torch.zeros(len(X), dtype=torch.long, device=device) if scores.dim() == 2 else None
    baseline = torch.zeros(1, n_features, device=device, dtype=dtype)
    try:
        _, delta = deeplift(forward, X, target, baseline)
    except AssertionError as exc:  # Captum's own check for modules it saw used more than once
        raise _error(f"Captum refused the model: {str(exc).splitlines()[0]}") from None
    with torch.no_grad():
        explained = scores if target is None else scores[:, 0]
        change = explained - (forward(baseline).reshape(-1)[0] if target is None else forward(baseline)[0, 0])
    gap = (delta.abs() / (1 + change.abs())).max().item()
    if gap > _COMPLETENESS_TOLERANCE:
        raise _error(f"its attributions miss s(x) - s(baseline) by up to {gap:.2g} (relative) on random inputs: "
                     "the model applies a nonlinearity as a function (torch.relu, F.gelu) or reuses one, "
                     "where DeepLift's hooks cannot see it")


def _count_calls(forward, X, supported) -> dict:
    calls, handles = {}, []
    for name, module in forward.named_modules():
        if isinstance(module, supported):
            calls[name] = 0
            handles.append(module.register_forward_hook(lambda m, i, o, name=name: calls.__setitem__(name, calls[name] + 1)))
    try:
        with torch.no_grad():
            forward(X)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _error(reason: str) -> ConfigError:
    return ConfigError(f"analysis method deeplift cannot explain this model: {reason}; use another method "
                       "(analysis=integrated_gradients; with analysis=compare, leave deeplift out of analysis.methods) "
                       "or an MLP with model.activation=relu, tanh or sigmoid")
