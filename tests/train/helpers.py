"""Build and fit exactly what run() builds, with a logger that records what it is given."""
from derivtrain.data import build_data
from derivtrain.devices import resolve_device
from derivtrain.run import build_objective, seed_everything
from derivtrain.train.loop import fit
from tests.conftest import compose_config


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


def fit_config(tmp_path, *overrides, resume_state=None):
    cfg = compose_config(*overrides)
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, resolve_device(cfg.trainer.device), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    logger = RecordingLogger()
    result = fit(objective, data, cfg.optim, cfg.trainer, logger, tmp_path / "last.pt", {},
                 resume_state=resume_state)
    return result, logger, objective.model
