"""Hessian tools: H v against the dense Hessian, Lanczos and power iteration against its spectrum,
the finite-difference path for kinked losses, and the sharpness logged during training."""
import pytest
import torch

from derivtrain.data.table import DataSpec
from derivtrain.trainer.curvature import hvp, objective_sharpness, top_eigenvalue
from derivtrain.losses import CrossEntropyLoss, HingeLoss, L2Penalty, NoSecondDerivativeError, Objective
from derivtrain.models.logistic import LogisticRegression
from derivtrain.models.mlp import MLP
from derivtrain.models.svm import LinearSVM
from derivtrain.trainer.fitting import make_context


def problem(model_cls=MLP, n=40, d=3, classes=3, seed=0, **kwargs):
    torch.manual_seed(seed)
    spec = DataSpec(task="classification", n_features=d, classes=list(range(classes)))
    model = model_cls(spec, **kwargs).double()
    X = torch.randn(n, d, dtype=torch.float64)
    y = torch.randint(0, classes, (n,))
    return model, X, y, spec


def dense_hessian(loss_fn, params):
    """The (P, P) Hessian by torch.autograd.functional on the flattened parameters (the reference)."""
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    flat0 = torch.cat([p.detach().reshape(-1) for p in params])
    return torch.autograd.functional.hessian(lambda f: _functional(loss_fn, params, shapes, sizes, f), flat0)


def _functional(loss_fn, params, shapes, sizes, flat):
    # swap the parameters for views of `flat` so autograd sees loss as a function of it
    tensors = [t.view(s) for t, s in zip(flat.split(sizes), shapes)]
    model_params = {id(p): t for p, t in zip(params, tensors)}
    return loss_fn(model_params)


def mlp_objective():
    model, X, y, spec = problem(hidden_sizes=[4], activation="tanh")
    loss = CrossEntropyLoss()
    objective = Objective(model, loss, L2Penalty(0.01))
    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())

    def functional_loss(replacements=None):
        if replacements is None:
            return objective(X, y)
        values = {n: replacements[id(p)] for n, p in zip(names, params)}
        scores = torch.func.functional_call(model, values, (X,))
        weights = [values[n] for n in names if not n.endswith("bias")]
        return loss(scores, y) + 0.01 * 0.5 * sum((w * w).sum() for w in weights)

    return objective, params, functional_loss, X, y


def test_hvp_equals_dense_hessian_times_v():
    objective, params, functional_loss, *_ = mlp_objective()
    H = dense_hessian(functional_loss, params)
    g = torch.Generator().manual_seed(1)
    v = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
    got = torch.cat([t.reshape(-1) for t in hvp(functional_loss, params, v)])
    torch.testing.assert_close(got, H @ torch.cat([t.reshape(-1) for t in v]), rtol=1e-10, atol=1e-12)


def test_finite_difference_hvp_agrees_with_double_backward_on_a_smooth_objective():
    objective, params, functional_loss, *_ = mlp_objective()
    g = torch.Generator().manual_seed(2)
    v = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
    exact = torch.cat([t.reshape(-1) for t in hvp(functional_loss, params, v, method="exact")])
    before = [p.detach().clone() for p in params]
    fd = torch.cat([t.reshape(-1) for t in hvp(functional_loss, params, v, method="finite_difference")])
    torch.testing.assert_close(fd, exact, rtol=1e-5, atol=1e-7)
    assert all(torch.equal(p, b) for p, b in zip(params, before))  # parameters restored bit for bit


def test_lanczos_finds_the_largest_eigenvalue_of_an_indefinite_hessian():
    objective, params, functional_loss, *_ = mlp_objective()
    eigenvalues = torch.linalg.eigvalsh(dense_hessian(functional_loss, params))
    assert eigenvalues[0] < 0 < eigenvalues[-1]  # a nonconvex objective: both signs
    dim = eigenvalues.numel()
    top = top_eigenvalue(functional_loss, params, iterations=dim)
    assert top == pytest.approx(eigenvalues[-1].item(), rel=1e-8)
    few = top_eigenvalue(functional_loss, params, iterations=15)  # extreme Ritz values converge first
    assert few == pytest.approx(eigenvalues[-1].item(), rel=1e-3)


def test_power_iteration_on_a_convex_objective():
    model, X, y, _ = problem(model_cls=LogisticRegression, classes=2)
    objective = Objective(model, CrossEntropyLoss(), L2Penalty(0.05))
    params = list(model.parameters())
    # logistic regression + L2 is convex: the top eigenvalue is also the largest in magnitude
    lanczos = top_eigenvalue(lambda: objective(X, y.double()), params, iterations=10)
    power = top_eigenvalue(lambda: objective(X, y.double()), params, iterations=200, algorithm="power")
    assert power == pytest.approx(lanczos, rel=1e-4)


def test_hinge_objective_refuses_exact_hvp_and_its_finite_difference_curvature_is_alpha():
    model, X, y, spec = problem(model_cls=LinearSVM, classes=2)
    loss = HingeLoss()
    signs = loss.encode_targets(y, spec.n_outputs).double()
    objective = Objective(model, loss, L2Penalty(0.3))
    assert not objective.twice_differentiable
    params = list(model.parameters())
    v = [torch.ones_like(p) for p in params]
    with pytest.raises(NoSecondDerivativeError, match="hinge"):
        hvp(lambda: objective(X, signs), params, v, method="exact")
    with torch.no_grad():
        margins = signs * model(X)
    assert ((margins - 1).abs() > 1e-3).all()  # no margin within the finite-difference step of its kink
    # the data term is linear near here: only the penalty's curvature (0.3 on the weights, 0 on the bias) is left
    assert objective_sharpness(objective, X, signs) == pytest.approx(0.3, rel=1e-6)


def test_sharpness_is_logged_during_training(tmp_path):
    from derivtrain.data import build_data
    from derivtrain.run import build_objective, seed_everything
    from derivtrain.trainer.loop import fit
    from tests.conftest import compose_config

    class Recorder:
        histogram_every_n_epochs = 0

        def __init__(self):
            self.scalars = []

        def log_scalars(self, scalars, step):
            self.scalars += [(k, v, step) for k, v in scalars.items()]

        def log_histograms(self, model, step):
            pass

    cfg = compose_config("model=logistic", "optim=sgd", "data=iris", "trainer.max_epochs=6",
                         "diagnostics.hessian_every_n_epochs=3")
    seed_everything(0)
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    objective = build_objective(cfg, data)
    logger = Recorder()
    fit(make_context(cfg, objective, data, logger, tmp_path / "last.pt"))
    logged = [(v, step) for k, v, step in logger.scalars if k == "diagnostics/hessian_top_eigenvalue"]
    assert [step for _, step in logged] == [3, 6]  # full batch: one step per epoch
    # logistic regression + L2: convex, so the sharpness is positive and at least the L2 strength
    assert all(v >= cfg.regularizer.strength for v, _ in logged)


def test_hvp_of_a_function_linear_in_its_parameters_is_zero():
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, dtype=torch.float64)
    v = [torch.ones(3, dtype=torch.float64), torch.ones(1, dtype=torch.float64)]
    for method in ("exact", "finite_difference"):
        for loss_fn in (lambda: (w * x).sum() + 2 * b.sum(),  # a gradient that is a constant
                        lambda: (w * x).sum() + 2 * b.sum() + 0 * (w * w).sum()):  # b absent from the second
            out = hvp(loss_fn, [w, b], v, method=method)
            assert all(torch.allclose(t, torch.zeros_like(t), atol=1e-6) for t in out)
    assert top_eigenvalue(lambda: (w * x).sum(), [w], iterations=3) == 0.0
