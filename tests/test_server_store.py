"""The SQLite store: designs, runs, history, and what survives a crash."""

import sqlite3
import subprocess
import sys

import pytest

from server.store import Store, StoreError

pytestmark = pytest.mark.timeout(30)
DOC = {"format": "layerlab.network", "version": 1, "name": "Spiral MLP", "nodes": []}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    yield s
    s.close()


def test_designs_round_trip_and_list_newest_first(store):
    a = store.create_design(DOC)
    b = store.create_design({**DOC, "name": "Other", "extra": {"kept": True}})
    assert store.get_design(a["id"])["document"] == DOC
    assert store.get_design(b["id"])["document"]["extra"] == {"kept": True}
    assert [d["id"] for d in store.list_designs()] == [b["id"], a["id"]]
    assert "document" not in store.list_designs()[0]
    updated = store.update_design(a["id"], {**DOC, "name": "Renamed"})
    assert updated["name"] == "Renamed" and updated["updated"] >= updated["created"]
    assert store.delete_design(a["id"]) and not store.delete_design(a["id"])
    assert store.get_design(a["id"]) is None
    assert store.update_design("nope", DOC) is None


def test_unnamed_designs_are_untitled(store):
    assert store.create_design({"format": "layerlab.network"})["name"] == "Untitled"


def test_runs_keep_status_summary_and_points_in_order(store):
    store.create_run("r1", "hash", DOC)
    store.add_points("r1", [{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.5}])
    store.add_points("r1", [{"step": 3, "train_loss": 0.25}])
    store.update_run("r1", status="finished", device="cpu", step=3, summary={"val_loss": 0.2})
    run = store.get_run("r1")
    assert run["status"] == "finished" and run["summary"] == {"val_loss": 0.2}
    assert run["document"] == DOC and run["name"] == "Spiral MLP"
    assert [p["step"] for p in store.points("r1")] == [1, 2, 3]
    assert store.get_run("r2") is None
    with pytest.raises(StoreError, match="no field 'colour'"):
        store.update_run("r1", colour="red")


def test_runs_link_on_to_the_next_one_and_the_chain_reads_in_order(store):
    for run_id in ("a", "b", "c"):
        store.create_run(run_id, "h", DOC)
    assert store.chain("a") == ["a"] and store.get_run("a")["next_run_id"] is None
    store.set_next_run("a", "b")
    store.set_next_run("b", "c")
    assert store.chain("a") == ["a", "b", "c"] and store.chain("b") == ["b", "c"]
    assert store.get_run("a")["next_run_id"] == "b"
    assert store.chain("nope") == []


def test_unfinished_runs_are_marked_failed_on_the_next_start(tmp_path):
    first = Store(tmp_path)
    first.create_run("live", "h", DOC)
    first.create_run("done", "h", DOC)
    first.update_run("done", status="finished")
    first.close()
    second = Store(tmp_path)
    assert second.mark_interrupted() == ["live"]
    assert second.get_run("live")["status"] == "failed"
    assert "server stopped" in second.get_run("live")["message"]
    assert second.get_run("done")["status"] == "finished"
    second.close()


def test_the_database_is_in_wal_mode(store):
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_killed_process_loses_no_committed_write(tmp_path):
    code = ("import os, sys; from server.store import Store; s = Store(sys.argv[1]); "
            "d = s.create_design({'format': 'layerlab.network', 'name': 'kept'}); "
            "print(d['id'], flush=True); os._exit(9)")  # no close, no checkpoint
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, timeout=30)
    design_id = out.stdout.strip()
    store = Store(tmp_path)
    assert store.get_design(design_id)["name"] == "kept"
    store.close()
