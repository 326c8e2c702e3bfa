"""optim=auto solves the convex models: its objective is checked against exact solvers on the same
rows, and its certified gap is checked to bound the true gap (never below it)."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge

from derivtrain.config.precision import run_dtype
from derivtrain.data import build_data
from derivtrain.convex.certificate import certify
from derivtrain.logging import NullLogger
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.fitting import make_context
from tests.conftest import compose_config
from tests.exact import hinge_optimum


class Solved:
    def __init__(self, *overrides):
        cfg = compose_config("logger=none", *overrides)
        seed_everything(cfg.trainer.seed)
        cpu = torch.device("cpu")  # the rows' dtype as run() picks it (float64 for the certified solver)
        self.data = build_data(cfg.data, cpu, seed=cfg.trainer.seed, dtype=run_dtype(cfg, cpu))
        self.objective = build_objective(cfg, self.data)
        self.result = fit_objective(make_context(cfg, self.objective, self.data, NullLogger()))
        self.metrics = self.result.metrics
        self.X = self.data.train.X.double().numpy()
        self.y = self.data.train.y.numpy()
        self.alpha = self.objective.penalty.strength

    @property
    def gap(self):
        return self.metrics["train/optimality_gap"]

    def assert_optimal(self, optimum: float, tol: float = 1e-4):
        """The objective is within tol of the exact optimum, and the certificate is at least the true gap."""
        ours = self.metrics["train/objective"]
        true_gap = (ours - optimum) / abs(ours)
        assert self.metrics["train/converged"] is True and self.gap <= tol
        assert -1e-9 <= true_gap <= self.gap + 1e-12, (ours, optimum, self.gap)


@pytest.mark.parametrize("variant", ["ovr", "crammer_singer", "weston_watkins"])
def test_multiclass_svm_reaches_the_qp_optimum(variant):
    solved = Solved("model=svm", "data=wine", f"model.multiclass={variant}")
    solved.assert_optimal(hinge_optimum(solved.X, solved.y, 3, variant, solved.alpha), tol=1e-4)


def test_default_svm_reaches_the_qp_optimum_within_1e_4():
    solved = Solved("model=svm")
    assert solved.result.steps <= 25
    solved.assert_optimal(hinge_optimum(solved.X, solved.y, 1, "ovr", solved.alpha))


@pytest.mark.parametrize("regularizer", ["l1", "elastic_net"])
def test_svm_with_an_l1_part_reaches_the_optimum(regularizer):
    solved = Solved("model=svm", "data=wine", f"regularizer={regularizer}")
    l1_ratio = solved.objective.penalty.l1_ratio if regularizer == "elastic_net" else 1.0
    solved.assert_optimal(hinge_optimum(solved.X, solved.y, 3, "ovr", solved.alpha, l1_ratio))


def test_class_weights_are_part_of_the_objective():
    solved = Solved("model=svm", "loss.class_weight=[1.0,3.0]")
    weights = np.where(solved.y == 1, 3.0, 1.0)
    solved.assert_optimal(hinge_optimum(solved.X, solved.y, 1, "ovr", solved.alpha, weights=weights))


def _sklearn_objective(solved, mean_loss, coef):
    return mean_loss + solved.alpha / 2 * float(np.sum(np.square(coef)))


@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
def test_logistic_regression_matches_scikit_learn(data):
    solved = Solved("model=logistic", f"data={data}", "optim.tol=1e-8")
    C = 1 / (solved.alpha * len(solved.X))
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(solved.X, solved.y)
    proba = sk.predict_proba(solved.X)[np.arange(len(solved.y)), solved.y]
    solved.assert_optimal(_sklearn_objective(solved, -np.log(proba).mean(), sk.coef_), tol=1e-8)


def test_ridge_matches_the_closed_form():
    solved = Solved("model=linear", "data=diabetes", "optim.tol=1e-10")
    y = solved.data.train.y.double().numpy()
    # ours: mean (z - y)^2 + alpha/2 ||w||^2 = (1/n)(||z - y||^2 + (n alpha / 2) ||w||^2): Ridge's alpha is n alpha / 2
    sk = Ridge(alpha=len(y) * solved.alpha / 2, tol=1e-12).fit(solved.X, y)
    mse = np.mean((sk.predict(solved.X) - y) ** 2)
    solved.assert_optimal(_sklearn_objective(solved, mse, sk.coef_), tol=1e-10)


def test_poisson_regression_matches_scikit_learn():
    solved = Solved("model=poisson", "data=counts", "optim.tol=1e-9")
    y = solved.data.train.y.double().numpy()
    sk = PoissonRegressor(alpha=solved.alpha, tol=1e-12, max_iter=1000, solver="newton-cholesky").fit(solved.X, y)
    s = solved.X @ sk.coef_ + sk.intercept_
    solved.assert_optimal(_sklearn_objective(solved, np.mean(np.exp(s) - y * s), sk.coef_), tol=1e-9)


@pytest.mark.parametrize("overrides,variant,K", [
    (("model=svm",), "ovr", 1),
    (("model=svm", "data=wine", "model.multiclass=crammer_singer"), "crammer_singer", 3),
    (("model=svm", "data=wine", "model.multiclass=weston_watkins", "regularizer=l1"), "weston_watkins", 3),
])
def test_the_certificate_of_any_weights_bounds_the_true_gap(overrides, variant, K):
    """Weights that did not come from the solver (a few SGD epochs, then perturbed): the bound is
    loose but it never falls below the true gap."""
    solved = Solved(*overrides, "optim=sgd", "trainer.max_epochs=3")
    l1_ratio = 1.0 if "regularizer=l1" in overrides else 0.0
    optimum = hinge_optimum(solved.X, solved.y, K, variant, solved.alpha, l1_ratio)
    targets = solved.objective.loss.encode_targets(solved.data.train.y, K)
    generator = torch.Generator().manual_seed(0)
    for scale in (0.0, 0.1, 1.0):
        with torch.no_grad():
            for p in solved.objective.model.parameters():
                if p.dtype.is_floating_point and p.dim() > 0:
                    p.add_(scale * torch.randn(p.shape, generator=generator))
        certificate = certify(solved.objective, solved.data.train.X, targets)
        true_gap = (certificate.primal - optimum) / certificate.primal
        assert 0 <= true_gap <= certificate.relative_gap


def test_hitting_the_iteration_cap_warns_and_reports_not_converged(derivtrain_log):
    solved = Solved("model=svm", "data=wine", "trainer.max_epochs=2")
    assert solved.metrics["train/converged"] is False and solved.gap > 1e-4
    assert any("raise trainer.max_epochs" in r.message for r in derivtrain_log.records)


def test_the_binary_svm_is_scikit_learns_svc_problem():
    """SVC(kernel="linear") with C = 1/(alpha n) minimizes n C times our objective (bias unpenalized)."""
    from sklearn.svm import SVC

    solved = Solved("model=svm", "optim.tol=1e-6")  # the model keeps float32 weights: ~1e-7 is the floor
    svc = SVC(kernel="linear", C=1 / (solved.alpha * len(solved.y)), tol=1e-10).fit(solved.X, solved.y)
    margins = (2 * solved.y - 1) * svc.decision_function(solved.X)
    svc_objective = np.maximum(0, 1 - margins).mean() + solved.alpha / 2 * np.sum(svc.coef_ ** 2)
    # libsvm stops on its KKT tolerance (~1e-6 of the objective here): the same optimum, ours no higher
    ours = solved.metrics["train/objective"]
    assert solved.metrics["train/converged"] is True and ours <= svc_objective * (1 + 1e-9)
    assert (svc_objective - ours) / ours < 1e-5


def test_newton_certifies_once_its_gradient_says_tol_may_be_met(monkeypatch):
    """A cold Newton fit skips the certificates of its first iterates (each a pass over X and a
    small solve, far from tol there) and still stops on a certified gap <= tol."""
    import derivtrain
    from derivtrain.trainer import certified

    calls = []
    add = certified._Gaps.add
    monkeypatch.setattr(certified._Gaps, "add", lambda self, *a: calls.append(1) or add(self, *a))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 20))
    y = (X @ rng.standard_normal(20) + rng.logistic(size=20_000) > 0).astype(int)
    est = derivtrain.Estimator(model="logistic", standardize=False, optim__tol=1e-6).fit(X, y)
    assert est.metrics_["train/converged"] and est.metrics_["train/optimality_gap"] <= 1e-6
    assert 1 <= len(calls) <= est.n_iter_ - 2, (len(calls), est.n_iter_)


def test_the_report_reuses_the_solvers_dual_where_it_meets_tol(monkeypatch):
    """At the end of a certified fit the report measures P at the model's float32 weights and keeps the
    solver's dual bound where the two meet tol: no dual point, no pass over X of its own. The gap it
    reports still bounds the true one (scikit-learn's optimum at 1e-12); without a known dual, or with
    a tol the known one misses, it builds one."""
    import derivtrain.convex.certificate as duality
    import derivtrain.trainer.fitting as fitting

    built, in_report = [], []
    values, report = duality.dual_values, fitting.objective_report
    monkeypatch.setattr(duality, "dual_values", lambda *a, **k: built.append(1) or values(*a, **k))

    def counted(*args, **kwargs):
        before = len(built)
        out = report(*args, **kwargs)
        in_report.append(len(built) - before)
        return out

    monkeypatch.setattr(fitting, "objective_report", counted)
    solved = Solved("model=logistic", "data=breast_cancer", "optim.tol=1e-8")
    assert in_report == [0] and len(built) >= 1  # the solver certified; the report built no dual point
    built.clear()
    C = 1 / (solved.alpha * len(solved.X))
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(solved.X, solved.y)
    proba = sk.predict_proba(solved.X)[np.arange(len(solved.y)), solved.y]
    solved.assert_optimal(_sklearn_objective(solved, -np.log(proba).mean(), sk.coef_), tol=1e-8)
    X, targets, known = solved.data.train.X, solved.data.train.y, solved.result.certificate.dual
    assert certify(solved.objective, X, targets, dual=known, enough=1e-8).dual == known and not built
    for enough in (None, 0.0):
        certify(solved.objective, X, targets, dual=known, enough=enough)
    assert built == [1, 1]
