"""README's "Writing a plugin", run exactly: its files are written out and its commands executed.

Files are the fenced blocks after `<!-- file: PATH -->` markers; commands are the lines of the
```sh blocks. `pip install -e myloss` becomes an install into a private folder on PYTHONPATH, so
the test leaves the environment as it found it.
"""
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

SECTION = (REPO / "README.md").read_text().split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]


def walkthrough_files():
    return re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", SECTION, flags=re.S)


def walkthrough_commands():
    blocks = re.findall(r"```sh\n(.*?)```", SECTION, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_walkthrough_from_an_empty_folder(tmp_path):
    assert len(walkthrough_files()) == 10  # a loss plugin and a model plugin, five files each
    for rel, text in walkthrough_files():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONUNBUFFERED": "1"}
    commands = walkthrough_commands()
    assert [c for c in commands if c.startswith("pip")] == ["pip install -e myloss", "pip install -e mymodel"]
    for i, command in enumerate(commands):
        args = command.split()
        if args[:3] == ["pip", "install", "-e"]:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--target", str(site), str(tmp_path / args[3])], check=True, capture_output=True)
            continue
        assert args[:2] == ["python", "-m"], command
        if args[2] == "derivtrain":
            args += ["trainer.max_epochs=20", "logger=none", f"hydra.run.dir={tmp_path / f'run{i}'}"]
        proc = subprocess.run([sys.executable, *args[1:]], capture_output=True, text=True, cwd=tmp_path, env=env)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if args[2] == "derivtrain.plugins":
            assert "myloss (derivtrain_myloss 0.1.0): ok" in proc.stdout and "loss=myloss" in proc.stdout
    runs = sorted(tmp_path.glob("run*/metrics.json"))
    assert len(runs) == 2
    import json

    quadratic = json.loads(runs[-1].read_text())
    assert quadratic["test/accuracy"] >= 0.9  # wine, degree-2 features, 20 epochs
