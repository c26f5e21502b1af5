"""Heavy uploads stay out of the request thread and are bounded (issue 16, finding 7)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.live import example

pytestmark = pytest.mark.timeout(120)
TIMEOUT = 30


def table(columns: int, rows: int) -> bytes:
    """A CSV of `columns - 1` numeric features and a text target y."""
    header = ",".join([f"c{i}" for i in range(columns - 1)] + ["y"])
    lines = [header] + [",".join(["0.5"] * (columns - 1) + ["ab"[r % 2]]) for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def upload(url: str, raw: bytes) -> requests.Response:
    return requests.post(f"{url}/api/uploads", files={"file": ("t.csv", raw)}, timeout=TIMEOUT)


def test_a_hundred_thousand_columns_are_refused_fast_naming_the_limit(live_server):
    raw = table(100_000, 3)
    start = time.monotonic()
    response = upload(live_server, raw)
    took = time.monotonic() - start
    assert response.status_code == 400, response.text
    assert "100,000 columns; the limit is 1,000 (setting CSV_MAX_COLUMNS)" in response.text
    assert took < 3, took


def test_a_big_upload_is_read_while_others_are_answered_and_validates_fast(live_server):
    url = live_server
    raw = table(1000, 400)  # about 1.6 MB: read in the parse process
    assert len(raw) > 256 * 2**10
    answer: dict = {}
    sender = threading.Thread(target=lambda: answer.update(r=upload(url, raw)))
    sender.start()
    slowest = 0.0
    while sender.is_alive():
        start = time.monotonic()
        assert requests.get(f"{url}/api/health", timeout=TIMEOUT).status_code == 200
        slowest = max(slowest, time.monotonic() - start)
    sender.join()
    response = answer["r"]
    assert response.status_code == 201, response.text
    assert slowest < 1.0, slowest
    up = response.json()
    assert up["rows"] == 400 and len(up["columns"]) == 1000

    doc = example()
    doc["nodes"][0]["params"] = {}  # the Input takes its shape from the dataset
    doc["training"] = {**doc["training"],
                       "dataset": {"name": "csv", "upload": up["upload_id"], "target": "y"}}
    first = requests.post(f"{url}/api/validate", json=doc, timeout=TIMEOUT).json()
    assert first["ok"], first["errors"]
    assert first["shapes"]["in"] == [999]
    times = []
    for _ in range(5):
        start = time.monotonic()
        assert requests.post(f"{url}/api/validate", json=doc, timeout=TIMEOUT).json()["ok"]
        times.append(time.monotonic() - start)
    assert sorted(times)[2] < 0.2, times


def test_too_many_rows_are_refused_naming_the_setting(app, live_server):
    from server.data import parsing

    parsing.configure({**app.config, "CSV_MAX_ROWS": 100})  # as create_app does from its config
    try:
        response = upload(live_server, table(3, 101))
    finally:
        parsing.configure(app.config)
    assert response.status_code == 400, response.text
    assert "more than 100 data rows; the limit is 100 (setting CSV_MAX_ROWS)" in response.text
