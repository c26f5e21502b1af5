"""The run manager under load and failure: the queue, crashed workers, diverging runs."""

import os
import signal

import pytest

from tests.live import diverging, endless, example, wait_for

pytestmark = pytest.mark.timeout(120)


def manager(app):
    return app.extensions["layerlab"].manager


def test_four_runs_with_room_for_two_queue_and_all_finish(app, live_server, connect):
    c = connect(live_server)
    runs = [c.train(example(epochs=150, seed=i))[0] for i in range(4)]
    for run_id in runs:
        assert c.wait_state(run_id, "finished", "failed", timeout=90)["state"] == "finished"
    third, fourth = (c.statuses(r) for r in runs[2:])
    assert third[0]["state"] == "queued" and third[0]["queue_position"] == 1
    assert fourth[0]["state"] == "queued" and fourth[0]["queue_position"] == 2
    assert [s["queue_position"] for s in fourth if s["state"] == "queued"][-1] == 1
    active, most = set(), 0
    for name, _, payload in list(c.events):
        if name == "run_status":
            alive = payload["state"] in ("starting", "running", "paused")
            (active.add if alive else active.discard)(payload["run_id"])
            most = max(most, len(active))
    assert most == 2
    assert manager(app).stats()["workers"] == 2


def test_a_queued_run_can_be_stopped_and_the_queue_moves_up(app, live_server, connect):
    c = connect(live_server)
    (a, ta), (b, tb), (q1, t1), (q2, _) = (c.train(endless()) for _ in range(4))
    assert c.call("control", {"run_id": q1, "token": t1, "action": "stop"}) == {
        "ok": True, "state": "stopped"}
    wait_for(lambda: c.statuses(q2)[-1].get("queue_position") == 1, 5, "q2 to move up")
    for run_id, token in ((a, ta), (b, tb)):
        c.call("control", {"run_id": run_id, "token": token, "action": "stop"})
    assert c.wait_state(q2, "running", timeout=30)


def test_a_killed_worker_fails_its_run_only_and_is_replaced(app, live_server, connect):
    c = connect(live_server)
    doomed, _ = c.train(endless())
    other, _ = c.train(example(epochs=400))
    c.wait_state(doomed, "running")
    pid = manager(app).runs[doomed].worker.process.pid
    os.kill(pid, signal.SIGKILL)  # what the OOM killer does
    failed = c.wait_state(doomed, "failed", timeout=10)
    assert "training process ended unexpectedly" in failed["message"]
    assert "SIGKILL" in failed["message"]
    assert c.wait_state(other, "finished", "failed", timeout=60)["state"] == "finished"
    after, _ = c.train(example(epochs=5))
    assert c.wait_state(after, "finished", "failed", timeout=60)["state"] == "finished"
    assert pid not in {w.process.pid for w in manager(app).pool.workers}


def test_a_diverging_run_fails_with_a_message_while_another_finishes(app, live_server, connect):
    c = connect(live_server)
    good, _ = c.train(example(epochs=100))
    bad, _ = c.train(diverging(epochs=100))
    failed = c.wait_state(bad, "failed", "finished", timeout=60)
    assert failed["state"] == "failed" and "NaN" in failed["message"]
    assert "learning rate" in failed["message"]
    assert c.wait_state(good, "finished", "failed", timeout=60)["state"] == "finished"


def test_shutdown_stops_and_records_every_run(app, live_server, connect):
    c = connect(live_server)
    running, _ = c.train(endless())
    c.train(endless())
    queued, _ = c.train(endless())
    c.wait_state(running, "running")
    app.extensions["layerlab"].manager.shutdown()
    store = app.extensions["layerlab"].store
    assert store.get_run(running)["status"] == "stopped"
    assert store.get_run(queued)["status"] == "stopped"
    assert "before this run started" in store.get_run(queued)["message"]
    assert (store.run_dir(running) / "weights.safetensors").is_file()


def test_a_full_queue_refuses_more_runs(tmp_path, connect):
    from tests.live import LiveServer, make_app

    live = LiveServer(make_app(tmp_path, MAX_CONCURRENT_RUNS=1, MAX_QUEUED_RUNS=1))
    try:
        c = connect(live.url)
        (first, token), (second, _) = c.train(endless()), c.train(endless())
        ack = c.call("train", endless())
        assert ack["ok"] is False and ack["error"] == "busy" and "waiting" in ack["message"]
        c.call("control", {"run_id": first, "token": token, "action": "stop"})
        c.wait_state(second, "starting", "running")
    finally:
        live.close()
