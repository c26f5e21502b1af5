"""Timeline: snapshots of a run's newest pictures about every second of training, kept bounded.

A run keeps at most `limit` checkpoints; when full, every other one is dropped and the interval
doubles, so the timeline stays evenly spread however long the run trains. An ended run's
timeline is saved in its folder as two files, without pickle:

    timeline.json   {"format", "version", "interval", "limit", "compression", "checkpoints",
                    "samples"}; every bytes value is replaced by {"$bytes": [offset, length]}
                    into timeline.bin once decompressed
    timeline.bin    the frames' bytes, each stored once however many checkpoints share it,
                    zlib-compressed (uint8 pictures shrink about 3x, in ~10 ms a MB)
"""

from __future__ import annotations

import bisect
import json
import zlib
from pathlib import Path

from server.data.atomic import write_atomic
from server.kinds import PICTURE_NAMES

FORMAT = "layerlab.timeline"
VERSION = 1
SEEKABLE = tuple(f"run_{name}" for name in PICTURE_NAMES)  # every kind's picture events
META, BLOB = "timeline.json", "timeline.bin"


class Timeline:
    """A run's checkpoints: {step, epoch, time, frames: {event: payload}}, oldest first."""

    def __init__(self, interval: float = 1.0, limit: int = 200):
        self.interval = interval  # seconds of training between two checkpoints
        self.limit = max(2, limit)
        self.checkpoints: list[dict] = []
        self.samples: dict | None = None  # the run_samples payload: the fixed samples

    def offer(self, info: dict, latest: dict) -> bool:
        """Snapshot `latest` when `interval` s of training passed (always for a final set)."""
        last = self.checkpoints[-1] if self.checkpoints else None
        if last and not info.get("final") and info["time"] < last["time"] + self.interval:
            return False
        if last and last["step"] == info["step"]:
            self.checkpoints.pop()  # the same step again: keep the fuller snapshot
        elif len(self.checkpoints) >= self.limit:
            self.checkpoints = self.checkpoints[::2]
            self.interval *= 2
        frames = {event: latest[event] for event in SEEKABLE if event in latest}
        self.checkpoints.append({"step": info["step"], "epoch": info["epoch"],
                                 "time": info["time"], "frames": frames})
        return True

    def index(self) -> list[dict]:
        """Each checkpoint's step, epoch and time of training."""
        return [{k: c[k] for k in ("step", "epoch", "time")} for c in self.checkpoints]

    def at(self, step: int) -> dict | None:
        """The last checkpoint at or before `step` (the first one for an earlier step)."""
        if not self.checkpoints:
            return None
        i = bisect.bisect_right([c["step"] for c in self.checkpoints], step)
        return self.checkpoints[max(0, i - 1)]

    def latest(self) -> dict | None:
        """The newest checkpoint."""
        return self.checkpoints[-1] if self.checkpoints else None

    # -- files ---------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write timeline.bin, then timeline.json (each replaced atomically)."""
        blob = bytearray()
        offsets: dict[int, list[int]] = {}

        def pack(value):
            if isinstance(value, bytes | bytearray):
                if id(value) not in offsets:
                    offsets[id(value)] = [len(blob), len(value)]
                    blob.extend(value)
                return {"$bytes": offsets[id(value)]}
            if isinstance(value, dict):
                return {k: pack(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [pack(v) for v in value]
            return value

        meta = {"format": FORMAT, "version": VERSION, "interval": self.interval,
                "limit": self.limit, "compression": "zlib", "checkpoints": pack(self.checkpoints),
                "samples": pack(self.samples)}
        write_atomic(folder / BLOB, zlib.compress(bytes(blob), 1))
        write_atomic(folder / META, json.dumps(meta, separators=(",", ":")).encode())

    @classmethod
    def load(cls, folder: Path) -> Timeline | None:
        """A saved timeline, or None when the run has none (or it cannot be read)."""
        try:
            meta = json.loads((folder / META).read_text())
            blob = (folder / BLOB).read_bytes()
            if meta.get("compression") == "zlib":
                blob = zlib.decompress(blob)
        except (OSError, ValueError, zlib.error):
            return None
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            return None
        cache: dict[tuple, bytes] = {}

        def unpack(value):
            if isinstance(value, dict):
                ref = value.get("$bytes")
                if ref is not None and len(value) == 1:
                    key = tuple(ref)
                    if key not in cache:
                        cache[key] = blob[ref[0]:ref[0] + ref[1]]
                    return cache[key]
                return {k: unpack(v) for k, v in value.items()}
            if isinstance(value, list):
                return [unpack(v) for v in value]
            return value

        timeline = cls(meta["interval"], meta.get("limit", 200))
        timeline.checkpoints = unpack(meta["checkpoints"])
        timeline.samples = unpack(meta.get("samples"))
        return timeline
