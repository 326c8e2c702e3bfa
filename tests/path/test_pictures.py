"""The path on TensorBoard: the three figures and the per-point curves, from a real run's event file."""
import numpy as np

from tests.conftest import run_main


def test_an_l1_path_draws_coefficients_validation_and_non_zeros(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    proc = run_main("model=logistic", "regularizer=l1", "regularizer.path=auto", "regularizer.path_points=6",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0}).Reload()
    assert {"path/coefficients", "path/validation", "path/non_zeros"} <= set(acc.Tags()["images"])
    for tag in ("path/coefficients", "path/validation"):
        image = acc.Images(tag)[0]
        assert image.width > 300 and image.height > 200 and len(image.encoded_image_string) > 5000  # drawn
    non_zeros = [e.value for e in acc.Scalars("classification.path/non_zeros")]
    assert len(non_zeros) == 6 and non_zeros[0] == 0 and non_zeros[-1] > 0
    strengths = [e.value for e in acc.Scalars("classification.path/log10_strength")]
    assert np.all(np.diff(strengths) < 0)  # strongest first, one point per strength


def test_an_l2_path_has_no_non_zero_picture(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    assert run_main("model=logistic", "regularizer.path=[1,0.1,0.01]", f"hydra.run.dir={run_dir}").returncode == 0
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0}).Reload()
    assert "path/coefficients" in acc.Tags()["images"] and "path/non_zeros" not in acc.Tags()["images"]
