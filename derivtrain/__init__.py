"""derivtrain: a PyTorch training framework for derivative-driven machine learning.

    python -m derivtrain model=svm      # train, log, checkpoint, report
    derivtrain.load_run("outputs/...")  # the trained model, scikit-learn style
"""
__version__ = "0.1.0"
__all__ = ["load_run", "run"]


def __getattr__(name):
    # lazy: `import derivtrain` stays cheap; Hydra and the training code load on first use
    if name == "load_run":
        from derivtrain.api import load_run

        return load_run
    if name == "run":
        from derivtrain.run import run

        return run
    raise AttributeError(f"module 'derivtrain' has no attribute {name!r}")
