"""Layer-wise RBM pre-training (deep belief nets, CONTRACTS.md §6) on supervised designs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from server.graph import parse_document, validate
from server.graph.pretrain import rbm_layers
from server.train import Control, Trainer
from server.train.pretrain import Pretrainer
from tests.live import ROOT, LiveServer, example, make_app, wait_for

pytestmark = pytest.mark.timeout(240)


def dbn(**pretrain) -> dict:
    doc = example("digits_dbn")
    doc["training"]["pretrain"].update(pretrain)
    return doc


def errors_of(doc) -> dict:
    return {e["param"]: e["message"] for e in validate(doc).errors}


def test_the_layers_to_pretrain_are_each_linear_sigmoid_before_the_output():
    assert rbm_layers(parse_document(dbn())) == [("h1", "s1"), ("h2", "s2")]
    doc = dbn()  # a Sigmoid output layer is the output: backprop's alone
    doc["nodes"].append({"id": "s3", "type": "Sigmoid"})
    doc["edges"].append({"source": "out", "target": "s3"})
    assert rbm_layers(parse_document(doc)) == [("h1", "s1"), ("h2", "s2")]


@pytest.mark.parametrize("pretrain, param, words", [
    ({"k": 0}, "training.pretrain.k", "integer from 1 to 100"),
    ({"lr": 0}, "training.pretrain.lr", "(0, 10]"),
    ({"lr": float("nan")}, "training.pretrain.lr", "(0, 10]"),
    ({"epochs": 0}, "training.pretrain.epochs", "integer from 1 to 1000"),
    ({"method": "pca"}, "training.pretrain.method", "one of none, rbm"),
    ({"momentum": 0.5}, "training.pretrain.momentum", "unknown pretrain field"),
])
def test_bad_pretrain_fields_are_refused_naming_them(pretrain, param, words):
    message = errors_of(dbn(**pretrain))[param]
    assert words in message, message


def test_pretraining_a_design_without_linear_sigmoid_is_an_error():
    doc = example("spiral_mlp", pretrain={"method": "rbm"})
    message = errors_of(doc)["training.pretrain"]
    assert "needs a Linear followed by a Sigmoid" in message and "pretrain.method" in message
    gan = example("gan_gaussians", pretrain={"method": "rbm"})
    assert "only used by kind supervised" in errors_of(gan)["training.pretrain"]
    assert validate(example("spiral_mlp", pretrain={"method": "none"})).ok


def test_the_rbms_weights_and_hidden_biases_become_the_layers():
    trainer = Trainer(dbn(epochs=2))
    trainer.setup()
    trainer.t0, trainer.paused_time = time.perf_counter(), 0.0
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    pre = Pretrainer(trainer)
    assert pre.run() and set(pre.errors) == {"h1", "h2"}
    after = trainer.model.state_dict()
    for key in ("layers.h1.weight", "layers.h1.bias", "layers.h2.weight", "layers.h2.bias"):
        assert not torch.equal(before[key], after[key]), key
    assert torch.equal(before["layers.out.weight"], after["layers.out.weight"])
    assert trainer.step == pre.steps() == 2 * 2 * 45  # layers x epochs x batches of 32


def test_the_digits_dbn_pretrains_each_layer_then_fine_tunes_and_exports():
    points = []
    result = Trainer(dbn(), on_point=points.append).run()
    pre = [p for p in points if p.get("phase") == "pretrain"]
    for layer in ("h1", "h2"):
        errors = [p["reconstruction_error"] for p in pre if p["layer"] == layer]
        assert len(errors) >= 5 and errors[-1] < errors[0], (layer, errors)
    assert [p["layer"] for p in pre] == sorted(p["layer"] for p in pre)  # h1 first, then h2
    tuned = [p for p in points if p.get("phase") == "train"]
    assert tuned and tuned[0]["step"] > pre[-1]["step"] and points.index(tuned[0]) > len(pre) - 1
    steps = [p["step"] for p in points]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert result.val_accuracy >= 0.9, result.val_accuracy
    assert result.epochs == 20 and set(result.pretrain) == {"h1", "h2"}
    from server.export import export_onnx

    path = ROOT / ".pytest-dbn.onnx"
    export_onnx(result.model.eval(), parse_document(dbn()), path)
    try:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
        (out,) = session.run(["output"], {"input": x})
        with torch.no_grad():
            expected = result.model.eval()(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    finally:
        path.unlink(missing_ok=True)


def test_pause_step_and_stop_work_while_pretraining():
    control = Control(paused=True)
    points, states = [], []
    trainer = Trainer(dbn(epochs=50), control=control, on_point=points.append,
                      on_status=states.append)
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=trainer.run()), daemon=True)
    thread.start()
    wait_for(lambda: any(s["state"] == "paused" for s in states), 30, "the pause")
    control.step(1)
    wait_for(lambda: points, 10, "the stepped point")
    assert points[0]["step"] == 1 and points[0]["phase"] == "pretrain"
    assert points[0]["layer"] == "h1"
    control.stop()
    thread.join(30)
    assert result["r"].state == "stopped" and result["r"].steps == 1


def test_layerlab_train_json_adds_each_layers_reconstruction_error(tmp_path):
    path = tmp_path / "dbn.layerlab.json"
    path.write_text(json.dumps(dbn(epochs=1)))
    proc = subprocess.run([sys.executable, "-m", "server", "train", str(path), "--json",
                           "--epochs", "1", "--out", str(tmp_path / "run")], cwd=ROOT,
                          capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary["pretrain"]) == {"h1", "h2"}
    assert all(0 < v < 1 for v in summary["pretrain"].values())
    assert summary["steps"] == 2 * 1 * 45 + 45  # pre-training's CD updates, then one epoch


def test_a_live_run_streams_pretraining_points_and_the_layers_filters(tmp_path, connect):
    live = LiveServer(make_app(tmp_path))
    try:
        c = connect(live.url)
        doc = copy.deepcopy(dbn(epochs=40))
        run_id, _ = c.train(doc)
        frame = wait_for(lambda: next(iter(c.frames("run_filters", run_id)), None), 60,
                         "a run_filters frame")
        assert frame["layer"] in ("h1", "h2")
        if frame["layer"] == "h1":
            assert frame["frame"]["shape"] == [64, 8, 8] and frame["units"] == 128
        final = c.wait_state(run_id, "finished", "failed", timeout=120)
        assert final["state"] == "finished", final
        points = c.points(run_id)
        assert {p["layer"] for p in points if p.get("phase") == "pretrain"} == {"h1", "h2"}
        assert points[-1]["phase"] == "train" and points[-1]["val_accuracy"] >= 0.9
    finally:
        live.close()
