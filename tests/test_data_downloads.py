"""MNIST-style downloads, served from tiny generated IDX files on 127.0.0.1 (no internet)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading

import numpy as np
import pytest

from server.data import DatasetError, downloads, load_dataset

N_TRAIN, N_TEST = 30, 12


def _idx(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def idx_server(tmp_path, monkeypatch):
    """Serve four tiny IDX files; CHECKSUMS and the URL env vars point at them."""
    rng = np.random.default_rng(0)
    root = tmp_path / "www"
    root.mkdir()
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TRAIN, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(N_TRAIN) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TEST, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(N_TEST) % 10,
    }
    sums = {}
    for fname, arr in arrays.items():
        data = _idx(arr)
        (root / fname).write_bytes(data)
        sums[fname] = hashlib.md5(data).hexdigest()
    sums["train-labels-idx1-ubyte.gz"] = hashlib.sha256(
        (root / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest()  # SHA-256 works too

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setitem(downloads.CHECKSUMS, "mnist", dict(sums))
    monkeypatch.setitem(downloads.CHECKSUMS, "fashion_mnist", dict(sums))
    monkeypatch.setenv("LAYERLAB_MNIST_URL", url)
    monkeypatch.setenv("LAYERLAB_FASHION_MNIST_URL", url)
    yield {"url": url, "arrays": arrays, "sums": sums, "root": root}
    server.shutdown()
    server.server_close()


def test_download_parse_and_cache(idx_server, tmp_path):
    data_dir = tmp_path / "data"
    calls = []
    ds = load_dataset({"name": "mnist"}, data_dir=data_dir,
                      progress=lambda done, total: calls.append((done, total)))
    assert ds.x_train.shape == (N_TRAIN, 1, 28, 28) and ds.x_val.shape == (N_TEST, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    expected = idx_server["arrays"]["train-images-idx3-ubyte.gz"] / 255.0
    np.testing.assert_allclose(ds.x_train[:, 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_val, np.arange(N_TEST) % 10)
    assert ds.info.train_size == 60_000  # describe() reports the real set's official split
    cache = data_dir / "datasets" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(downloads.FILES)
    total = sum((idx_server["root"] / f).stat().st_size for f in downloads.FILES)
    assert calls[-1] == (total, total)
    assert all(b[0] >= a[0] for a, b in zip(calls, calls[1:], strict=False))

    # the cache is used: the files are gone from the server and it still loads
    for f in downloads.FILES:
        (idx_server["root"] / f).unlink()
    again = load_dataset({"name": "mnist", "samples": 20, "val_fraction": 0.25, "seed": 2},
                         data_dir=data_dir)
    assert again.x_train.shape == (15, 1, 28, 28) and again.x_val.shape == (5, 1, 28, 28)
    first20 = np.concatenate([again.y_train, again.y_val])
    assert sorted(first20) == sorted(np.arange(20) % 10)


def test_bad_checksum_is_refused_and_nothing_cached(idx_server, tmp_path, monkeypatch):
    sums = dict(idx_server["sums"])
    sums["t10k-images-idx3-ubyte.gz"] = "0" * 32
    monkeypatch.setitem(downloads.CHECKSUMS, "fashion_mnist", sums)
    data_dir = tmp_path / "data"
    with pytest.raises(DatasetError, match="checksum mismatch for .*t10k-images") as exc:
        load_dataset({"name": "fashion_mnist"}, data_dir=data_dir)
    assert exc.value.field == "name"
    cache = data_dir / "datasets" / "fashion_mnist"
    names = {p.name for p in cache.iterdir()}
    assert "t10k-images-idx3-ubyte.gz" not in names
    assert not any(n.endswith(".part") or n.startswith(".") for n in names)


def test_corrupt_cached_file_is_fetched_again(idx_server, tmp_path):
    data_dir = tmp_path / "data"
    cache = data_dir / "datasets" / "mnist"
    cache.mkdir(parents=True)
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    ds = load_dataset({"name": "mnist"}, data_dir=data_dir)
    np.testing.assert_array_equal(ds.y_train, np.arange(N_TRAIN) % 10)


def test_offline_gives_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LAYERLAB_MNIST_URL", f"http://127.0.0.1:{port}/mnist")
    with pytest.raises(DatasetError) as exc:
        load_dataset({"name": "mnist"}, data_dir=tmp_path)
    msg = exc.value.message
    assert msg.startswith(f"could not download mnist from http://127.0.0.1:{port}/mnist/")
    assert "place the files" in msg and str(tmp_path / "datasets" / "mnist") in msg
    assert not any((tmp_path / "datasets" / "mnist").iterdir())


def test_file_url_and_missing_file(idx_server, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_MNIST_URL", idx_server["root"].as_uri())
    ds = load_dataset({"name": "mnist", "samples": 10, "val_fraction": 0.5},
                      data_dir=tmp_path / "a")
    assert len(ds.x_train) == 5
    (idx_server["root"] / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="could not download mnist"):
        load_dataset({"name": "mnist"}, data_dir=tmp_path / "b")


def test_published_checksums_are_kept():
    assert downloads.CHECKSUMS["mnist"]["train-images-idx3-ubyte.gz"] == \
        "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert downloads.CHECKSUMS["fashion_mnist"]["t10k-labels-idx1-ubyte.gz"] == \
        "bb300cfdad3c16e7a12a480ee83cd310"
    assert downloads.base_url("mnist").startswith("https://ossci-datasets.s3.amazonaws.com")
