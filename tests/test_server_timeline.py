"""Timeline checkpoints and seek: bounded, evenly thinned, saved without pickle, kept across a
restart; and comparing runs of one design."""

import json
import urllib.request
import zlib

import pytest

from server.runs.timeline import Timeline
from tests.live import LiveServer, endless, example, make_app, wait_for

pytestmark = pytest.mark.timeout(120)


def frames(step: int) -> dict:
    return {"run_boundary": {"run_id": "r", "step": step, "data": bytes([step % 256]) * 8}}


def test_a_full_timeline_drops_every_other_checkpoint_and_keeps_its_spread():
    timeline = Timeline(interval=1.0, limit=10)
    for t in range(100):
        timeline.offer({"step": t * 10, "epoch": t, "time": t * 1.0}, frames(t))
    assert len(timeline.checkpoints) <= 10
    times = [c["time"] for c in timeline.checkpoints]
    gaps = {b - a for a, b in zip(times, times[1:], strict=False)}
    assert len(gaps) == 1 and gaps.pop() >= 8  # evenly spread over the whole run
    assert times[0] == 0.0
    timeline.offer({"step": 995, "epoch": 99.5, "time": 99.5, "final": True}, frames(995))
    assert timeline.checkpoints[-1]["step"] == 995  # the final set is always kept


def test_offers_closer_than_the_interval_are_skipped_and_seek_finds_the_one_before():
    timeline = Timeline(interval=1.0)
    for t in (0.0, 0.5, 1.0, 1.2, 2.1):
        timeline.offer({"step": int(t * 100), "epoch": t, "time": t}, frames(int(t * 100)))
    assert [c["step"] for c in timeline.index()] == [0, 100, 210]
    assert timeline.at(150)["step"] == 100 and timeline.at(210)["step"] == 210
    assert timeline.at(10_000)["step"] == 210 and timeline.at(-5)["step"] == 0


def test_a_saved_timeline_reads_back_with_shared_bytes_stored_once(tmp_path):
    timeline = Timeline(interval=0.5)
    shared = frames(7)
    for t in range(3):
        timeline.offer({"step": t, "epoch": t, "time": t}, shared)
    timeline.samples = {"run_id": "r", "frame": {"shape": [2], "min": 0, "max": 1,
                                                 "data": b"\x00\xff"}}
    timeline.save(tmp_path)
    meta = json.loads((tmp_path / "timeline.json").read_text())
    assert meta["format"] == "layerlab.timeline" and meta["version"] == 1
    blob = zlib.decompress((tmp_path / "timeline.bin").read_bytes())
    assert len(blob) == 8 + 2  # the shared frame once, then the samples
    again = Timeline.load(tmp_path)
    assert again.checkpoints == timeline.checkpoints and again.samples == timeline.samples
    assert Timeline.load(tmp_path / "nothing") is None


def test_timeline_and_seek_during_after_and_across_a_restart(tmp_path, connect):
    live = LiveServer(make_app(tmp_path, TIMELINE_INTERVAL=0.1))
    try:
        c = connect(live.url)
        run_id, token = c.train(endless())
        wait_for(lambda: len(c.call("timeline", {"run_id": run_id})["checkpoints"]) >= 3, 30,
                 "three checkpoints")
        c.call("control", {"run_id": run_id, "token": token, "action": "stop"})
        c.wait_state(run_id, "stopped")
        points = c.points(run_id)
        checkpoints = c.call("timeline", {"run_id": run_id})["checkpoints"]
        steps = [cp["step"] for cp in checkpoints]
        assert steps == sorted(steps) and steps[-1] == c.statuses(run_id)[-1]["step"]
        assert {"step", "epoch", "time"} == set(checkpoints[0])
        middle = checkpoints[1]
        seek = c.call("seek", {"run_id": run_id, "step": middle["step"] + 1})
        assert seek["ok"] and seek["step"] == middle["step"]
        assert seek["boundary"]["size"] == [64, 64] and isinstance(seek["boundary"]["data"], bytes)
        assert seek["activations"]["nodes"]["fc1"]["shape"] == [32, 24, 24]
        assert points[seek["metrics_index"] - 1]["step"] <= middle["step"]
        assert seek["metrics_index"] == len(points) or \
            points[seek["metrics_index"]]["step"] > middle["step"]
        c.close()
    finally:
        live.close()
    again = LiveServer(make_app(tmp_path))
    try:
        c = connect(again.url)
        assert c.call("timeline", {"run_id": run_id})["checkpoints"] == checkpoints
        assert c.call("seek", {"run_id": run_id, "step": middle["step"] + 1}) == seek
        ack = c.call("watch", {"run_id": run_id})  # a watcher of an ended run sees its end
        assert ack["status"]["state"] == "stopped"
        last = wait_for(lambda: c.frames("run_boundary", run_id), 5, "the final boundary")[-1]
        assert last["step"] == steps[-1]
        samples = wait_for(lambda: c.frames("run_samples", run_id), 5, "the fixed samples")[-1]
        assert samples["kind"] == "points" and len(samples["points"]) == 32  # kept on disk
        assert seek["activations"]["selected"] == 0
    finally:
        again.close()


def test_timeline_and_seek_refuse_unknown_runs_and_bad_steps(app, sio_client):
    for event, payload in [("timeline", {"run_id": "nope"}), ("seek", {"run_id": "nope",
                                                                     "step": 3})]:
        ack = sio_client.emit(event, payload, callback=True)
        assert ack["ok"] is False and ack["error"] == "not_found", ack
    ack = sio_client.emit("seek", {"run_id": "nope", "step": "3"}, callback=True)
    assert ack["ok"] is False and ack["error"] == "bad_request" and "step" in ack["message"]
    ack = sio_client.emit("seek", {"run_id": "nope"}, callback=True)
    assert ack["ok"] is False and ack["error"] == "bad_request"


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_runs_of_one_design_are_listed_newest_first(app, live_server, connect):
    c = connect(live_server)
    spiral = example(epochs=2)
    same = example(epochs=3, optimizer={"name": "sgd", "lr": 0.1})
    same["name"] = "Renamed"
    for node in same["nodes"]:
        node["ui"] = {"x": 0, "y": 0}
    other = example(epochs=2)
    other["nodes"][1]["params"]["out_features"] = 8
    acks = [c.call("train", doc) for doc in (spiral, other, same)]
    assert acks[0]["design_key"] == acks[2]["design_key"] != acks[1]["design_key"]
    for ack in acks:
        c.wait_state(ack["run_id"], "finished", "failed", timeout=60)
    key = acks[0]["design_key"]
    runs = get_json(f"{live_server}/api/runs?design_key={key}")
    assert [r["run_id"] for r in runs] == [acks[2]["run_id"], acks[0]["run_id"]]
    assert runs[0]["training"]["optimizer"]["name"] == "sgd" and runs[0]["status"] == "finished"
    assert runs[1]["summary"]["epochs"] == 2 and {"created", "design_key"} <= set(runs[0])
    assert len(get_json(f"{live_server}/api/runs?design_key={key}&limit=1")) == 1
    assert len(get_json(f"{live_server}/api/runs")) == 3
    assert get_json(f"{live_server}/api/runs/{acks[1]['run_id']}")["design_key"] == \
        acks[1]["design_key"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_server}/api/runs?limit=0")
    assert refused.value.code == 400 and json.load(refused.value)["details"][0]["field"] == \
        "limit"


def test_runs_recorded_before_design_keys_get_one_when_the_server_starts(tmp_path):
    import sqlite3
    import time

    db = sqlite3.connect(tmp_path / "layerlab.db")  # the first release's runs table
    db.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, name TEXT NOT "
               "NULL, document TEXT NOT NULL, status TEXT NOT NULL, device TEXT, step INTEGER "
               "NOT NULL DEFAULT 0, epoch INTEGER NOT NULL DEFAULT 0, message TEXT, created REAL "
               "NOT NULL, finished REAL, summary TEXT)")
    db.execute("INSERT INTO runs (id, token_hash, name, document, status, created) VALUES "
               "('old', 'h', 'Spiral MLP', ?, 'finished', ?)", (json.dumps(example()), time.time()))
    db.commit()
    db.close()
    app = make_app(tmp_path)
    try:
        store = app.extensions["layerlab"].store
        listed = store.list_runs()
        assert listed[0]["run_id"] == "old" and listed[0]["design_key"]
        assert store.get_run("old")["next_run_id"] is None  # the column came with the start
    finally:
        app.extensions["layerlab"].close()


def test_an_endless_run_is_thinned_to_the_limit(tmp_path, connect):
    live = LiveServer(make_app(tmp_path, TIMELINE_INTERVAL=0.02, TIMELINE_MAX=8))
    try:
        c = connect(live.url)
        run_id, token = c.train(endless())
        wait_for(lambda: live.manager.runs[run_id].frames.timeline.interval >= 0.08, 30,
                 "two thinnings")
        assert len(c.call("timeline", {"run_id": run_id})["checkpoints"]) <= 8
        c.call("control", {"run_id": run_id, "token": token, "action": "stop"})
        c.wait_state(run_id, "stopped")
    finally:
        live.close()
