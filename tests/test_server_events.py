"""Socket.IO handlers through Flask-SocketIO's test client: acks, refusals, never a crash."""

import pytest

from tests.live import example, wait_for

pytestmark = pytest.mark.timeout(60)


def refused(ack, code: str, *words: str) -> dict:
    assert ack["ok"] is False, ack
    assert ack["error"] == code, ack
    for word in words:
        assert word in ack["message"], ack["message"]
    return ack


def test_validate_acks_the_validate_json(sio_client):
    ack = sio_client.emit("validate", example(), callback=True)
    assert ack["ok"] and ack["shapes"]["out"] == [2] and ack["errors"] == []
    ack = sio_client.emit("validate", [1, 2], callback=True)
    assert ack["ok"] is False and "JSON object" in ack["errors"][0]["message"]


def test_train_refuses_an_invalid_design_with_every_error(sio_client):
    doc = example()
    doc["nodes"][1]["params"]["out_features"] = -3
    doc["nodes"].append({"id": "loose", "type": "ReLU"})
    ack = refused(sio_client.emit("train", doc, callback=True), "invalid_document")
    assert {e["node"] for e in ack["errors"]} >= {"fc1", "loose"}


def test_train_refuses_a_design_without_a_dataset(sio_client):
    doc = example()
    del doc["training"]["dataset"]
    ack = refused(sio_client.emit("train", doc, callback=True), "invalid_document", "dataset")
    assert ack["errors"][0]["param"] == "training.dataset"


@pytest.mark.parametrize("event, payload, words", [
    ("train", "a string", ("JSON object", "a string")),
    ("train", None, ("JSON object",)),
    ("train", {**example(), "padding": "x" * (5 * 2**20)}, ("MiB", "limit")),
    ("control", [], ("JSON object",)),
    ("control", {"token": "t", "action": "pause"}, ("run_id",)),
    ("control", {"run_id": "r", "token": "t", "action": "explode"}, ("explode", "pause")),
    ("control", {"run_id": "r", "token": "t", "action": "step", "steps": "5"}, ("steps",)),
    ("control", {"run_id": "r", "token": "t", "action": "step", "steps": 0}, ("steps",)),
    ("control", {"run_id": 5, "token": "t", "action": "stop"}, ("run_id",)),
    ("control", {"run_id": "r", "action": "stop", "colour": 1}, ("colour",)),
    ("set_hparams", {"run_id": "r", "token": "t", "lr": "fast"}, ("lr",)),
    ("set_hparams", {"run_id": "r", "token": "t", "lr": -1}, ("lr",)),
    ("set_hparams", {"run_id": "r", "token": "t", "momentum": 0.9}, ("momentum",)),
    ("watch", "r", ("JSON object",)),
    ("follow_on", {"run_id": "r", "token": "t"}, ("next_run_id",)),
    ("follow_on", {"run_id": "r", "token": "t", "next_run_id": 5}, ("next_run_id",)),
    ("follow_on", {"run_id": "r", "token": "t", "next_run_id": "r"}, ("itself",)),
    ("follow_on", {"run_id": "r", "next_run_id": "s", "next_tokn": "t"}, ("next_tokn",)),
])
def test_malformed_payloads_are_bad_requests(sio_client, event, payload, words):
    refused(sio_client.emit(event, payload, callback=True), "bad_request", *words)


def test_extra_arguments_are_bad_requests(sio_client):
    refused(sio_client.emit("watch", {"run_id": "r"}, 2, callback=True), "bad_request",
            "one JSON argument")


def test_unknown_runs_are_not_found(sio_client):
    refused(sio_client.emit("watch", {"run_id": "nope"}, callback=True), "not_found", "nope")
    refused(sio_client.emit("control", {"run_id": "nope", "token": "t", "action": "stop"},
                            callback=True), "not_found")
    refused(sio_client.emit("set_hparams", {"run_id": "nope", "token": "t", "lr": 0.1},
                            callback=True), "not_found")
    refused(sio_client.emit("follow_on", {"run_id": "nope", "token": "t", "next_run_id": "nix",
                                          "next_token": "u"}, callback=True), "not_found")


def test_only_the_token_holder_controls_a_run(sio_client):
    ack = sio_client.emit("train", example(epochs=None), callback=True)
    assert ack["ok"], ack
    run_id, token = ack["run_id"], ack["token"]
    for bad in ({"token": "wrong"}, {}, {"token": 12}):
        msg = {"run_id": run_id, "action": "pause", **bad}
        refused(sio_client.emit("control", msg, callback=True), "forbidden", "token")
    refused(sio_client.emit("set_hparams", {"run_id": run_id, "lr": 0.1}, callback=True),
            "forbidden")
    stop = sio_client.emit("control", {"run_id": run_id, "token": token, "action": "stop"},
                           callback=True)
    assert stop == {"ok": True, "state": "stopped"}, stop
    received = []

    def stopped():
        received.extend(sio_client.get_received())
        return any(e["name"] == "run_status" and e["args"][0]["state"] == "stopped"
                   for e in received)

    wait_for(stopped, 30, "the stopped status")
    first = next(e["args"][0] for e in received if e["name"] == "run_status")
    assert first["run_id"] == run_id and first["watchers"] == 1
