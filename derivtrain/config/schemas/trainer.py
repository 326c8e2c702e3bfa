"""The `trainer`, `logger` and `diagnostics` groups: their schemas and the checks of their values."""
import re
from dataclasses import dataclass, field
from typing import Optional

from derivtrain.config.schemas.sweep import METRIC_NAMES
from derivtrain.config.values import positive
from derivtrain.errors import ConfigError, choice_error
from derivtrain.logging import LOGGERS  # logger.name -> factory: the one list of loggers

SWITCHES = ("auto", "true", "false")  # trainer.progress_bar (Hydra turns false into False)
ON_NONFINITE = ("stop", "skip_step")
SHUFFLES = ("rows", "batches")
PRECISIONS = ("32", "bf16")
STRATEGIES = ("single", "ddp")
BACKENDS = ("auto", "gloo", "nccl")
MODES = ("auto", "min", "max")  # trainer.early_stopping.mode
# what validation reports (evaluate() in derivtrain/trainer/metrics.py), the metrics early stopping reads
EARLY_STOPPING_MONITORS = tuple(f"val/{name}" for name in METRIC_NAMES)
HESSIAN_METHODS = ("auto", "exact", "finite_difference")  # diagnostics.hessian_method (trainer/curvature.py)


@dataclass
class EarlyStoppingSchema:
    monitor: str = "val/loss"
    mode: str = "auto"  # auto | min | max (auto: max for accuracy, f1 and r2, min otherwise)
    # validations without improvement before stopping; 0 = never; null = 20 under optim=auto (10 on
    # minibatch epochs), else never (derivtrain/trainer/stop_rules.py)
    patience: Optional[int] = None
    min_delta: float = 0.0
    # an improvement must also beat min_rel_delta x |best| (scikit-learn's MLP tol); null = 1e-4 for
    # optim=auto's minibatch epochs, else 0 (derivtrain/trainer/stop_rules.py)
    min_rel_delta: Optional[float] = None
    restore_best: bool = True  # end on the best validation's weights, not the last epoch's


@dataclass
class TrainerSchema:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0
    # the gradient loop's cap (it stops earlier on early stopping or stationarity), a solver's iteration cap;
    # null = 1000 for the gradient loop under optim=auto (its stopping tests end it), else 100
    max_epochs: Optional[int] = None
    # stop once the full-batch gradient norm is below gradient_tol x its first value; 0 = never;
    # null = 1e-4 under optim=auto, else never (derivtrain/trainer/stop_rules.py)
    gradient_tol: Optional[float] = None
    # null = full batch; optim=auto: minibatches of 1024 above 4096 training rows (trainer/auto_batch.py)
    batch_size: Optional[int] = None
    val_every_n_epochs: int = 1  # 0 = never; where no decision reads it, at most 30 a run and 4% of its time (epoch_end.py)
    log_every_n_steps: Optional[int] = None  # null: one loss point per epoch, at most 100 a run
    checkpoint_every_n_epochs: int = 0  # 0 = only the final checkpoints/last.pt
    on_nonfinite: str = "stop"  # stop | skip_step: what a NaN/Inf loss or gradient does
    keep_checkpoints: int = 2  # step files kept beside last.pt (an unreadable last.pt falls back to them)
    gradient_clip_norm: Optional[float] = None
    resume: Optional[str] = None  # a run folder or checkpoint file to continue from; auto: this run's own, if any
    progress_bar: str = "auto"  # auto (on a terminal) | true | false
    shuffle: str = "rows"  # rows (new row order each epoch) | batches (contiguous batches, new batch order)
    precision: str = "32"  # 32 | bf16 (autocast: matrix products in bfloat16)
    compile: bool = False  # torch.compile the model's forward
    cuda_graph: bool = False  # CUDA: capture the whole step once, replay it per batch (trainer/cuda_graph.py)
    strategy: str = "single"  # single | ddp (data parallel under torchrun; see conf/trainer/ddp.yaml)
    backend: str = "auto"  # ddp: auto (nccl on CUDA, gloo on CPU) | gloo | nccl
    early_stopping: EarlyStoppingSchema = field(default_factory=EarlyStoppingSchema)


@dataclass
class LoggerSchema:
    name: str = "tensorboard"  # tensorboard | none
    histogram_every_n_epochs: int = 10  # weight and gradient histograms; 0 = never


@dataclass
class DiagnosticsSchema:
    hessian_every_n_epochs: int = 0  # log the top Hessian eigenvalue (sharpness) every N epochs; 0 = never
    hessian_iterations: int = 20  # Lanczos steps, one Hessian-vector product each
    hessian_method: str = "auto"  # auto | exact (double backward) | finite_difference
    hessian_max_samples: Optional[int] = 10000  # training rows the estimate uses; null = all


TRAINER_SCHEMAS = {"trainer": TrainerSchema}
LOGGER_SCHEMAS = {"logger": LoggerSchema}
DIAGNOSTICS_SCHEMAS = {"diagnostics": DiagnosticsSchema}


def check_trainer(t) -> None:
    positive("trainer.max_epochs", t.max_epochs)
    positive("trainer.batch_size", t.batch_size)
    positive("trainer.log_every_n_steps", t.log_every_n_steps)
    positive("trainer.val_every_n_epochs", t.val_every_n_epochs, allow_zero=True)
    positive("trainer.checkpoint_every_n_epochs", t.checkpoint_every_n_epochs, allow_zero=True)
    positive("trainer.keep_checkpoints", t.keep_checkpoints)
    positive("trainer.gradient_clip_norm", t.gradient_clip_norm)
    if str(t.progress_bar).lower() not in SWITCHES:
        raise choice_error("trainer.progress_bar", t.progress_bar, SWITCHES)
    for key, choices in (("on_nonfinite", ON_NONFINITE), ("shuffle", SHUFFLES), ("precision", PRECISIONS),
                         ("strategy", STRATEGIES), ("backend", BACKENDS)):
        if str(t[key]) not in choices:
            raise choice_error(f"trainer.{key}", t[key], choices)
    es = t.early_stopping
    if es.monitor not in EARLY_STOPPING_MONITORS:  # every optim: a fitter that never reads it is no excuse
        raise choice_error("trainer.early_stopping.monitor", es.monitor, EARLY_STOPPING_MONITORS)
    if es.mode not in MODES:
        raise choice_error("trainer.early_stopping.mode", es.mode, MODES)
    if es.patience and not t.val_every_n_epochs:
        raise ConfigError("trainer.early_stopping.patience needs validation: set trainer.val_every_n_epochs >= 1")


def check_logger(logger) -> None:
    if logger.name not in LOGGERS:
        raise choice_error("logger.name", logger.name, tuple(LOGGERS))


def check_diagnostics(d) -> None:
    positive("diagnostics.hessian_every_n_epochs", d.hessian_every_n_epochs, allow_zero=True)
    positive("diagnostics.hessian_iterations", d.hessian_iterations)
    positive("diagnostics.hessian_max_samples", d.hessian_max_samples)
    if d.hessian_method not in HESSIAN_METHODS:
        raise choice_error("diagnostics.hessian_method", d.hessian_method, HESSIAN_METHODS)


def check_cuda_graph(t, o, fitter: str) -> None:
    """A captured step replays fixed kernels: nothing in it may need the host or other processes."""
    if not t.cuda_graph:
        return
    if t.on_nonfinite == "skip_step":
        raise ConfigError("trainer.on_nonfinite=skip_step decides on the host at every step, which a CUDA graph "
                          "cannot; use trainer.on_nonfinite=stop (checked at the logging interval) with cuda_graph")
    if t.strategy == "ddp":
        raise ConfigError("trainer.cuda_graph=true runs in one process; drop trainer=ddp or cuda_graph")
    if fitter != "gradient" or o.name == "lbfgs":
        chosen = f"optim={o.name}" + (f" (here: the {fitter} solver)" if o.name == "auto" else "")
        raise ConfigError(f"trainer.cuda_graph=true captures one gradient step; {chosen} is not one "
                          "(use optim=sgd, adam or adamw)")


def check_device_name(device: str) -> None:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(device)):
        raise choice_error("trainer.device", device, ("auto", "cpu", "cuda", "cuda:0"))
