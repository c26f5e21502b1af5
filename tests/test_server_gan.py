"""A gan run through the real path: Socket.IO, the run manager, a spawned worker, its pictures,
its controls (step D, step G, two learning rates) and the generator's ONNX download.
"""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

from tests.live import LiveServer, example, make_app, wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(make_app(tmp_path_factory.mktemp("gan"), TIMELINE_INTERVAL=0.2))
    yield live
    live.close()


def control(c, run_id, token, action, **extra):
    ack = c.call("control", {"run_id": run_id, "token": token, "action": action, **extra})
    assert ack["ok"], ack
    return ack["state"]


def first(c, event, run_id, timeout=60):
    return wait_for(lambda: next(iter(c.frames(event, run_id)), None), timeout, event)


def test_a_gan_run_streams_the_game_and_exports_its_generator(server, connect):
    c = connect(server.url)
    run_id, token = c.train(example("gan_gaussians", steps=400))
    generated = first(c, "run_generated", run_id)
    assert generated["kind"] == "points" and len(generated["points"]) == 256
    assert len(generated["gradients"]) == 256 and generated["manifold"]["size"] == [16, 16]
    boundary = first(c, "run_boundary", run_id)
    assert boundary["mode"] == "probability" and len(boundary["data"]) == 64 * 64
    nodes = first(c, "run_activations", run_id)["nodes"]
    assert {"g1", "g3", "d1", "d3"} <= set(nodes)
    final = c.wait_state(run_id, "finished", "failed", timeout=120)
    assert final["state"] == "finished", final
    points = c.points(run_id)
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(points[-1]) and "mmd" in points[-1]
    steps = [p["step"] for p in points]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    # The generated points move as G learns: the last frame is not the first.
    frames = c.frames("run_generated", run_id)
    assert len(frames) >= 2 and frames[-1]["points"] != frames[0]["points"]
    summary = json.load(urllib.request.urlopen(f"{server.url}/api/runs/{run_id}"))
    assert summary["result"]["mmd"] < summary["result"]["mmd_initial"]
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/model.onnx") as response:
        data = response.read()
        assert response.headers["X-Layerlab-Check"].startswith("ok=true")
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["noise"]
    (out,) = session.run(["output"], {"noise": np.zeros((3, 2), np.float32)})
    assert out.shape == (3, 2)
    seek = c.call("seek", {"run_id": run_id, "step": 10**9})
    assert seek["ok"] and seek["generated"]["kind"] == "points"


def test_step_d_step_g_and_both_while_paused(server, connect):
    c = connect(server.url)
    doc = example("gan_gaussians", steps=None)
    run_id, token = c.train(doc)
    wait_for(lambda: c.points(run_id), 60, "the first points")
    assert control(c, run_id, token, "pause") == "paused"
    paused = c.wait_state(run_id, "paused")
    wait_for(lambda: c.points(run_id)[-1]["step"] == paused["step"], 10, "the pause point")
    count = len(c.points(run_id))
    assert control(c, run_id, token, "step", steps=1, network="d") == "paused"
    wait_for(lambda: len(c.points(run_id)) > count, 10, "the D step's point")
    point = c.points(run_id)[-1]
    assert point["step"] == paused["step"] and "d_loss" in point and "g_loss" not in point
    count = len(c.points(run_id))
    assert control(c, run_id, token, "step", steps=1, network="g") == "paused"
    wait_for(lambda: len(c.points(run_id)) > count, 10, "the G step's point")
    point = c.points(run_id)[-1]
    assert point["step"] == paused["step"] and "g_loss" in point and "d_loss" not in point
    assert control(c, run_id, token, "step", steps=3, network="both") == "paused"
    wait_for(lambda: c.points(run_id)[-1]["step"] == paused["step"] + 3, 10, "three iterations")
    assert c.call("set_hparams", {"run_id": run_id, "token": token, "lr": 0.0003,
                                  "generator_lr": 0.0007})["ok"]
    assert control(c, run_id, token, "step", steps=1) == "paused"
    wait_for(lambda: c.points(run_id)[-1].get("generator_lr") == 0.0007, 10, "the new rates")
    assert c.points(run_id)[-1]["lr"] == 0.0003
    assert control(c, run_id, token, "stop") in ("stopped", "stopping")
    c.wait_state(run_id, "stopped")


def test_a_wrong_generator_is_refused_on_its_node_before_training(server, connect):
    c = connect(server.url)
    doc = example("gan_gaussians")
    next(n for n in doc["nodes"] if n["id"] == "g3")["params"]["out_features"] = 5
    ack = c.call("train", doc)
    assert not ack["ok"] and ack["error"] == "invalid_document", ack
    assert any(e["node"] == "g3" for e in ack["errors"]), ack
    report = c.call("validate", doc)
    assert any(e["node"] == "g3" and "[2]" in e["message"] for e in report["errors"]), report
