"""Live insight through the real path: worker, pipe, drainer, FrameGate, Socket.IO client."""

import time

import numpy as np
import pytest

from tests.live import LiveServer, deep_sigmoid, endless, example, make_app, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(make_app(tmp_path_factory.mktemp("insight"), TIMELINE_INTERVAL=0.2))
    live.manager.warm_up()
    wait_for(lambda: live.manager.stats()["ready_workers"] == 2, 60, "two warm workers")
    yield live
    live.close()


def stop(c, run_id, token):
    assert c.call("control", {"run_id": run_id, "token": token, "action": "stop"})["ok"]
    c.wait_state(run_id, "stopped", "finished")


def first(c, event, run_id, timeout=30):
    """The first `event` payload of a run (waits for it)."""
    return wait_for(lambda: next(iter(c.frames(event, run_id)), None), timeout, event)


def shapes(frame):
    return {node: (f["kind"], f["shape"]) for node, f in frame["nodes"].items()}


def lstm_sequences(doc):
    """The LSTM example with return_sequences: its output is [time, hidden]."""
    next(n for n in doc["nodes"] if n["id"] == "lstm")["params"]["return_sequences"] = True
    doc["nodes"].insert(2, {"id": "last", "type": "Flatten"})
    doc["edges"] = [{"source": "in", "target": "lstm"}, {"source": "lstm", "target": "last"},
                    {"source": "last", "target": "out"}]
    return doc


def test_a_dense_run_streams_its_boundary_planes_health_results_and_weights(server, connect):
    c = connect(server.url)
    run_id, token = c.train(endless())
    boundary = first(c, "run_boundary", run_id)
    assert boundary["size"] == [64, 64] and boundary["extent"] == [-1.0, 1.0, -1.0, 1.0]
    assert boundary["mode"] == "probability" and len(boundary["data"]) == 64 * 64
    assert isinstance(boundary["data"], bytes)
    nodes = shapes(first(c, "run_activations", run_id))
    assert nodes["fc1"] == ("plane", [32, 24, 24]) and nodes["out"] == ("plane", [2, 24, 24])
    health = first(c, "run_health", run_id)
    assert set(health["gradients"]) == {"fc1", "fc2", "out"}
    assert health["nodes"]["a1"]["badges"] == [] and "dead_fraction" in health["nodes"]["a1"]
    results = first(c, "run_results", run_id)
    assert np.array(results["confusion"]).shape == (2, 2) and results["classes"] == ["0", "1"]
    assert {"index", "true", "pred", "confidence"} == set(results["predictions"][0])
    weights = first(c, "run_weights", run_id)["nodes"]
    assert weights["fc2"]["kind"] == "matrix" and weights["fc2"]["shape"] == [32, 32]
    wait_for(lambda: len(c.frames("run_boundary", run_id)) >= 5, 10, "five boundaries")
    steps = [f["step"] for f in c.frames("run_boundary", run_id)]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    assert first(c, "run_samples", run_id)["kind"] == "points"  # 2-D data: points, not images
    stop(c, run_id, token)


def test_a_convolutional_run_streams_feature_maps_and_its_sample_images(server, connect):
    c = connect(server.url)
    run_id, token = c.train(example("digits_cnn", epochs=None))
    nodes = shapes(first(c, "run_activations", run_id))
    assert nodes["conv1"] == ("maps", [16, 8, 8]) and nodes["pool2"] == ("maps", [32, 2, 2])
    assert nodes["out"] == ("units", [10])
    samples = first(c, "run_samples", run_id)
    assert samples["kind"] == "images" and len(samples["labels"]) == 32
    assert samples["frame"]["shape"] == [32, 1, 8, 8] and len(samples["frame"]["data"]) == 32 * 64
    assert np.array(first(c, "run_results", run_id)["confusion"]).shape == (10, 10)
    assert first(c, "run_weights", run_id)["nodes"]["fc1"]["kind"] == "histogram"
    assert not c.frames("run_boundary", run_id)  # images: no decision boundary
    stop(c, run_id, token)


def test_a_recurrent_run_streams_hidden_states_over_time(server, connect):
    c = connect(server.url)
    run_id, token = c.train(lstm_sequences(example("lstm_sine", epochs=None)))
    nodes = shapes(first(c, "run_activations", run_id))
    assert nodes["lstm"] == ("sequence", [20, 32]) and nodes["in"] == ("sequence", [20, 1])
    assert not c.frames("run_results", run_id)  # regression: no confusion matrix
    stop(c, run_id, token)


def test_the_final_boundary_matches_the_saved_weights(server, connect):
    import torch

    from server.graph import parse_document
    from server.insight import dequantize, plane_grid
    from server.model import apply_weights, build_model, load_weights

    c = connect(server.url)
    doc = example(epochs=40)
    run_id, _ = c.train(doc)
    done = c.wait_state(run_id, "finished", "failed", timeout=60)
    final = wait_for(lambda: next((f for f in c.frames("run_boundary", run_id)
                                   if f["step"] == done["step"]), None), 10, "the final boundary")
    model = build_model(parse_document(doc)).eval()
    weights = server.manager.store.run_dir(run_id) / "weights.safetensors"
    apply_weights(model, load_weights(weights))
    with torch.no_grad():
        grid = plane_grid(final["extent"], final["size"], "cpu")
        direct = torch.softmax(model(grid), dim=1)[:, 1].reshape(final["size"]).numpy()
    frame = {**final, "shape": final["size"]}
    np.testing.assert_allclose(dequantize(frame), direct, atol=1 / 255)


def test_twenty_sigmoid_layers_raise_a_vanishing_badge(server, connect):
    c = connect(server.url)
    run_id, token = c.train(deep_sigmoid(endless()))
    health = first(c, "run_health", run_id)
    fc0 = health["nodes"]["fc0"]
    assert "vanishing" in fc0["badges"] and fc0["hints"] and fc0["grad_norm"] is not None
    assert "vanishing" not in health["nodes"]["out"]["badges"]
    stop(c, run_id, token)


def test_a_client_that_never_acks_holds_one_frame_per_event_while_others_flow(server, connect):
    owner = connect(server.url)
    run_id, token = owner.train(endless())
    first(owner, "run_boundary", run_id)
    slow = connect(server.url, ack=False)
    assert slow.call("watch", {"run_id": run_id})["ok"]
    first(slow, "run_boundary", run_id)
    seen = len(owner.frames("run_boundary", run_id))
    time.sleep(2.0)
    assert len(owner.frames("run_boundary", run_id)) >= seen + 5, "the acking client stalled"
    for event in ("run_boundary", "run_activations", "run_health", "run_results",
                  "run_weights"):
        assert len(slow.frames(event, run_id)) <= 1, event
    assert len(slow.points(run_id)) > 10  # metrics are not gated
    stop(owner, run_id, token)


def test_no_pictures_are_made_while_nobody_watches(server, connect):
    manager = server.manager
    run_id, _, _ = manager.submit(example(epochs=60), lambda room: None, None)
    wait_for(lambda: not manager.is_live(run_id), 60, "the unwatched run to end")
    summary = manager.store.get_run(run_id)["summary"]
    assert summary["insight"]["frames"] == 0 and summary["state"] == "finished"
    assert [c["step"] for c in manager.timeline(run_id)] == [summary["steps"]]  # the final set


def test_pictures_stop_when_the_last_watcher_leaves_and_resume_for_the_next(server, connect):
    owner = connect(server.url)
    run_id, token = owner.train(endless())
    first(owner, "run_boundary", run_id)
    owner.close()
    run = server.manager.runs[run_id]
    wait_for(lambda: run.status()["watchers"] == 0, 5, "nobody watching")
    time.sleep(0.5)  # frames made before the worker heard of it have arrived
    made, step = run.frames.latest["run_boundary"]["step"], run.step
    time.sleep(1.0)
    assert run.step > step + 100, "training stalled"
    assert run.frames.latest["run_boundary"]["step"] == made, "pictures made for nobody"
    late = connect(server.url)
    ack = late.call("watch", {"run_id": run_id})
    assert ack["status"]["watchers"] == 1
    wait_for(lambda: any(f["step"] > run.step - 50 for f in late.frames("run_boundary", run_id)),
             10, "fresh pictures for the new watcher")
    stop(late, run_id, token)


def test_select_sample_changes_the_activation_frames(server, connect):
    from server.data import load_dataset
    from server.insight import dequantize

    doc = example("digits_cnn", epochs=None)
    x_val = load_dataset(doc["training"]["dataset"]).x_val
    c = connect(server.url)
    run_id, token = c.train(doc)
    before = first(c, "run_activations", run_id)["nodes"]["in"]
    np.testing.assert_allclose(dequantize(before), x_val[0], atol=1 / 255 + 1e-6)
    refused = c.call("select_sample", {"run_id": run_id, "token": "nope", "index": 5})
    assert refused["ok"] is False and refused["error"] == "forbidden"
    assert c.call("select_sample", {"run_id": run_id, "token": token, "index": 5}) == {"ok": True}
    after = wait_for(lambda: next((f["nodes"]["in"] for f in c.frames("run_activations", run_id)
                                   if f["nodes"]["in"]["data"] != before["data"]), None), 10,
                     "activations of sample 5")
    np.testing.assert_allclose(dequantize(after), x_val[5], atol=1 / 255 + 1e-6)
    bad = c.call("select_sample", {"run_id": run_id, "token": token, "index": -1})
    assert bad["ok"] is False and bad["error"] == "bad_request"
    stop(c, run_id, token)


def followed(c, run_id, index, timeout=10):
    """The first run_activations of a run that follows fixed sample `index` (waits for it)."""
    return wait_for(lambda: next((f for f in c.frames("run_activations", run_id)
                                  if f["selected"] == index), None), timeout,
                    f"activations of sample {index}")


def test_a_2d_run_sends_its_validation_points_and_follows_the_picked_one(server, connect):
    from server.data import load_dataset

    doc = endless()
    data = load_dataset(doc["training"]["dataset"])
    c = connect(server.url)
    run_id, token = c.train(doc)
    samples = first(c, "run_samples", run_id)
    assert samples["kind"] == "points" and samples["count"] == 32 and "frame" not in samples
    np.testing.assert_array_equal(np.array(samples["points"], np.float32), data.x_val[:32])
    assert samples["labels"] == data.y_val[:32].tolist() and samples["classes"] == ["0", "1"]
    assert samples["extent"] == [-1.0, 1.0, -1.0, 1.0]
    assert first(c, "run_activations", run_id)["selected"] == 0
    assert c.call("select_sample", {"run_id": run_id, "token": token, "index": 9}) == {"ok": True}
    fc1 = followed(c, run_id, 9)["nodes"]["fc1"]
    assert fc1["kind"] == "plane" and len(fc1["sample"]) == 32  # sample 9's value of each unit
    # The sample's own input, over the plane: its unit values are the picked point's.
    assert followed(c, run_id, 9)["nodes"]["in"]["sample"] == pytest.approx(
        data.x_val[9].tolist())
    stop(c, run_id, token)
    # The run's record keeps both: a later watcher gets the same samples and the last pick.
    assert c.call("seek", {"run_id": run_id, "step": 10**9})["activations"]["selected"] == 9
    late = connect(server.url)
    assert late.call("watch", {"run_id": run_id})["ok"]
    assert first(late, "run_samples", run_id, timeout=5) == samples


def test_a_sequence_run_sends_its_validation_sequences_and_follows_the_picked_one(server, connect):
    from server.data import load_dataset
    from server.insight import dequantize

    doc = example("lstm_sine", epochs=None)
    data = load_dataset(doc["training"]["dataset"])
    c = connect(server.url)
    run_id, token = c.train(doc)
    samples = first(c, "run_samples", run_id)
    assert samples["kind"] == "sequences" and samples["count"] == 32
    frame = samples["frame"]
    assert frame["shape"] == [32, 20, 1] and isinstance(frame["data"], bytes)
    step = (frame["max"] - frame["min"]) / 255
    np.testing.assert_allclose(dequantize(frame), data.x_val[:32], atol=step / 2 + 1e-6)
    np.testing.assert_allclose(samples["targets"], data.y_val[:32], rtol=1e-6)
    assert c.call("select_sample", {"run_id": run_id, "token": token, "index": 12})["ok"]
    nodes = followed(c, run_id, 12)["nodes"]
    np.testing.assert_allclose(dequantize(nodes["in"]), data.x_val[12],
                               atol=(nodes["in"]["max"] - nodes["in"]["min"]) / 255 + 1e-6)
    assert nodes["lstm"]["kind"] == "sequence" and nodes["lstm"]["shape"] == [20, 32]
    stop(c, run_id, token)


def test_select_sample_while_paused_sends_activations_at_once(server, connect):
    c = connect(server.url)
    run_id, token = c.train(example("digits_cnn", epochs=None))
    first(c, "run_activations", run_id)
    c.call("control", {"run_id": run_id, "token": token, "action": "pause"})
    c.wait_state(run_id, "paused")
    time.sleep(0.3)
    count = len(c.frames("run_activations", run_id))
    assert c.call("select_sample", {"run_id": run_id, "token": token, "index": 7})["ok"]
    wait_for(lambda: len(c.frames("run_activations", run_id)) > count, 5, "fresh activations")
    stop(c, run_id, token)


def test_watchers_count_follows_watch_and_unwatch(server, connect):
    owner, other = connect(server.url), connect(server.url)
    run_id, token = owner.train(endless())
    assert other.call("watch", {"run_id": run_id})["status"]["watchers"] == 2
    wait_for(lambda: owner.statuses(run_id)[-1]["watchers"] == 2, 5, "watchers = 2")
    assert other.call("unwatch", {"run_id": run_id}) == {"ok": True}
    wait_for(lambda: owner.statuses(run_id)[-1]["watchers"] == 1, 5, "watchers = 1")
    stop(owner, run_id, token)
