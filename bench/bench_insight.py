"""Insight benchmark: what live pictures cost training, through the real server.

Runs `layerlab serve`'s app in a subprocess (one run at a time) and drives it with a
python-socketio client that acknowledges every frame, as the page does:

    python bench/bench_insight.py [--rounds 5] [--seconds 10] [--pin]

--pin puts the server and the watcher on CPU 0 and the training worker on the other CPUs, as on
a server with a core to spare (the page's work is a browser's elsewhere); unpinned, on a 2-CPU
machine, the three compete for CPU and the ratio in (a) measures that contention too.

(a) training throughput (the run's own samples/s, pauses excluded) of the spiral MLP and the
    digits CNN with every picture on and one watcher, against no watcher (no pictures made);
    interleaved rounds, median, as a ratio. Target: at most 5 % slower.
(b) spiral epochs per second (the shipped template: batch 32, 500 samples, val 0.3) trained for
    a fixed time with its boundary streaming at 10 frames a second to one watcher. Target:
    >= 600 epochs/s (TensorFlow Playground trains one epoch per animation frame, ~60/s).
    Then where a step's time goes, and the epochs/s at larger batch sizes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_server import Caller, header, start_server  # noqa: E402 - the server subprocess, shared
from tests.live import example, socketio_client  # noqa: E402 - the in-order python-socketio client

FRAMES = ("run_boundary", "run_activations", "run_health", "run_results", "run_weights")


class Watcher(Caller):
    """The page's part: start runs, acknowledge every frame, count what arrives."""

    def __init__(self, url: str):
        self.url = url
        self.on_paused = lambda: None  # called once each run has a worker, before it trains
        self.sio = socketio_client()
        self.counts = dict.fromkeys(FRAMES, 0)
        self.ended = threading.Event()
        for event in FRAMES:
            self.sio.on(event, self._counter(event))
        self.sio.on("run_status", self._status)
        self.sio.connect(url, transports=["websocket"], wait_timeout=30)

    def _counter(self, event: str):
        def count(payload) -> str:
            self.counts[event] += 1
            return "ok"  # the return value is the ack: the next frame may come

        return count

    def summary(self, run_id: str) -> dict:
        with urllib.request.urlopen(f"{self.url}/api/runs/{run_id}", timeout=30) as response:
            return json.load(response)

    def run(self, doc: dict, watched: bool, seconds: float | None = None) -> dict:
        """Train `doc` watched or not (stopped after `seconds` when given); its summary."""
        self.ended.clear()
        self.counts = dict.fromkeys(FRAMES, 0)
        ack = self.call("train", doc)
        run_id, token = ack["run_id"], ack["token"]
        self.call("control", {"run_id": run_id, "token": token, "action": "pause"})
        self.on_paused()
        if not watched:
            self.call("unwatch", {"run_id": run_id})
        self.call("control", {"run_id": run_id, "token": token, "action": "resume"})
        if seconds is not None:
            time.sleep(seconds)
            self.call("control", {"run_id": run_id, "token": token, "action": "stop"})
        while True:
            info = self.summary(run_id)
            if info["result"] is not None:
                return {**info["result"], "frames": dict(self.counts)}
            self.ended.wait(0.2)


def throughput(watcher: Watcher, rounds: int) -> list[tuple]:
    """(design, samples/s without, with, ratio, picture seconds share) per design."""
    cases = {"spiral_mlp": example("spiral_mlp", epochs=None, steps=30000),  # about 6 s
             "digits_cnn": example("digits_cnn", epochs=None, steps=4000)}  # about 6 s
    rows = []
    for name, doc in cases.items():
        watcher.run(doc, True)  # warm the worker's kernels for this design
        off, on, share = [], [], []
        for r in range(rounds):
            for watched in ((False, True) if r % 2 == 0 else (True, False)):
                result = watcher.run(doc, watched)
                (on if watched else off).append(result["samples_per_second"])
                if watched:
                    share.append(result["insight"]["seconds"] / result["seconds"])
        a, b = statistics.median(off), statistics.median(on)
        rows.append((name, a, b, b / a, statistics.median(share)))
    return rows


def epochs_per_second(watcher: Watcher, seconds: float, batch: int = 32,
                      watched: bool = True, **insight) -> dict:
    """An endless spiral run of the template trained for `seconds`: epochs/s and frames/s."""
    doc = example("spiral_mlp", epochs=None, batch_size=batch)
    result = watcher.run(doc, watched, seconds)
    steps_per_epoch = -(-350 // batch)
    return {"batch": batch, "epochs_per_s": result["steps"] / steps_per_epoch / result["seconds"],
            "step_ms": result["seconds"] / max(1, result["steps"]) * 1e3,
            "boundary_fps": result["frames"]["run_boundary"] / seconds,
            "picture_share": result["insight"]["seconds"] / result["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds for (a)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each (b) run")
    parser.add_argument("--pin", action="store_true",
                        help="server and watcher on CPU 0, the training worker on the others")
    args = parser.parse_args()
    import tempfile

    print(header("insight", args.pin))
    with tempfile.TemporaryDirectory() as data:
        server = start_server(data, args.pin)
        try:
            watcher = Watcher(server.url)
            if args.pin:
                watcher.on_paused = server.pin_workers
            report(watcher, args)
            watcher.sio.disconnect()
        finally:
            server.close()


def report(watcher: Watcher, args) -> None:
    """Run (a) and (b) and print their tables."""
    print(f"\n(a) throughput, every picture on + 1 watcher vs none; median of {args.rounds} "
          "interleaved rounds")
    print(f"{'design':<12} | {'off samples/s':>13} | {'on samples/s':>12} | {'ratio':>6} | "
          f"{'pictures':>8}")
    for name, off, on, ratio, share in throughput(watcher, args.rounds):
        print(f"{name:<12} | {off:>13,.0f} | {on:>12,.0f} | {ratio:>6.3f} | {share:>8.2%}")
    print(f"\n(b) spiral template (batch 32, 500 samples, val 0.3), {args.seconds:g} s per run")
    print(f"{'case':<32} | {'epochs/s':>8} | {'ms/step':>7} | {'boundary/s':>10} | "
          f"{'pictures':>8}")
    cases = [("batch 32, pictures on, 1 watcher", {}),
             ("batch 32, no watcher, no pictures", {"watched": False})]
    cases += [(f"batch {b}, pictures on, 1 watcher", {"batch": b}) for b in (64, 128, 350)]
    for label, kwargs in cases:
        r = epochs_per_second(watcher, args.seconds, **kwargs)
        print(f"{label:<32} | {r['epochs_per_s']:>8.0f} | {r['step_ms']:>7.3f} | "
              f"{r['boundary_fps']:>10.1f} | {r['picture_share']:>8.2%}")


if __name__ == "__main__":
    main()
