"""The solvers of the field, each fit on derivtrain's objective: the parameter mapping, in one place.

derivtrain minimizes, over W (K x d) and an unpenalized bias b, the mean loss plus a penalty:

    logistic     mean log(1 + exp(-s z))             + a/2 ||w||^2      s = 2y - 1 in {-1, +1}
    hinge        mean max(0, 1 - s z)                + a/2 ||w||^2
    sqhinge      mean max(0, 1 - s z)^2              + a/2 ||w||^2
    l1_logistic  mean log(1 + exp(-s z))             + a ||w||_1
    lasso        mean (y - z)^2                      + a ||w||_1
    multinomial  mean (logsumexp(z) - z_y)           + a/2 ||W||_F^2

Each tool's own objective, divided or multiplied to read as that one (n rows):
    scikit-learn LogisticRegression, LinearSVC: 1/2 ||w||^2 + C sum loss  ->  C = 1 / (a n)
    scikit-learn Lasso, glum normal, skglm Lasso, cyanure Lasso: 1/(2n) ||y - Xw||^2 + t ||w||_1
        (half of derivtrain's squared error)  ->  t = a / 2
    glum binomial: 1/(2n) deviance + t (...) with deviance = 2 sum log-loss  ->  t = a
    cyanure: mean loss + lambda_1/2 ||w||^2 (l2) or lambda_1 ||w||_1 (l1); its squared hinge is
        1/2 max(0, 1 - s z)^2 -> lambda_1 = a / 2; logistic, multinomial: lambda_1 = a
    skglm SparseLogisticRegression: mean log-loss + t ||w||_1  ->  t = a
    LIBLINEAR (-s 0, 2, 3, 6): 1/2 ||w||^2 (or ||w||_1) + C sum loss  ->  C = 1 / (a n); it
        penalizes the bias as a feature of value B (-B 10: a penalty on b 100x weaker than on w),
        so its optimum is not quite derivtrain's: its best gap says by how much; its dual solvers
        (-s 3) also stop at their own iteration cap (1000), which its Python API does not raise
bench_field.py checks each mapping: every tool's tightest fit must reach derivtrain's optimum.

A tool is a function fit(problem, X, y, a, tol) -> (W (K, d), b (K,)); TOOLS[problem] lists
(name, module to import, fit) and a tool whose module does not import is reported as missing.
"""
import numpy as np


def _signs(y):
    return np.where(y > 0, 1.0, -1.0)


def sklearn_fit(problem, X, y, a, tol):
    from sklearn.linear_model import Lasso, LogisticRegression
    from sklearn.svm import LinearSVC

    n = X.shape[0]
    if problem == "lasso":
        m = Lasso(alpha=a / 2, tol=tol, max_iter=100_000).fit(X, y)
        return m.coef_.reshape(1, -1), np.atleast_1d(m.intercept_)
    if problem in ("hinge", "sqhinge"):
        loss = "hinge" if problem == "hinge" else "squared_hinge"
        m = LinearSVC(loss=loss, C=1 / (a * n), tol=tol, intercept_scaling=10, max_iter=100_000,
                      dual=problem == "hinge" or X.shape[0] < X.shape[1]).fit(X, y)
    elif problem == "l1_logistic":
        m = LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (a * n), tol=tol, max_iter=100_000).fit(X, y)
    else:  # logistic, multinomial
        m = LogisticRegression(C=1 / (a * n), tol=tol, max_iter=100_000).fit(X, y)
    return m.coef_, m.intercept_


def glum_fit(problem, X, y, a, tol):
    from glum import GeneralizedLinearRegressor

    family, t, l1 = {"logistic": ("binomial", a, 0.0), "l1_logistic": ("binomial", a, 1.0),
                     "lasso": ("normal", a / 2, 1.0)}[problem]
    m = GeneralizedLinearRegressor(family=family, alpha=t, l1_ratio=l1, gradient_tol=tol, max_iter=1000)
    m.fit(X, y.astype(np.float64))
    return m.coef_.reshape(1, -1), np.atleast_1d(m.intercept_)


def cyanure_fit(problem, X, y, a, tol):
    from cyanure.estimators import Classifier, Regression

    common = dict(tol=tol, max_iter=100_000, n_threads=1, verbose=False, fit_intercept=True)
    if problem == "lasso":
        m = Regression(penalty="l1", lambda_1=a / 2, **common).fit(X, y.astype(np.float64))
        return np.asarray(m.coef_).reshape(1, -1), np.atleast_1d(m.intercept_)
    loss, penalty, lam = {"logistic": ("logistic", "l2", a), "sqhinge": ("sqhinge", "l2", a / 2),
                          "l1_logistic": ("logistic", "l1", a),
                          "multinomial": ("multiclass-logistic", "l2", a)}[problem]
    target = y if problem == "multinomial" else _signs(y)
    m = Classifier(loss=loss, penalty=penalty, lambda_1=lam, **common).fit(X, target)
    W = np.asarray(m.coef_)
    W = W.T if problem == "multinomial" and W.shape[0] == X.shape[1] else W.reshape(-1, X.shape[1])
    return W, np.atleast_1d(m.intercept_)


def skglm_fit(problem, X, y, a, tol):
    """skglm's L1 estimators (its L2 penalty has no solver with an intercept in 0.5: not timed)."""
    from skglm.estimators import Lasso, SparseLogisticRegression

    if problem == "lasso":
        m = Lasso(alpha=a / 2, tol=tol, max_iter=1000, fit_intercept=True).fit(X, y)
    else:
        m = SparseLogisticRegression(alpha=a, tol=tol, max_iter=1000, fit_intercept=True).fit(X, _signs(y))
    return np.asarray(m.coef_).reshape(1, -1), np.atleast_1d(m.intercept_)


def liblinear_fit(problem, X, y, a, tol):
    from liblinear.liblinearutil import parameter, problem as lproblem, train

    solver = {"logistic": 0, "sqhinge": 2, "hinge": 3, "l1_logistic": 6}[problem]
    C = 1 / (a * X.shape[0])
    model = train(lproblem(_signs(y), X), parameter(f"-s {solver} -c {C!r} -e {tol!r} -B 10 -q"))
    w = np.array([model.w[i] for i in range(X.shape[1] + 1)])
    sign = 1.0 if model.label[0] > 0 else -1.0  # LIBLINEAR's first label is its positive class
    return sign * w[:-1].reshape(1, -1), sign * np.array([10 * w[-1]])


# problem -> [(tool, module that must import, fit)]; scikit-learn's LinearSVC is LIBLINEAR inside
TOOLS = {
    "logistic": [("scikit-learn", "sklearn", sklearn_fit), ("glum", "glum", glum_fit),
                 ("cyanure", "cyanure", cyanure_fit), ("LIBLINEAR", "liblinear.liblinearutil", liblinear_fit)],
    "hinge": [("scikit-learn", "sklearn", sklearn_fit), ("LIBLINEAR", "liblinear.liblinearutil", liblinear_fit)],
    "sqhinge": [("scikit-learn", "sklearn", sklearn_fit), ("cyanure", "cyanure", cyanure_fit),
                ("LIBLINEAR", "liblinear.liblinearutil", liblinear_fit)],
    "l1_logistic": [("scikit-learn", "sklearn", sklearn_fit), ("glum", "glum", glum_fit),
                    ("cyanure", "cyanure", cyanure_fit), ("skglm", "skglm", skglm_fit),
                    ("LIBLINEAR", "liblinear.liblinearutil", liblinear_fit)],
    "lasso": [("scikit-learn", "sklearn", sklearn_fit), ("glum", "glum", glum_fit),
              ("cyanure", "cyanure", cyanure_fit), ("skglm", "skglm", skglm_fit)],
    "multinomial": [("scikit-learn", "sklearn", sklearn_fit), ("cyanure", "cyanure", cyanure_fit)],
}

# derivtrain's Estimator parameters for each problem (a: the penalty's strength)
DERIVTRAIN = {
    "logistic": dict(model="logistic"),
    "hinge": dict(model="svm"),
    "sqhinge": dict(model="svm", loss="squared_hinge"),
    "l1_logistic": dict(model="logistic", regularizer="l1"),
    "lasso": dict(model="linear", regularizer="l1"),
    "multinomial": dict(model="logistic"),
}


def objective(problem, X, y, a, W, b) -> float:
    """derivtrain's objective at (W, b), in float64 numpy (one formula for every tool)."""
    Z = np.asarray(X @ W.T) + b
    if problem == "multinomial":
        top = Z.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
        return float(np.mean(lse - Z[np.arange(len(y)), y]) + a / 2 * np.sum(W * W))
    z = Z[:, 0]
    if problem == "lasso":
        return float(np.mean((y - z) ** 2) + a * np.abs(W).sum())
    margin = _signs(y) * z
    loss = {"logistic": np.logaddexp(0, -margin), "l1_logistic": np.logaddexp(0, -margin),
            "hinge": np.maximum(0, 1 - margin), "sqhinge": np.maximum(0, 1 - margin) ** 2}[problem]
    penalty = a * np.abs(W).sum() if problem == "l1_logistic" else a / 2 * np.sum(W * W)
    return float(loss.mean() + penalty)
