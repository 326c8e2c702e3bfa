"""The coupled Newton step's preconditioner with the classes' common shift solved exactly
(derivtrain/trainer/linear_system.py: shift_free), and its blocks in float32: CG still solves H x = r
to its tolerance, in a fraction of the products, and a 10-class softmax fit reaches scikit-learn's
optimum."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from derivtrain.data import rank_k
from derivtrain.losses.likelihood import MultinomialDatafit
from derivtrain.trainer.conjugate_gradient import conjugate_gradient
from derivtrain.trainer.damped_cholesky import block_diagonal_solver
from derivtrain.trainer.linear_system import LinearSystem, _blocks_solver, _ConjugateGradients, shift_free
from tests.probabilistic.helpers import run_in_process

ALPHA = 1e-4


def _digits_system():
    """digits' standardized rows with a ones column, the softmax's curvature at weights that fit
    them a little (a Newton step's), and a right-hand side -g, as a Newton step sees them."""
    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    X_aug = torch.from_numpy(np.hstack([X, np.ones((len(X), 1))]))
    W = torch.randn(10, 65, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.3
    W -= W.mean(0)  # the iterates' classes average to zero (the penalty's optimum does)
    _, G, D = MultinomialDatafit(10).score_derivatives(X_aug @ W.T, torch.from_numpy(y))
    n = len(X)
    extra = torch.full((10, 64), ALPHA, dtype=torch.float64)
    system = LinearSystem(X_aug, 10, max_dense=10_000)
    gradient = G.T @ X_aug / n
    gradient[:, :-1] += ALPHA * W[:, :-1]
    return system, D / n, extra, -gradient


def _solve(system, D, extra, R, precondition):
    products = []

    def hvp(V):
        products.append(1)
        return system.apply(D, extra, V)
    x = conjugate_gradient(hvp, R, 1e-10 * R.norm().item(), 500, precondition)
    return x, len(products)


def test_the_shift_free_preconditioner_solves_the_same_system_in_a_fraction_of_the_products():
    system, D, extra, R = _digits_system()
    blocks = system._blocks(D.diagonal(dim1=1, dim2=2), extra)
    plain, plain_products = _solve(system, D, extra, R, block_diagonal_solver(blocks))
    x, products = _solve(system, D, extra, R, shift_free(block_diagonal_solver(blocks), D, extra))
    for solution in (plain, x):  # both solve H x = r to CG's tolerance
        residual = system.apply(D, extra, solution) - R
        assert residual.norm() <= 1e-9 * R.norm()
    assert products <= plain_products / 2  # measured: 24 against 328
    # the blocks in float32 (how the solver forms them): the same solution, about as few products
    single = system._blocks(D.diagonal(dim1=1, dim2=2), extra, dtype=torch.float32)
    assert single.dtype == torch.float32
    x32, products32 = _solve(system, D, extra, R, shift_free(_blocks_solver(single), D, extra))
    assert (system.apply(D, extra, x32) - R).norm() <= 1e-9 * R.norm()
    assert x32.dtype == torch.float64 and products32 <= products + 3


def test_a_right_hand_side_with_a_shift_is_solved_too():
    """Weights whose classes do not average to zero (a warm start) give the gradient a shift part:
    the preconditioner solves it by the penalty's curvature, and CG still ends at H x = r."""
    system, D, extra, R = _digits_system()
    R[:, :-1] += torch.linspace(-1, 1, 64, dtype=torch.float64) * 1e-3  # the same for every class
    blocks = system._blocks(D.diagonal(dim1=1, dim2=2), extra)
    x, _ = _solve(system, D, extra, R, shift_free(block_diagonal_solver(blocks), D, extra))
    assert (system.apply(D, extra, x) - R).norm() <= 1e-9 * R.norm()


def test_the_preconditioner_is_left_alone_where_a_shift_changes_the_loss():
    _, D, extra, _ = _digits_system()
    inner = block_diagonal_solver(torch.eye(65, dtype=torch.float64).expand(10, 10, 65, 65).clone())
    coupled_rows = D.clone()
    coupled_rows[:, 0, 0] += 1.0  # a curvature whose rows do not sum to zero
    uneven = extra.clone()
    uneven[3] *= 2  # a penalty that weighs one class differently
    one_vs_rest = D.diagonal(dim1=1, dim2=2)  # independent scores (K columns, 2-D)
    for curvature, penalty in ((coupled_rows, extra), (D, uneven), (one_vs_rest, extra)):
        assert shift_free(inner, curvature, penalty) is inner
    assert shift_free(inner, D, extra) is not inner


@pytest.mark.parametrize("syrk", [True, False])
def test_float32_blocks_of_float64_rows_are_the_product_rounded(monkeypatch, syrk):
    monkeypatch.setattr(rank_k, "_blas_syrk", lambda X, work: syrk)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(3000, 40, generator=g, dtype=torch.float64)
    w = torch.rand(3000, generator=g, dtype=torch.float64)
    exact = rank_k.weighted_gram(X, w)
    single = rank_k.weighted_gram(X, w, torch.float32)
    assert single.dtype == torch.float32 and torch.equal(single, single.T)
    torch.testing.assert_close(single.double(), exact, rtol=1e-5, atol=1e-4)


def test_a_ten_class_softmax_fit_reaches_scikit_learns_objective(tmp_path):
    """digits, 10 classes (coupled Newton steps by CG under optim=auto), against LogisticRegression's
    multinomial fit of the same objective on the same rows."""
    strength = 1e-3
    fitted = run_in_process(tmp_path, "model=logistic", "data=digits", f"regularizer.strength={strength}",
                            "optim.tol=1e-10")
    assert fitted.metrics["train/converged"] is True
    X, y = fitted.X_train, fitted.y_train
    sk = LogisticRegression(C=1 / (strength * len(X)), tol=1e-12, max_iter=20_000).fit(X, y)

    def objective(W, b):
        scores = X @ W.T + b
        top = scores.max(axis=1, keepdims=True)
        log_partition = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        return (log_partition - scores[np.arange(len(y)), y]).mean() + strength / 2 * (W * W).sum()

    linear = fitted.model.linear
    ours = objective(linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy())
    theirs = objective(sk.coef_, sk.intercept_)
    assert ours <= theirs * (1 + 1e-7)


def test_rows_far_from_zero_keep_float64_blocks():
    """A raw 3e7 + N(0, 1) column (standardize=False) keeps none of its variation in float32: the
    preconditioner's blocks are then summed in the rows' own float64 (as proximal Newton's are)."""
    system, D, extra, _ = _digits_system()
    assert system._blocks(D.diagonal(dim1=1, dim2=2), extra, dtype=torch.float32).dtype == torch.float32
    raw = system.X.clone()
    raw[:, 5] = 3e7 + torch.randn(len(raw), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    far = LinearSystem(raw, 10, max_dense=10_000)
    blocks = far._blocks(D.diagonal(dim1=1, dim2=2), extra, dtype=torch.float32)
    assert blocks.dtype == torch.float64
    torch.testing.assert_close(blocks, far._blocks(D.diagonal(dim1=1, dim2=2), extra), rtol=0, atol=0)


def test_one_factor_forms_its_preconditioner_once_for_every_right_hand_side(monkeypatch):
    """The interior point solves its predictor and corrector with one factor: the blocks are formed
    at the first solve and kept, and each solve still meets CG's tolerance."""
    system, D, extra, R = _digits_system()
    formed = []
    blocks = system._blocks
    monkeypatch.setattr(system, "_blocks", lambda *args, **kwargs: formed.append(1) or blocks(*args, **kwargs))
    factor = _ConjugateGradients(system, D, extra, 1e-10)  # the interior point's exact solves past max_dense
    shifted = 2 * R
    shifted[:, :-1] += 1e-3  # a part along the weights' common shift, which the penalty curves
    for rhs in (R, shifted):
        x = factor.solve(rhs)
        assert (system.apply(D, extra, x) - rhs).norm() <= 1e-9 * rhs.norm()
    assert len(formed) == 1
    # a part along the biases' common shift, which H does not curve: no solution, but no 0 / 0 either
    assert torch.isfinite(factor.solve(R + 1e-3)).all()
