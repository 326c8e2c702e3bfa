"""README's "Writing a plugin", run exactly: its files are written out and its commands executed
(tests/walkthrough.py). Files are the fenced blocks after `<!-- file: PATH -->` markers; commands are
the lines of the ```sh blocks.
"""
import json

import pytest

from tests.conftest import REPO
from tests.walkthrough import commands, run, write_files

SECTION = (REPO / "README.md").read_text().split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
def test_walkthrough_from_an_empty_folder(tmp_path):
    assert write_files(SECTION, "file", tmp_path) == 10  # a loss plugin and a model plugin, five files each
    lines = commands(SECTION, "sh")
    assert [c for c in lines if c.startswith("pip")] == ["pip install -e myloss", "pip install -e mymodel"]
    for i, command in enumerate(lines):
        proc = run(command, tmp_path, ["trainer.max_epochs=20", "logger=none", f"hydra.run.dir={tmp_path / f'run{i}'}"])
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if command == "python -m derivtrain.plugins":
            assert "myloss (derivtrain_myloss 0.1.0): ok" in proc.stdout and "loss=myloss" in proc.stdout
    runs = sorted(tmp_path.glob("run*/metrics.json"))
    assert len(runs) == 2

    quadratic = json.loads(runs[-1].read_text())
    assert quadratic["test/accuracy"] >= 0.9  # wine, degree-2 features, 20 epochs
