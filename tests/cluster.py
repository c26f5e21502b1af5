"""A local Ray cluster, a Redis server and real `layerlab serve` processes on loopback, for
tests/test_cluster.py and bench/bench_ray.py. Each is stopped by its own process id."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
URL = re.compile(r"Layerlab running at (http://127\.0\.0\.1:\d+/)")


def missing() -> str | None:
    """Why the cluster cannot be made here (what is not installed), or None."""
    import importlib.util

    for module in ("ray", "redis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[scale]')"
    if redis_binary() is None:
        return "redis-server is not installed (apt-get install redis-server)"
    if not (BIN / "ray").exists():
        return f"no ray command beside {sys.executable}"
    return None


def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server")
         if os.path.exists(p)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_outside(low: int, high: int) -> int:
    """A free port not in [low, high] (the range Ray's workers take)."""
    while (port := free_port()) in range(low, high + 1):
        pass
    return port


def wait_port(port: int, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """End a process started in a session of its own, and everything it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
    try:  # what it left behind in its session (a killed head's raylet workers)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Redis:
    """redis-server on a free loopback port, no persistence."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, 30, "redis-server", self.proc)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        stop(self.proc)


class RayHead:
    """`ray start --head --block` on loopback, on free ports, in a temp folder of its own."""

    def __init__(self, cpus: int = 4):
        self.temp = tempfile.mkdtemp(prefix="llray", dir="/tmp")  # short: socket paths
        workers = free_port() // 100 * 100 % 50000 + 10000  # 100 ports the others stay out of
        self.port, *agent = (free_port_outside(workers, workers + 99) for _ in range(3))
        args = [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address",
                "127.0.0.1", "--port", str(self.port), "--num-cpus", str(cpus),
                "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir",
                self.temp,
                "--dashboard-agent-listen-port", str(agent[0]),
                "--dashboard-agent-grpc-port", str(agent[1]),
                "--min-worker-port", str(workers), "--max-worker-port", str(workers + 99)]
        self.log = open(Path(self.temp) / "head.log", "w")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        wait_port(self.port, 120, "the Ray head", self.proc)
        self.address = f"127.0.0.1:{self.port}"
        self._wait_ready(120)

    def _wait_ready(self, timeout: float) -> None:
        """The head listens before its node can take actors: wait for the blocking line."""
        deadline = time.monotonic() + timeout
        log = Path(self.temp) / "head.log"
        while time.monotonic() < deadline:
            if "block forever" in log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the Ray head was not ready in {timeout} s")

    def kill(self) -> None:
        """The head dies (and with it this node's raylet and actors)."""
        stop(self.proc, signal.SIGKILL)

    def close(self) -> None:
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.temp, ignore_errors=True)


class Served:
    """`python -m server serve --port 0 ...` with more arguments; the URL from its first line."""

    def __init__(self, data_dir: Path, log: Path, *args: str):
        self.log = log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", "0", "--data-dir",
             str(data_dir), *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True, start_new_session=True)
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(120)
        match = URL.search(found[0] if found else "")
        assert match, f"no URL line from the server: {found}; see {log}"
        self.url = match.group(1).rstrip("/")

    def get(self, path: str, raw: bool = False):
        with urllib.request.urlopen(self.url + path, timeout=60) as response:
            body = response.read()
            if raw:
                return body, dict(response.headers)
            return json.loads(body) if "json" in response.headers["Content-Type"] else body

    def end(self, sig: int = signal.SIGTERM) -> int | None:
        """Signal the server alone (not its children: a kill -9 leaves them orphaned)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode

    def close(self) -> None:
        """End it and whatever it left (its bridge)."""
        self.end()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
