"""Property tests: every loss, shape, dtype, reduction and weighting against a NumPy reference.

The reference spells each loss out per sample in float64 NumPy, then weights and reduces it the
documented way (derivtrain/losses/reduction.py): mean = sum w_i l_i / sum w_i.
"""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from derivtrain.losses import functional as F

LOSSES = ("hinge", "squared_hinge", "crammer_singer", "weston_watkins")


def reference_per_sample(kind, s, y):
    if kind in ("hinge", "squared_hinge"):
        per = np.maximum(0.0, 1.0 - y * s) ** (2 if kind == "squared_hinge" else 1)
        return per.sum(axis=1) if per.ndim == 2 else per
    rows = np.arange(len(y))
    margins = 1.0 + s - s[rows, y][:, None]
    margins[rows, y] = -np.inf  # the true class is not its own rival
    if kind == "crammer_singer":
        return np.maximum(0.0, margins.max(axis=1))
    return np.maximum(0.0, margins).sum(axis=1)


def reference(kind, s, y, classes, reduction, sample_weight, class_weight):
    per = reference_per_sample(kind, s, y)
    w = np.ones(len(per))
    if class_weight is not None:
        w = w * class_weight[classes]
    if sample_weight is not None:
        w = w * sample_weight
    weighted = w * per
    if reduction == "none":
        return weighted
    return weighted.sum() if reduction == "sum" else weighted.sum() / w.sum()


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(LOSSES))
    n = draw(st.integers(1, 16))
    multiclass = kind in ("crammer_singer", "weston_watkins")
    k = draw(st.integers(2, 6)) if multiclass else draw(st.sampled_from([None, 2, 3, 5]))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    s = rng.normal(scale=1.5, size=(n,) if k is None else (n, k))
    if multiclass:
        y = rng.integers(0, k, size=n)
        classes, n_classes = y, k
    else:
        y = rng.choice([-1.0, 1.0], size=s.shape)
        classes = (y > 0).astype(int) if k is None else None
        if k is not None:  # one-vs-rest: exactly one +1 per row
            labels = rng.integers(0, k, size=n)
            y = np.where(np.arange(k) == labels[:, None], 1.0, -1.0)
            classes = labels
        n_classes = 2 if k is None else k
    sample_weight = rng.uniform(0.1, 3.0, size=n) if draw(st.booleans()) else None
    class_weight = rng.uniform(0.1, 3.0, size=n_classes) if draw(st.booleans()) else None
    return dict(kind=kind, s=s, y=y, classes=classes, sample_weight=sample_weight, class_weight=class_weight,
                reduction=draw(st.sampled_from(["mean", "sum", "none"])),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])))


def ours(case):
    dtype = case["dtype"]
    s = case["s"] if torch.is_tensor(case["s"]) else torch.tensor(case["s"], dtype=dtype)
    kwargs = dict(reduction=case["reduction"])
    if case["sample_weight"] is not None:
        kwargs["sample_weight"] = torch.tensor(case["sample_weight"], dtype=dtype)
    if case["class_weight"] is not None:
        kwargs["class_weight"] = torch.tensor(case["class_weight"], dtype=dtype)
    kind = case["kind"]
    if kind in ("crammer_singer", "weston_watkins"):
        return F.multiclass_hinge(s, torch.tensor(case["y"]), kind, **kwargs)
    fn = F.hinge if kind == "hinge" else F.squared_hinge
    return fn(s, torch.tensor(case["y"], dtype=dtype), **kwargs)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_value_matches_the_reference(case):
    expected = reference(case["kind"], case["s"], case["y"], case["classes"], case["reduction"],
                         case["sample_weight"], case["class_weight"])
    got = ours(case)
    assert got.dtype == case["dtype"]
    assert got.shape == np.shape(expected)
    tol = 1e-12 if case["dtype"] == torch.float64 else 1e-5
    np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_gradient_matches_composed_autograd(case):
    # the composed reference is differentiated by autograd; a hand-written backward must agree
    # wherever both are defined (random continuous scores never sit exactly on a kink)
    dtype = case["dtype"]
    s = torch.tensor(case["s"], dtype=dtype, requires_grad=True)
    s_ref = s.detach().clone().requires_grad_()
    got = ours({**case, "s": s})
    weights = torch.randn(got.shape, dtype=dtype) if got.dim() else torch.ones((), dtype=dtype)
    (grad,) = torch.autograd.grad((got * weights).sum(), s)
    expected = composed(case, s_ref)
    (grad_ref,) = torch.autograd.grad((expected * weights).sum(), s_ref)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(grad, grad_ref, rtol=tol, atol=tol)


def composed(case, s):
    """The same loss from stock torch ops, differentiated by autograd."""
    dtype, kind = s.dtype, case["kind"]
    if kind in ("hinge", "squared_hinge"):
        y = torch.tensor(case["y"], dtype=dtype)
        per = torch.clamp(1 - y * s, min=0) ** (2 if kind == "squared_hinge" else 1)
        per = per.sum(1) if per.dim() == 2 else per
    else:
        y = torch.tensor(case["y"])
        margins = 1 + s - s.gather(1, y.unsqueeze(1))
        rival = torch.arange(s.shape[1]) != y.unsqueeze(1)
        if kind == "crammer_singer":
            per = torch.clamp(margins.masked_fill(~rival, float("-inf")).amax(1), min=0)
        else:
            per = (torch.clamp(margins, min=0) * rival).sum(1)
    w = torch.ones(len(per), dtype=dtype)
    if case["class_weight"] is not None:
        w = w * torch.tensor(case["class_weight"], dtype=dtype)[torch.as_tensor(case["classes"])]
    if case["sample_weight"] is not None:
        w = w * torch.tensor(case["sample_weight"], dtype=dtype)
    if case["reduction"] == "none":
        return w * per
    return (w * per).sum() if case["reduction"] == "sum" else (w * per).sum() / w.sum()
