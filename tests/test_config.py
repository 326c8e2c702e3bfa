"""Every option of every config group composes, validates and instantiates."""
import pytest
import torch
from hydra.utils import instantiate

from derivtrain.config import GROUPS, validate
from derivtrain.config.path_checks import penalty_config
from derivtrain.data import build_data
from derivtrain.errors import ConfigError
from derivtrain.paths import config_dir
from tests.conftest import compose_config

DATA_FOR_TASK = {"classification": "iris", "regression": "diabetes", "density": "blobs"}


def options(group):
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def test_every_group_has_a_folder():
    assert sorted(p.name for p in config_dir().iterdir() if p.is_dir()) == sorted(GROUPS)


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_option_composes_and_validates(group, option):
    overrides = [f"{group}={option}"]
    if (group, option) == ("data", "csv"):
        overrides += ["data.path=x.csv", "data.target=y"]
    if (group, option) == ("data", "npy"):
        overrides += ["data.path=x.npy", "data.target=y.npy", "trainer.batch_size=64"]
    if (group, option) in (("data", "svmlight"), ("data", "npz")):
        overrides += ["data.path=x"] + (["data.target=y.npy"] if option == "npz" else [])
    if (group, option) == ("loss", "multiclass_hinge"):  # the default SVM's one multiclass key picks it
        overrides.append("model.multiclass=crammer_singer")
    if group == "model" and option == "linear":
        overrides.append("data=diabetes")
    # solvers that need another model than the default SVM: its own, where it suits
    overrides += {("optim", "em"): ["model=gmm"], ("optim", "newton"): ["model=logistic"],
                  ("optim", "lbfgs"): ["model=logistic"]}.get((group, option), [])
    cfg = compose_config(*overrides)
    validate(cfg)
    assert set(cfg) == set(GROUPS)


@pytest.mark.parametrize("model", options("model"))
def test_model_instantiates_with_its_natural_loss(model):
    cfg = compose_config(f"model={model}")
    loss = instantiate(cfg.loss)
    data = build_data(compose_config(f"data={DATA_FOR_TASK[loss.task]}").data, torch.device("cpu"), seed=0)
    net = instantiate(cfg.model, _partial_=True)(spec=data.spec)
    scores = net(data.train.X)
    assert scores.shape[0] == len(data.train)
    assert torch.isfinite(loss(scores, loss.encode_targets(data.train.y, data.spec.n_outputs)))
    # the regularizer node less regularizer.path's keys (run.py strips them, as data's split keys)
    assert instantiate(penalty_config(cfg.regularizer)).strength >= 0


def test_models_pick_their_loss_and_the_command_line_wins():
    assert compose_config("model=svm").loss._target_.endswith("HingeLoss")
    assert compose_config("model=logistic").loss._target_.endswith("CrossEntropyLoss")
    assert compose_config("model=linear").loss._target_.endswith("MSELoss")
    assert compose_config("model=svm").regularizer._target_.endswith("L2Penalty")
    assert compose_config("model=svm", "loss=cross_entropy").loss._target_.endswith("CrossEntropyLoss")


@pytest.mark.parametrize("override,match", [
    ("optim.lr=0", "optim.lr=0.0 must be > 0"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0 must be > 0"),
    ("trainer.batch_size=-4", "trainer.batch_size=-4 must be > 0"),
    ("data.test_size=1.5", r"data.test_size=1.5 must be in \[0, 1\)"),
    ("data.test_size=0", "must be > 0"),
    ("regularizer.strength=-1", "regularizer.strength=-1.0 must be >= 0"),
    ("trainer.device=gpu", "trainer.device=gpu is not valid"),
    ("optim.schedule=cosin", "did you mean cosine"),
    ("trainer.early_stopping.mode=up", "choices: auto, max, min"),
    ("data=csv", "data=csv needs data.path"),
    ("data=npy", "data=npy needs data.path"),
    ("trainer.cuda_graph=true optim=lbfgs model=logistic", "optim=lbfgs is not one"),
    ("trainer.cuda_graph=true trainer.on_nonfinite=skip_step", "skip_step decides on the host"),
    ("trainer.cuda_graph=true trainer=ddp", "runs in one process"),
])
def test_bad_values_are_caught_before_any_tensor(override, match):
    with pytest.raises(ConfigError, match=match):
        validate(compose_config(*override.split()))
