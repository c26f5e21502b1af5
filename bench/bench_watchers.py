"""Watchers bench: how many watchers of a running spiral (pictures on) one server core serves,
with each picture frame encoded once per watcher (before) or once for all (after, issue 14).

    python bench/bench_watchers.py [--watchers 200 500 1000] [--seconds 10] [--rounds 2]

Two servers run side by side as `layerlab serve` would (bench_server.Server), one with
FRAME_ENCODE_ONCE off, one with it on; rounds alternate between them so that drift in machine
load hits both alike. In each round a speaker trains the spiral until stopped and N raw
Socket.IO-over-WebSocket clients (bench_audience.AudienceMember, in their own process at nice
19) watch it, acknowledging every picture so the server sends the next. Figures: the server
process's CPU (its workers excluded) per second of wall time, watchers per server core
(N / that), picture events delivered per second, and the step -> watcher latency of run_metrics
points (receive time minus the point's t_wall, the worker's clock on the same machine) p50 and
p95 over the first 50 watchers. Goal: 1,000 watchers on one core, p95 <= 250 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_audience import EVENT, AudienceMember  # noqa: E402 - sibling scripts, not a package
from bench_server import Client, header, spiral, start_server  # noqa: E402

LATENCY_SAMPLERS = 50  # watchers that also time run_metrics points (JSON parsing costs them)


class TimedMember(AudienceMember):
    """A watcher that also records how late each run_metrics point arrives."""

    def __init__(self, url: str, timed: bool):
        self.timed = timed
        self.latencies: list[float] = []
        super().__init__(url)

    def _read(self) -> None:
        try:
            while True:
                frame = self.ws.recv()
                self.received["bytes"] += len(frame)
                if isinstance(frame, bytes):
                    continue
                if frame == "2":
                    self._send("3")
                elif frame.startswith("43"):
                    m = frame[2:]
                    digits = len(m) - len(m.lstrip("0123456789"))
                    n = int(m[:digits])
                    if n in self.acks:
                        self.answers[n] = json.loads(m[digits:])
                        self.acks[n].set()
                elif (m := EVENT.match(frame)) is not None:
                    self.received["events"] += 1
                    if m.group(1):
                        self._send(f"43{m.group(1)}[]")
                    if self.timed and frame.startswith('42["run_metrics"'):
                        now = time.time()
                        for p in json.loads(frame[2:])[1]["points"]:
                            if "t_wall" in p:
                                self.latencies.append(now - p["t_wall"])
        except Exception:  # noqa: BLE001 - the socket closed: the bench is over
            return


def members_main(url: str, size: int) -> None:
    """Child process: `size` watchers; obey `watch ID` / `unwatch ID` / `quit` lines."""
    os.nice(19)  # the phones' own work: only what the server leaves
    members = [TimedMember(url, i < LATENCY_SAMPLERS) for i in range(size)]
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, run_id = line.strip().partition(" ")
        if command == "quit":
            break
        for m in members:
            m.latencies.clear()
        before = sum(m.received["events"] for m in members)
        threads = [threading.Thread(target=m.call, args=(command, {"run_id": run_id}))
                   for m in members]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        events = sum(m.received["events"] for m in members) - before
        lat = [x for m in members for x in m.latencies]
        print(json.dumps({"events": events, "latencies": lat}), flush=True)
    for m in members:
        m.close()


class Members:
    def __init__(self, url: str, size: int):
        self.proc = subprocess.Popen([sys.executable, __file__, "--member-of", url,
                                      "--size", str(size)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the watchers did not connect ({line!r})")

    def ask(self, command: str, run_id: str) -> dict:
        self.proc.stdin.write(f"{command} {run_id}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(60)


def one_round(server, speaker: Client, members: Members, seconds: float) -> dict:
    speaker.first_metric.clear()
    ack = speaker.call("train", spiral(epochs=None, steps=None))
    run_id, token = ack["run_id"], ack["token"]
    if not speaker.first_metric.wait(120):
        raise RuntimeError("the run did not start training")
    members.ask("watch", run_id)
    time.sleep(1.0)  # the watchers' first frames: not part of the steady state measured
    members.ask("unwatch", run_id)
    members.ask("watch", run_id)
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    cpu = (server.cpu_seconds() - cpu0) / wall
    got = members.ask("unwatch", run_id)
    speaker.ended.clear()
    speaker.call("control", {"run_id": run_id, "token": token, "action": "stop"})
    speaker.ended.wait(60)  # the worker is free for the next round
    lat = sorted(got["latencies"]) or [float("nan")]
    return {"cpu": cpu, "events_per_s": got["events"] / wall,
            "p50": lat[len(lat) // 2] * 1000, "p95": lat[int(len(lat) * 0.95)] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per mode and count")
    parser.add_argument("--member-of", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.member_of:
        return members_main(args.member_of, args.size)
    print(header("watchers", False, f"; {args.rounds} rounds of {args.seconds:g} s per mode "
                 "and count"))
    modes = {"per watcher": False, "once": True}
    rows = []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        servers = {name: start_server(d, False, FRAME_ENCODE_ONCE=once, MAX_QUEUED_RUNS=1000)
                   for (name, once), d in zip(modes.items(), (a, b), strict=True)}
        try:
            speakers = {name: Client(s.url) for name, s in servers.items()}
            for n in args.watchers:
                results: dict[str, list[dict]] = {name: [] for name in modes}
                crowds = {name: Members(s.url, n) for name, s in servers.items()}
                try:
                    for r in range(args.rounds):
                        for name in modes:
                            res = one_round(servers[name], speakers[name], crowds[name],
                                            args.seconds)
                            results[name].append(res)
                            print(f"{n:>5} watchers, {name:<11} round {r + 1}: server CPU "
                                  f"{res['cpu']:5.0%}  {res['events_per_s']:8,.0f} events/s  "
                                  f"latency p50 {res['p50']:5.0f} ms p95 {res['p95']:5.0f} ms",
                                  flush=True)
                finally:
                    for c in crowds.values():
                        c.close()
                for name in modes:
                    med = {k: statistics.median(x[k] for x in results[name])
                           for k in ("cpu", "events_per_s", "p50", "p95")}
                    rows.append((n, name, med))
            for s in speakers.values():
                s.sio.disconnect()
        finally:
            for s in servers.values():
                s.close()
    print(f"\n{'watchers':>8} | {'encoding':<11} | {'server CPU':>10} | {'watchers/core':>13} | "
          f"{'events/s':>9} | {'CPU/event':>9} | {'p50 ms':>6} | {'p95 ms':>6}")
    print("-" * 96)
    for n, name, med in rows:
        per_core = n / med["cpu"] if med["cpu"] > 0 else float("inf")
        per_event = med["cpu"] / max(med["events_per_s"], 1) * 1e6
        print(f"{n:>8} | {name:<11} | {med['cpu']:>10.0%} | {per_core:>13,.0f} | "
              f"{med['events_per_s']:>9,.0f} | {per_event:>6.0f} us | {med['p50']:>6.0f} | "
              f"{med['p95']:>6.0f}")
    by = {(n, name): med for n, name, med in rows}
    for n in args.watchers:
        before, after = by[(n, "per watcher")], by[(n, "once")]
        cost = [m["cpu"] / max(m["events_per_s"], 1) for m in (before, after)]
        more = after["events_per_s"] / max(before["events_per_s"], 1)
        print(f"{n} watchers: server CPU per delivered event, once / per watcher "
              f"{cost[1] / cost[0]:.2f}; events/s {more:.2f}x")


if __name__ == "__main__":
    main()
