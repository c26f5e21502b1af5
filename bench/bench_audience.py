"""Audience bench: does a room of people watching a talk slow the speaker's run down?

    python bench/bench_audience.py [--audience 50] [--rounds 5] [--steps 20000] [--pin]

The server runs in a subprocess (bench_server.Server, as `layerlab serve` would). The speaker is a
python-socketio client that trains the spiral MLP. The audience is N Socket.IO clients in another
process, each on its own WebSocket, doing what the audience page does: `watch` the run (history
and live events), receive every run_status, run_metrics and picture frame, and acknowledge each
picture so the server sends the next one. Rounds alternate 0 and N watchers (interleaved, so drift
in machine load hits both alike); the figure is the run's own samples/s (paused time excluded),
median per count, and their ratio. Target: the ratio N/0 stays >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import Client, Server, header, spiral, start_server  # noqa: E402 - a sibling script, not a package

# An event packet from the server: Engine.IO "4", Socket.IO 2 (event) or 5 (binary event, with
# its attachment count), an optional namespace, then the ack id the server waits for, if any.
EVENT = re.compile(r"^4(?:2|5\d+-)(?:/[^,]*,)?(\d*)\[")


class AudienceMember:
    """One phone: a Socket.IO-over-WebSocket client that watches a run and acks its pictures."""

    def __init__(self, url: str, ack: bool = True):
        import websocket

        self.ws = websocket.create_connection(
            url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", timeout=60)
        self.ws.recv()  # the Engine.IO open packet
        self.ws.send("40")  # join the default namespace
        while not str(self.ws.recv()).startswith("40"):
            pass
        self.lock = threading.Lock()
        self.acks: dict[int, threading.Event] = {}
        self.answers: dict[int, object] = {}
        self.next_id = 100
        self.received = {"events": 0, "bytes": 0}
        self.ack = ack  # False: never acknowledge a picture (the server then sends no more)
        threading.Thread(target=self._read, daemon=True).start()

    def _send(self, text: str) -> None:
        with self.lock:
            self.ws.send(text)

    def _read(self) -> None:
        try:
            while True:
                frame = self.ws.recv()
                if isinstance(frame, bytes):  # a picture's binary attachment
                    self.received["bytes"] += len(frame)
                    continue
                self.received["bytes"] += len(frame)
                if frame == "2":
                    self._send("3")  # pong
                elif frame.startswith("43"):  # the ack of one of our calls
                    m = re.match(r"^43(\d+)(.*)$", frame, re.S)
                    if m and int(m.group(1)) in self.acks:
                        self.answers[int(m.group(1))] = json.loads(m.group(2))
                        self.acks[int(m.group(1))].set()
                elif (m := EVENT.match(frame)) is not None:
                    self.received["events"] += 1
                    if m.group(1) and self.ack:
                        self._send(f"43{m.group(1)}[]")  # acknowledged: the next frame may come
        except Exception:  # noqa: BLE001 - the socket closed: the bench is over
            return

    def call(self, event: str, data: dict, timeout: float = 60) -> dict:
        self.next_id += 1
        n = self.next_id
        self.acks[n] = threading.Event()
        self._send(f"42{n}" + json.dumps([event, data]))
        if not self.acks[n].wait(timeout):
            raise RuntimeError(f"no ack for {event}")
        return self.answers.pop(n)[0]

    def close(self) -> None:
        self.ws.close()


def audience_main(url: str, size: int, pin: bool, nice: bool, ack: bool) -> None:
    """Child process: connect `size` members; then obey `watch ID` / `unwatch ID` / `quit` lines."""
    if pin:
        os.sched_setaffinity(0, {0})
    if nice:
        os.nice(19)  # the phones' own work: only CPU the server and the worker leave
    members = [AudienceMember(url, ack) for _ in range(size)]
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, run_id = line.strip().partition(" ")
        if command == "quit":
            break
        message = {"run_id": run_id}
        threads = [threading.Thread(target=m.call, args=(command, message)) for m in members]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        events = sum(m.received["events"] for m in members)
        print(f"ok {events}", flush=True)
    for m in members:
        m.close()


class Audience:
    """The audience process, seen from the bench."""

    def __init__(self, url: str, size: int, pin: bool, nice: bool, ack: bool):
        args = [sys.executable, __file__, "--member-of", url, "--audience", str(size)]
        args += (["--pin"] if pin else []) + ([] if nice else ["--no-nice"])
        args += [] if ack else ["--no-ack"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent)
        assert self.proc.stdout.readline().strip() == "ready"

    def ask(self, command: str, run_id: str = "") -> int:
        self.proc.stdin.write(f"{command} {run_id}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        return int(answer[1])

    def cpu_seconds(self) -> float:
        """CPU time the audience process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(30)


def worker_pids(server: Server) -> list[int]:
    """The server's worker processes (its children)."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    return [int(p) for p in children.split()]


def schedstat(pids: list[int]) -> tuple[float, float]:
    """Seconds the workers' training threads (their main threads) ran and waited for a CPU."""
    ran = waited = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
        except OSError:
            continue
        ran, waited = ran + int(fields[0]) / 1e9, waited + int(fields[1]) / 1e9
    return ran, waited


def speaker_run(server: Server, speaker: Client, audience: Audience | None, steps: int) -> dict:
    """One run of `steps` steps, watched by the audience when given; the run's samples/s."""
    speaker.ended.clear()
    ack = speaker.call("train", spiral(epochs=None, steps=steps))
    run_id, token = ack["run_id"], ack["token"]
    speaker.call("control", {"run_id": run_id, "token": token, "action": "pause"})
    before = audience.ask("watch", run_id) if audience else 0
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    theirs0 = audience.cpu_seconds() if audience else 0.0
    workers = worker_pids(server)
    ran0, waited0 = schedstat(workers)
    speaker.call("control", {"run_id": run_id, "token": token, "action": "resume"})
    speaker.ended.wait(600)
    wall = time.perf_counter() - t0
    ran, waited = schedstat(workers)
    cpu = (server.cpu_seconds() - cpu0) / wall
    theirs = (audience.cpu_seconds() - theirs0) / wall if audience else 0.0
    events = audience.ask("unwatch", run_id) - before if audience else 0
    # Where the training thread's wall time went: on a CPU, waiting for one (other processes had
    # it), or neither (blocked: a full pipe to the server, a lock, paused).
    ran, waited = ran - ran0, waited - waited0
    return {"rate": server.result(run_id)["samples_per_second"], "server_cpu": cpu,
            "audience_cpu": theirs, "events": events, "seconds": wall, "ran": ran / wall,
            "cpu_per_kstep": ran / steps * 1000,
            "waited": waited / wall, "blocked": max(0.0, 1 - (ran + waited) / wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audience", type=int, default=50, help="watchers in the audience")
    parser.add_argument("--rounds", type=int, default=5, help="runs per watcher count")
    parser.add_argument("--steps", type=int, default=20000, help="steps of each run")
    parser.add_argument("--pin", action="store_true",
                        help="server and audience on CPU 0, the training worker on the others")
    parser.add_argument("--no-nice", dest="nice", action="store_false",
                        help="run the audience at normal priority (default: nice 19, as its "
                             "decoding stands in for work done on the phones)")
    parser.add_argument("--no-ack", dest="ack", action="store_false",
                        help="watchers never acknowledge pictures, so they get one of each kind "
                             "and then only status and metrics (isolates what pictures cost)")
    parser.add_argument("--member-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.member_of:
        return audience_main(args.member_of, args.audience, args.pin, args.nice, args.ack)

    print(header("audience", args.pin,
                 f"; {args.audience} watchers, {args.rounds} rounds of {args.steps} steps"))
    with tempfile.TemporaryDirectory() as data:
        server = start_server(data, args.pin)
        try:
            speaker = Client(server.url)
            speaker_run(server, speaker, None, 2000)  # warm-up: the worker's first run
            if args.pin:
                server.pin_workers()
            audience = Audience(server.url, args.audience, args.pin, args.nice, args.ack)
            results: dict[int, list[dict]] = {0: [], args.audience: []}
            for r in range(args.rounds):
                for n in (0, args.audience):
                    res = speaker_run(server, speaker, audience if n else None, args.steps)
                    results[n].append(res)
                    print(f"round {r + 1}: {n:>3} watchers  {res['rate']:>9,.0f} samples/s  "
                          f"{res['seconds']:5.1f} s  server CPU {res['server_cpu']:4.0%}  "
                          f"audience CPU {res['audience_cpu']:4.0%}  worker ran/waited/blocked "
                          f"{res['ran']:4.0%} {res['waited']:4.0%} {res['blocked']:4.0%}  "
                          f"events {res['events']:,}", flush=True)
            audience.close()
            speaker.sio.disconnect()
        finally:
            server.close()  # also on an error: no server left running
    base = statistics.median(r["rate"] for r in results[0])
    full = statistics.median(r["rate"] for r in results[args.audience])
    print(f"\n{'watchers':>8} | {'median samples/s':>16} | {'server CPU':>10} | "
          f"{'audience CPU':>12} | {'worker waited for CPU':>21} | {'worker blocked':>14}")
    print("-" * 98)
    for n, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs)
               for k in ("rate", "server_cpu", "audience_cpu", "waited", "blocked")}
        print(f"{n:>8} | {med['rate']:>16,.0f} | {med['server_cpu']:>10.0%} | "
              f"{med['audience_cpu']:>12.0%} | {med['waited']:>21.0%} | {med['blocked']:>14.0%}")
    verdict = "ok" if full / base >= 0.95 else "over the 5 % budget"
    print(f"\nthroughput ratio {args.audience} / 0 watchers: {full / base:.3f} ({verdict})")
    cost = [statistics.median(r["cpu_per_kstep"] for r in results[n]) for n in (0, args.audience)]
    print(f"training thread CPU per 1,000 steps: {cost[0] * 1000:.0f} ms with none, "
          f"{cost[1] * 1000:.0f} ms with {args.audience} (ratio {cost[0] / cost[1]:.3f}): what the "
          "worker itself does, whatever else wants the CPUs")


if __name__ == "__main__":
    main()
