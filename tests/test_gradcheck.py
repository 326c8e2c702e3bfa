"""`python -m derivtrain.gradcheck`: the table, the verdicts, and the exit codes 0 / 1 / 2."""
import pytest
import torch

from derivtrain.gradcheck import main
from derivtrain.losses.hinge import HingeLoss
from tests.conftest import run_main


def rows(output: str) -> list:
    """(function, check, error, result) for each table row."""
    lines = output.strip().splitlines()
    assert lines[0].split()[:2] == ["function", "check"]
    table = lines[2:lines.index("")]
    return [[cell for cell in line.split("  ") if cell.strip()] for line in table]


def test_hinge_svm_passes_and_second_order_is_refused_as_documented(capsys):
    assert main(["loss=hinge"]) == 0
    table = rows(capsys.readouterr().out)
    checks = {(r[0].strip(), r[1].strip()): r for r in table}
    assert checks[("loss=hinge", "gradcheck")][3].strip() == "pass"
    assert float(checks[("loss=hinge", "gradcheck")][2]) < 1e-6
    assert "first order only" in checks[("loss=hinge", "gradgradcheck")][3]
    assert checks[("regularizer=l2", "gradgradcheck")][3].strip() == "pass"
    assert checks[("model=svm + loss + regularizer (fused full batch)", "gradcheck")][3].strip() == "pass"


@pytest.mark.parametrize("overrides", [
    ["loss=squared_hinge", "model=mlp", "data=wine", "regularizer=elastic_net"],
    ["model=svm", "data=iris", "model.multiclass=weston_watkins", "regularizer=l1"],
    ["model=logistic", "data=wine"],
])
def test_every_row_passes_or_is_not_applicable(overrides, capsys):
    assert main(overrides) == 0
    for row in rows(capsys.readouterr().out):
        assert row[3].strip() == "pass" or row[3].strip().startswith("n/a")


class WrongGradientHinge(HingeLoss):
    """A hinge whose backward is off by a factor of 2: the check must catch it."""

    def forward(self, scores, signs):
        return _Doubled.apply(super().forward(scores, signs))


class _Doubled(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return 2 * grad


def test_a_wrong_derivative_fails_with_exit_code_1(capsys):
    assert main(["loss=hinge", f"loss._target_={__name__}.WrongGradientHinge"]) == 1
    output = capsys.readouterr().out
    assert "FAIL" in output and "FAILED" in output


def test_bad_configuration_exits_2_with_one_line(capsys):
    assert main(["loss=hingee"]) == 2
    err = capsys.readouterr().err
    assert "did you mean hinge" in err and len(err.strip().splitlines()) == 1
    assert main(["model.multiclass=one_vs_one"]) == 2
    assert "model.multiclass=one_vs_one" in capsys.readouterr().err


def test_module_entry_point():
    proc = run_main("loss=multiclass_hinge", "model.multiclass=crammer_singer", "data=iris", module="derivtrain.gradcheck")
    assert proc.returncode == 0, proc.stderr
    assert "loss=multiclass_hinge" in proc.stdout and "pass" in proc.stdout
