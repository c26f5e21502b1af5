"""The random-forest baseline (CONTRACTS.md §7): the CLI, POST /api/baseline, the Socket.IO
`baseline` event, the store, and scikit-learn itself as the reference."""

import base64
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from server.graph import validate
from server.runs.run import design_key, hash_token
from tests.live import LiveServer, example, make_app, wait_for

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[1]
FRAME = {"size", "extent", "mode", "min", "max", "data"}  # run_boundary's picture fields


def layerlab(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "server", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def written(tmp_path, doc, name="doc.layerlab.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def frame_bytes(frame: dict) -> bytes:
    """A boundary frame's data: bytes over Socket.IO, base64 text in JSON."""
    data = frame["data"]
    return data if isinstance(data, bytes) else base64.b64decode(data)


def regression(loss="auto") -> dict:
    """The spiral MLP on the plane regression, one output."""
    doc = example(dataset={"name": "plane", "samples": 400, "seed": 3}, loss=loss)
    doc["nodes"][-1]["params"]["out_features"] = 1
    return doc


# -- the forest against the Trainer and scikit-learn ---------------------------------------------


@pytest.mark.parametrize("name", ["spiral_mlp", "digits_softmax", "lstm_sine"])
def test_the_split_is_the_trainers(name):
    from server.baseline import check_document
    from server.baseline.forest import load_split
    from server.train import Trainer

    doc = example(name, device="cpu")
    trainer = Trainer(doc)
    trainer.setup()
    split = load_split(check_document(doc))
    n, m = trainer.x_train.shape[0], trainer.x_val.shape[0]
    assert np.array_equal(split.x_train, trainer.x_train.reshape(n, -1).numpy())
    assert np.array_equal(split.x_val, trainer.x_val.reshape(m, -1).numpy())
    assert np.array_equal(split.y_train.reshape(trainer.y_train.shape), trainer.y_train.numpy())
    assert np.array_equal(split.y_val.reshape(trainer.y_val.shape), trainer.y_val.numpy())


def test_the_forest_is_scikit_learns_grown_in_one_go():
    from sklearn.ensemble import RandomForestClassifier

    from server.baseline import check_document
    from server.baseline.forest import fit_forest

    seen = []
    fitted = fit_forest(check_document(example(seed=7)), 45, progress=seen.append)
    split = fitted.split
    reference = RandomForestClassifier(45, random_state=7).fit(split.x_train, split.y_train)
    assert np.array_equal(fitted.forest.predict_proba(split.x_val),
                          reference.predict_proba(split.x_val))
    assert fitted.result["val_accuracy"] == float(np.mean(reference.predict(split.x_val)
                                                          == split.y_val))
    assert seen == sorted(seen) and seen[-1] == 45 and len(seen) > 5  # the bar moves


@pytest.mark.parametrize("loss", ["auto", "l1"])
def test_regression_val_loss_is_the_trainers_measure(loss):
    from sklearn.ensemble import RandomForestRegressor

    from server.baseline import check_document
    from server.baseline.forest import fit_forest

    fitted = fit_forest(check_document(regression(loss)), 30)
    split = fitted.split
    pred = RandomForestRegressor(30, random_state=0).fit(split.x_train, split.y_train[:, 0]) \
        .predict(split.x_val)
    error = pred - split.y_val[:, 0]
    expected = np.mean(error ** 2) if loss == "auto" else np.mean(np.abs(error))
    result = fitted.result
    assert result["loss"] == ("mse" if loss == "auto" else "l1") and "val_accuracy" not in result
    assert result["val_loss"] == pytest.approx(float(expected), rel=1e-6)
    assert result["boundary"]["mode"] == "value"


def test_the_boundary_frame_is_the_runs():
    from server.baseline import check_document
    from server.baseline.forest import fit_forest
    from server.insight import Insight
    from server.kinds import supervised
    from server.train import Trainer

    trainer = Trainer(example(device="cpu"))
    trainer.setup()
    theirs = supervised.boundary(Insight(trainer))
    ours = fit_forest(check_document(example()), 20).result["boundary"]
    assert set(ours) == set(theirs) == FRAME
    assert (ours["size"], ours["extent"], ours["mode"]) == (theirs["size"], theirs["extent"],
                                                            theirs["mode"])
    assert len(ours["data"]) == len(theirs["data"]) == 64 * 64
    values = np.frombuffer(ours["data"], dtype=np.uint8).reshape(64, 64)
    assert values.min() < 50 and values.max() > 200  # both classes have their regions


# -- the command line ----------------------------------------------------------------------------


def test_cli_json_and_progress_bar(tmp_path):
    proc = layerlab("baseline", ROOT / "server/examples/spiral_mlp.layerlab.json",
                    "--trees", "40", "--json")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert {"ok", "model", "trees", "val_accuracy", "seconds"} <= set(result)
    assert result["ok"] and result["model"] == "random_forest" and result["trees"] == 40
    assert result["val_accuracy"] >= 0.85 and "val_loss" not in result
    assert result["design_key"] == design_key(example())
    frame = result["boundary"]
    assert set(frame) == FRAME | {"encoding"} and frame["encoding"] == "base64"
    assert len(frame_bytes(frame)) == 64 * 64
    assert "40/40" in proc.stderr and "tree" in proc.stderr  # the bar, on stderr

    readable = layerlab("baseline", ROOT / "server/examples/digits_softmax.layerlab.json",
                        "--trees", "20")
    assert readable.returncode == 0, readable.stderr
    assert "val_accuracy" in readable.stdout and "20 trees" in readable.stdout


def test_cli_refuses_bad_trees_and_documents(tmp_path):
    spiral = ROOT / "server/examples/spiral_mlp.layerlab.json"
    for trees in ("0", "1001", "many"):
        proc = layerlab("baseline", spiral, "--trees", trees, "--json")
        assert proc.returncode == 2 and "--trees" in proc.stderr, proc.stderr
    gan = layerlab("baseline", ROOT / "server/examples/gan_spiral.layerlab.json", "--json")
    assert gan.returncode == 1
    out = last_json(gan)
    assert not out["ok"] and out["errors"] == [{
        "node": None, "param": "training.kind",
        "message": "the baseline compares with supervised designs; this is a gan design"}]
    bare = layerlab("baseline", written(tmp_path, example(dataset=None)), "--json")
    assert bare.returncode == 1 and last_json(bare)["errors"][0]["param"] == "training.dataset"


def test_cli_exports_the_forest_to_onnx_checked(tmp_path):
    pytest.importorskip("skl2onnx")
    import onnxruntime

    for name, doc in (("spiral", example()), ("plane", regression())):
        out = tmp_path / f"{name}.onnx"
        proc = layerlab("baseline", written(tmp_path, doc), "--trees", "15", "--onnx", out,
                        "--json")
        assert proc.returncode == 0, proc.stderr
        check = last_json(proc)["onnx"]
        assert check["ok"] and check["max_abs_diff"] <= 1e-5 and check["path"] == str(out)
        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["input"]
        expected = ["label", "probabilities"] if name == "spiral" else ["variable"]
        assert [o.name for o in session.get_outputs()] == check["outputs"] == expected


# -- HTTP and Socket.IO --------------------------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name, bar", [("spiral_mlp", 0.85), ("digits_softmax", 0.9)])
def test_post_baseline_separates_the_data(client, name, bar):
    doc = example(name)
    response = client.post("/api/baseline", json=doc)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["ok"] and result["model"] == "random_forest" and result["trees"] == 100
    assert result["val_accuracy"] >= bar and result["seconds"] > 0
    assert result["design_key"] == design_key(doc)
    if name == "spiral_mlp":
        frame = result["boundary"]
        assert frame["size"] == [64, 64] and frame["extent"] == [-1.0, 1.0, -1.0, 1.0]
        assert frame["mode"] == "probability" and (frame["min"], frame["max"]) == (0.0, 1.0)
        assert len(frame_bytes(frame)) == 64 * 64
    else:
        assert "boundary" not in result  # images have no plane to draw


def test_baselines_are_kept_with_the_designs_runs(app, client):
    doc = example()
    key = design_key(doc)
    first = client.post("/api/baseline?trees=10", json=doc).get_json()
    noisy = example(dataset={"name": "spiral", "noise": 0.3})
    other = client.post("/api/baseline?trees=12", json=noisy).get_json()
    again = client.post("/api/baseline?trees=20", json=doc).get_json()  # replaces the first
    assert first["dataset_key"] == again["dataset_key"] != other["dataset_key"]
    stored = client.get(f"/api/baseline?design_key={key}").get_json()
    assert [b["trees"] for b in stored] == [20, 12]  # one per dataset, newest first
    assert stored[0] == again
    only = client.get(f"/api/baseline?design_key={key}&dataset_key={other['dataset_key']}")
    assert [b["trees"] for b in only.get_json()] == [12]
    # A run of the design on that data lists it; a run on data without one lists null.
    store = app.extensions["layerlab"].store
    store.create_run("runA", hash_token("t" * 16), doc, key)
    store.create_run("runB", hash_token("t" * 16), example(dataset={"name": "xor"}), key)
    runs = {r["run_id"]: r for r in client.get(f"/api/runs?design_key={key}").get_json()}
    assert runs["runA"]["baseline"]["trees"] == 20
    assert runs["runA"]["baseline"]["val_accuracy"] == again["val_accuracy"]
    assert "boundary" not in runs["runA"]["baseline"] and runs["runB"]["baseline"] is None
    for bad in ("", "?design_key=nothex", f"?design_key={key}&dataset_key=x"):
        response = client.get(f"/api/baseline{bad}")
        assert response.status_code == 400
        assert response.get_json()["details"][0]["field"] in ("design_key", "dataset_key")


def test_post_baseline_on_an_uploaded_csv(client):
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (300, 2))
    rows = "\n".join(f"{x:.4f},{y:.4f},{int(x * y > 0)}" for x, y in points)
    upload = client.post("/api/uploads", data={"file": (io.BytesIO(
        f"a,b,label\n{rows}\n".encode()), "quadrants.csv")}, content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    spec = {"name": "csv", "upload": upload.get_json()["upload_id"], "target": "label"}
    result = client.post("/api/baseline?trees=50", json=example(dataset=spec)).get_json()
    assert result["ok"] and result["val_accuracy"] >= 0.85 and result["features"] == 2
    assert "boundary" not in result  # a table has no known extent to draw


def test_bad_requests_name_their_field(client):
    doc = example()
    for trees in ("0", "1001", "ten", "-3"):
        response = client.post(f"/api/baseline?trees={trees}", json=doc)
        assert response.status_code == 400
        assert response.get_json()["details"][0]["field"] == "trees"
    cases = {
        "gan_spiral": ("training.kind", "compares with supervised designs"),
        "dqn_cartpole": ("training.kind", "compares with supervised designs"),
        "digits_autoencoder": ("training.task", "reconstructs its input"),
    }
    for name, (param, words) in cases.items():
        response = client.post("/api/baseline", json=example(name))
        assert response.status_code == 422
        (error,) = response.get_json()["details"]
        assert error["param"] == param and words in error["message"]
    response = client.post("/api/baseline", json=example(dataset=None))
    assert response.get_json()["details"][0]["param"] == "training.dataset"
    broken = example()
    broken["nodes"][1]["params"]["out_features"] = 0  # the same errors as validate's
    response = client.post("/api/baseline", json=broken)
    assert response.status_code == 422
    assert response.get_json()["details"] == validate(broken).errors
    assert response.get_json()["details"][0]["node"] == "fc1"


def test_socketio_baseline_ack_and_progress(app, live_server, connect):
    c = connect(live_server)
    grown = []
    c.sio.on("baseline_progress", grown.append)
    ack = c.call("baseline", example(), timeout=60)
    assert ack["ok"] and ack["trees"] == 100 and ack["val_accuracy"] >= 0.85
    assert set(ack["boundary"]) == FRAME and isinstance(ack["boundary"]["data"], bytes)
    assert len(ack["boundary"]["data"]) == 64 * 64
    wait_for(lambda: grown and grown[-1]["grown"] == 100, 10, "the last progress event")
    assert grown[0] == {"design_key": ack["design_key"], "trees": 100, "grown": grown[0]["grown"]}
    small = c.call("baseline", {"document": example(), "trees": 7}, timeout=60)
    assert small["ok"] and small["trees"] == 7
    for payload, words in (({"document": example(), "trees": 0}, "trees must be"),
                           ({"document": example(), "trees": True}, "trees must be"),
                           ({"document": example(), "tree": 5}, "unknown field 'tree'"),
                           ({"document": "spiral"}, "document must be")):
        refused = c.call("baseline", payload)
        assert not refused["ok"] and refused["error"] == "bad_request"
        assert words in refused["message"], refused
    gan = c.call("baseline", example("gan_spiral"))
    assert gan["error"] == "invalid_document" and gan["errors"][0]["param"] == "training.kind"


# -- the pool's bounds ---------------------------------------------------------------------------


def served(tmp_path, **config):
    """A live server on its own app (closed by the caller)."""
    return LiveServer(make_app(tmp_path / "data", **config))


def post(url: str, doc: dict, trees: int) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{url}/api/baseline?trees={trees}",
                                     data=json.dumps(doc).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_fit_past_its_time_is_ended_and_the_server_keeps_serving(tmp_path):
    import urllib.request

    live = served(tmp_path, BASELINE_SECONDS=1.0)
    try:
        done = {}

        def slow():
            done["answer"] = post(live.url, example("digits_softmax"), 1000)
            done["at"] = time.monotonic()

        thread = threading.Thread(target=slow)
        thread.start()
        with urllib.request.urlopen(f"{live.url}/api/health", timeout=10) as response:
            assert json.loads(response.read())["ok"]
        health_at = time.monotonic()
        thread.join(60)
        status, body = done["answer"]
        assert status == 422 and body["error"] == "baseline_failed"
        assert "BASELINE_SECONDS" in body["message"]
        assert health_at < done["at"]  # answered while the forest was still growing
        status, body = post(live.url, example(), 10)  # a fresh process fits the next one
        assert status == 200 and body["ok"], body
    finally:
        live.close()


def test_one_fit_at_a_time_and_the_rest_are_told_busy(tmp_path, connect):
    live = served(tmp_path, BASELINE_WORKERS=1, BASELINE_QUEUE=0)
    try:
        c = connect(live.url)
        grown = []
        c.sio.on("baseline_progress", grown.append)
        answers = {}
        first = threading.Thread(target=lambda: answers.update(
            first=c.call("baseline", {"document": example("digits_softmax"), "trees": 1000},
                         timeout=90)))
        first.start()
        wait_for(lambda: grown, 30, "the first fit to grow trees")
        status, body = post(live.url, example(), 10)
        assert status == 429 and body["error"] == "busy", body
        first.join(90)
        assert answers["first"]["ok"] and answers["first"]["trees"] == 1000
        status, body = post(live.url, example(), 10)
        assert status == 200 and body["ok"]
    finally:
        c.close()
        live.close()
