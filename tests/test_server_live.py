"""A real server on a loopback port, driven by python-socketio clients (CONTRACTS.md §4)."""

import time
import urllib.request

import pytest

from tests.live import LiveServer, endless, example, make_app, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(make_app(tmp_path_factory.mktemp("live")))
    live.manager.warm_up()
    wait_for(lambda: live.manager.stats()["ready_workers"] == 2, 60, "two warm workers")
    yield live
    live.close()


def control(c, run_id, token, action, **extra):
    ack = c.call("control", {"run_id": run_id, "token": token, "action": action, **extra})
    assert ack["ok"], ack
    return ack["state"]


def get_json(url):
    import json

    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_metrics_stream_while_training(server, connect, transport):
    c = connect(server.url, transport)
    run_id, token = c.train(endless())
    wait_for(lambda: c.batches(run_id) >= 5, 30, "five run_metrics batches")
    assert [s["state"] for s in c.statuses(run_id)][:2] == ["starting", "running"]
    assert c.statuses(run_id)[1]["device"] == "cpu"
    points = c.points(run_id)
    assert {"step", "epoch", "time", "train_loss", "train_accuracy", "lr"} <= set(points[-1])
    steps = [p["step"] for p in points]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    start, n0 = time.time(), c.batches(run_id)
    time.sleep(1.0)
    rate = (c.batches(run_id) - n0) / (time.time() - start)
    assert 2 <= rate <= 22, f"{rate:.1f} run_metrics a second"
    control(c, run_id, token, "stop")
    c.wait_state(run_id, "stopped")


def test_pause_stops_the_stream_then_step_resume_and_stop(server, connect):
    c = connect(server.url)
    run_id, token = c.train(endless())
    wait_for(lambda: c.batches(run_id) >= 3, 30, "metrics")
    assert control(c, run_id, token, "pause") == "paused"
    paused = c.wait_state(run_id, "paused", timeout=5)
    count = len(c.points(run_id))
    time.sleep(0.5)
    assert len(c.points(run_id)) == count, "points arrived while paused"
    last = c.points(run_id)[-1]["step"]
    assert paused["step"] == last
    assert control(c, run_id, token, "step", steps=5) == "paused"
    wait_for(lambda: c.points(run_id)[-1]["step"] == last + 5, 5, "five single steps")
    time.sleep(0.3)
    assert c.points(run_id)[-1]["step"] == last + 5
    assert control(c, run_id, token, "resume") == "running"
    wait_for(lambda: c.points(run_id)[-1]["step"] > last + 50, 10, "training to go on")
    asked = time.time()
    assert control(c, run_id, token, "stop") == "stopped"
    c.wait_state(run_id, "stopped", timeout=5)
    took = next(t for name, t, p in c.events if name == "run_status"
                and p["state"] == "stopped") - asked
    assert took < 0.5, f"stop took {took:.3f} s"


def test_stop_while_paused_is_prompt(server, connect):
    c = connect(server.url)
    run_id, token = c.train(endless())
    wait_for(lambda: c.batches(run_id) >= 2, 30, "metrics")
    control(c, run_id, token, "pause")
    c.wait_state(run_id, "paused", timeout=5)
    asked = time.time()
    control(c, run_id, token, "stop")
    c.wait_state(run_id, "stopped", timeout=5)
    took = c.events[-1][1] - asked
    assert took < 0.5, f"stop took {took:.3f} s"
    assert control(c, run_id, token, "stop") == "stopped"  # stopping twice is harmless
    assert not c.call("control", {"run_id": run_id, "token": token, "action": "resume"})["ok"]


def test_a_learning_rate_change_shows_in_the_points(server, connect):
    c = connect(server.url)
    run_id, token = c.train(endless())
    wait_for(lambda: c.batches(run_id) >= 2, 30, "metrics")
    assert c.points(run_id)[-1]["lr"] == 0.01
    assert c.call("set_hparams", {"run_id": run_id, "token": token, "lr": 0.0005}) == {"ok": True}
    wait_for(lambda: c.points(run_id)[-1]["lr"] == 0.0005, 5, "points with the new lr")
    changed = next(i for i, p in enumerate(c.points(run_id)) if p["lr"] == 0.0005)
    time.sleep(0.3)
    assert {p["lr"] for p in c.points(run_id)[changed:]} == {0.0005}
    refused = c.call("set_hparams", {"run_id": run_id, "token": "not-it", "lr": 0.1})
    assert refused["ok"] is False and refused["error"] == "forbidden"
    control(c, run_id, token, "stop")


def test_a_watcher_gets_the_history_then_the_live_stream(server, connect):
    owner, audience = connect(server.url), connect(server.url, "polling")
    run_id, token = owner.train(endless())
    wait_for(lambda: owner.batches(run_id) >= 5, 30, "metrics")
    ack = audience.call("watch", {"run_id": run_id})
    assert ack["ok"] and ack["status"]["state"] == "running" and ack["status"]["watchers"] == 2
    history = ack["history"]
    assert len(history) >= 5
    wait_for(lambda: len(audience.points(run_id)) >= 5, 10, "live points for the watcher")
    live = audience.points(run_id)
    steps = [p["step"] for p in history + live]
    assert steps == sorted(steps) and len(set(steps)) == len(steps), "a gap or a repeat"
    assert owner.points(run_id)[:len(history)] == history
    owner.close()  # the page that started the run goes away; the run goes on
    wait_for(lambda: audience.statuses(run_id)[-1]["watchers"] == 1, 5, "watchers = 1")
    seen = len(audience.points(run_id))
    wait_for(lambda: len(audience.points(run_id)) > seen + 3, 10, "training to go on")
    control(audience, run_id, token, "stop")  # the token, not the connection, controls it
    audience.wait_state(run_id, "stopped")


def test_a_finished_run_can_be_watched_fetched_and_downloaded(server, connect):
    import onnxruntime as ort

    c = connect(server.url)
    run_id, _ = c.train(example(epochs=30))
    final = c.wait_state(run_id, "finished", "failed")
    assert final["state"] == "finished" and final["step"] > 0
    time.sleep(0.1)
    later = connect(server.url)
    ack = later.call("watch", {"run_id": run_id})
    assert ack["status"]["state"] == "finished"
    assert ack["history"] == c.points(run_id)
    assert "val_loss" in ack["history"][-1]
    summary = get_json(f"{server.url}/api/runs/{run_id}")
    assert summary["status"]["state"] == "finished" and summary["has_weights"]
    assert summary["result"]["val_accuracy"] is not None
    assert summary["config"]["epochs"] == 30 and summary["history"] == ack["history"]
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/model.onnx") as response:
        data = response.read()
        assert "spiral-mlp.onnx" in response.headers["Content-Disposition"]
        assert response.headers["X-Layerlab-Check"].startswith("ok=true")
    ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/model.onnx") as response:
        assert response.read() == data  # exported once, then served from disk
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/weights.safetensors") as r:
        assert r.headers["Content-Disposition"].endswith("spiral-mlp.safetensors")


def test_the_onnx_of_a_run_in_progress_is_a_conflict(server, connect):
    c = connect(server.url)
    run_id, token = c.train(endless())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/model.onnx")
    assert refused.value.code == 409
    control(c, run_id, token, "stop")


def test_bad_payloads_are_refused_and_the_next_run_trains(server, connect):
    c = connect(server.url)
    for event, payload in [("train", "not a document"), ("train", [1, 2, 3]),
                           ("control", {"run_id": "x", "action": "dance"}),
                           ("train", {**example(), "padding": "x" * (5 * 2**20)}),
                           ("train", {**example(), "edges": []}), ("watch", 42)]:
        ack = c.call(event, payload)
        assert ack["ok"] is False and ack["error"] in ("bad_request", "invalid_document"), ack
    run_id, _ = c.train(example(epochs=5))
    assert c.wait_state(run_id, "finished", "failed")["state"] == "finished"


def test_heavy_frames_reach_watchers_latest_wins(server, connect):
    c = connect(server.url)
    frames = []
    c.sio.on("run_activations", lambda payload: frames.append(payload) or "ack")
    run_id, token = c.train(endless())
    c.wait_state(run_id, "running")
    control(c, run_id, token, "pause")  # no pictures from the worker while paused
    c.wait_state(run_id, "paused")
    time.sleep(0.3)
    for step in range(200):
        server.manager.publish_frame(run_id, "run_activations",
                                     {"run_id": run_id, "step": step, "nodes": {}})
    wait_for(lambda: frames and frames[-1]["step"] == 199, 5, "the newest frame")
    assert len(frames) < 200  # frames that were overtaken while one was in flight were dropped
    control(c, run_id, token, "stop")


def test_slow_motion_speed_reaches_the_worker(server, connect):
    c = connect(server.url)
    run_id, token = c.train(endless())
    wait_for(lambda: c.batches(run_id) >= 2, 30, "metrics")
    assert c.call("set_hparams", {"run_id": run_id, "token": token, "speed": 4}) == {"ok": True}
    time.sleep(0.5)
    start = c.points(run_id)[-1]["step"]
    time.sleep(1.5)
    slow = c.points(run_id)[-1]["step"] - start
    assert 3 <= slow <= 9, f"{slow} steps in 1.5 s at 4 steps/s"
    bad = c.call("set_hparams", {"run_id": run_id, "token": token, "speed": -1})
    assert bad["ok"] is False and "speed" in bad["message"]
    assert c.call("set_hparams", {"run_id": run_id, "token": token, "speed": None})["ok"]
    time.sleep(0.5)
    assert c.points(run_id)[-1]["step"] - start > slow + 50
    control(c, run_id, token, "stop")


def test_watchers_follow_the_owner_on_to_the_next_run(server, connect):
    owner, audience = connect(server.url), connect(server.url)
    doc = endless()
    first = owner.call("train", doc)
    a, ta = first["run_id"], first["token"]
    ack = audience.call("watch", {"run_id": a})
    assert ack["ok"] and ack["design_key"] == first["design_key"] and ack["document"] == doc
    assert "next_run_id" not in ack
    b, tb = owner.train(doc)  # a still trains: the link is made on a live run

    def follow_on(run_id, token, next_id, next_token):
        return owner.call("follow_on", {"run_id": run_id, "token": token,
                                        "next_run_id": next_id, "next_token": next_token})

    assert follow_on(a, "wrong", b, tb)["error"] == "forbidden"
    assert follow_on(a, ta, b, "wrong")["error"] == "forbidden"
    assert follow_on(a, ta, "nope", tb)["error"] == "not_found"
    assert not audience.frames("run_next", a)
    assert follow_on(a, ta, b, tb) == {"ok": True}
    moved = wait_for(lambda: audience.frames("run_next", a), 5, "run_next")
    assert moved == [{"run_id": a, "next_run_id": b}]
    assert audience.call("unwatch", {"run_id": a})["ok"]
    ack = audience.call("watch", {"run_id": b})
    assert ack["status"]["watchers"] == 2  # the owner and the audience that moved on
    late = connect(server.url)
    ack = late.call("watch", {"run_id": a})
    assert ack["next_run_id"] == b and ack["latest_run_id"] == b
    control(owner, a, ta, "stop")

    control(owner, b, tb, "stop")  # a chain: a -> b -> c, linked after b ended
    owner.wait_state(b, "stopped")
    c, tc = owner.train(doc)
    assert follow_on(b, tb, c, tc) == {"ok": True}
    assert wait_for(lambda: audience.frames("run_next", b), 5, "run_next")[0]["next_run_id"] == c
    assert follow_on(c, tc, a, ta)["error"] == "conflict"  # a loop would never end
    ack = connect(server.url).call("watch", {"run_id": a})
    assert ack["next_run_id"] == b and ack["latest_run_id"] == c
    summary = get_json(f"{server.url}/api/runs/{a}")
    assert summary["next_run_id"] == b and summary["latest_run_id"] == c
    assert get_json(f"{server.url}/api/runs/{c}")["next_run_id"] is None
    control(owner, c, tc, "stop")
