"""`layerlab serve` as a real process: kill -9 loses no saved design, no finished run and no
link from a run to the next (follow_on)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from server.store import Store
from tests.live import ROOT, Client, endless, example, wait_for

pytestmark = pytest.mark.timeout(180)
URL = re.compile(r"Layerlab running at (http://127\.0\.0\.1:\d+/)")


class Served:
    """`python -m server serve --port 0` on a data folder; the URL comes from its first line."""

    def __init__(self, data_dir: Path, log: Path):
        self.log = log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", "0", "--data-dir", str(data_dir)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True, start_new_session=True)
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(60)
        match = URL.search(found[0] if found else "")
        assert match, f"no URL line from the server: {found}; see {log}"
        self.url = match.group(1).rstrip("/")

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.load(response) if "json" in response.headers["Content-Type"] else \
                response.read()

    def post(self, path: str, body: dict):
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def children(self) -> set[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return {int(p) for p in path.read_text().split()} if path.exists() else set()

    def end(self, sig: int, group: bool = False) -> int:
        """Signal the server (with group: its workers too, as Ctrl-C in a terminal does)."""
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        code = self.proc.wait(30)
        self.proc.stdout.close()
        self.log.close()
        return code


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in \
        Path(f"/proc/{pid}/status").read_text()


def test_kill_9_then_restart_keeps_designs_finished_runs_and_their_links(tmp_path):
    data = tmp_path / "data"
    first = Served(data, tmp_path / "server.log")
    design = first.post("/api/designs", example())
    c = Client(first.url)
    done, done_token = c.train(example(epochs=20))
    assert c.wait_state(done, "finished", "failed", timeout=90)["state"] == "finished"
    cut, cut_token = c.train(endless())
    c.wait_state(cut, "running", timeout=60)
    assert c.call("follow_on", {"run_id": done, "token": done_token, "next_run_id": cut,
                                "next_token": cut_token}) == {"ok": True}
    history = first.get(f"/api/runs/{done}")["history"]
    workers = first.children()
    c.close()
    assert first.end(signal.SIGKILL) == -signal.SIGKILL
    wait_for(lambda: not any(alive(p) for p in workers), 10, "orphaned workers to exit")

    second = Served(data, tmp_path / "server.log")
    try:
        assert second.get(f"/api/designs/{design['id']}")["document"] == example()
        run = second.get(f"/api/runs/{done}")
        assert run["status"]["state"] == "finished" and run["result"]["steps"] > 0
        assert run["history"] == history and run["has_weights"]
        assert second.get(f"/api/runs/{done}/weights.safetensors")
        interrupted = second.get(f"/api/runs/{cut}")["status"]
        assert interrupted["state"] == "failed" and "server stopped" in interrupted["message"]
        assert run["next_run_id"] == cut and run["latest_run_id"] == cut
        c = Client(second.url)
        assert c.call("watch", {"run_id": done})["next_run_id"] == cut
        live, _ = c.train(endless())
        c.wait_state(live, "running", timeout=60)
        c.close()
    finally:
        code = second.end(signal.SIGINT, group=True)  # Ctrl-C: runs stopped and recorded
    assert code == 0
    store = Store(data)
    assert store.get_run(live)["status"] == "stopped"
    assert (store.run_dir(live) / "weights.safetensors").is_file()
    store.close()
