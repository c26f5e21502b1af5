"""Server benchmark: time to the first metric, step-to-client latency, and what watchers cost.

Runs the server in a subprocess (as `layerlab serve` would) and drives it with python-socketio
clients from this process:

    python bench/bench_server.py [--steps 20000] [--repeats 3] [--watchers 0,1,10,100] [--pin]

Figures: `train` -> first `run_metrics` with a cold pool (the worker is spawned on demand) and a
warm one; latency = client receive time - the worker's wall clock when it made the point
(`t_wall`); throughput = the run's own samples/s (paused time excluded) with N watchers, as a
ratio to the run with none. Targets: first metric <= 1 s warm on CPU, p95 <= 150 ms, <= 5 %
throughput loss with 100 watchers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import example, socketio_client  # noqa: E402 - the tests' document and client


def spiral(**training) -> dict:
    """The spiral example with some training fields replaced (None removes one)."""
    return example("spiral_mlp", **training)


def serve_main(config: str) -> None:
    """Child process: serve an app with this JSON config on a free port; print the port."""
    import logging

    from server import create_app
    from server.web.serve import make_wsgi_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config = json.loads(config)
    if config.pop("PIN", False):
        os.sched_setaffinity(0, {0})  # the server's threads on CPU 0 (workers are moved off)
    app = create_app(config)
    server = make_wsgi_server("127.0.0.1", 0, app)
    print(server.port, flush=True)
    try:
        server.serve_forever()
    finally:
        app.extensions["layerlab"].close()


class Server:
    """The server subprocess."""

    def __init__(self, data_dir: str, **config):
        config = {"DATA_DIR": data_dir, "MAX_CONCURRENT_RUNS": 1, **config}
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps(config)],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def pin_workers(self) -> None:
        """Move every thread of every worker process to the CPUs other than 0."""
        others = set(range(1, os.cpu_count() or 1))
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        for pid in children.split():
            for task in Path(f"/proc/{pid}/task").iterdir():
                os.sched_setaffinity(int(task.name), others)

    def cpu_seconds(self) -> float:
        """CPU time the server process (not its workers) has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def result(self, run_id: str) -> dict:
        with urllib.request.urlopen(f"{self.url}/api/runs/{run_id}", timeout=30) as response:
            return json.load(response)["result"]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def header(name: str, pin: bool, extra: str = "") -> str:
    """The first line a bench prints: the machine, its load, and whether it was pinned."""
    return (f"# Layerlab {name} bench: {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python "
            f"{platform.python_version()}{', pinned' if pin else ''}{extra}")


def start_server(data_dir: str, pin: bool, **config) -> Server:
    """The server subprocess; pinned, it and this process (the clients) go to CPU 0."""
    if pin:
        os.sched_setaffinity(0, {0})
    return Server(data_dir, PIN=pin, **config)


class Caller:
    """What the bench's socket.io clients share: `sio`, `ended`, and acknowledged calls."""

    sio: object
    ended: threading.Event

    def _status(self, payload: dict) -> None:
        if payload["state"] in ("finished", "stopped", "failed"):
            self.ended.set()

    def call(self, event: str, data: dict) -> dict:
        ack = self.sio.call(event, data, timeout=60)
        if not ack.get("ok"):
            raise RuntimeError(f"{event} refused: {ack}")
        return ack


class Client(Caller):
    """A socket.io client that timestamps every point it receives."""

    def __init__(self, url: str):
        self.sio = socketio_client()  # in order: a picture's attachments follow its event
        self.latencies: list[float] = []
        self.first_metric = threading.Event()
        self.ended = threading.Event()
        self.sio.on("run_metrics", self._metrics)
        self.sio.on("run_status", self._status)
        self.sio.connect(url, transports=["websocket"], wait_timeout=30)

    def _metrics(self, payload: dict) -> None:
        now = time.time()
        self.latencies += [now - p["t_wall"] for p in payload["points"] if "t_wall" in p]
        self.first_metric.set()


class RawWatcher:
    """A bare Socket.IO-over-WebSocket watcher: it stores frames and decodes them afterwards.

    100 full python-socketio clients in this process would spend more CPU than the server does
    and so measure themselves; this one only reads, answers pings and timestamps.
    """

    def __init__(self, url: str):
        import websocket

        self.ws = websocket.create_connection(
            url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", timeout=60)
        self.frames: list[tuple[float, str]] = []
        self.ws.recv()  # the Engine.IO open packet
        self.ws.send("40")  # connect to the default namespace
        while not self.ws.recv().startswith("40"):
            pass
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                frame = self.ws.recv()
                if frame == "2":
                    self.ws.send("3")  # pong
                elif isinstance(frame, str):  # binary frames are pictures' attachments: skipped
                    self.frames.append((time.time(), frame))
        except Exception:  # noqa: BLE001 - the socket closed: the bench is over
            return

    def call(self, event: str, data: dict) -> dict:
        self.ws.send("421" + json.dumps([event, data]))
        deadline = time.time() + 60
        while time.time() < deadline:
            acks = [f for _, f in self.frames if f.startswith("431")]
            if acks:
                return json.loads(acks[-1][3:])[0]
            time.sleep(0.005)
        raise RuntimeError(f"no ack for {event}")

    @property
    def latencies(self) -> list[float]:
        out = []
        for t, frame in self.frames:
            if frame.startswith('42["run_metrics"'):
                out += [t - p["t_wall"] for p in json.loads(frame[2:])[1]["points"]]
        return out

    def reset(self) -> None:
        self.frames.clear()

    def close(self) -> None:
        self.ws.close()


def first_metric_seconds(server: Server, client: Client) -> float:
    """train -> the first run_metrics, then stop the run."""
    client.first_metric.clear()
    client.ended.clear()
    start = time.perf_counter()
    ack = client.call("train", spiral(epochs=None, steps=None))
    client.first_metric.wait(120)
    took = time.perf_counter() - start
    client.call("control", {"run_id": ack["run_id"], "token": ack["token"], "action": "stop"})
    client.ended.wait(30)
    return took


def run_with_watchers(server: Server, owner: Client, watchers: list[RawWatcher],
                      steps: int) -> tuple[float, list[float], float, float]:
    """One run watched by every client: samples/s, latencies (s), server and client CPU (cores)."""
    owner.latencies.clear()
    owner.ended.clear()
    for c in watchers:
        c.reset()
    ack = owner.call("train", spiral(epochs=None, steps=steps))
    run_id, token = ack["run_id"], ack["token"]
    owner.call("control", {"run_id": run_id, "token": token, "action": "pause"})
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda c: c.call("watch", {"run_id": run_id}), watchers))
    cpu0, mine0, t0 = server.cpu_seconds(), sum(os.times()[:2]), time.perf_counter()
    owner.call("control", {"run_id": run_id, "token": token, "action": "resume"})
    owner.ended.wait(600)
    wall = time.perf_counter() - t0
    cpu, mine = server.cpu_seconds() - cpu0, sum(os.times()[:2]) - mine0
    time.sleep(0.2)  # the last batch reaches the slowest watcher
    latencies = [x for c in (owner, *watchers) for x in c.latencies]
    return server.result(run_id)["samples_per_second"], latencies, cpu / wall, mine / wall


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000, help="steps of each throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per watcher count")
    parser.add_argument("--watchers", default="0,1,10,100")
    parser.add_argument("--pin", action="store_true",
                        help="server and clients on CPU 0, the training worker on the others")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_main(args.serve)
    import tempfile

    counts = [int(n) for n in args.watchers.split(",")]
    print(header("server", args.pin))
    with tempfile.TemporaryDirectory() as data:
        server = start_server(data, args.pin, WORKER_POOL=0)  # no warm worker: spawned on demand
        try:
            owner = Client(server.url)
            cold = first_metric_seconds(server, owner)
            if args.pin:
                server.pin_workers()
            warm = statistics.median(first_metric_seconds(server, owner) for _ in range(5))
            print(f"\ntrain -> first run_metrics: cold pool {cold * 1000:.0f} ms, "
                  f"warm pool {warm * 1000:.0f} ms (median of 5)")
            rows, base = [], None
            groups = {n: [RawWatcher(server.url) for _ in range(n)] for n in counts}
            results: dict[int, list] = {n: [] for n in counts}
            for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
                for n in counts:
                    results[n].append(run_with_watchers(server, owner, groups[n], args.steps))
            for n in counts:
                runs = results[n]
                rate = statistics.median(r[0] for r in runs)
                lat = [x for r in runs for x in r[1]]
                base = base or rate
                rows.append((n, rate, rate / base, percentile(lat, 50), percentile(lat, 95),
                             len(lat), statistics.median(r[2] for r in runs),
                             statistics.median(r[3] for r in runs)))
                for c in groups[n]:
                    c.close()
            owner.sio.disconnect()
        finally:
            server.close()  # also on an error: no server left running
    print(f"\n{'watchers':>8} | {'samples/s':>10} | {'ratio':>6} | {'p50 ms':>7} | "
          f"{'p95 ms':>7} | {'points':>7} | {'server CPU':>10} | {'clients CPU':>11}")
    print("-" * 90)
    for n, rate, ratio, p50, p95, count, cpu, mine in rows:
        print(f"{n:>8} | {rate:>10,.0f} | {ratio:>6.3f} | {p50 * 1000:>7.1f} | "
              f"{p95 * 1000:>7.1f} | {count:>7} | {cpu:>9.0%} | {mine:>10.0%}")
    print(f"\nthroughput: median of {args.repeats} runs of {args.steps} steps (batch 32); "
          "latency over every point every client received;\nCPU in cores while training: the "
          "server process (workers excluded) and this process's clients")


if __name__ == "__main__":
    main()
