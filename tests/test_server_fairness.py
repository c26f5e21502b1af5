"""One client cannot take every worker (per-client limit, fair queue), and non-finite metrics
leave the server as null with a status message (issue 16, findings 9 and 10)."""

import json
import math
import re
import time
import urllib.request

import pytest

from server.runs.run import Run, finite_point, start_order
from tests.live import LiveServer, diverging, endless, make_app, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(make_app(tmp_path_factory.mktemp("fair"), MAX_CONCURRENT_RUNS=1))
    live.manager.warm_up()
    wait_for(lambda: live.manager.stats()["ready_workers"] == 1, 90, "a warm worker")
    yield live
    live.close()


@pytest.fixture
def limit(server):
    """Runs per client for one test (the manager reads its config at each submit)."""
    config = server.manager.config
    before = config.max_per_client

    def set_limit(n: int) -> None:
        config.max_per_client = n

    yield set_limit
    config.max_per_client = before


def slow(c, doc=None):
    """Train an endless run (or `doc`) at 20 steps a second: it holds its worker cheaply."""
    run_id, token = c.train(doc or endless())
    assert c.call("set_hparams", {"run_id": run_id, "token": token, "speed": 20})["ok"]
    return run_id, token


def stop_all(c, runs):
    for run_id, token in runs:
        c.call("control", {"run_id": run_id, "token": token, "action": "stop"})
    for run_id, _ in runs:
        c.wait_state(run_id, "stopped", "finished", "failed")


def get_text(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_start_order_takes_the_least_served_client_first():
    def run(i, client):
        return Run(str(i), "", {}, client=client)

    queued = [run(1, "a"), run(2, "a"), run(3, "b"), run(4, "a"), run(5, "c"), run(6, "b")]
    order = start_order(queued, {"a": 4, "b": 2, "c": 1}, {"a": 1})
    assert [r.id for r in order] == ["5", "3", "6", "1", "2", "4"]  # fewest runs in all first
    queued = [run(1, "a"), run(2, "a"), run(3, "b"), run(4, "b"), run(5, "b")]
    order = start_order(queued, {"a": 3, "b": 3}, {"a": 1})
    assert [r.id for r in order] == ["3", "1", "4", "2", "5"]  # then turn about
    assert start_order([], {"a": 3}, {"a": 3}) == []


def test_finite_point_nulls_nan_and_infinity_and_names_them():
    point, message = finite_point({"step": 120, "train_loss": 0.5, "val_loss": math.inf,
                                   "val_accuracy": math.nan})
    assert point == {"step": 120, "train_loss": 0.5, "val_loss": None, "val_accuracy": None}
    assert message.startswith("val_loss is infinite, val_accuracy is NaN at step 120")
    assert finite_point({"step": 1, "train_loss": 0.25}) == ({"step": 1, "train_loss": 0.25},
                                                              None)


def test_a_client_at_its_limit_is_refused_while_another_trains(server, connect, limit):
    limit(2)
    a, b = connect(server.url), connect(server.url)
    mine = [slow(a), slow(a)]
    ack = a.call("train", endless())
    assert ack["ok"] is False and ack["error"] == "quota_exceeded"
    assert "2 runs queued or training" in ack["message"] and "MAX_RUNS_PER_CLIENT" in ack["message"]
    theirs = slow(b)
    assert b.wait_state(theirs[0], "queued")["queue_position"] == 1  # ahead of A's waiting run
    stop_all(a, mine[:1])
    again = slow(a)  # a stopped run frees its place
    stop_all(a, mine[1:] + [again])
    stop_all(b, [theirs])


def test_a_waiting_run_of_another_client_starts_before_older_ones(server, connect, limit):
    limit(3)
    a, b = connect(server.url), connect(server.url)
    first = slow(a)
    a.wait_state(first[0], "running")
    older = [slow(a), slow(a)]
    assert [a.statuses(r)[-1]["queue_position"] for r, _ in older] == [1, 2]
    newer = slow(b)
    assert b.wait_state(newer[0], "queued")["queue_position"] == 1
    wait_for(lambda: [a.statuses(r)[-1].get("queue_position") for r, _ in older] == [2, 3], 10,
             "A's waiting runs to move back behind B's")
    stop_all(a, [first])
    b.wait_state(newer[0], "starting", "running")
    assert all(s["state"] == "queued" for r, _ in older for s in a.statuses(r))
    wait_for(lambda: [a.statuses(r)[-1].get("queue_position") for r, _ in older] == [1, 2], 10,
             "A's runs to be next")
    stop_all(b, [newer])
    a.wait_state(older[0][0], "starting", "running")
    assert a.statuses(older[1][0])[-1]["state"] == "queued"
    stop_all(a, older)


def test_an_infinite_metric_leaves_as_null_with_a_status_message(server, connect):
    c = connect(server.url)
    run_id, token = slow(c)
    c.wait_state(run_id, "running")
    wait_for(lambda: c.points(run_id), 30, "a first point")
    manager = server.manager
    with manager.lock:  # a point as the worker sends it after a val_loss overflow
        run = manager.runs[run_id]
        step = run.step
        manager.on_message(run.worker, ("point", run_id, {
            "step": step, "epoch": 0.5, "time": 1.0, "lr": 0.01, "train_loss": 0.5,
            "val_loss": math.inf, "t_wall": time.time()}))
    bad = wait_for(lambda: [p for p in c.points(run_id) if "val_loss" in p
                            and p["val_loss"] is None], 10, "the null val_loss")
    assert bad[0]["step"] == step and bad[0]["train_loss"] == 0.5
    status = wait_for(lambda: next((s for s in c.statuses(run_id) if s.get("message")), None),
                      10, "a status with a message")
    assert status["message"].startswith(f"val_loss is infinite at step {step}:")
    text = get_text(f"{server.url}/api/runs/{run_id}")
    assert "Infinity" not in text and "NaN" not in text
    details = json.loads(text)
    assert details["status"]["message"] == status["message"]
    assert any(p.get("val_loss", 0) is None for p in details["history"])
    stop_all(c, [(run_id, token)])
    row = server.manager.store.get_run(run_id)
    assert row["status"] == "stopped" and row["message"] == status["message"]
    assert any(p.get("val_loss", 0) is None for p in server.manager.store.points(run_id))
    assert "Infinity" not in get_text(f"{server.url}/api/runs/{run_id}")


def test_a_diverged_run_fails_at_the_step_its_message_names(server, connect):
    c = connect(server.url)
    run_id, _ = c.train(diverging(epochs=100))
    failed = c.wait_state(run_id, "failed", "finished", timeout=60)
    assert failed["state"] == "failed"
    step = int(re.search(r"at step (\d+)", failed["message"]).group(1))
    assert failed["step"] == step
    assert server.manager.store.get_run(run_id)["step"] == step


def post_csv(url: str, name: str, text: str) -> dict:
    """POST /api/uploads as a page's form does (multipart, no Origin header)."""
    boundary = "layerlab-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\""
            f"\r\nContent-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n").encode()
    request = urllib.request.Request(f"{url}/api/uploads", data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.load(response)


def test_targets_near_1e18_give_an_infinite_val_loss_that_leaves_as_null(server, connect):
    # Squared errors near 1e37 fit a float32 batch mean, but 400 of them summed over the
    # validation split overflow: train_loss stays finite and val_loss is infinite.
    rows = "\n".join(f"{i / 2000:.4f},{(2 + i / 2000) * 1e18:.6e}" for i in range(2000))
    upload = post_csv(server.url, "huge.csv", f"x,y\n{rows}\n")
    doc = {"format": "layerlab.network", "version": 1, "name": "huge targets",
           "nodes": [{"id": "in", "type": "Input", "params": {"shape": [1]}},
                     {"id": "out", "type": "Linear", "params": {"out_features": 1}}],
           "edges": [{"source": "in", "target": "out"}],
           "training": {"dataset": {"name": "csv", "upload": upload["upload_id"], "target": "y"},
                        "epochs": 1, "batch_size": 8, "loss": "mse",
                        "optimizer": {"name": "sgd", "lr": 1e-40}}}
    c = connect(server.url)
    run_id, _ = c.train(doc)
    done = c.wait_state(run_id, "finished", "failed", timeout=60)
    assert done["state"] == "finished"
    assert re.match(r"val_loss is infinite at step \d+: ", done["message"])
    assert any("val_loss" in p and p["val_loss"] is None for p in c.points(run_id))
    text = get_text(f"{server.url}/api/runs/{run_id}")
    assert "Infinity" not in text and "NaN" not in text
    details = json.loads(text)
    assert details["status"]["message"] == done["message"]
    assert details["result"]["val_loss"] is None
