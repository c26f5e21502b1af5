"""Issue 16 on the run side: bounded history, non-finite metrics, the memory watchdog and an
interrupted run's status."""

import io
import json
import math

import pytest

from tests.live import LiveServer, endless, example, make_app, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def live(tmp_path):
    """A live server with the run manager's own settings."""
    server = LiveServer(make_app(tmp_path))
    yield server
    server.close()


def points_sent(c, run_id):
    return [p for name, _, e in list(c.events) if name == "run_metrics" and e["run_id"] == run_id
            for p in e["points"]]


def test_a_long_runs_watch_ack_carries_a_bounded_downsampled_history(live, connect):
    live.manager.config.history_limit = 40
    owner = connect(live.url)
    run_id, token = owner.train(endless())
    wait_for(lambda: len(points_sent(owner, run_id)) > 150, 60, "150 points")
    ack = connect(live.url).call("watch", {"run_id": run_id})
    history = ack["history"]
    steps = [p["step"] for p in history]
    assert 2 <= len(history) <= 40 and steps == sorted(steps)
    assert steps[-1] >= points_sent(owner, run_id)[149]["step"]  # the newest points are kept
    assert steps[0] == points_sent(owner, run_id)[0]["step"]  # and the oldest
    body = live.app.test_client().get(f"/api/runs/{run_id}").get_json()
    assert body["history_downsampled"] is True and len(body["history"]) <= 40
    owner.call("control", {"run_id": run_id, "token": token, "action": "stop"})
    owner.wait_state(run_id, "stopped")
    body = live.app.test_client().get(f"/api/runs/{run_id}").get_json()
    assert body["history_downsampled"] is False and len(body["history"]) > 150  # from disk


def huge_targets_run(client) -> dict:
    """A CSV regression whose targets are near 1e18: its float32 validation sum overflows."""
    rows = "".join(f"{i % 7},{i % 5},{(1 + i / 997) * 1e18:.6e}\n" for i in range(1200))
    upload = client.post("/api/uploads", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(f"a,b,y\n{rows}".encode()), "big.csv")})
    assert upload.status_code == 201, upload.get_json()
    doc = example(epochs=2, optimizer={"name": "adam", "lr": 0.001},
                  dataset={"name": "csv", "upload": upload.get_json()["upload_id"],
                           "target": "y", "val_fraction": 0.5})
    doc["nodes"][0]["params"].pop("shape", None)
    doc["nodes"][-1]["params"]["out_features"] = 1
    return doc


def test_an_infinite_val_loss_is_null_everywhere_with_a_message(live, connect):
    http = live.app.test_client()
    c = connect(live.url)
    run_id, _ = c.train(huge_targets_run(http))
    final = c.wait_state(run_id, "finished", "failed", timeout=60)
    sent = points_sent(c, run_id)
    assert any("val_loss" in p and p["val_loss"] is None for p in sent)
    assert not any(isinstance(v, float) and not math.isfinite(v) for p in sent for v in p.values())
    message = final.get("message", "")
    assert "val_loss is infinite at step" in message, final
    body = http.get(f"/api/runs/{run_id}")
    text = body.get_data(as_text=True)
    assert "Infinity" not in text and "NaN" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in GET /api/runs"))
    assert any(p.get("val_loss", 0) is None for p in body.get_json()["history"])
    assert "Infinity" not in http.get("/api/runs").get_data(as_text=True)


def test_a_run_over_the_memory_cap_fails_and_its_worker_is_replaced(live, connect):
    live.manager.memory_cap = 64 << 20  # below what torch itself takes: any run passes it
    c = connect(live.url)
    run_id, _ = c.train(endless())
    failed = c.wait_state(run_id, "failed", timeout=60)
    assert "the limit is 64 MiB (MAX_WORKER_MEMORY)" in failed["message"]
    assert "the run used" in failed["message"]
    live.manager.memory_cap = -1
    after, _ = c.train(example(epochs=3))
    assert c.wait_state(after, "finished", "failed", timeout=60)["state"] == "finished"


def test_an_interrupted_runs_status_step_is_its_last_points(tmp_path):
    from server.store import Store

    store = Store(tmp_path)
    store.create_run("cut", "hash", example())
    store.update_run("cut", status="running", step=0)
    store.add_points("cut", [{"step": s, "epoch": s / 10, "train_loss": 1.0}
                             for s in range(1, 2904)])
    store.close()
    server = LiveServer(make_app(tmp_path))
    try:
        status = server.app.test_client().get("/api/runs/cut").get_json()["status"]
        assert status["state"] == "failed" and status["step"] == 2903 and status["epoch"] == 290
    finally:
        server.close()
