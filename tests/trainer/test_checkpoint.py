"""Checkpoints: durable writes, the last K kept, corrupt files named, pickled code never run."""
import pytest
import torch

from derivtrain.errors import UserError
from derivtrain.trainer.checkpoint import load_checkpoint, save_checkpoint


def test_keeps_the_newest_k_and_last_points_at_the_newest(tmp_path):
    last = tmp_path / "checkpoints" / "last.pt"
    for step in (1, 2, 3, 4):
        save_checkpoint(last, keep=2, step=step, weights=torch.full((3,), float(step)))
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.pt", "step-000000003.pt", "step-000000004.pt"]
    assert load_checkpoint(tmp_path)["step"] == 4
    assert torch.equal(torch.load(last, weights_only=True)["weights"], torch.full((3,), 4.0))


def test_a_corrupt_last_falls_back_to_the_previous_good_one(tmp_path, derivtrain_log):
    last = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(last, keep=2, step=1)
    save_checkpoint(last, keep=2, step=2)
    last.unlink()  # break the link first so the step file stays intact, then truncate last.pt
    data = (tmp_path / "checkpoints" / "step-000000002.pt").read_bytes()
    last.write_bytes(data[: len(data) // 2])
    (tmp_path / "checkpoints" / "step-000000002.pt").write_bytes(data[:10])
    assert load_checkpoint(tmp_path)["step"] == 1
    assert "last.pt is not a readable derivtrain checkpoint" in derivtrain_log.text


def test_a_truncated_file_named_directly_is_a_clear_error(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(tmp_path / "last.pt", step=0)
    path.write_bytes((tmp_path / "last.pt").read_bytes()[:50])
    with pytest.raises(UserError, match=r"model.pt is not a readable derivtrain checkpoint"):
        load_checkpoint(path)


class Payload:
    """Unpickling this would run code: it asks pickle to call open(...).write(...)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_a_checkpoint_with_a_pickle_payload_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "pwned.txt"
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"model": {}, "payload": Payload(marker)}, folder / "last.pt")
    with pytest.raises(UserError, match="not a readable derivtrain checkpoint"):
        load_checkpoint(tmp_path / "run")
    assert not marker.exists()
    import derivtrain

    with pytest.raises(UserError):
        derivtrain.load_run(tmp_path / "run")
    assert not marker.exists()
