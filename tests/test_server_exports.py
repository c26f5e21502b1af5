"""Exports are built in their own process, bounded in number and memory (issue 16, finding 7)."""

import os
import threading
import time

import pytest

from tests.live import example, make_app

pytestmark = pytest.mark.timeout(180)


def wide_mlp(width: int) -> dict:
    """The spiral template with one wide hidden layer: about 2·width² parameters at width²."""
    doc = example()
    nodes = [{"id": "in", "type": "Input"},
             {"id": "wide", "type": "Linear", "params": {"out_features": width}},
             {"id": "mid", "type": "Linear", "params": {"out_features": width}},
             {"id": "out", "type": "Linear", "params": {"out_features": 2}}]
    edges = [{"source": a, "target": b} for a, b in (("in", "wide"), ("wide", "mid"),
                                                     ("mid", "out"))]
    return {**doc, "nodes": nodes, "edges": edges}


@pytest.fixture
def app_with(tmp_path):
    apps = []

    def make(**config):
        app = make_app(tmp_path / f"data{len(apps)}", **config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["layerlab"].close()


def test_an_export_is_built_in_another_process(app_with):
    from server.runs.artifacts import EXPORTS

    client = app_with().test_client()
    response = client.post("/api/export?format=onnx", json=example())
    assert response.status_code == 200, response.data
    pids = {p.pid for p in EXPORTS._pool._processes.values()}
    assert pids and os.getpid() not in pids


def test_an_export_over_its_memory_cap_is_a_clear_error_and_the_next_one_works(app_with):
    client = app_with(EXPORT_MEMORY_BYTES=int(1.5 * 2**30)).test_client()
    big = client.post("/api/export?format=onnx", json=wide_mlp(5000))  # 25M params, 100 MB
    assert big.status_code == 422, big.data
    body = big.get_json()
    assert body["error"] == "export_failed" and "memory" in body["message"], body
    small = client.post("/api/export?format=onnx", json=example())
    assert small.status_code == 200, small.data


def test_while_an_export_is_built_other_requests_are_answered_at_once(app_with):
    client = app_with().test_client()
    done = threading.Event()

    def export():
        client.post("/api/export?format=onnx", json=wide_mlp(1500))
        done.set()

    threading.Thread(target=export, daemon=True).start()
    slowest = 0.0
    while not done.is_set():
        start = time.monotonic()
        assert client.get("/api/health").status_code == 200
        slowest = max(slowest, time.monotonic() - start)
        done.wait(0.05)
    assert slowest < 1.0, f"a health check waited {slowest:.2f} s behind an export"


def test_exports_past_the_bound_wait_then_get_busy(app_with):
    client = app_with(EXPORT_WAIT_SECONDS=0.01).test_client()
    answers = []

    def export():
        answers.append(client.post("/api/export?format=onnx", json=wide_mlp(1500)))

    threads = [threading.Thread(target=export) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 200 and 429 in codes, codes
    busy = next(r for r in answers if r.status_code == 429).get_json()
    assert busy["error"] == "busy" and "export" in busy["message"]
