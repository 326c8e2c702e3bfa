"""A built wheel carries conf/ and trains in a fresh environment, without the source tree."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_installs_and_trains_without_the_source_tree(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(REPO)], check=True, capture_output=True)
    wheel, = dist.glob("derivtrain-*.whl")
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # torch & co. without a download: this interpreter's own site folders, added after the new
    # env's (so the wheel's derivtrain comes first). system_site_packages=True would instead give
    # the base interpreter's packages, which lack them when the tests run in a virtualenv.
    outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (Path(site) / "outer_site.pth").write_text(f"import site; list(map(site.addsitedir, {outer!r}))\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no source tree on the path
    where = subprocess.run([str(python), "-c", "import derivtrain.paths as p; print(p.__file__); "
                            "print(p.config_dir())"], capture_output=True, text=True, check=True, cwd=work, env=env)
    module_file, conf = where.stdout.split()
    assert module_file.startswith(str(env_dir)) and conf.startswith(str(env_dir)), where.stdout
    proc = subprocess.run([str(python), "-m", "derivtrain", "model=svm", "trainer.max_epochs=5", "logger=none",
                           f"hydra.run.dir={work / 'run'}"], capture_output=True, text=True, cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((work / "run" / "metrics.json").read_text())["test/accuracy"] > 0.8
