"""One Newton for the linear convex problems: optim=newton on them takes the certified solver's step
(trainer/linear_newton.py: H = X^T D X + alpha I formed directly), autograd Newton everything else."""
import pytest
import torch

from derivtrain.config.precision import run_dtype
from derivtrain.convex.certificate import linear_problem
from derivtrain.data import build_data
from derivtrain.logging import NullLogger
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer import autograd_newton, linear_newton
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.fitting import make_context
from tests.conftest import compose_config


def context(*overrides):
    cfg = compose_config("logger=none", *overrides)
    seed_everything(cfg.trainer.seed)
    cpu = torch.device("cpu")
    data = build_data(cfg.data, cpu, seed=cfg.trainer.seed, dtype=run_dtype(cfg, cpu))
    return make_context(cfg, build_objective(cfg, data), data, NullLogger())


def counted(monkeypatch, cls):
    """How many times each stepper's evaluate() runs in the fits that follow."""
    calls = []
    evaluate = cls.evaluate

    def counting(self):
        calls.append(cls.__name__)
        return evaluate(self)

    monkeypatch.setattr(cls, "evaluate", counting)
    return calls


@pytest.mark.parametrize("overrides", [
    ["model=logistic"],  # binary: one block, X^T D X
    ["model=logistic", "data=wine", "optim.hessian=cg"],  # multinomial, preconditioned CG on coupled blocks
    ["model=poisson", "data=counts"],
])
def test_newton_on_a_linear_convex_objective_reaches_the_certified_solvers_objective(monkeypatch, overrides):
    linear_steps = counted(monkeypatch, linear_newton.LinearNewton)
    autograd_steps = counted(monkeypatch, autograd_newton.AutogradNewton)
    hessian = [o for o in overrides if o.startswith("optim.hessian")]
    rest = [o for o in overrides if o not in hessian]
    newton = fit_objective(context(*rest, "optim=newton", "optim.tol=1e-9", *hessian))
    certified = fit_objective(context(*rest, "optim=certified", "optim.tol=1e-9"))
    assert newton.metrics["train/converged"] is True and certified.metrics["train/converged"] is True
    assert newton.metrics["train/objective"] == pytest.approx(certified.metrics["train/objective"], rel=2e-9)
    assert len(linear_steps) == newton.steps + 1 and autograd_steps == []  # never autograd's Hessian
    assert newton.steps <= certified.steps + 2  # the same step: quadratic convergence from a different start


@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
def test_the_linear_step_is_autograds_newton_step(data):
    """At the same weights (not optimal) both Newtons see the same objective, gradient and Hessian,
    so the same direction: X^T D X + alpha I is what autograd differentiates out row by row. The
    multinomial's Hessian is singular along one direction (the same shift of every class's bias,
    unpenalized, leaves the probabilities as they are): there the directions agree up to that shift."""
    ctx = context("model=logistic", f"data={data}", "optim=newton")
    model = ctx.model.double()
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        model.linear.weight.copy_(torch.randn(model.linear.weight.shape, generator=g, dtype=torch.float64))
        model.linear.bias.copy_(torch.randn(model.linear.bias.shape, generator=g, dtype=torch.float64))
    X = ctx.data.train.X.double()
    step = linear_newton.LinearNewton(ctx, linear_problem(ctx.objective), X)
    f_linear, slope_linear = step.evaluate()
    T, direction = step._at[0], step._at[3]
    params = [model.linear.weight, model.linear.bias]
    f = ctx.objective(X, ctx.targets(ctx.data.train))
    gradient, flat = autograd_newton.newton_direction(f, params, dense=True)
    W, b = flat.split([params[0].numel(), params[1].numel()])
    expected = torch.cat([W.view_as(params[0]), b[:, None]], dim=1)
    if len(b) > 1:  # the bias column up to one shift of every class
        direction[:, -1] -= direction[:, -1].mean()
        expected[:, -1] -= expected[:, -1].mean()
    torch.testing.assert_close(direction, expected, rtol=1e-8, atol=1e-10)
    assert f_linear == pytest.approx(f.item(), rel=1e-12)
    assert slope_linear == pytest.approx((gradient @ flat).item(), rel=1e-8)
    assert torch.equal(T, torch.cat([params[0], params[1][:, None]], dim=1))


def test_newton_on_other_models_stays_autograds(monkeypatch):
    """An MLP (not linear) and an unpenalized logistic model (no dual: nothing certifies it) take
    the Hessian from autograd."""
    linear_steps = counted(monkeypatch, linear_newton.LinearNewton)
    autograd_steps = counted(monkeypatch, autograd_newton.AutogradNewton)
    mlp = fit_objective(context("model=mlp", "model.hidden_sizes=[4]", "optim=newton", "optim.max_iter=3"))
    unpenalized = fit_objective(context("model=logistic", "data=wine", "optim=newton", "regularizer.strength=0",
                                        "optim.max_iter=3"))
    assert linear_steps == [] and len(autograd_steps) == mlp.steps + unpenalized.steps + 2
    assert mlp.metrics["train/objective"] < 0.69  # below the start's cross-entropy, log 2: Newton stepped
