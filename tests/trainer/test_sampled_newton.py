"""The certified Newton's shortcuts at scale (trainer/linear_system.py, trainer/certified.py): steps
from a sampled Hessian far from the optimum, the softmax's exact steps by CG preconditioned with a
sample's Hessian, the gap estimated from the gradient to decide when to certify. Each is taken
here on real rows (scikit-learn's digits) by lowering the sample's size, and the fit must reach
the objective scikit-learn's tight solve reaches, with a certificate that bounds the true gap."""
import functools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import derivtrain
from derivtrain.trainer import certified, linear_system, newton_steps

ALPHA = 1e-3


def _digits(classes):
    X, label = load_digits(return_X_y=True)
    keep = np.isin(label, classes) if classes else np.ones(len(label), dtype=bool)
    X, label = X[keep], label[keep]
    scale = X.std(0)
    X = (X - X.mean(0)) / np.where(scale > 0, scale, 1.0)
    return X, (label % 2 if classes is None else label)


def _objective(X, y, W, b) -> float:
    """The mean log-loss (softmax; sigmoid as its two-class case) + alpha/2 ||W||^2, float64."""
    Z = X @ np.atleast_2d(W).T + b
    if Z.shape[1] == 1:
        Z = np.hstack([np.zeros_like(Z), Z])
    top = Z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
    return float(np.mean(lse - Z[np.arange(len(y)), np.searchsorted(np.unique(y), y)]) + ALPHA / 2 * np.sum(W * W))


@functools.lru_cache(maxsize=None)
def _reference_of(classes) -> float:
    X, y = _digits(list(classes) if classes is not None else None)
    return _reference(X, y)


def _reference(X, y) -> float:
    sk = LogisticRegression(C=1 / (ALPHA * len(X)), tol=1e-12, max_iter=100_000).fit(X, y)
    return _objective(X, y, sk.coef_, sk.intercept_)


@pytest.mark.parametrize("classes", [None, [0, 1, 2], list(range(10))])  # binary; dense softmax; CG softmax
@pytest.mark.parametrize("tol", [1e-3, 1e-9])
def test_sampled_newton_reaches_scikit_learns_optimum(monkeypatch, classes, tol):
    monkeypatch.setattr(linear_system, "_SAMPLE_LEAST", 16)  # a sample of ~1 row in 8-30
    monkeypatch.setattr(linear_system, "_SAMPLE_PER", 1)
    monkeypatch.setattr(linear_system, "_SPARSER", 2)
    strides = []
    stride = linear_system.LinearSystem._stride
    monkeypatch.setattr(linear_system.LinearSystem, "_stride", lambda self, size: strides.append(stride(self, size)) or strides[-1])
    X, y = _digits(classes)
    est = derivtrain.Estimator(model="logistic", standardize=False, regularizer__strength=ALPHA, optim__tol=tol).fit(X, y)
    linear = est.model_.linear
    ours = _objective(X, y, linear.weight.detach().numpy(), linear.bias.detach().numpy())
    optimum = _reference_of(tuple(classes) if classes is not None else None)
    assert est.metrics_["train/converged"] and est.metrics_["train/optimality_gap"] <= tol
    assert (ours - optimum) / ours <= est.metrics_["train/optimality_gap"] + 1e-12  # the bound holds
    assert ours == pytest.approx(optimum, rel=max(tol, 1e-8))
    if classes is None or len(classes) < 4:  # dense Hessians: sampled (stride > 1) on some steps
        assert max(strides) > 1


def test_the_gradients_gap_estimate_tracks_the_certificate(monkeypatch):
    """Each certified iterate's estimate (newton_gradient) is within a factor 3 of its certificate's
    gap: what lets the fit skip the certificates of iterates far from tol."""
    pairs, add = [], certified._Gaps.add
    observe = newton_steps.NewtonSteps.observe
    seen = []
    monkeypatch.setattr(newton_steps.NewtonSteps, "observe",
                        lambda self, T, smooth: seen.append(observe(self, T, smooth)) or seen[-1])

    def recording(self, primal, theta, decides, z, T):
        gap = add(self, primal, theta, decides, z, T)
        pairs.append((seen[-1] / abs(primal), gap))
        return gap

    monkeypatch.setattr(certified._Gaps, "add", recording)
    monkeypatch.setattr(certified, "_NEWTON_WORTH", 1e300)  # every iterate certified
    X, y = _digits([0, 1, 2])
    derivtrain.Estimator(model="logistic", standardize=False, regularizer__strength=ALPHA, optim__tol=1e-10).fit(X, y)
    big_enough = [(e, g) for e, g in pairs if g > 1e-9]  # below, rounding's part of the gap dominates
    assert big_enough and all(g / 3 <= e <= 3 * g for e, g in big_enough), pairs


def test_a_sampled_hessian_is_the_rows_estimate():
    """_blocks over every k-th row, its curvature scaled by n / rows: the sample's X^T D X, n-scaled."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(1000, 6, generator=g, dtype=torch.float64)
    D = torch.rand(1000, 2, generator=g, dtype=torch.float64)
    system = linear_system.LinearSystem(X, 2, max_dense=10 ** 6)
    blocks = system._blocks(D, torch.zeros(2, 5, dtype=torch.float64), stride=7)
    S, scale = X[::7], 1000 / len(X[::7])
    for k in range(2):
        torch.testing.assert_close(blocks[k, k], scale * S.T @ (S * D[::7, k:k + 1]))


def test_a_resumed_solve_takes_the_sampled_steps_of_the_uninterrupted_one(monkeypatch, tmp_path):
    """The choice between sampled and full Hessians is part of the solver's state: a stop mid-solve,
    then a resume, ends on the uninterrupted run's weights to the bit (tests/trainer/test_solver_resume.py)."""
    from tests.trainer.test_solver_resume import assert_same_fit, fit

    monkeypatch.setattr(linear_system, "_SAMPLE_LEAST", 16)
    monkeypatch.setattr(linear_system, "_SAMPLE_PER", 1)
    monkeypatch.setattr(linear_system, "_SPARSER", 2)
    sampled = []
    direction = newton_steps.newton_direction
    monkeypatch.setattr(newton_steps, "newton_direction", lambda *a: sampled.append(a[-1]) or direction(*a))
    overrides = ["model=logistic", "optim.tol=1e-10"]
    straight = fit(tmp_path / "straight", overrides)
    assert sampled[0] and not sampled[-1] and straight[0].steps > 3  # sampled steps, then full ones
    interrupted = fit(tmp_path / "stopped", overrides, stop_at=2)
    state = interrupted[1].saved[-1]
    assert "newton_sampling" in state["solver"]
    assert_same_fit(fit(tmp_path / "again", overrides, resume_state=state), straight, interrupted[1], -1)
