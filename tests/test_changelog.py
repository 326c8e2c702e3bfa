"""The version a user sees is one number, named by the changelog's newest entry, and a plugin
written for an older contract is told which version changed it."""
import re
import tomllib

import derivtrain
from derivtrain.contracts import LOSS_BASE_SINCE
from tests.conftest import REPO, run_main


def changelog_versions() -> list:
    return re.findall(r"^## (\d+\.\d+\.\d+) \(\d{4}-\d\d-\d\d\)$", (REPO / "CHANGELOG.md").read_text(), flags=re.M)


def test_one_version_everywhere_and_the_changelog_is_newest_first():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    versions = changelog_versions()
    assert project["version"] == derivtrain.__version__ == versions[0]
    as_numbers = [tuple(map(int, v.split("."))) for v in versions]
    assert as_numbers == sorted(as_numbers, reverse=True) and len(set(as_numbers)) == len(as_numbers)


def test_the_loss_contract_change_is_in_the_changelog_under_its_version():
    text = (REPO / "CHANGELOG.md").read_text()
    entry = text.split(f"## {LOSS_BASE_SINCE} ", 1)[1].split("\n## ", 1)[0]
    assert "subclasses `derivtrain.losses.Loss`" in entry and "class LogCoshLoss(Loss)" in entry


def test_the_convex_flag_is_in_the_changelog_under_its_version():
    from derivtrain.contracts import CONVEX_FLAG_SINCE

    text = (REPO / "CHANGELOG.md").read_text()
    entry = text.split(f"## {CONVEX_FLAG_SINCE} ", 1)[1].split("\n## ", 1)[0]
    assert "`convex = True`" in entry and "one warning line names a class that does not" in entry


def test_a_loss_written_for_0_1_0_is_told_the_version_that_changed_it(tmp_path):
    folder = tmp_path / "run"
    old_loss = "loss._target_=tests.contract_fixtures.PlainModuleLoss"
    proc = run_main("model=logistic", old_loss, f"hydra.run.dir={folder}")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"subclass derivtrain.losses.Loss instead of nn.Module: derivtrain {LOSS_BASE_SINCE} changed" in proc.stderr
    assert "CHANGELOG.md" in proc.stderr and not folder.exists()


def test_each_extra_is_one_use_and_dev_holds_them_all():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "derivtrain[launchers,export]" in extras["dev"]
    assert not set(extras["launchers"]) & set(extras["export"])
    tools = [r for r in extras["dev"] if not r.startswith("derivtrain[")]
    assert not {r.split(">")[0] for r in tools} & {r.split(">")[0] for r in extras["launchers"] + extras["export"]}
    # the field's solvers are for scripts/bench_field.py alone: CI (which installs dev) never gets them
    assert "bench" not in extras["dev"][0] and not {r.split(">")[0] for r in extras["bench"]} & set(tools)
