"""Watchers bench: how many watchers of a running spiral (pictures on) one server core serves:
each picture frame encoded once per watcher (before); once for all (issue 14) with each client's
packet queue a SendQueue (a cheaper wake-up of its writer thread); once for all with one reader
and one writer thread for every WebSocket client (web/wsio.py).

    python bench/bench_watchers.py [--watchers 200 500 1000] [--seconds 10] [--rounds 2] [--pin]
                                   [--deflate] [--modes "per watcher" "once+queues" "shared io"]

Three servers run side by side as `layerlab serve` would (bench_server.Server): FRAME_ENCODE_ONCE,
FAST_SEND_QUEUES and SHARED_IO off; the first two on; all three on. Rounds alternate between
them so that drift in machine load hits all alike. In each round a speaker trains the spiral
until stopped and N raw Socket.IO-over-WebSocket clients (Crowd: one asyncio loop in a process
of its own, at nice 19; with --pin the server has CPU 0 to itself and the crowd and the worker
share the rest) watch it, acknowledging every picture so the server sends the next. With
--deflate the watchers offer per-message deflate, as browsers do (a server that accepts it
compresses every message once per watcher). Figures: the server process's CPU (its workers
excluded) per second of wall time, watchers per server core (N / that), events delivered per
second, the step -> watcher latency of run_metrics points (receive time minus the point's
t_wall, the worker's clock on the same machine) p50 and p95 over the first 50 watchers, events
each watcher got a second (36 with one watcher: 18 run_metrics, 18 pictures) and the sockets the
server closed (a watcher too far behind to answer its pings).
Goal: 1,000 watchers on one core, p95 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_audience import EVENT  # noqa: E402 - sibling scripts, not a package
from bench_server import Client, Server, header, spiral  # noqa: E402

LATENCY_SAMPLERS = 50  # watchers that also time run_metrics points (JSON parsing costs them)


class Crowd:
    """N raw Socket.IO-over-WebSocket watchers on one asyncio loop (aiohttp, whose frame reader
    is compiled): a thread per watcher would spend more CPU than the server and measure itself.
    Each answers pings, acknowledges every picture (so the server sends the next) and counts
    events; the first LATENCY_SAMPLERS also time their run_metrics points."""

    def __init__(self, url: str, size: int, deflate: bool = False):
        self.url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.size = size
        self.deflate = deflate
        self.events = 0
        self.latencies: list[float] = []
        self.sockets: list = []
        self.waiting: dict[int, asyncio.Future] = {}  # our calls' ack ids -> their answers
        self.next_id = 0
        self.dropped = 0  # sockets the server closed (a watcher too far behind misses pings)

    async def open(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        gate = asyncio.Semaphore(32)  # the server's listen backlog: a few connects at a time

        async def one(i: int):
            async with gate:
                ws = await self.session.ws_connect(self.url, autoping=False, max_msg_size=0,
                                                   compress=15 if self.deflate else 0)
                await ws.receive()  # the Engine.IO open packet
                await ws.send_str("40")  # join the default namespace
                while not (await ws.receive()).data.startswith("40"):
                    pass
            asyncio.get_running_loop().create_task(self.read(ws, i < LATENCY_SAMPLERS))
            return ws

        self.sockets = list(await asyncio.gather(*(one(i) for i in range(self.size))))

    async def read(self, ws, timed: bool) -> None:
        import aiohttp

        async for msg in ws:
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue  # a picture's binary attachment
            frame = msg.data
            if frame == "2":
                await ws.send_str("3")  # pong
            elif frame.startswith("43"):  # the answer to one of our calls
                m = frame[2:]
                digits = len(m) - len(m.lstrip("0123456789"))
                future = self.waiting.pop(int(m[:digits]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(m[digits:])[0])
            elif (m := EVENT.match(frame)) is not None:
                self.events += 1
                if m.group(1):
                    await ws.send_str(f"43{m.group(1)}[]")  # acked: the next picture may come
                if timed and frame.startswith('42["run_metrics"'):
                    now = time.time()
                    self.latencies += [now - p["t_wall"] for p in
                                       json.loads(frame[2:])[1]["points"] if "t_wall" in p]
        self.dropped += 1

    async def call_all(self, event: str, data: dict) -> int:
        """`event` from every open watcher; how many got no answer within 60 s."""
        futures = []
        for ws in self.sockets:
            if ws.closed:
                continue
            self.next_id += 1
            future = self.waiting[self.next_id] = asyncio.get_running_loop().create_future()
            futures.append(future)
            await ws.send_str(f"42{self.next_id}" + json.dumps([event, data]))
        if not futures:
            raise RuntimeError("the server closed every watcher's socket")
        done, late = await asyncio.wait(futures, timeout=60)
        refused = [a for f in done if isinstance(a := f.result(), dict) and a.get("ok") is False]
        if refused:
            raise RuntimeError(f"{event} refused: {refused[0]}")
        return len(late)

    async def close(self) -> None:
        for ws in self.sockets:
            if not ws.closed:
                await ws.close()
        await self.session.close()


async def crowd_main(url: str, size: int, deflate: bool) -> None:
    """Child process: `size` watchers. `watch ID` watches and starts counting; `unwatch ID`
    reports what arrived since (events, seconds, the sampled latencies), then unwatches."""
    crowd = Crowd(url, size, deflate)
    await crowd.open()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    since = time.perf_counter()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            command, _, run_id = line.strip().partition(" ")
            if command in ("quit", ""):
                break
            report = {"events": crowd.events, "seconds": time.perf_counter() - since,
                      "latencies": crowd.latencies, "dropped": crowd.dropped}
            try:
                report["unanswered"] = await crowd.call_all(command, {"run_id": run_id})
            except RuntimeError as e:
                report = {"error": f"{command}: {e}"}
            print(json.dumps(report), flush=True)
            crowd.events, crowd.latencies, since = 0, [], time.perf_counter()
    finally:
        await crowd.close()


def members_main(url: str, size: int, nice: bool, deflate: bool) -> None:
    if nice:
        os.nice(19)  # the phones' own work: only what the server leaves
    asyncio.run(crowd_main(url, size, deflate))


class Members:
    """The crowd's process, on the CPUs other than the server's when pinned, else at nice 19."""

    def __init__(self, url: str, size: int, pin: bool, deflate: bool):
        self.proc = subprocess.Popen([sys.executable, __file__, "--member-of", url,
                                      "--size", str(size), *([] if pin else ["--nice"]),
                                      *(["--deflate"] if deflate else [])],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the watchers did not connect ({line!r})")

    def ask(self, command: str, run_id: str) -> dict:
        self.proc.stdin.write(f"{command} {run_id}\n")
        self.proc.stdin.flush()
        report = json.loads(self.proc.stdout.readline() or '{"error": "the crowd ended"}')
        if "error" in report:
            raise RuntimeError(f"the watchers failed: {report['error']}")
        return report

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # a thousand sockets still draining what they got
            self.proc.kill()
            self.proc.wait(30)


def reconnect(url: str, within: float = 120.0) -> Client:
    """A new speaker, once the server (still sending the crowd what it queued) accepts it."""
    import socketio

    deadline = time.monotonic() + within
    while True:
        try:
            return Client(url)
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2.0)


def one_round(server, speaker: Client, members: Members, seconds: float,
              pin: bool) -> tuple[Client, dict]:
    """One measured round; the speaker comes back (a new one if the server dropped it)."""
    speaker.first_metric.clear()
    ack = speaker.call("train", spiral(epochs=None, steps=None))
    run_id, token = ack["run_id"], ack["token"]
    if not speaker.first_metric.wait(120):
        raise RuntimeError("the run did not start training")
    if pin:
        server.pin_workers()  # the training worker off the server's core
    members.ask("watch", run_id)
    time.sleep(1.0)  # the watchers' first frames: not part of the steady state measured
    members.ask("unwatch", run_id)
    members.ask("watch", run_id)
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    cpu = (server.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
    got = members.ask("unwatch", run_id)  # what arrived since the watch above
    if not speaker.sio.connected:  # an overloaded server missed its pings: the token still works
        speaker = reconnect(server.url)
        speaker.call("watch", {"run_id": run_id})
    speaker.ended.clear()
    speaker.call("control", {"run_id": run_id, "token": token, "action": "stop"})
    speaker.ended.wait(60)  # the worker is free for the next round
    lat = sorted(got["latencies"]) or [float("nan")]
    return speaker, {"cpu": cpu, "events_per_s": got["events"] / got["seconds"],
                     "p50": lat[len(lat) // 2] * 1000, "p95": lat[int(len(lat) * 0.95)] * 1000,
                     "dropped": got["dropped"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per mode and count")
    parser.add_argument("--pin", action="store_true",
                        help="the server alone on CPU 0; its worker and the watchers on the rest")
    parser.add_argument("--deflate", action="store_true",
                        help="the watchers offer per-message deflate, as browsers do")
    parser.add_argument("--modes", nargs="+", help="only these of the three (a crowd the old "
                        "ways cannot serve: they drop sockets and refuse new ones)")
    parser.add_argument("--member-of", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nice", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.member_of:
        return members_main(args.member_of, args.size, args.nice, args.deflate)
    print(header("watchers", args.pin, f"; {args.rounds} rounds of {args.seconds:g} s per mode "
                 f"and count{'; watchers offer deflate' if args.deflate else ''}"))
    modes = {"per watcher": {"FRAME_ENCODE_ONCE": False, "FAST_SEND_QUEUES": False,
                             "SHARED_IO": False},
             "once+queues": {"FRAME_ENCODE_ONCE": True, "FAST_SEND_QUEUES": True,
                             "SHARED_IO": False},
             "shared io": {"FRAME_ENCODE_ONCE": True, "FAST_SEND_QUEUES": True,
                           "SHARED_IO": True}}
    if args.modes:
        unknown = set(args.modes) - set(modes)
        if unknown:
            parser.error(f"unknown modes {sorted(unknown)}; the modes are {list(modes)}")
        modes = {name: modes[name] for name in args.modes}
    rows = []
    with tempfile.TemporaryDirectory() as top:
        servers = {name: Server(tempfile.mkdtemp(dir=top), PIN=args.pin, MAX_QUEUED_RUNS=1000,
                                **config) for name, config in modes.items()}
        if args.pin:  # this process (the speakers) and the crowds it starts: off CPU 0
            os.sched_setaffinity(0, set(range(1, os.cpu_count() or 1)) or {0})
        try:
            speakers = {name: Client(s.url) for name, s in servers.items()}
            for n in args.watchers:
                results: dict[str, list[dict]] = {name: [] for name in modes}
                crowds = {name: Members(s.url, n, args.pin, args.deflate)
                          for name, s in servers.items()}
                try:
                    for r in range(args.rounds):
                        for name in modes:
                            speakers[name], res = one_round(
                                servers[name], speakers[name], crowds[name], args.seconds,
                                args.pin)
                            results[name].append(res)
                            print(f"{n:>5} watchers, {name:<12} round {r + 1}: server CPU "
                                  f"{res['cpu']:5.0%}  {res['events_per_s']:8,.0f} events/s  "
                                  f"latency p50 {res['p50']:5.0f} ms p95 {res['p95']:5.0f} ms"
                                  f"  {res['dropped']} dropped",
                                  flush=True)
                finally:
                    for c in crowds.values():
                        c.close()
                for name in modes:
                    med = {k: statistics.median(x[k] for x in results[name])
                           for k in ("cpu", "events_per_s", "p50", "p95")}
                    med["dropped"] = max(x["dropped"] for x in results[name])
                    rows.append((n, name, med))
            for s in speakers.values():
                s.sio.disconnect()
        finally:
            for s in servers.values():
                s.close()
    print(f"\n{'watchers':>8} | {'sending':<12} | {'server CPU':>10} | {'watchers/core':>13} | "
          f"{'events/s':>9} | {'each/s':>6} | {'CPU/event':>9} | {'p50 ms':>6} | {'p95 ms':>6} | "
          f"{'dropped':>7}")
    print("-" * 116)
    for n, name, med in rows:
        per_core = n / med["cpu"] if med["cpu"] > 0 else float("inf")
        per_event = med["cpu"] / max(med["events_per_s"], 1) * 1e6
        each = med["events_per_s"] / max(n - med["dropped"], 1)
        print(f"{n:>8} | {name:<12} | {med['cpu']:>10.0%} | {per_core:>13,.0f} | "
              f"{med['events_per_s']:>9,.0f} | {each:>6.1f} | {per_event:>6.0f} us | "
              f"{med['p50']:>6.0f} | {med['p95']:>6.0f} | {med['dropped']:>7}")
    by = {(n, name): med for n, name, med in rows}
    for n in args.watchers if len(modes) == 3 else []:
        cost = {name: by[(n, name)]["cpu"] / max(by[(n, name)]["events_per_s"], 1)
                for name in modes}
        print(f"{n} watchers: server CPU per delivered event, once+queues / per watcher "
              f"{cost['once+queues'] / cost['per watcher']:.2f}, shared io / once+queues "
              f"{cost['shared io'] / cost['once+queues']:.2f}, shared io / per watcher "
              f"{cost['shared io'] / cost['per watcher']:.2f}")


if __name__ == "__main__":
    main()
