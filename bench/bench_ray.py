"""The Ray runner against the local pool: time from Train to the first metric, and training
throughput, side by side.

Each runner gets a real `layerlab serve` (subprocess) on its own data folder; the Ray one runs on
a local cluster this script starts on loopback (or on --ray-address). A python-socketio client
trains the spiral MLP for a fixed number of steps, `--repeats` times one after another:

    python bench/bench_ray.py [--steps 3000] [--repeats 3] [--ray-address HOST:PORT]

Figures: first metric = the client's receive time of the first run_metrics minus the time it
sent `train` (the local pool's workers are warm; a Ray run makes its actor, a new process that
imports torch); samples/s = the run's own figure (its trainer's); wall = `train` to `finished`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import cluster  # noqa: E402 - the tests' cluster, Redis and server helpers
from tests.live import Client, example, wait_for  # noqa: E402


def measure(url: str, steps: int) -> dict:
    """One run of the spiral MLP: first metric, samples/s and wall time."""
    client = Client(url)
    try:
        sent = time.time()
        run_id, _ = client.train(example(epochs=None, steps=steps))
        first = wait_for(lambda: next((t for name, t, p in client.events
                                       if name == "run_metrics" and p["run_id"] == run_id),
                                      None), 300, "the first metric")
        end = client.wait_state(run_id, "finished", "failed", "stopped", timeout=600)
        assert end["state"] == "finished", end
        wall = time.time() - sent
    finally:
        client.close()
    return {"first": first - sent, "wall": wall, "run_id": run_id}


def bench(name: str, served: cluster.Served, steps: int, repeats: int) -> dict:
    wait_for(lambda: served.get("/api/health")["runner"]["ok"], 120, f"{name} to be ready")
    if name == "local":
        wait_for(lambda: served.get("/api/health")["runs"]["ready_workers"] >= 1, 120,
                 "a warm worker")
    runs = []
    for _ in range(repeats):
        run = measure(served.url, steps)
        run["samples_per_second"] = served.get(f"/api/runs/{run['run_id']}")["result"][
            "samples_per_second"]
        runs.append(run)
        print(f"  {name}: first metric {run['first']:.2f} s, "
              f"{run['samples_per_second']:,.0f} samples/s, {run['wall']:.2f} s", flush=True)
    return {k: [r[k] for r in runs] for k in ("first", "samples_per_second", "wall")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray-address", default=None,
                        help="an existing cluster (default: a local one on loopback)")
    args = parser.parse_args()
    why = cluster.missing()
    if why and not args.ray_address:
        raise SystemExit(f"cannot start a local Ray cluster: {why}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; spiral MLP, "
          f"{args.steps} steps, {args.repeats} runs each", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    head = None if args.ray_address else cluster.RayHead(cpus=2)
    address = args.ray_address or head.address
    results = {}
    try:
        for name, extra in (("local", ()), ("ray", ("--runner", "ray", "--ray-address",
                                                    address))):
            served = cluster.Served(folder / name, folder / f"{name}.log", *extra)
            try:
                results[name] = bench(name, served, args.steps, args.repeats)
            finally:
                served.close()
    finally:
        if head is not None:
            head.close()
    columns = (("first metric (s)", "first", 2), ("samples/s", "samples_per_second", 0),
               ("train to finished (s)", "wall", 2))
    print("\nmedian (min-max)" + "".join(f"{title:>26}" for title, _, _ in columns))
    for name, r in results.items():
        print(f"{name:16}" + "".join(
            f"{statistics.median(r[k]):.{d}f} ({min(r[k]):.{d}f}-{max(r[k]):.{d}f})".rjust(26)
            for _, k, d in columns))


if __name__ == "__main__":
    main()
