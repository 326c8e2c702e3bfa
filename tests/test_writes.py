"""Every file derivtrain writes is created, never followed (derivtrain/writes.py): links planted in a
run folder (or where a run, an analysis, an export or a sweep summary writes) are refused with one
line and exit 2, and the file they point at is never opened for writing."""
import hashlib
import os
import shutil

import pytest

from derivtrain.errors import UserError
from derivtrain.writes import Folder, check_tree, write_text
from tests.conftest import run_main

BASE = ["model=logistic", "data=iris", "optim=sgd", "trainer.max_epochs=2", "trainer.checkpoint_every_n_epochs=1"]
PAYLOAD = "echo the user's own file\n"


def digest(folder) -> dict:
    """Every entry of a folder (links as links): 'nothing changed' made checkable."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = ("link:" + os.readlink(p) if p.is_symlink() else
                    hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("writes") / "run"
    proc = run_main(*BASE, "analysis=saliency", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.fixture
def victim(tmp_path):
    """A file of the user's outside every run folder (their shell start-up file, say)."""
    path = tmp_path / "victim" / ".bashrc"
    path.parent.mkdir()
    path.write_text(PAYLOAD)
    return path


def one_line_exit_2(proc, *words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


# --- the mechanism --------------------------------------------------------------------------------

def test_a_link_at_the_file_or_a_folder_on_the_way_is_refused(tmp_path, victim):
    (tmp_path / "run").mkdir()
    os.symlink(victim, tmp_path / "run" / "metrics.json")
    with pytest.raises(UserError, match="metrics.json is a symbolic link"):
        write_text(tmp_path / "run", "metrics.json", "{}")
    os.symlink(victim.parent, tmp_path / "run" / "attributions")
    with pytest.raises(UserError, match="attributions is a symbolic link"):
        write_text(tmp_path / "run", "attributions/importance.csv", "x")
    os.symlink(tmp_path / "run", tmp_path / "linked-run")
    with pytest.raises(UserError, match="linked-run is a symbolic link"):
        write_text(tmp_path / "linked-run", "new.txt", "x")
    assert victim.read_text() == PAYLOAD and sorted(p.name for p in victim.parent.iterdir()) == [".bashrc"]


def test_another_users_folder_or_file_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    (tmp_path / "run" / "theirs").mkdir(parents=True)
    os.chown(tmp_path / "run" / "theirs", os.geteuid() + 4321, -1)
    with pytest.raises(UserError, match="theirs belongs to another user"):
        write_text(tmp_path / "run", "theirs/file", "x")
    (tmp_path / "run" / "file").write_text("theirs")
    os.chown(tmp_path / "run" / "file", os.geteuid() + 4321, -1)
    with pytest.raises(UserError, match="file belongs to another user"):
        write_text(tmp_path / "run", "file", "mine")
    assert (tmp_path / "run" / "file").read_text() == "theirs"


def test_a_link_swapped_in_after_the_folder_was_opened_changes_nothing(tmp_path, victim):
    """The folder is held by its descriptor: renaming it away and planting a link at its path (the
    race a path-based check loses) leaves the write in the real folder."""
    (tmp_path / "run" / "attributions").mkdir(parents=True)
    with Folder(tmp_path / "run", "attributions") as folder:
        os.rename(tmp_path / "run" / "attributions", tmp_path / "run" / "moved")
        os.symlink(victim.parent, tmp_path / "run" / "attributions")
        folder.write_text(".bashrc", "derivtrain's line\n")
    assert victim.read_text() == PAYLOAD
    assert (tmp_path / "run" / "moved" / ".bashrc").read_text() == "derivtrain's line\n"


def test_replacing_leaves_no_temp_file_and_keeps_the_old_content_on_failure(tmp_path):
    (tmp_path / "run").mkdir()
    write_text(tmp_path / "run", "a.txt", "old")
    with pytest.raises(RuntimeError), Folder(tmp_path / "run") as folder, folder.replacing("a.txt") as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["a.txt"]
    assert (tmp_path / "run" / "a.txt").read_text() == "old"
    assert oct((tmp_path / "run" / "a.txt").stat().st_mode & 0o077) != oct(0)  # not a private 0600 file


def test_check_tree_finds_a_link_anywhere_in_the_folder(tmp_path, victim):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    check_tree(tmp_path / "run")
    os.symlink(victim, tmp_path / "run" / "checkpoints" / "step-000000009.pt")
    with pytest.raises(UserError, match="step-000000009.pt is a symbolic link"):
        check_tree(tmp_path / "run")


# --- the entry points -----------------------------------------------------------------------------

def test_analyze_writes_a_new_folder_of_its_own_and_never_the_run(finished, victim):
    """The audit's attack: attributions/importance.csv of a shared run linked to the user's start-up
    file. analyze now writes beside the run, never into it, so the link is not even looked at."""
    run = finished
    planted = run / "attributions" / "importance.csv"
    planted.unlink()
    os.symlink(victim, planted)
    before = digest(run)
    proc = run_main(f"run={run}", "analysis=saliency", module="derivtrain.analyze")
    assert proc.returncode == 0, proc.stderr
    out = run.with_name(run.name + "-analysis")
    assert {"importance.csv", "saliency.npz", "metrics.json"} <= {p.name for p in out.iterdir()}
    assert digest(run) == before and victim.read_text() == PAYLOAD
    proc = run_main(f"run={run}", "analysis=saliency", module="derivtrain.analyze")  # a second: a new folder
    assert proc.returncode == 0 and (run.with_name(run.name + "-analysis-2") / "metrics.json").is_file()


@pytest.mark.parametrize("where", ["run", "run_itself", "link"])
def test_analyze_out_never_names_a_run_or_a_link(finished, victim, tmp_path, where):
    out = {"run": finished, "run_itself": finished, "link": tmp_path / "out"}[where]
    if where == "link":
        os.symlink(victim.parent, out)
    before = digest(finished)
    proc = run_main(f"run={finished}", "analysis=saliency", f"out={out}", module="derivtrain.analyze")
    one_line_exit_2(proc, f"out={out}")
    assert digest(finished) == before and victim.read_text() == PAYLOAD


def test_resume_refuses_a_planted_hydra_link_before_writing(finished, victim, tmp_path):
    stopped = tmp_path / "stopped"
    shutil.copytree(finished, stopped, symlinks=True)
    (stopped / "metrics.json").unlink()  # as if it had stopped after its last checkpoint
    shutil.rmtree(stopped / ".hydra")
    os.symlink(victim.parent, stopped / ".hydra")
    before = digest(stopped)
    proc = run_main(*BASE[:-2], "trainer.max_epochs=3", f"trainer.resume={stopped}")
    one_line_exit_2(proc, ".hydra is a symbolic link")
    assert digest(stopped) == before and sorted(p.name for p in victim.parent.iterdir()) == [".bashrc"]


def test_resume_refuses_a_link_at_the_next_checkpoint(finished, victim, tmp_path):
    stopped = tmp_path / "stopped"
    shutil.copytree(finished, stopped, symlinks=True)
    (stopped / "metrics.json").unlink()
    os.symlink(victim, stopped / "checkpoints" / "step-000000003.pt")
    proc = run_main(*BASE[:-2], "trainer.max_epochs=3", f"trainer.resume={stopped}")
    one_line_exit_2(proc, "step-000000003.pt is a symbolic link")
    assert victim.read_text() == PAYLOAD


def test_a_run_folder_that_is_a_link_is_refused(tmp_path, victim):
    os.symlink(victim.parent, tmp_path / "run")
    proc = run_main(*BASE, f"hydra.run.dir={tmp_path / 'run'}")
    one_line_exit_2(proc, "is a symbolic link")
    assert sorted(p.name for p in victim.parent.iterdir()) == [".bashrc"]


def test_export_refuses_a_link_at_out(finished, victim, tmp_path):
    out = tmp_path / "model.pt"
    os.symlink(victim, out)
    proc = run_main(f"run={finished}", "format=torchscript", f"out={out}", module="derivtrain.export")
    one_line_exit_2(proc, f"out={out}")
    assert victim.read_text() == PAYLOAD


def test_export_writes_a_readable_file_not_a_private_one(finished, tmp_path):
    out = tmp_path / "model.pt"
    proc = run_main(f"run={finished}", "format=torchscript", f"out={out}", module="derivtrain.export")
    assert proc.returncode == 0, proc.stderr
    mode = out.stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask(), oct(mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
