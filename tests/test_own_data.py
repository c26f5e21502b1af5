"""Your own data (issue 13; CONTRACTS.md §7): image folders in a zip and UTF-8 text, uploaded
through POST /api/uploads, described, previewed, refused when malformed, and trained on.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from server.graph import parse_document, validate
from server.kinds import kind_of

pytestmark = pytest.mark.timeout(300)


# -- making files -------------------------------------------------------------------------------

def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def stripes(rng, vertical: bool, size: int = 20) -> np.ndarray:
    """A noisy greyscale image of stripes, across or down: the two synthetic classes."""
    a = np.zeros((size, size), dtype=np.float32)
    phase = int(rng.integers(0, 4))
    lines = (np.arange(size) + phase) % 4 < 2
    if vertical:
        a[:, lines] = 1.0
    else:
        a[lines, :] = 1.0
    a = np.clip(a * 0.8 + rng.normal(0, 0.15, a.shape), 0, 1)
    return (a * 255).astype(np.uint8)


def image_zip(per_class: int = 40, wrap: str = "", extra: dict | None = None,
              fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for cls, vertical in (("across", False), ("down", True)):
            for i in range(per_class):
                ext = "jpg" if fmt == "JPEG" else "png"
                z.writestr(f"{wrap}{cls}/{i:03d}.{ext}", png(stripes(rng, vertical), fmt))
        z.writestr("__MACOSX/._junk", b"resource fork")  # what zip tools add: skipped
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def upload(client, name: str, data: bytes, kind: str | None = None):
    form = {"file": (io.BytesIO(data), name)}
    if kind:
        form["kind"] = kind
    return client.post("/api/uploads", data=form, content_type="multipart/form-data")


def cnn(upload_id: str, size=(20, 20), epochs: int = 6) -> dict:
    return {
        "format": "layerlab.network", "version": 1, "name": "stripes",
        "nodes": [
            {"id": "in", "type": "Input", "params": {"shape": [1, *size]}},
            {"id": "conv", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3,
                                                        "padding": 1}},
            {"id": "relu", "type": "ReLU"},
            {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2}},
            {"id": "flat", "type": "Flatten"},
            {"id": "out", "type": "Linear", "params": {"out_features": 2}}],
        "edges": [{"source": a, "target": b} for a, b in (
            ("in", "conv"), ("conv", "relu"), ("relu", "pool"), ("pool", "flat"),
            ("flat", "out"))],
        "training": {"dataset": {"name": "images", "upload": upload_id, "size": list(size),
                                 "channels": 1},
                     "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.01},
                     "batch_size": 16, "epochs": epochs, "seed": 0},
    }


# -- image folders ------------------------------------------------------------------------------

def test_an_image_zip_uploads_with_its_classes_and_a_preview_per_class(client):
    res = upload(client, "stripes.zip", image_zip(wrap="stripes/"))
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["kind"] == "images"
    # "Compress this folder" wraps the class folders in one more: read through it.
    assert body["classes"] == [{"name": "across", "count": 40}, {"name": "down", "count": 40}]
    assert body["images"] == 80 and body["usual_size"] == [20, 20]
    assert body["suggested_channels"] == 1 and body["suggested_size"] == [20, 20]
    preview = client.get(f"/api/datasets/images/preview?upload={body['upload_id']}&size=12,12"
                         "&channels=1")
    assert preview.status_code == 200, preview.get_json()
    p = preview.get_json()
    assert p["kind"] == "images" and p["shape"] == [1, 12, 12]
    assert p["classes"] == ["across", "down"]
    labels = p["labels"]
    assert labels == sorted(labels) and set(labels) == {0, 1}  # grouped: a row per class
    assert len(p["images"][0]) == 144


def test_an_image_zip_trains_a_cnn_to_095(client, tmp_path):
    body = upload(client, "stripes.zip", image_zip()).get_json()
    data_dir = client.application.config["DATA_DIR"]
    doc = cnn(body["upload_id"])
    report = validate(doc, data_dir=data_dir)
    assert report.ok, report.errors
    network = parse_document(doc, data_dir=data_dir)
    assert network.dataset.classes == ["across", "down"]
    result = kind_of(network).trainer(network, device="cpu", data_dir=data_dir).run()
    assert result.val_accuracy >= 0.95, result.val_accuracy
    cached = list((tmp_path / "data" / "cache" / "images").glob("*.npz"))
    assert len(cached) == 1  # decoded once; the next run reads the arrays


def test_colour_and_resize_change_the_input_shape_and_wrong_shapes_name_the_input(client):
    body = upload(client, "stripes.zip", image_zip(fmt="JPEG")).get_json()
    data_dir = client.application.config["DATA_DIR"]
    doc = cnn(body["upload_id"], size=(16, 16))
    doc["training"]["dataset"]["channels"] = 3
    report = validate(doc, data_dir=data_dir)
    assert not report.ok
    assert any(e["node"] == "in" and "3, 16, 16" in e["message"] for e in report.errors), \
        report.errors
    doc["nodes"][0]["params"]["shape"] = [3, 16, 16]
    assert validate(doc, data_dir=data_dir).ok


@pytest.mark.parametrize(("name", "data", "words"), [
    ("notes.zip", b"PK\x03\x04 this is not really a zip", "not a readable zip"),
    ("one.zip", None, "one class only"),
    ("loose.zip", None, "not in a class folder"),
    ("text.zip", None, "not a PNG or JPEG"),
    ("broken.zip", None, "Pillow can read"),
    ("bomb.zip", None, "zip bomb"),
    ("empty.zip", None, "holds no files"),
])
def test_malformed_image_zips_are_refused_naming_the_file(client, name, data, words):
    rng = np.random.default_rng(1)
    one = png(stripes(rng, True))
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            if name == "one.zip":
                z.writestr("cats/1.png", one)
                z.writestr("cats/2.png", one)
            elif name == "loose.zip":
                z.writestr("a/1.png", one)
                z.writestr("top.png", one)
            elif name == "text.zip":
                z.writestr("a/1.png", one)
                z.writestr("b/readme.txt", b"hello")
            elif name == "broken.zip":
                z.writestr("a/1.png", one)
                z.writestr("b/2.png", one[:40])
            elif name == "bomb.zip":
                z.writestr("a/1.png", one)
                z.writestr("b/2.png", b"\0" * (64 * 2**20))
        data = buf.getvalue()
    res = upload(client, name, data)
    assert res.status_code == 400, res.get_json()
    message = json.dumps(res.get_json())
    assert words in message, message
    if name in ("loose.zip", "text.zip", "broken.zip", "bomb.zip"):
        assert {"loose.zip": "top.png", "text.zip": "b/readme.txt", "broken.zip": "b/2.png",
                "bomb.zip": "b/2.png"}[name] in message
    assert client.get("/api/health").status_code == 200  # the server is still serving


def test_a_gone_image_upload_is_an_error_on_the_dataset(client):
    doc = cnn("0123456789abcdef")
    report = validate(doc, data_dir=client.application.config["DATA_DIR"])
    assert not report.ok
    assert any("was not found" in e["message"] for e in report.errors), report.errors


# -- text ---------------------------------------------------------------------------------------

def corpus(n: int = 6000) -> str:
    """A text with structure to learn: words from a small vocabulary in a repeating grammar."""
    rng = np.random.default_rng(0)
    subjects, verbs, objects = ["the cat", "a dog", "my bird"], ["sees", "likes", "hears"], \
        ["the sun.", "a tree.", "the sea."]
    out = []
    while sum(map(len, out)) < n:
        out.append(f"{subjects[rng.integers(3)]} {verbs[rng.integers(3)]} "
                   f"{objects[rng.integers(3)]}\n")
    return "".join(out)


def lstm(upload_id: str, vocab: int, seq_len: int = 24, epochs: int = 4) -> dict:
    return {
        "format": "layerlab.network", "version": 1, "name": "writer",
        "nodes": [
            {"id": "in", "type": "Input", "params": {"shape": [seq_len]}},
            {"id": "emb", "type": "Embedding", "params": {"num_embeddings": vocab,
                                                          "embedding_dim": 16}},
            {"id": "lstm", "type": "LSTM", "params": {"hidden_size": 64}},
            {"id": "out", "type": "Linear", "params": {"out_features": vocab}}],
        "edges": [{"source": "in", "target": "emb"}, {"source": "emb", "target": "lstm"},
                  {"source": "lstm", "target": "out"}],
        "training": {"dataset": {"name": "text", "upload": upload_id, "seq_len": seq_len,
                                 "samples": 3000},
                     "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.01},
                     "batch_size": 64, "epochs": epochs, "seed": 0},
    }


def test_a_text_uploads_with_its_vocabulary(client):
    text = corpus()
    res = upload(client, "story.txt", text.encode())
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["kind"] == "text" and body["characters"] == len(text)
    assert body["vocab"] == sorted(set(text)) and body["preview"] == text[:400]
    preview = client.get(f"/api/datasets/text/preview?upload={body['upload_id']}&seq_len=24")
    assert preview.status_code == 200
    assert preview.get_json()["vocab"] == body["vocab"]


def test_a_text_trains_an_lstm_whose_validation_loss_falls_and_writes_live(client):
    text = corpus()
    body = upload(client, "story.txt", text.encode()).get_json()
    data_dir = client.application.config["DATA_DIR"]
    doc = lstm(body["upload_id"], len(body["vocab"]))
    assert validate(doc, data_dir=data_dir).ok
    network = parse_document(doc, data_dir=data_dir)
    assert network.dataset.input_shape == (24,) and network.dataset.num_classes == len(set(text))
    kind = kind_of(network)
    trainer = kind.trainer(network, device="cpu", data_dir=data_dir)
    trainer.setup()
    before = trainer.evaluate()["val_loss"]
    writer_before = kind.PICTURES["text"][1](kind.insight(trainer))
    result = trainer.run()
    assert result.val_loss < 0.5 * before, (before, result.val_loss)
    frame = kind.PICTURES["text"][1](kind.insight(trainer))
    assert frame["prompt"] in text and len(frame["samples"]) == 2
    assert all(len(s) == 120 for s in frame["samples"])
    # It learned the words: most of what it writes greedily is made of the corpus's words.
    words = set(text.split())
    written = frame["samples"][0].split()[1:-1]
    assert written and sum(w in words for w in written) / len(written) >= 0.7, frame
    assert frame["samples"] != writer_before["samples"]


@pytest.mark.parametrize(("data", "words"), [
    (b"caf\xe9 " * 100, "not UTF-8"),
    (b"short", "at least 200"),
    (b"\0\1\2" * 200, "binary"),
])
def test_malformed_texts_are_refused(client, data, words):
    res = upload(client, "bad.txt", data)
    assert res.status_code == 400
    assert words in json.dumps(res.get_json())


def test_a_seq_len_longer_than_a_part_of_the_text_is_an_error_on_seq_len(client):
    body = upload(client, "story.txt", corpus(400).encode()).get_json()
    doc = lstm(body["upload_id"], len(body["vocab"]), seq_len=200)
    report = validate(doc, data_dir=client.application.config["DATA_DIR"])
    assert not report.ok
    assert any("seq_len" in (e.get("param") or "") + e["message"] for e in report.errors), \
        report.errors


def test_an_unknown_upload_kind_is_refused(client):
    res = upload(client, "a.csv", b"x,y\n1,2\n3,4\n", kind="audio")
    assert res.status_code == 400 and "kind must be one of" in res.get_json()["message"]
