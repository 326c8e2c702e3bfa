"""derivtrain: a PyTorch training framework for derivative-driven machine learning.

    python -m derivtrain model=svm            # train, log, checkpoint, report
    derivtrain.load_run("outputs/...")        # the trained model, scikit-learn style
    derivtrain.train("model=svm", ...)        # the command line's run from Python -> Run
    derivtrain.Estimator(model="svm", ...)    # a scikit-learn estimator (also SVM, Logistic, ...)
    derivtrain.LogisticCV(Cs=30, cv=5)        # the strength chosen by cross-validation (also SVMCV, LinearCV)
"""
__version__ = "0.3.0"
__all__ = ["ConfigError", "DataError", "Estimator", "GMM", "Linear", "LinearCV", "Logistic", "LogisticCV", "MLP",
           "Poisson", "SVM", "SVMCV", "UserError", "load_run", "run", "train"]

_ESTIMATORS = ("Estimator", "GMM", "Linear", "LinearCV", "Logistic", "LogisticCV", "MLP", "Poisson", "SVM", "SVMCV")


def __getattr__(name):
    # lazy: `import derivtrain` stays cheap; Hydra, scikit-learn and the training code load on first use
    if name == "load_run":
        from derivtrain.api import load_run

        return load_run
    if name == "run":
        from derivtrain.run import run

        return run
    if name == "train":
        from derivtrain.training_api import train

        return train
    if name in _ESTIMATORS:
        import derivtrain.estimator

        return getattr(derivtrain.estimator, name)
    if name in ("ConfigError", "DataError", "UserError"):
        from derivtrain import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'derivtrain' has no attribute {name!r}")
