"""The input boundary against a live server: bounded strict JSON in, strict JSON out, and an
answer naming the field for every malformed event or body (issue 16, findings 1, 2, 3 and 9).
"""

from __future__ import annotations

import http.client
import json
import logging

import pytest

from tests.live import LiveServer, example, make_app, socketio_client

pytestmark = pytest.mark.timeout(60)
JSON_ROUTES = [("POST", "/api/validate"), ("POST", "/api/designs"), ("PUT", "/api/designs/ID"),
               ("POST", "/api/export?format=pytorch")]
RAW_EVENT = "\0raw"  # call(RAW_EVENT, Raw(text)) sends text as the whole event data


class Raw:
    """JSON text sent as it is (NaN, nesting deeper than json.dumps goes, invalid JSON)."""

    def __init__(self, text: str):
        self.text = text


class RawJSON:
    """A json module for the test client that writes Raw arguments verbatim."""

    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        """json.dumps, with Raw values inserted as their text."""
        if isinstance(obj, list) and len(obj) == 2 and obj[0] == RAW_EVENT:
            return obj[1].text
        if isinstance(obj, list) and any(isinstance(x, Raw) for x in obj):
            return "[" + ",".join(x.text if isinstance(x, Raw) else json.dumps(x, **kwargs)
                                  for x in obj) + "]"
        return json.dumps(obj, **kwargs)


def raw_client(url: str):
    """A python-socketio client (websocket) that can send any text or bytes as a payload."""
    from socketio import packet

    class RawPacket(packet.Packet):
        json = RawJSON

    sio = socketio_client()
    sio.packet_class = RawPacket
    sio.connect(url, transports=["websocket"], wait_timeout=10)
    return sio


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live server for the module."""
    live = LiveServer(make_app(tmp_path_factory.mktemp("input")))
    yield live
    live.close()


@pytest.fixture
def sio(server):
    """A raw client connected to the server."""
    client = raw_client(server.url)
    yield client
    client.disconnect()


@pytest.fixture(autouse=True)
def no_tracebacks(caplog):
    """No input may make the server log a traceback."""
    caplog.set_level(logging.ERROR)
    yield
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()


def refused(ack, code: str, *words: str) -> dict:
    """Assert an error ack (or body) with `code` whose message holds every word."""
    assert ack.get("ok", False) is False, ack
    assert ack["error"] == code, ack
    for word in words:
        assert word in ack["message"], ack["message"]
    return ack


def request(url: str, method: str, path: str, body: bytes | str | None,
            content_type: str | None = "application/json", headers: dict | None = None):
    """(status, JSON body) of one HTTP request with the server's own Origin."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    head = {"Origin": url, **(headers or {})}
    if content_type:
        head["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=head)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, (json.loads(data) if response.getheader("Content-Type", "")
                             .startswith("application/json") else data)


def design(url: str) -> tuple[str, dict]:
    """A saved design: its id and the headers that let this client change it."""
    status, body = request(url, "POST", "/api/designs", json.dumps(example()))
    assert status == 201, body
    return body["id"], {"X-Layerlab-Owner": body["owner"]} if "owner" in body else {}


def send(url: str, method: str, path: str, body, content_type="application/json"):
    """A request to one of JSON_ROUTES (PUT goes to a fresh design of this client's)."""
    headers = {}
    if "ID" in path:
        design_id, headers = design(url)
        path = path.replace("ID", design_id)
    return request(url, method, path, body, content_type, headers)


# -- finding 1: null in a required field, and the connection keeps answering -------------------

REQUIRED = [("unwatch", {"run_id": None}, "run_id"),
            ("watch", {"run_id": None}, "run_id"),
            ("timeline", {"run_id": None}, "run_id"),
            ("control", {"run_id": "r", "token": "t", "action": None}, "action"),
            ("control", {"run_id": None, "token": "t", "action": "stop"}, "run_id"),
            ("set_hparams", {"run_id": None, "token": "t", "lr": 0.1}, "run_id"),
            ("set_hparams", {"run_id": "r", "token": "t", "lr": None}, "lr"),
            ("follow_on", {"run_id": "r", "token": "t", "next_run_id": None}, "next_run_id"),
            ("select_sample", {"run_id": "r", "token": "t", "index": None}, "index"),
            ("seek", {"run_id": "r", "step": None}, "step"),
            ("control", {"run_id": "r", "token": "t", "action": "step", "steps": None}, "steps")]


@pytest.mark.parametrize("event, payload, field", REQUIRED)
def test_null_in_a_typed_field_is_refused_naming_it(sio, event, payload, field):
    refused(sio.call(event, payload, timeout=5), "bad_request", field, "null")
    refused(sio.call("watch", {"run_id": "nope"}, timeout=5), "not_found", "nope")


def test_unwatch_null_does_not_mute_the_connection(sio):
    refused(sio.call("unwatch", {"run_id": None}, timeout=5), "bad_request", "run_id")
    for _ in range(3):
        assert sio.call("validate", example(), timeout=5)["ok"]


# -- finding 2: missing fields, bytes, unknown and reserved events -------------------------------

def test_control_without_action_names_it(sio):
    refused(sio.call("control", {"run_id": "r", "token": "t"}, timeout=5), "bad_request",
            "action")


@pytest.mark.parametrize("event", ["validate", "train"])
def test_binary_data_in_a_document_is_refused_naming_where(sio, event):
    doc = example()
    doc["nodes"][0]["params"]["shape"] = b"\x00\x01"
    refused(sio.call(event, doc, timeout=5), "bad_request",
            "nodes[0].params.shape holds binary data")
    refused(sio.call(event, b"bytes", timeout=5), "bad_request", "binary data")


def test_binary_data_in_a_message_field_is_refused(sio):
    refused(sio.call("watch", {"run_id": b"abc"}, timeout=5), "bad_request", "run_id",
            "binary data")


@pytest.mark.parametrize("event", ["no_such_event", "message", "json", "connect", "disconnect",
                                   "*"])
def test_unknown_and_reserved_events_get_an_error_ack(sio, event):
    ack = refused(sio.call(event, {"run_id": "r"}, timeout=5), "unknown_event", "watch",
                  "validate")
    assert ("reserves" in ack["message"]) == (event in ("connect", "disconnect", "*")), ack
    assert sio.call("validate", example(), timeout=5)["ok"]


def test_a_client_sent_disconnect_event_leaves_the_connection_watching(server, sio):
    run_id = server.manager.submit(example(epochs=1), lambda room: None, "nobody")[0]
    assert sio.call("watch", {"run_id": run_id}, timeout=5)["ok"]
    sio.call("disconnect", {}, timeout=5)
    assert sio.call("timeline", {"run_id": run_id}, timeout=5)["ok"]


# -- finding 3 over Socket.IO: depth, invalid JSON, strict numbers -------------------------------

@pytest.mark.parametrize("depth", [65, 500, 100_000])
@pytest.mark.parametrize("event", ["validate", "watch", "no_such_event"])
def test_deep_nesting_is_refused_with_an_ack(sio, event, depth):
    text = "[" * depth + "]" * depth
    ack = refused(sio.call(event, Raw(text), timeout=5), "bad_request", "nested", "64")
    assert len(ack["message"]) < 400


def test_nesting_up_to_the_limit_is_read(sio):
    doc = example()
    deep = []
    for _ in range(60):
        deep = [deep]
    doc["ui"] = {"deep": deep}
    assert sio.call("validate", doc, timeout=5)["ok"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", str(2**60),
                                     str(10**400)])
def test_non_finite_and_huge_numbers_are_refused_naming_the_field(sio, literal):
    text = json.dumps(example()).replace('"training": {', f'"training": {{"x": {literal}, ', 1)
    refused(sio.call("validate", Raw(text), timeout=5), "bad_request", "training.x",
            "finite", "inf" if literal == "1e400" else literal[:6])


@pytest.mark.parametrize("text", ['["validate", {"a": ]', '{"not": "a list"}', '[]', '[5, 1]'])
def test_unreadable_packets_get_an_answer(sio, text):
    ack = refused(sio.call(RAW_EVENT, Raw(text), timeout=5), "bad_request")
    assert "JSON" in ack["message"] or "[name, payload]" in ack["message"], ack
    assert sio.call("validate", example(), timeout=5)["ok"]


@pytest.mark.parametrize("event, text", [
    ("select_sample", '{"run_id": "r", "token": "\\ud800", "index": 0}'),
    ("control", '{"run_id": "r", "token": "t\\udc00", "action": "stop"}'),
    ("validate", '{"name": "\\ud800", "nodes": [], "edges": []}'),
    ("validate", '{"nodes": [], "edges": [], "\\udfff": 1}')])
def test_a_lone_surrogate_is_refused_naming_the_field(sio, event, text):
    ack = refused(sio.call(event, Raw(text), timeout=5), "bad_request", "lone surrogate")
    assert "token" in ack["message"] or "name" in ack["message"], ack
    assert sio.call("validate", example(), timeout=5)["ok"]


# -- finding 3 and 9 over HTTP: depth, NaN, media types on every JSON route ---------------------

@pytest.mark.parametrize("method, path", JSON_ROUTES)
@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deep_bodies_are_bad_requests(server, method, path, depth):
    status, body = send(server.url, method, path, "[" * depth + "]" * depth)
    assert status == 400, body
    refused(body, "bad_request", "nested", "64")


@pytest.mark.parametrize("method, path", JSON_ROUTES)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-" + "9" * 20])
def test_non_finite_numbers_in_bodies_are_refused(server, method, path, literal):
    text = json.dumps(example()).replace('"ui": {"x": 40', f'"ui": {{"x": {literal}', 1)
    assert literal in text
    status, body = send(server.url, method, path, text)
    assert status == 400, body
    refused(body, "bad_request", "nodes[0].ui.x")


def test_a_saved_design_with_nan_is_refused_and_not_stored(server):
    text = json.dumps(example()).replace('"ui": {"x": 40', '"ui": {"x": NaN', 1)
    status, body = request(server.url, "POST", "/api/designs", text)
    assert status == 400 and "nodes[0].ui.x is NaN" in body["message"], body
    design_id, headers = design(server.url)
    status, body = request(server.url, "PUT", f"/api/designs/{design_id}", text,
                           headers=headers)
    assert status == 400, body
    status, saved = request(server.url, "GET", f"/api/designs/{design_id}", None, None)
    assert status == 200 and saved["document"]["nodes"][0]["ui"]["x"] == 40, saved


@pytest.mark.parametrize("method, path", JSON_ROUTES)
def test_a_lone_surrogate_in_a_body_is_refused_naming_the_field(server, method, path):
    text = json.dumps(example()).replace('"ui": {"x": 40', '"ui": {"label": "\\ud83d", "x": 40', 1)
    status, body = send(server.url, method, path, text)
    assert status == 400, body
    refused(body, "bad_request", "nodes[0].ui.label", "lone surrogate")


@pytest.mark.parametrize("method, path", JSON_ROUTES)
@pytest.mark.parametrize("content_type, body", [
    ("text/plain", json.dumps(example())),
    ("application/x-www-form-urlencoded", "doc=" + json.dumps(example())),
    ("multipart/form-data; boundary=xx",
     "--xx\r\nContent-Disposition: form-data; name=\"doc\"\r\n\r\n{}\r\n--xx--\r\n"),
    (None, json.dumps(example())),
])
def test_json_routes_take_only_application_json(server, method, path, content_type, body):
    status, answer = send(server.url, method, path, body, content_type)
    assert status == 415, answer
    refused(answer, "unsupported_media_type", "application/json")


@pytest.mark.parametrize("method, path", JSON_ROUTES)
def test_json_routes_refuse_binary_and_non_utf8_bodies(server, method, path):
    status, body = send(server.url, method, path, b"\xff\xfe{}")
    assert status == 400, body
    refused(body, "bad_request", "UTF-8")


# -- strict JSON out ------------------------------------------------------------------------

def test_non_finite_floats_leave_http_as_null(server):
    from flask import jsonify

    with server.app.app_context():
        response = jsonify({"loss": float("nan"), "points": [float("inf"), -float("inf"), 1.5]})
    assert json.loads(response.get_data(as_text=True), parse_constant=pytest.fail) == {
        "loss": None, "points": [None, None, 1.5]}


def test_non_finite_floats_leave_socketio_as_null():
    from socketio import packet

    from server.web.parse import StrictJSON, StrictPacket

    text = StrictJSON.dumps({"val_loss": float("inf"), "x": [float("nan")], "n": 2})
    assert text == '{"val_loss": null, "x": [null], "n": 2}'
    frame = StrictPacket(packet.EVENT, data=["run_metrics", {"points": [{"val_loss": 1e999}]}])
    assert frame.encode() == '2["run_metrics",{"points":[{"val_loss":null}]}]'
