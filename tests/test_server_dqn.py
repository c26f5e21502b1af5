"""A dqn run through the real path: Socket.IO, the run manager, a spawned worker, the
environment's frames, its controls (pause, step, lr, ε, watch greedy) and the Q-network's ONNX.
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
    live = LiveServer(make_app(tmp_path_factory.mktemp("dqn"), TIMELINE_INTERVAL=0.2))
    yield live
    live.close()


def control(c, run_id, token, action, **extra):
    ack = c.call("control", {"run_id": run_id, "token": token, "action": action, **extra})
    assert ack["ok"], ack
    return ack["state"]


def test_a_frozen_lake_run_streams_the_grid_and_exports_its_q_network(server, connect):
    c = connect(server.url)
    run_id, _ = c.train(example("dqn_frozen_lake"))
    frame = wait_for(lambda: next(iter(c.frames("run_environment", run_id)), None), 60,
                     "a run_environment frame")
    assert {"step", "episode", "t", "state", "action", "reward", "q", "episode_return",
            "greedy", "values", "policy"} <= set(frame)
    assert len(frame["q"]) == 4 and len(frame["values"]) == len(frame["policy"]) == 16
    assert 0 <= frame["state"][0] < 16 and frame["greedy"] is False
    final = c.wait_state(run_id, "finished", "failed", timeout=120)
    assert final["state"] == "finished", final
    points = c.points(run_id)
    episodes = [p for p in points if "episode_return" in p]
    assert [p["episode"] for p in episodes] == list(range(1, len(episodes) + 1))
    assert {"td_loss", "q_mean", "epsilon"} <= set(points[-1])
    # The agent moves: frames show different cells and steps, at most 30 a second.
    frames = c.frames("run_environment", run_id)
    assert len({f["step"] for f in frames}) >= 2
    result = json.load(urllib.request.urlopen(f"{server.url}/api/runs/{run_id}"))["result"]
    assert result["episodes"] == len(episodes) and result["mean_return"] >= 0.7, result
    assert result["best_return"] == 1.0
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/model.onnx") as response:
        data = response.read()
        assert response.headers["X-Layerlab-Check"].startswith("ok=true")
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    (q,) = session.run(["output"], {"input": np.eye(16, dtype=np.float32)})
    assert q.shape == (16, 4)
    # The greedy policy from the ONNX model walks from the start to the goal.
    from server.envs import describe_environment, make_env

    env = make_env(describe_environment({"name": "frozen_lake"}))
    cell, _ = env.reset(seed=0)
    for _ in range(20):
        cell, reward, done, cut, _ = env.step(int(q[cell].argmax()))
        if done or cut:
            break
    assert reward == 1.0


def test_pause_step_rates_and_watch_greedy_on_a_live_run(server, connect):
    c = connect(server.url)
    doc = example("dqn_cartpole", steps=None)
    run_id, token = c.train(doc)
    wait_for(lambda: c.frames("run_environment", run_id), 60, "the first frame")
    assert control(c, run_id, token, "pause") == "paused"
    paused = c.wait_state(run_id, "paused")
    wait_for(lambda: c.frames("run_environment", run_id)[-1]["step"] == paused["step"], 10,
             "the frame of the paused step")
    before = c.frames("run_environment", run_id)[-1]
    assert control(c, run_id, token, "step", steps=1) == "paused"
    after = wait_for(lambda: next((f for f in c.frames("run_environment", run_id)
                                   if f["step"] == before["step"] + 1), None), 10, "the step")
    # One environment step: the transition that led here, and the state it left.
    assert after["action"] in (0, 1) and after["reward"] == 1.0
    assert after["t"] == before["t"] + 1 or after["t"] == 0
    assert after["state"] != before["state"]
    ack = c.call("set_hparams", {"run_id": run_id, "token": token, "lr": 0.002, "epsilon": 0.3})
    assert ack["ok"], ack
    ack = c.call("greedy", {"run_id": run_id, "token": token, "on": True})
    assert ack == {"ok": True, "greedy": True}
    assert control(c, run_id, token, "resume") == "running"
    point = wait_for(lambda: next((p for p in c.points(run_id)
                                   if p["step"] > after["step"] and p.get("epsilon") == 0.3),
                                  None), 30, "a point with the new epsilon")
    assert point["lr"] == 0.002
    greedy = wait_for(lambda: [f for f in c.frames("run_environment", run_id) if f["greedy"]][3:],
                      30, "greedy frames")
    # The greedy player takes one step a frame, in its own episode.
    ts = [f["t"] for f in greedy[:4]]
    assert all(b - a == 1 or b == 0 for a, b in zip(ts, ts[1:], strict=False)), ts
    assert control(c, run_id, token, "stop") in ("stopping", "stopped")
    c.wait_state(run_id, "stopped", timeout=30)


def test_bad_rates_and_greedy_on_another_kind_are_refused(server, connect):
    c = connect(server.url)
    run_id, token = c.train(example("spiral_mlp", epochs=None, steps=None))
    ack = c.call("set_hparams", {"run_id": run_id, "token": token, "epsilon": 1.5})
    assert not ack["ok"] and "epsilon must be a number in [0, 1]" in ack["message"], ack
    ack = c.call("greedy", {"run_id": run_id, "token": token, "on": True})
    assert not ack["ok"] and "greedy is for dqn runs" in ack["message"], ack
    ack = c.call("greedy", {"run_id": run_id, "token": token, "on": "yes"})
    assert not ack["ok"] and "on must be true or false" in ack["message"], ack
    ack = c.call("greedy", {"run_id": run_id, "token": "not-it", "on": True})
    assert ack["error"] == "forbidden", ack
    control(c, run_id, token, "stop")
    bad = example("dqn_cartpole")
    bad["training"]["environment"] = {"name": "pong"}
    ack = c.call("train", bad)
    assert not ack["ok"] and ack["errors"][0]["param"] == "training.environment.name", ack
    none = example("dqn_cartpole", environment=None)
    ack = c.call("train", none)
    assert not ack["ok"] and "choose an environment" in json.dumps(ack["errors"]), ack
