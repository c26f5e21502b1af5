"""POST /api/runs/<id>/predict: the server's ONNX Runtime answer for the Try panel, on the very
model.onnx that Export ONNX downloads; bounded, and refused in words."""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.live import LiveServer, endless, example, make_app

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(make_app(tmp_path_factory.mktemp("predict")))
    yield live
    live.close()


@pytest.fixture(scope="module")
def run_id(server):
    from tests.live import Client

    c = Client(server.url)
    try:
        run, _ = c.train(example(epochs=2))
        assert c.wait_state(run, "finished", "failed", timeout=180)["state"] == "finished"
    finally:
        c.close()
    return run


def post(url: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_the_answer_is_onnx_runtime_on_the_exported_file(server, run_id):
    import onnxruntime as ort

    x = np.array([[0.25, -0.5], [0.0, 0.9], [-0.7, 0.1]], dtype=np.float32)
    status, body = post(f"{server.url}/api/runs/{run_id}/predict", {"input": x.tolist()})
    assert status == 200, body
    assert body["shape"] == [3, 2] and body["seconds"] >= 0 and body["input_name"] == "input"
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/model.onnx") as r:
        session = ort.InferenceSession(r.read(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": x})[0]
    np.testing.assert_allclose(np.array(body["output"]), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("body, status, words", [
    ({"input": [[1, 2, 3]]}, 400, "the model takes [batch, 2]"),
    ({"input": [[1, 2], [3]]}, 400, "regular nested list"),
    ({"input": [[0, 0]] * 65}, 400, "send 1 to 64"),
    ({"input": [[0, "a"]]}, 400, "regular nested list"),
    ({"input": [[0, 1]], "extra": 1}, 400, "unknown field"),
    ({"inputs": [[0, 1]]}, 400, '{"input": [[...]]}'),
    ([[0, 1]], 400, '{"input": [[...]]}'),
])
def test_a_bad_input_is_refused_in_words(server, run_id, body, status, words):
    code, answer = post(f"{server.url}/api/runs/{run_id}/predict", body)
    assert code == status and answer["error"] == "bad_request", answer
    assert words in answer["message"], answer


def test_no_json_unknown_runs_and_live_runs_are_refused(server, run_id):
    code, answer = post(f"{server.url}/api/runs/{run_id}/predict", b"input=1", "text/plain")
    assert code == 415 and answer["error"] == "unsupported_media_type", answer
    code, answer = post(f"{server.url}/api/runs/nosuchrun/predict", {"input": [[0, 0]]})
    assert code == 404 and answer["error"] == "not_found", answer
    from tests.live import Client

    c = Client(server.url)
    try:
        live, token = c.train(endless())
        c.wait_state(live, "running", timeout=120)
        code, answer = post(f"{server.url}/api/runs/{live}/predict", {"input": [[0, 0]]})
        assert code == 409 and answer["error"] == "conflict", answer
        assert c.call("control", {"run_id": live, "token": token, "action": "stop"})["ok"]
    finally:
        c.close()
