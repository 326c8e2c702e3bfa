"""The same Gaussian mixture fitted by EM and by gradients, and scikit-learn's, side by side.

    python scripts/compare_gmm_fits.py

For each dataset: model=gmm (k=3, full covariances) fitted by optim=em (scikit-learn's tol=1e-3,
and a tight tol=1e-7), optim=adam and optim=lbfgs from the same k-means start, and scikit-learn's
GaussianMixture on the same standardized training rows. Prints a Markdown table of the mean
log-likelihood per row (in the data's own units) on the training and test rows, the iterations
(EM iterations, gradient steps) and the wall time of the whole run (fit and evaluation).
"""
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from derivtrain.config import register_schemas
from derivtrain.data import build_data
from derivtrain.run import run

FITS = {
    "EM, tol=1e-3": ["optim=em"],
    "EM, tol=1e-7": ["optim=em", "optim.tol=1e-7", "optim.max_iter=2000"],
    "Adam, lr=0.1, 150 epochs": ["optim=adam", "optim.lr=0.1", "trainer.max_epochs=150"],
    "L-BFGS, 8 x 20 iterations": ["optim=lbfgs", "trainer.max_epochs=8"],
}


def compose(*overrides):
    from hydra import compose as hydra_compose, initialize_config_dir

    from derivtrain.paths import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def fit(overrides, folder):
    cfg = compose(*overrides)
    start = time.perf_counter()
    metrics = run(cfg, folder)
    return metrics, time.perf_counter() - start


def sklearn_row(data_name):
    from sklearn.mixture import GaussianMixture

    cfg = compose("model=gmm", f"data={data_name}")
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    jacobian = -np.log(data.feature_scale.double().numpy()).sum()  # standardized -> the data's units
    train, test = data.train.X.double().numpy(), data.test.X.double().numpy()
    start = time.perf_counter()
    gm = GaussianMixture(3, covariance_type="full", random_state=0).fit(train)
    seconds = time.perf_counter() - start
    return gm.score(train) + jacobian, gm.score(test) + jacobian, gm.n_iter_, seconds


def main() -> None:
    import logging

    logging.getLogger("derivtrain").setLevel(logging.WARNING)
    register_schemas()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| data | fit | train log-lik. | test log-lik. | iterations | run seconds |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        fit(["model=gmm", "data=iris", "logger=none"], Path(tmp) / "warm-up")  # first-call costs out of the table
        for data_name in ("iris", "blobs"):
            for i, (name, overrides) in enumerate(FITS.items()):
                metrics, seconds = fit(["model=gmm", f"data={data_name}", "logger=none", "trainer.val_every_n_epochs=0",
                                        *overrides], Path(tmp) / f"{data_name}{i}")
                print(f"| {data_name} | derivtrain {name} | {metrics['train/log_likelihood']:.4f} | "
                      f"{metrics['test/log_likelihood']:.4f} | {metrics['train/steps']} | {seconds:.2f} |")
            train, test, iterations, seconds = sklearn_row(data_name)
            print(f"| {data_name} | scikit-learn GaussianMixture (tol=1e-3) | {train:.4f} | {test:.4f} | "
                  f"{iterations} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
