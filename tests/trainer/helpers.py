"""Build and fit exactly what run() builds, with a logger that records what it is given."""
from derivtrain.config.solver import check_solver
from derivtrain.config.precision import run_dtype
from derivtrain.data import build_data
from derivtrain.devices import resolve_device
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.loop import fit
from tests.conftest import compose_config
from derivtrain.trainer.fitting import make_context


class RecordingLogger:
    histogram_every_n_epochs = 0

    def __init__(self):
        self.scalars = []  # (tag, value, step)

    def log_scalars(self, scalars, step):
        self.scalars += [(k, v, step) for k, v in scalars.items()]

    def values(self, tag):
        return [v for k, v, _ in self.scalars if k == tag]

    def log_histograms(self, model, step):
        pass


def fit_config(tmp_path, *overrides, resume_state=None, natural=False):
    """The gradient loop (SGD where the config would pick optim=auto), or with natural=True the
    fitter the defaults pick."""
    if natural or any(o.startswith("optim=") for o in overrides):
        cfg = compose_config(*overrides)
    else:  # SGD where optim=auto would pick a full-batch solver; models it trains by gradients keep theirs
        plain = compose_config(*[o for o in overrides if not o.startswith("optim.")])
        cfg = compose_config(*overrides, *(["optim=sgd"] if check_solver(plain) != "gradient" else []))
    seed_everything(cfg.trainer.seed)
    device = resolve_device(cfg.trainer.device)
    data = build_data(cfg.data, device, seed=cfg.trainer.seed, dtype=run_dtype(cfg, device))  # as run() builds it
    objective = build_objective(cfg, data)
    logger = RecordingLogger()
    context = make_context(cfg, objective, data, logger, tmp_path / "last.pt", resume_state=resume_state)
    result = fit_objective(context) if natural else fit(context)
    return result, logger, objective.model
