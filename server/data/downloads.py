"""MNIST and Fashion-MNIST: download once (urllib), verify checksums, cache, parse IDX."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import DatasetError

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
SOURCES = {  # name: (default base URL, env var that overrides it)
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "LAYERLAB_MNIST_URL"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "LAYERLAB_FASHION_MNIST_URL"),
}
# The published MD5s (as in torchvision); a 64-hex-digit entry is read as SHA-256.
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
# Sizes in bytes, only to estimate the progress total before each Content-Length is known.
APPROX_SIZES: dict[str, dict[str, int]] = {
    "mnist": dict(zip(FILES, (9_912_422, 28_881, 1_648_877, 4_542), strict=True)),
    "fashion_mnist": dict(zip(FILES, (26_421_880, 29_515, 4_422_102, 5_148), strict=True)),
}
TIMEOUT_S = 30
CHUNK = 1 << 16
Progress = Callable[[int, int | None], None]


def base_url(name: str) -> str:
    """The base URL the files of `name` are fetched from (env override first)."""
    default, env = SOURCES[name]
    return os.environ.get(env) or default


def cache_dir(data_dir: str | os.PathLike, name: str) -> Path:
    """Where the files of `name` are cached: <data_dir>/datasets/<name>/."""
    return Path(data_dir) / "datasets" / name


def _digest(path: Path, expected: str) -> str:
    h = hashlib.sha256() if len(expected) == 64 else hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _expected(name: str, fname: str, folder: Path) -> str:
    expected = CHECKSUMS.get(name, {}).get(fname)
    if not expected:
        raise DatasetError(f"no known checksum for {name} file {fname}; place verified files "
                           f"in {folder}", "name")
    return expected.lower()


def _download(url: str, dest: Path, expected: str, report: Progress, name: str) -> None:
    """Fetch url into dest via a temporary file; only a file with the right checksum is kept."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            report(0, total)
            while block := resp.read(CHUNK):
                out.write(block)
                done += len(block)
                report(done, total)
        got = _digest(tmp, expected)
        if got != expected:
            raise DatasetError(f"checksum mismatch for {url}: expected {expected}, got {got}; "
                               f"the download was discarded. Place the verified files in "
                               f"{dest.parent}", "name")
        os.replace(tmp, dest)
    except DatasetError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DatasetError(f"could not download {name} from {url}: {reason}; place the files "
                           f"{', '.join(FILES)} in {dest.parent}", "name") from exc
    finally:
        tmp.unlink(missing_ok=True)


def fetch(name: str, data_dir: str | os.PathLike, progress: Progress | None = None) -> dict:
    """Make sure the four files of `name` are cached and verified; returns {file: path}."""
    folder = cache_dir(data_dir, name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the {name} cache folder {folder}: {exc}",
                           "name") from exc
    paths, missing = {}, []
    for fname in FILES:
        path, expected = folder / fname, _expected(name, fname, folder)
        paths[fname] = path
        if not path.exists() or _digest(path, expected) != expected:
            missing.append((fname, expected))  # absent, or corrupt: fetched (and replaced)
    sizes = {f: APPROX_SIZES.get(name, {}).get(f) for f, _ in missing}
    dones = {f: 0 for f, _ in missing}
    base = base_url(name).rstrip("/") + "/"
    for fname, expected in missing:
        def report(done: int, total: int | None, fname: str = fname) -> None:
            """Record one file's progress and pass the overall figures on."""
            dones[fname] = done
            if total is not None:
                sizes[fname] = total
            if progress is not None:
                known = all(v is not None for v in sizes.values())
                progress(sum(dones.values()), sum(sizes.values()) if known else None)

        _download(base + fname, paths[fname], expected, report, name)
    return paths


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes into a uint8 array."""
    data = gzip.decompress(path.read_bytes())
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes", "name")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if len(data) != header + int(np.prod(dims)):
        raise DatasetError(f"{path} is truncated or malformed (dims {dims})", "name")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_idx_set(name: str, data_dir: str | os.PathLike,
                 progress: Progress | None = None) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): images float32 (N, 1, 28, 28) in 0..1, labels int64."""
    paths = fetch(name, data_dir, progress)
    arrays = [read_idx(paths[f]) for f in FILES]
    out = []
    for images, labels in ((arrays[0], arrays[1]), (arrays[2], arrays[3])):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(f"{name} files have unexpected shapes {images.shape} and "
                               f"{labels.shape}", "name")
        x = images.astype(np.float32)
        x /= 255.0
        out += [x[:, None, :, :], labels.astype(np.int64)]
    return tuple(out)
