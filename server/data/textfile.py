"""Uploaded text: next-character prediction (CONTRACTS.md §7 "Text").

A UTF-8 file is checked when it arrives (decodable, long enough, not too many distinct
characters) and kept as it is. Its vocabulary is the characters it holds, in code-point order;
an example is `seq_len` character ids (floats, as Embedding takes them) and the target is the
id of the character that follows. Windows start at seeded random places: train windows in the
first part of the text, validation windows in the last `val_fraction` of it, so that no
validation window overlaps one the network trained on.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .errors import DatasetError
from .sidecar import read_sidecar, store_upload

MAX_BYTES = 20 * 2**20
MIN_CHARS = 200
MAX_VOCAB = 512
PREVIEW_CHARS = 400
_texts: dict[str, tuple[tuple, str]] = {}  # path -> (stamp, text): decoded once per process
_lock = threading.Lock()


def text_path(data_dir: str | os.PathLike, upload_id: str) -> Path:
    """Where an uploaded text lives (the id's form is checked by the caller)."""
    return Path(data_dir) / "uploads" / f"{upload_id}.txt"


def decode(raw: bytes) -> str:
    """The bytes as UTF-8 text, or a DatasetError saying where they are not."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DatasetError(f"the file is not UTF-8 text: byte {e.start:,} (line {line}) is "
                           f"{raw[e.start:e.start + 1]!r}; save it as UTF-8", "upload") from None
    if "\x00" in text:
        raise DatasetError("the file holds NUL characters: it looks like a binary file, not "
                           "text", "upload")
    return text.replace("\r\n", "\n")


def summarise_text(text: str) -> dict:
    """Length, vocabulary and the first lines of a text; checks it can be learned from."""
    if len(text) < MIN_CHARS:
        raise DatasetError(f"the text has {len(text)} characters; next-character prediction "
                           f"needs at least {MIN_CHARS}", "upload")
    vocab = sorted(set(text))
    if len(vocab) > MAX_VOCAB:
        raise DatasetError(f"the text uses {len(vocab):,} distinct characters; the limit is "
                           f"{MAX_VOCAB} (a vocabulary that large needs a tokenizer, not "
                           "characters)", "upload")
    return {"characters": len(text), "vocab": vocab, "preview": text[:PREVIEW_CHARS]}


def save_text(data_dir: str | os.PathLike, filename: str, raw: bytes,
              max_bytes: int = MAX_BYTES) -> dict:
    """Check and store an uploaded text file; returns the upload's public summary."""
    if len(raw) > max_bytes:
        raise DatasetError(f"the file is {len(raw) / 2**20:.1f} MiB; the limit is "
                           f"{max_bytes / 2**20:.0f} MiB", "upload")
    text = decode(raw)
    upload_id, meta = store_upload(lambda i: text_path(data_dir, i), "text", filename,
                                   "text.txt", text.encode("utf-8"), summarise_text(text))
    return public(upload_id, meta)


def public(upload_id: str, meta: dict) -> dict:
    """What POST /api/uploads answers for a text."""
    return {"upload_id": upload_id, "kind": "text", "filename": meta["filename"],
            "characters": meta["characters"], "vocab": meta["vocab"],
            "preview": meta["preview"]}


def inspect_text(data_dir: str | os.PathLike, upload_id: str) -> dict:
    """A text upload's sidecar summary, or a DatasetError if it is gone."""
    return read_sidecar(text_path(data_dir, upload_id), "text", "text", upload_id)


def read_text(data_dir: str | os.PathLike, upload_id: str) -> str:
    """An uploaded text, decoded (cached per process while the file is unchanged)."""
    path = text_path(data_dir, upload_id)
    st = path.stat()
    stamp = (st.st_size, st.st_mtime_ns)
    with _lock:
        hit = _texts.get(str(path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
    text = path.read_text(encoding="utf-8")
    with _lock:
        _texts.clear()  # one text at a time is what a worker trains on
        _texts[str(path)] = (stamp, text)
    return text


def split_point(length: int, seq_len: int, val_fraction: float) -> int:
    """Where the validation part of a text begins (both parts hold at least one window)."""
    cut = int(length * (1 - val_fraction))
    if cut <= seq_len or length - cut <= seq_len:
        raise DatasetError(f"a text of {length:,} characters split at val_fraction "
                           f"{val_fraction} leaves a part shorter than seq_len {seq_len}; use "
                           "a shorter seq_len or a longer text", "seq_len")
    return cut


def windows(ids, starts, seq_len: int):
    """(x float32 [N, seq_len], y int64 [N]): each window and the id that follows it."""
    import numpy as np

    index = starts[:, None] + np.arange(seq_len)[None, :]
    return ids[index].astype(np.float32), ids[starts + seq_len].astype(np.int64)


def load_text(data_dir: str | os.PathLike, upload_id: str, seq_len: int, n_train: int,
              n_val: int, val_fraction: float, rng) -> tuple:
    """(x_train, y_train, x_val, y_val): n_train and n_val windows of the text, by the rng."""
    import numpy as np

    meta = inspect_text(data_dir, upload_id)
    text = read_text(data_dir, upload_id)
    index = {c: i for i, c in enumerate(meta["vocab"])}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    cut = split_point(len(ids), seq_len, val_fraction)
    train = rng.integers(0, cut - seq_len, size=n_train)
    val = rng.integers(cut, len(ids) - seq_len, size=n_val)
    return (*windows(ids, train, seq_len), *windows(ids, val, seq_len))


def prompt_ids(data_dir: str | os.PathLike, upload_id: str, seq_len: int,
               val_fraction: float) -> tuple[list[int], str]:
    """The fixed prompt run_text continues: the first window of the validation part."""
    meta = inspect_text(data_dir, upload_id)
    text = read_text(data_dir, upload_id)
    cut = split_point(len(text), seq_len, val_fraction)
    prompt = text[cut:cut + seq_len]
    index = {c: i for i, c in enumerate(meta["vocab"])}
    return [index[c] for c in prompt], prompt
