"""A model's natural loss follows the data's task: `model=mlp data=diabetes` trains with squared error.

A model names one loss per task in its class attribute `natural_losses` (derivtrain/models/base.py),
e.g. the MLP's {"classification": "cross_entropy", "regression": "mse"}. Its config file's
`override /loss: ...` is the loss for the default data; when the command line chooses no loss
and the data's task calls for another, the config is composed again with `loss=<natural>`, as if
the user had typed it. So `.hydra/config.yaml`, the pre-flight and every message see the loss
the run actually uses.

The task is read from the config alone (a bundled data set's name, `data.task`, the generators):
a file whose task is `auto` is known only once it is read; its mismatch is then a one-line error
naming the loss to add (derivtrain/run.py:check_compatible).
"""
from derivtrain.errors import ConfigError

# scikit-learn's bundled sets (derivtrain/data/bundled.py) and the generators that fix their task
BUNDLED_TASKS = {"breast_cancer": "classification", "iris": "classification", "wine": "classification",
                 "digits": "classification", "diabetes": "regression"}
GENERATOR_TASKS = {"derivtrain.data.counts.make_counts": "regression", "derivtrain.data.blobs.make_blobs": "density"}
_BUNDLED = "derivtrain.data.bundled.load_bundled"


def known_task(data_cfg):
    """The data's task as the config tells it, or None (a file with data.task=auto)."""
    task = data_cfg.get("task")
    if task in ("classification", "regression"):
        return task
    target = data_cfg.get("_target_")
    if target == _BUNDLED:
        return BUNDLED_TASKS.get(data_cfg.get("name"))
    return GENERATOR_TASKS.get(target)


def user_chose_loss(args) -> bool:
    """`loss=...` or any `loss.key=...` on the command line: the user's loss is kept as given."""
    return any(a.partition("=")[0].lstrip("+~").split(".")[0] == "loss" for a in args if "=" in a)


def natural_losses(model_target: str) -> dict:
    """The model class's `natural_losses` ({} for a model that names none, or one that does not import:
    the pre-flight reports that)."""
    from hydra.utils import get_class

    try:
        cls = get_class(model_target)
    except Exception:  # noqa: BLE001 - a bad _target_ is the pre-flight's one-line error, not this one's
        return {}
    losses = getattr(cls, "natural_losses", None)
    return dict(losses) if isinstance(losses, dict) else {}


def loss_override(config, args):
    """`loss=<name>` when the model's natural loss for the data's task is not the composed one, else None."""
    if user_chose_loss(args) or "_target_" not in config.get("model", {}):
        return None
    task = known_task(config.data)
    name = natural_losses(config.model._target_).get(task)
    chosen = config.hydra.runtime.choices.get("loss") if "hydra" in config else None
    if not isinstance(name, str) or name == chosen:
        return None
    return f"loss={name}"


def check_natural_loss(config, loss_cls, task) -> None:
    """The natural loss the model names for a task must be a loss for that task."""
    if task is not None and getattr(loss_cls, "task", task) != task:
        model = config.hydra.runtime.choices.get("model") if "hydra" in config else config.model._target_
        raise ConfigError(f"model={model} names {loss_cls.__name__} as its natural loss for {task}, but that loss "
                          f"is for {loss_cls.task}; fix the model's natural_losses, or pass loss=... for {task}")


def with_natural_loss(compose, args: list):
    """compose(overrides) -> config, composed again with the natural loss where the task calls for it."""
    config = compose(args)
    override = loss_override(config, args)
    if override is None:
        return config
    from hydra.errors import MissingConfigException
    from hydra.utils import get_class

    try:
        config = compose(args + [override])
    except MissingConfigException:
        raise ConfigError(f"model={config.hydra.runtime.choices.get('model')} names {override} as its natural loss "
                          f"for {known_task(config.data)} (natural_losses), but there is no such loss option; "
                          "fix the model's natural_losses, or pass loss=...") from None

    check_natural_loss(config, get_class(config.loss._target_), known_task(config.data))
    return config
