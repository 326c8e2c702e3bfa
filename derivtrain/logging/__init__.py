"""Where training reports go: TensorBoard event files, the progress bar, the `derivtrain` logger.

    console.py      the `derivtrain` logger (log, configure_logging)
    base.py         NullLogger: the logger interface, and logger=none
    tensorboard.py  TensorBoardLogger: event files in the run folder
    dashboard.py    what TensorBoard opens on: tag names, custom-scalars layout, HPARAMS, results
    progress.py     Progress: a tqdm bar on a terminal, a line per interval elsewhere

TensorBoard is imported only when logger=tensorboard.
"""
from derivtrain.logging.base import NullLogger
from derivtrain.logging.console import configure_logging, log
from derivtrain.logging.progress import Progress

__all__ = ["LOGGERS", "NullLogger", "Progress", "configure_logging", "log", "make_logger"]


def _tensorboard(cfg, run_dir, purge_step):
    from derivtrain.logging.tensorboard import TensorBoardLogger

    return TensorBoardLogger(run_dir, cfg.histogram_every_n_epochs, purge_step)


def _none(cfg, run_dir, purge_step):
    return NullLogger()


# logger.name -> factory(logger config, run folder, purge_step): the one list of loggers, which the
# config check reads too (derivtrain/config/schemas/trainer.py); a new logger is one more entry
LOGGERS = {"tensorboard": _tensorboard, "none": _none}


def make_logger(cfg, run_dir, purge_step=None):
    return LOGGERS[cfg.name](cfg, run_dir, purge_step)
