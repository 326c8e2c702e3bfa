"""README's "From Python" section runs as written: its python blocks in order, in one namespace, and
its `python -m derivtrain.export` line, in a fresh folder (so the docs cannot drift)."""
import re

import numpy as np
import pytest

from derivtrain.export import main as export_main
from tests.conftest import REPO

HEADING = "### From Python: estimators, `derivtrain.train`, export"


def section_blocks():
    text = (REPO / "README.md").read_text()
    section = text.split(HEADING, 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```(python|bash)\n(.*?)```", section, flags=re.S)


def test_from_python_section_runs(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    blocks = section_blocks()
    assert [kind for kind, _ in blocks] == ["python", "python", "bash", "python"]
    namespace = {}
    for kind, code in blocks:
        if kind == "python":
            exec(compile(code, "README.md", "exec"), namespace)
            continue
        for line in code.strip().splitlines():
            assert line.startswith("python -m derivtrain.export ")
            export_main(line.split()[3:])
    assert namespace["search"].best_score_ > 0.96 and namespace["svm"].score(namespace["X"], namespace["y"]) > 0.97
    run, X = namespace["run"], namespace["X"]
    assert (tmp_path / "outputs" / "from_python" / "metrics.json").is_file()
    assert np.abs(namespace["scores"] - run.model.decision_function(X[:3])).max() <= 1e-4
    assert np.abs(namespace["proba"] - run.model.predict_proba(X[:3])).max() <= 1e-4
