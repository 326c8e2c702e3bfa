"""The optimizers without torch._dynamo (derivtrain/trainer/eager_optimizers.py) take torch's steps bit for bit,
keep torch's state and checkpoints, and a gradient run never imports torch._dynamo."""
import subprocess
import sys

import pytest
import torch

from derivtrain.trainer.eager_optimizers import eager

OPTIMIZERS = [(torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3, fused=True)),
              (torch.optim.SGD, dict(lr=0.05, foreach=True)),
              (torch.optim.Adam, dict(lr=0.01, weight_decay=1e-3, fused=True)),
              (torch.optim.AdamW, dict(lr=0.01, foreach=True)),
              (torch.optim.LBFGS, dict(lr=1.0, max_iter=5, line_search_fn="strong_wolfe"))]


def _regression():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y / y.std(), dtype=torch.float32)


def _trained(cls, options, steps, state=None):
    """A two-layer network's weights after `steps` steps of cls on diabetes, and the optimizer's state."""
    torch.manual_seed(0)
    X, y = _regression()
    model = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = cls(model.parameters(), **options)
    if state is not None:
        model.load_state_dict(state[0])
        optimizer.load_state_dict(state[1])

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(X).squeeze(1), y)
        loss.backward()
        return loss

    for _ in range(steps):
        if isinstance(optimizer, torch.optim.LBFGS):
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
    return model.state_dict(), optimizer.state_dict()


@pytest.mark.parametrize("cls, options", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_eager_steps_are_torchs_bit_for_bit(cls, options):
    stock, mine = _trained(cls, options, 12), _trained(eager(cls), options, 12)
    assert eager(cls) is not cls and issubclass(eager(cls), cls)
    for name, value in stock[0].items():
        assert torch.equal(value, mine[0][name]), name
    assert repr(stock[1]) == repr(mine[1])  # the same state: momenta, step counts, param groups
    first = _trained(cls, options, 1)
    assert not all(torch.equal(value, first[0][name]) for name, value in stock[0].items())  # the steps moved


@pytest.mark.parametrize("cls, options", OPTIMIZERS[:3], ids=lambda v: getattr(v, "__name__", ""))
def test_a_checkpoint_of_either_resumes_in_the_other(cls, options):
    """6 steps of torch's optimizer, its state loaded into the eager one, 6 more: the 12 steps of either."""
    halfway = _trained(cls, options, 6)
    resumed, straight = _trained(eager(cls), options, 6, state=halfway), _trained(cls, options, 12)
    for name, value in straight[0].items():
        assert torch.equal(value, resumed[0][name]), name


def test_schedules_drive_the_eager_optimizer():
    params = [torch.nn.Parameter(torch.ones(3))]
    optimizer = eager(torch.optim.SGD)(params, lr=1.0)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    for _ in range(3):
        params[0].grad = torch.ones(3)
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == 0.125
    assert torch.equal(params[0].detach(), torch.full((3,), 1.0 - 1.0 - 0.5 - 0.25))


def test_a_gradient_run_does_not_import_dynamo(tmp_path):
    """A whole run with torch.optim's Adam (the MLP's default) and one with SGD, in a fresh process."""
    code = ("import sys, derivtrain\n"
            f"derivtrain.train('model=mlp', 'data=breast_cancer', 'trainer.max_epochs=3', 'logger=none', "
            f"'hydra.run.dir={tmp_path / 'mlp'}')\n"
            f"derivtrain.train('model=logistic', 'data=breast_cancer', 'optim=sgd', 'trainer.max_epochs=3', "
            f"'logger=none', 'hydra.run.dir={tmp_path / 'sgd'}')\n"
            "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "mlp" / "metrics.json").is_file() and (tmp_path / "sgd" / "metrics.json").is_file()
