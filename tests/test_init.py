"""training.init and `layerlab train --init-weights` (CONTRACTS.md §7): start from an earlier
run's weights or an uploaded file; weights that do not fit are refused on the node."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from server.graph import validate
from server.graph.init import run_weights_path, weights_upload_path
from server.model import save_weights
from server.train import Trainer, TrainError
from tests.live import ROOT, LiveServer, example, make_app

pytestmark = pytest.mark.timeout(180)


def finished_run(data_dir, run_id="r1", **training) -> tuple:
    """Train the spiral briefly and leave its weights where a run's go."""
    doc = example("spiral_mlp", epochs=None, steps=1500, **training)
    result = Trainer(doc).run()
    save_weights(result.model, run_weights_path(data_dir, run_id))
    return doc, result


def test_a_run_started_from_another_continues_where_it_left_off(tmp_path):
    doc, old = finished_run(tmp_path)
    again = example("spiral_mlp", epochs=None, steps=50, init={"run": "r1"})
    assert validate(again, data_dir=tmp_path).ok
    trainer = Trainer(again, data_dir=tmp_path)
    trainer.setup()
    assert trainer.evaluate()["val_loss"] == pytest.approx(old.val_loss, rel=1e-6)
    fresh = Trainer(example("spiral_mlp"), data_dir=tmp_path)
    fresh.setup()
    assert fresh.evaluate()["val_loss"] > 2 * old.val_loss  # a fresh start is far from it
    points = []
    trainer = Trainer(again, data_dir=tmp_path, on_point=points.append)
    trainer.run()
    last_old = [p["train_loss"] for p in old.history if "train_loss" in p][-1]
    assert points[0]["train_loss"] == pytest.approx(last_old, rel=0.5, abs=0.05)


def test_weights_that_do_not_fit_are_refused_on_the_node(tmp_path):
    finished_run(tmp_path)
    doc = example("spiral_mlp", init={"run": "r1"})
    doc["nodes"][1]["params"]["out_features"] = 16
    errors = {e["node"]: e["message"] for e in validate(doc, data_dir=tmp_path).errors}
    assert "the init weights do not fit 'fc1': it has 48 parameters in the design, 96 in " \
           "the weights (bias [32], weight [32, 2])" in errors["fc1"]
    assert "fc2" in errors  # its input width changed too


def test_the_same_count_in_the_wrong_shape_is_refused_when_loading(tmp_path):
    _, old = finished_run(tmp_path)
    state = {k: v.clone() for k, v in old.model.state_dict().items()}
    state["layers.fc1.weight"] = state["layers.fc1.weight"].t().contiguous()  # [2, 32]
    save_weights(state, weights_upload_path(tmp_path, "w1"))
    doc = example("spiral_mlp", init={"weights": "w1"})
    assert validate(doc, data_dir=tmp_path).ok  # 64 numbers where 64 are wanted
    with pytest.raises(TrainError, match=r"do not fit 'fc1': layers.fc1.weight is \[32, 2\] in "
                                         r"the design and \[2, 32\] in the weights"):
        Trainer(doc, data_dir=tmp_path).run()


@pytest.mark.parametrize("init, param, words", [
    ({"run": "nope"}, "training.init.run", "run 'nope' left no weights"),
    ({"weights": "nope"}, "training.init.weights", "upload 'nope' holds no weights"),
    ({"run": "../../etc"}, "training.init.run", "must be an id"),
    ({"run": "a", "weights": "b"}, "training.init", '{"weights": upload id} or {"run": run id}'),
    ("r1", "training.init", 'an object like {"run": "RUN_ID"}'),
])
def test_bad_inits_name_their_field(tmp_path, init, param, words):
    errors = {e["param"]: e["message"] for e in
              validate(example("spiral_mlp", init=init), data_dir=tmp_path).errors}
    assert words in errors[param], errors


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = weights_upload_path(tmp_path, "junk")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff" * 64)
    (error,) = validate(example("spiral_mlp", init={"weights": "junk"}), data_dir=tmp_path).errors
    assert error["param"] == "training.init" and "is not a safetensors weights file" in \
        error["message"]


def test_a_dqn_and_a_gan_start_from_their_own_weights(tmp_path):
    doc = example("dqn_frozen_lake", steps=300)
    doc["training"]["dqn"]["learning_starts"] = 100
    result = kind_run(doc)
    save_weights(result.model, run_weights_path(tmp_path, "q1"))
    again = example("dqn_frozen_lake", steps=300, init={"run": "q1"})
    again["training"]["dqn"]["learning_starts"] = 100
    assert validate(again, data_dir=tmp_path).ok
    from server.kinds import kind_of

    trainer = kind_of(again).trainer(again, data_dir=tmp_path)
    trainer.setup()
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, trainer.model.state_dict()[key])
        assert torch.equal(value, trainer.target.state_dict()[key])  # the target starts equal
    gan = example("gan_gaussians", steps=20)
    save_weights(kind_run(gan).model, run_weights_path(tmp_path, "g1"))
    assert validate(example("gan_gaussians", init={"run": "g1"}), data_dir=tmp_path).ok
    bad = example("gan_gaussians", init={"run": "g1"})
    bad["nodes"][1]["params"]["out_features"] += 1
    assert any(e["node"] == bad["nodes"][1]["id"] and "do not fit" in e["message"]
               for e in validate(bad, data_dir=tmp_path).errors)


def kind_run(doc):
    from server.kinds import kind_of

    return kind_of(doc).trainer(doc).run()


def test_layerlab_train_init_weights(tmp_path):
    _, old = finished_run(tmp_path)
    weights = save_weights(old.model, tmp_path / "old.safetensors")
    path = tmp_path / "spiral.layerlab.json"
    path.write_text(json.dumps(example("spiral_mlp", epochs=None, steps=20)))

    def train(*extra):
        return subprocess.run([sys.executable, "-m", "server", "train", str(path), "--json",
                               "--out", str(tmp_path / "run"), *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    proc = train("--init-weights", str(weights))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["val_loss"] < 2 * old.val_loss
    proc = train("--init-weights", str(tmp_path / "missing.safetensors"))
    assert proc.returncode == 1
    assert "missing.safetensors does not exist" in json.loads(
        proc.stdout.strip().splitlines()[-1])["error"]


def test_a_live_run_starts_from_a_finished_one(tmp_path, connect):
    live = LiveServer(make_app(tmp_path))
    try:
        c = connect(live.url)
        first, _ = c.train(example("spiral_mlp", epochs=None, steps=300))
        assert c.wait_state(first, "finished", "failed", timeout=60)["state"] == "finished"
        second, _ = c.train(example("spiral_mlp", epochs=None, steps=30, init={"run": first}))
        assert c.wait_state(second, "finished", "failed", timeout=60)["state"] == "finished"
        before = [p for p in c.points(first) if "val_loss" in p][-1]["val_loss"]
        after = [p for p in c.points(second) if "val_loss" in p][-1]["val_loss"]
        assert after < 2 * before
        ack = c.call("train", example("spiral_mlp", init={"run": "gone"}))
        assert not ack["ok"] and ack["errors"][0]["param"] == "training.init.run", ack
    finally:
        live.close()
