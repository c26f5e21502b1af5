"""Issue 16, findings 4, 5, 6 and 10 (stored things), against a real server: foreign Origins and
Hosts are refused over HTTP and Engine.IO, designs change only with their owner secret, runs are
deleted with their token, and stored things have quotas."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.live import ROOT, LiveServer, endless, example, make_app, wait_for

DOC = {"format": "layerlab.network", "version": 1, "name": "Mine",
       "nodes": [{"id": "x", "type": "Input", "params": {"shape": [2]}}], "edges": []}
CSV = b"x1,x2,label\n0.1,0.2,a\n0.3,0.4,b\n0.5,0.1,a\n0.9,0.8,b\n"
EVIL = "http://evil.example"
TIMEOUT = 10


@pytest.fixture
def serve(tmp_path):
    """Start the app with some settings on a real loopback server; closed after the test."""
    servers: list[LiveServer] = []

    def start(**config) -> LiveServer:
        live = LiveServer(make_app(tmp_path / f"data{len(servers)}", **config))
        close = live.close

        def close_once() -> None:
            if live in servers:
                servers.remove(live)
                close()

        live.close = close_once  # a test may close one to start another (one app at a time)
        servers.append(live)
        return live

    yield start
    for live in list(servers):
        live.close()


def forbidden(response, *words):
    """The response is the app's 403 error naming `words`."""
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "forbidden" and body["details"] == []
    for word in words:
        assert word in body["message"]
    assert "Access-Control-Allow-Origin" not in response.headers
    return body


# -- finding 4: a foreign page cannot change state -----------------------------------------------


def test_a_foreign_origin_cannot_post_in_any_body_type(serve):
    live = serve()
    url, evil = live.url, {"Origin": EVIL}
    attempts = [
        ("/api/designs", {"data": json.dumps(DOC),
                          "headers": {**evil, "Content-Type": "text/plain"}}),
        ("/api/designs", {"data": {"doc": json.dumps(DOC)}, "headers": evil}),
        ("/api/designs", {"files": {"doc": ("d.json", json.dumps(DOC))}, "headers": evil}),
        ("/api/designs", {"json": DOC, "headers": evil}),
        ("/api/export?format=pytorch", {"data": json.dumps(DOC),
                                        "headers": {**evil, "Content-Type": "text/plain"}}),
        ("/api/export?format=pytorch", {"data": {"doc": json.dumps(DOC)}, "headers": evil}),
        ("/api/uploads", {"files": {"file": ("t.csv", CSV)}, "headers": evil}),
        ("/api/uploads", {"files": {"file": ("t.csv", CSV)},
                          "headers": {"Referer": f"{EVIL}/page.html"}}),  # no Origin: the Referer
        ("/api/uploads", {"files": {"file": ("t.csv", CSV)}, "headers": {"Origin": "null"}}),
    ]
    for path, kwargs in attempts:
        forbidden(requests.post(url + path, timeout=TIMEOUT, **kwargs), "not accepted")
    forbidden(requests.put(f"{url}/api/designs/x", json=DOC, headers=evil, timeout=TIMEOUT))
    forbidden(requests.delete(f"{url}/api/designs/x", headers=evil, timeout=TIMEOUT))
    assert live.app.extensions["layerlab"].store.list_designs() == []


def test_the_apps_own_pages_and_clients_without_a_page_may_post(serve):
    live = serve()
    own = {"Origin": live.url, "Referer": f"{live.url}/"}
    made = requests.post(f"{live.url}/api/designs", json=DOC, headers=own, timeout=TIMEOUT)
    assert made.status_code == 201
    exported = requests.post(f"{live.url}/api/export?format=pytorch", json=DOC,
                             headers={"Referer": f"{live.url}/#design=1"}, timeout=TIMEOUT)
    assert exported.status_code in (200, 422), exported.text  # not refused by the guard
    upload = requests.post(f"{live.url}/api/uploads", files={"file": ("t.csv", CSV)},
                           timeout=TIMEOUT)  # curl-like: neither Origin nor Referer
    assert upload.status_code == 201, upload.text
    other_port = requests.post(f"{live.url}/api/designs", json=DOC, timeout=TIMEOUT,
                               headers={"Origin": "http://127.0.0.1:1"})
    forbidden(other_port)  # another server on this machine is another origin


def test_allowed_origins_may_post(serve):
    live = serve(ALLOWED_ORIGINS=["https://lab.example"])
    ok = requests.post(f"{live.url}/api/designs", json=DOC, timeout=TIMEOUT,
                       headers={"Origin": "https://lab.example"})
    assert ok.status_code == 201


# -- finding 5: DNS rebinding --------------------------------------------------------------------


def handshake(url: str, **headers):
    """Engine.IO's first polling request."""
    return requests.get(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers,
                        timeout=TIMEOUT)


def test_a_foreign_host_is_refused_for_http_and_engine_io(serve):
    live = serve()
    forbidden(requests.get(f"{live.url}/api/designs", headers={"Host": "evil.example"},
                           timeout=TIMEOUT), "evil.example", "--allowed-hosts")
    forbidden(requests.get(f"{live.url}/", headers={"Host": "evil.example:80"}, timeout=TIMEOUT))
    forbidden(handshake(live.url, Host="evil.example", Origin=EVIL))
    forbidden(handshake(live.url, Host="evil.example"))
    forbidden(handshake(live.url, Origin=EVIL))  # a foreign page on a loopback name
    upgrade = requests.get(f"{live.url}/socket.io/?EIO=4&transport=websocket", timeout=TIMEOUT,
                           headers={"Origin": EVIL, "Connection": "Upgrade",
                                    "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    forbidden(upgrade)


def test_loopback_names_and_the_own_origin_are_served(serve):
    live = serve()
    port = live.server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert requests.get(f"{live.url}/api/health", headers={"Host": host},
                            timeout=TIMEOUT).status_code == 200
    ok = handshake(live.url, Origin=live.url)
    assert ok.status_code == 200 and ok.text.startswith("0{")
    assert ok.headers.get("Access-Control-Allow-Origin") in (None, live.url)


def test_allowed_hosts_add_names_for_http_and_engine_io(serve, monkeypatch):
    monkeypatch.setenv("LAYERLAB_ALLOWED_HOSTS", "env.example")
    live = serve(ALLOWED_HOSTS=["lab.example", ".school.example"])
    port = live.server.port
    for name in ("lab.example", "env.example", "a.school.example"):
        host = f"{name}:{port}"
        assert requests.get(f"{live.url}/api/designs", headers={"Host": host},
                            timeout=TIMEOUT).status_code == 200
        ok = handshake(live.url, Host=host, Origin=f"http://{host}")
        assert ok.status_code == 200, ok.text
        assert ok.headers.get("Access-Control-Allow-Origin") in (None, f"http://{host}")
    forbidden(requests.get(f"{live.url}/api/designs", headers={"Host": "school.evil.example"},
                           timeout=TIMEOUT))


def test_forwarded_headers_count_only_behind_a_trusted_proxy(serve):
    live = serve()
    plain = requests.get(f"{live.url}/api/health", timeout=TIMEOUT,
                         headers={"X-Forwarded-Host": "evil.example"})
    assert plain.status_code == 200  # ignored: the Host the server saw is loopback
    live.close()
    proxied = serve(TRUST_PROXY=1, ALLOWED_HOSTS=["lab.example"])
    forbidden(requests.get(f"{proxied.url}/api/health", timeout=TIMEOUT,
                           headers={"X-Forwarded-Host": "evil.example"}))
    through = requests.post(f"{proxied.url}/api/designs", json=DOC, timeout=TIMEOUT,
                            headers={"X-Forwarded-Host": "lab.example",
                                     "X-Forwarded-Proto": "https",
                                     "Origin": "https://lab.example"})
    assert through.status_code == 201, through.text


# -- finding 6: designs have owners --------------------------------------------------------------


def test_only_the_owner_changes_or_deletes_a_design(serve):
    live = serve()
    url = live.url
    mine = requests.post(f"{url}/api/designs", json=DOC, timeout=TIMEOUT).json()
    theirs = requests.post(f"{url}/api/designs", json={**DOC, "name": "Theirs"},
                           timeout=TIMEOUT).json()
    owner, path = mine["owner"], f"{url}/api/designs/{mine['id']}"
    assert len(owner) >= 32 and owner != theirs["owner"]
    stored = json.dumps(live.app.extensions["layerlab"].store._read("SELECT * FROM designs")
                        [0:2], default=list)
    assert owner not in stored  # only its hash is kept
    changed = {**DOC, "name": "Changed"}
    forbidden(requests.put(path, json=changed, timeout=TIMEOUT), "X-Layerlab-Owner")
    forbidden(requests.put(path, json=changed, headers={"X-Layerlab-Owner": theirs["owner"]},
                           timeout=TIMEOUT), "another browser")
    forbidden(requests.delete(path, timeout=TIMEOUT))
    assert requests.get(path, timeout=TIMEOUT).json()["name"] == "Mine"  # share links stay open
    put = requests.put(path, json=changed, headers={"X-Layerlab-Owner": owner}, timeout=TIMEOUT)
    assert put.status_code == 200 and put.json()["name"] == "Changed" and "owner" not in put.json()
    listed = requests.get(f"{url}/api/designs", timeout=TIMEOUT).json()
    assert listed == []  # no owner secret: nothing listed
    listed = requests.get(f"{url}/api/designs", headers={"X-Layerlab-Owner": owner},
                          timeout=TIMEOUT).json()
    assert [d["id"] for d in listed] == [mine["id"]]
    both = requests.get(f"{url}/api/designs", timeout=TIMEOUT,
                        headers={"X-Layerlab-Owner": f"{owner}, {theirs['owner']}"}).json()
    assert {d["id"] for d in both} == {mine["id"], theirs["id"]}
    assert requests.delete(path, headers={"X-Layerlab-Owner": owner},
                           timeout=TIMEOUT).status_code == 204
    assert requests.get(path, timeout=TIMEOUT).status_code == 404


def test_a_browser_secret_sent_with_a_new_design_owns_it_too(serve):
    live = serve()
    first = requests.post(f"{live.url}/api/designs", json=DOC, timeout=TIMEOUT).json()
    second = requests.post(f"{live.url}/api/designs", json=DOC, timeout=TIMEOUT,
                           headers={"X-Layerlab-Owner": first["owner"]}).json()
    assert second["owner"] == first["owner"]


def test_designs_saved_before_owners_existed_are_read_only(serve):
    live = serve()
    old = live.app.extensions["layerlab"].store.create_design(DOC)  # no owner, as before
    path = f"{live.url}/api/designs/{old['id']}"
    assert requests.get(path, timeout=TIMEOUT).json()["document"] == DOC
    forbidden(requests.put(path, json=DOC, headers={"X-Layerlab-Owner": "x" * 32},
                           timeout=TIMEOUT), "before designs had owners")


def test_an_old_database_gains_the_owner_column(tmp_path):
    import sqlite3

    from server.store import Store

    data = tmp_path / "old"
    data.mkdir()
    db = sqlite3.connect(data / "layerlab.db")
    db.execute("CREATE TABLE designs (id TEXT PRIMARY KEY, name TEXT NOT NULL, document TEXT "
               "NOT NULL, created REAL NOT NULL, updated REAL NOT NULL)")
    db.execute("INSERT INTO designs VALUES ('old', 'Old', ?, 1, 1)", (json.dumps(DOC),))
    db.commit()
    db.close()
    store = Store(data)
    assert store.get_design("old")["document"] == DOC
    assert store.design_owner("old") == (True, None)
    store.close()


# -- finding 10: deleting runs; quotas on stored things ------------------------------------------


def test_a_run_is_deleted_only_with_its_token_and_once_it_ended(serve, connect):
    live = serve()
    client = connect(live.url)
    run_id, token = client.train(example(epochs=None, steps=5))
    client.wait_state(run_id, "finished", timeout=60)
    run_dir = Path(live.app.extensions["layerlab"].store.run_dir(run_id))
    path = f"{live.url}/api/runs/{run_id}"
    forbidden(requests.delete(path, timeout=TIMEOUT), "X-Layerlab-Token")
    forbidden(requests.delete(path, headers={"X-Layerlab-Token": "wrong"}, timeout=TIMEOUT))
    gone = requests.delete(path, headers={"X-Layerlab-Token": token}, timeout=TIMEOUT)
    assert gone.status_code == 204
    assert requests.get(path, timeout=TIMEOUT).status_code == 404
    assert not run_dir.exists()
    assert live.app.extensions["layerlab"].store.points(run_id) == []
    assert requests.delete(path, headers={"X-Layerlab-Token": token},
                           timeout=TIMEOUT).status_code == 404

    live_id, live_token = client.train(endless())
    client.wait_state(live_id, "running", timeout=60)
    busy = requests.delete(f"{live.url}/api/runs/{live_id}", timeout=TIMEOUT,
                           headers={"X-Layerlab-Token": live_token})
    assert busy.status_code == 409 and "stop it first" in busy.json()["message"]
    assert client.call("control", {"run_id": live_id, "token": live_token, "action": "stop"})["ok"]


def test_design_quotas_name_their_setting(serve):
    live = serve(MAX_DESIGNS_PER_OWNER=2, MAX_DESIGN_BYTES_PER_OWNER=len(json.dumps(DOC)) * 3)
    url = live.url
    owner = requests.post(f"{url}/api/designs", json=DOC, timeout=TIMEOUT).json()["owner"]
    mine = {"X-Layerlab-Owner": owner}
    assert requests.post(f"{url}/api/designs", json=DOC, headers=mine,
                         timeout=TIMEOUT).status_code == 201
    full = requests.post(f"{url}/api/designs", json=DOC, headers=mine, timeout=TIMEOUT)
    assert full.status_code == 429 and full.json()["error"] == "quota_exceeded"
    assert "MAX_DESIGNS_PER_OWNER" in full.json()["message"]
    big = {**DOC, "description": "x" * len(json.dumps(DOC)) * 4}
    too_big = requests.post(f"{url}/api/designs", json=big, timeout=TIMEOUT)
    assert too_big.status_code == 429 and "MAX_DESIGN_BYTES_PER_OWNER" in too_big.text
    first = requests.get(f"{url}/api/designs", headers=mine, timeout=TIMEOUT).json()[0]["id"]
    grown = requests.put(f"{url}/api/designs/{first}", json=big, headers=mine, timeout=TIMEOUT)
    assert grown.status_code == 429 and "MAX_DESIGN_BYTES_PER_OWNER" in grown.text
    assert requests.put(f"{url}/api/designs/{first}", json={**DOC, "name": "Same size"},
                        headers=mine, timeout=TIMEOUT).status_code == 200  # at the count limit


def test_upload_quotas_and_a_full_data_folder(serve):
    live = serve(MAX_UPLOADS_PER_CLIENT=1)
    send = {"files": {"file": ("t.csv", CSV)}, "timeout": TIMEOUT}
    assert requests.post(f"{live.url}/api/uploads", **send).status_code == 201
    full = requests.post(f"{live.url}/api/uploads", **send)
    assert full.status_code == 429 and "MAX_UPLOADS_PER_CLIENT" in full.json()["message"]
    live.close()
    live = serve(MAX_UPLOAD_BYTES_PER_CLIENT=10, MAX_UPLOADS_PER_CLIENT=50)
    over = requests.post(f"{live.url}/api/uploads", **send)
    assert over.status_code == 429 and "MAX_UPLOAD_BYTES_PER_CLIENT" in over.text
    live.close()
    live = serve(MAX_STORED_BYTES=1)
    for response in (requests.post(f"{live.url}/api/uploads", **send),
                     requests.post(f"{live.url}/api/designs", json=DOC, timeout=TIMEOUT)):
        assert response.status_code == 507, response.text
        assert response.json()["error"] == "storage_full"
        assert "MAX_STORED_BYTES" in response.json()["message"]


def test_uploads_must_be_multipart(serve):
    live = serve()
    plain = requests.post(f"{live.url}/api/uploads", data=io.BytesIO(CSV), timeout=TIMEOUT,
                          headers={"Content-Type": "text/csv"})
    assert plain.status_code == 415


def test_layerlab_serve_allowed_hosts_flag(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", "0",
                             "--data-dir", str(tmp_path / "data"),
                             "--allowed-hosts", "lab.example, other.example"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
        line = wait_for(lambda: next((x for x in lines if "running at" in x), None), 60,
                        "the server's address")
        url = line.split("running at ")[1].strip().rstrip("/")
        port = url.rsplit(":", 1)[1]
        for name in ("lab.example", "other.example", "localhost"):
            assert requests.get(f"{url}/api/health", headers={"Host": f"{name}:{port}"},
                                timeout=TIMEOUT).status_code == 200
        forbidden(requests.get(f"{url}/api/health", headers={"Host": "evil.example"},
                               timeout=TIMEOUT))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_wildcard_host_allows_this_machines_own_names():
    import socket

    from server.web.guard import machine_addresses

    names = machine_addresses()
    assert socket.gethostname().lower() in names


def test_on_every_interface_this_machines_own_addresses_name_it():
    from server.web.guard import Guard

    every = Guard(None, own_addresses=True)
    assert every.host_allowed("127.0.0.2:5000")  # any address this machine binds
    assert not every.host_allowed("192.0.2.7:5000")  # TEST-NET: no machine's address
    assert not every.host_allowed("evil.example:5000")  # names still need --allowed-hosts
    assert not Guard(None).host_allowed("127.0.0.2:5000")
