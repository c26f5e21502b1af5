"""Helpers for server tests: documents, waiting, a live server and a recording Socket.IO client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "server" / "examples"


def example(name: str = "spiral_mlp", **training) -> dict:
    """A shipped example document with some training fields replaced (None removes one)."""
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    for key, value in training.items():
        if value is None:
            doc["training"].pop(key, None)
        else:
            doc["training"][key] = value
    return doc


def deep_sigmoid(doc):
    """The spiral with 20 Linear+Sigmoid layers: its first layers' gradients vanish."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [2]}}]
    for i in range(20):
        nodes += [{"id": f"fc{i}", "type": "Linear", "params": {"out_features": 16}},
                  {"id": f"s{i}", "type": "Sigmoid"}]
    nodes.append({"id": "out", "type": "Linear", "params": {"out_features": 2}})
    doc["nodes"] = nodes
    doc["edges"] = [{"source": a["id"], "target": b["id"]}
                    for a, b in zip(nodes, nodes[1:], strict=False)]
    return doc


def endless(**training) -> dict:
    """The spiral example with no epoch or step bound: it trains until stopped."""
    return example(epochs=None, steps=None, **training)


def wait_for(predicate: Callable[[], object], timeout: float, what: str = "condition"):
    """Poll until `predicate()` is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def make_app(data_dir: Path, **config):
    """A test app on its own data folder (2 concurrent runs unless told)."""
    from server import create_app

    return create_app({"TESTING": True, "DATA_DIR": str(data_dir), "MAX_CONCURRENT_RUNS": 2,
                       **config})


class LiveServer:
    """A real threaded WSGI server on a free loopback port, serving one app."""

    def __init__(self, app):
        from server.web.serve import make_wsgi_server

        self.app = app
        self.server = make_wsgi_server("127.0.0.1", 0, app)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def manager(self):
        """The app's RunManager."""
        return self.app.extensions["layerlab"].manager

    def close(self) -> None:
        """Stop serving, then stop runs and workers."""
        self.server.shutdown()
        self.thread.join(5)
        self.app.extensions["layerlab"].close()


EVENTS = ("run_status", "run_metrics", "run_activations", "run_boundary", "run_health",
          "run_results", "run_weights", "run_samples", "run_next", "run_generated",
          "run_environment", "run_filters", "run_text", "server_status")


def socketio_client(ack: bool = True):
    """A python-socketio client that handles messages in arrival order; with ack=False it never
    acknowledges an event (a stalled viewer).

    The stock threaded client handles each message in a thread of its own, so a binary
    attachment can be read before the packet it belongs to (python-socketio issues 39, 403);
    the browser's client reads them in order, as this one does. Its long-polling transport
    also refuses a response of more than 16 packets (`Payload.max_decode_packets`, a guard
    meant for servers), and a frame with bytes is a packet per attachment; the browser's
    client has no such limit, so neither has this one.
    """
    import engineio
    import socketio
    from engineio.payload import Payload

    Payload.max_decode_packets = 4096

    class OrderedEngineIO(engineio.Client):
        def _trigger_event(self, event, *args, **kwargs):
            if event == "message":
                kwargs["run_async"] = False
            return super()._trigger_event(event, *args, **kwargs)

    class OrderedClient(socketio.Client):
        def _engineio_client_class(self):
            return OrderedEngineIO

        def _handle_event(self, namespace, id, data):
            super()._handle_event(namespace, id if ack else None, data)

    return OrderedClient(reconnection=False)


class Client:
    """A python-socketio client that records every server event with its arrival time."""

    def __init__(self, url: str, transport: str = "websocket", ack: bool = True):
        self.sio = socketio_client(ack)
        self.events: list[tuple[str, float, dict]] = []
        self.lock = threading.Lock()
        for name in EVENTS:
            self.sio.on(name, self._recorder(name))
        self.sio.connect(url, transports=[transport], wait_timeout=10)

    def _recorder(self, name: str):
        def record(payload):
            with self.lock:
                self.events.append((name, time.time(), payload))

        return record

    def call(self, event: str, data=None, timeout: float = 10):
        """Emit and wait for the ack."""
        return self.sio.call(event, data, timeout=timeout)

    def statuses(self, run_id: str) -> list[dict]:
        """run_status payloads of one run, in order."""
        with self.lock:
            return [p for name, _, p in self.events if name == "run_status"
                    and p["run_id"] == run_id]

    def points(self, run_id: str) -> list[dict]:
        """Every metric point received for one run, in order."""
        with self.lock:
            return [pt for name, _, p in self.events if name == "run_metrics"
                    and p["run_id"] == run_id for pt in p["points"]]

    def frames(self, event: str, run_id: str) -> list[dict]:
        """Payloads of one event for one run, in order."""
        with self.lock:
            return [p for name, _, p in self.events if name == event and p["run_id"] == run_id]

    def frames_of(self, event: str) -> list[dict]:
        """Payloads of one event that names no run, in order."""
        with self.lock:
            return [p for name, _, p in self.events if name == event]

    def batches(self, run_id: str) -> int:
        """How many run_metrics events arrived for one run."""
        with self.lock:
            return sum(1 for name, _, p in self.events
                       if name == "run_metrics" and p["run_id"] == run_id)

    def wait_state(self, run_id: str, *states: str, timeout: float = 30) -> dict:
        """The first run_status in one of `states` (waits for it)."""
        return wait_for(lambda: next((s for s in self.statuses(run_id) if s["state"] in states),
                                     None), timeout, f"run {run_id} to be {'/'.join(states)}")

    def train(self, doc: dict) -> tuple[str, str]:
        """Start a run; returns (run_id, token)."""
        ack = self.call("train", doc)
        assert ack["ok"], ack
        return ack["run_id"], ack["token"]

    def close(self) -> None:
        """Disconnect."""
        if self.sio.connected:
            self.sio.disconnect()


def diverging(**training) -> dict:
    """A regression with plain SGD at lr 10: its loss is NaN within a few steps."""
    doc = example(optimizer={"name": "sgd", "lr": 10}, dataset={"name": "plane", "samples": 300},
                  **training)
    doc["nodes"][-1]["params"]["out_features"] = 1
    return doc
