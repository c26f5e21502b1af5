"""One run's live state and the state machine it follows."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass, field

from server.graph import CATALOG
from server.runs.frames import LiveFrames

# queued -> starting -> running <-> paused -> finished | stopped | failed
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"starting", "stopped", "failed"}),
    "starting": frozenset({"running", "paused", "finished", "stopped", "failed"}),
    "running": frozenset({"paused", "finished", "stopped", "failed"}),
    "paused": frozenset({"running", "finished", "stopped", "failed"}),
    "finished": frozenset(),
    "stopped": frozenset(),
    "failed": frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
ACTIONS = {"pause": "paused", "resume": "running", "step": "paused", "stop": "stopped"}


class RunError(Exception):
    """A request about a run that cannot be met; `code` is the error code clients see."""

    def __init__(self, code: str, message: str, errors: list | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []


def hash_token(token: str) -> str:
    """What the store keeps of an owner token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: object, token_hash: str) -> bool:
    """Constant-time check of a presented token against the stored hash."""
    return isinstance(token, str) and hmac.compare_digest(hash_token(token), token_hash)


@dataclass
class Run:
    """A run the manager holds in memory from submission until it ends."""

    id: str
    token_hash: str
    document: dict
    state: str = "queued"
    device: str | None = None
    gpu_memory: int | None = None  # bytes of GPU memory it holds (GPU runs, as reported)
    step: int = 0
    epoch: int = 0  # epochs completed
    message: str | None = None
    history: list[dict] = field(default_factory=list)  # points emitted so far (bounded: thin)
    thinned: bool = False  # history lost points to the bound (the store has them all)
    unsent: list[dict] = field(default_factory=list)  # points waiting for the next batch
    unsaved: list[dict] = field(default_factory=list)  # points not yet in the store
    watchers: set[str] = field(default_factory=set)  # client ids in the run's room
    elsewhere: int = 0  # its watchers on other web processes (the Ray runner counts them)
    frames: LiveFrames | None = None  # its pictures: newest frames, gates, timeline
    design_key: str | None = None  # the hash of its graph (design_key below)
    next_run_id: str | None = None  # the run its owner started next (follow_on); also stored
    selected: int = 0  # the fixed sample whose activations are shown
    worker: object | None = None  # the Worker training it
    paused: bool = False  # start paused (pause/step asked while queued)
    steps: int = 0  # steps to take once started while paused
    client: str | None = None  # the connection that started it (per-client limit, fair queue)
    address: str | None = None  # the remote address it came from (per-address limit)
    lr: float | None = None  # a learning rate asked for before it started
    generator_lr: float | None = None  # a gan generator's, asked for before it started
    epsilon: float | None = None  # a dqn's exploration rate, asked for before it started
    greedy: bool = False  # a dqn's pictures follow its greedy player
    speed: float | None = None  # slow motion (steps per second), kept for a queued run
    last_sent: float = 0.0  # monotonic time of the last run_metrics batch
    last_saved: float = field(default_factory=time.monotonic)
    position_sent: int | None = None  # the queue position its last run_status carried
    # This process writes its points and states to the store. False: a mirror of a run that
    # another web process owns (the Ray runner: server/runs/ray_runner.py).
    owned: bool = True

    @property
    def terminal(self) -> bool:
        """True once finished, stopped or failed."""
        return self.state in TERMINAL

    def can_become(self, state: str) -> bool:
        """Whether the state machine allows moving to `state` (same state: no move)."""
        return state in TRANSITIONS[self.state]

    def status(self, queue_position: int | None = None) -> dict:
        """The run_status payload."""
        payload = {"run_id": self.id, "state": self.state, "device": self.device,
                   "step": self.step, "epoch": self.epoch,
                   "watchers": len(self.watchers) + self.elsewhere}
        if queue_position is not None:
            payload["queue_position"] = queue_position
        if self.gpu_memory is not None:
            payload["gpu_memory"] = self.gpu_memory
        if self.message:
            payload["message"] = self.message
        return payload

    def job(self) -> dict:
        """What a worker needs to train this run."""
        return {"run_id": self.id, "document": self.document, "paused": self.paused,
                "steps": self.steps, "lr": self.lr, "generator_lr": self.generator_lr,
                "epsilon": self.epsilon, "greedy": self.greedy, "speed": self.speed,
                "visuals": bool(self.watchers), "select": self.selected}


def start_order(queued: list[Run], live: dict, training: dict) -> list[Run]:
    """Queued runs in the order they will start: each free worker goes to the waiting run of
    the client with the fewest runs queued or training, then the fewest training (counting each
    start), then the older run."""
    # Fair share rather than first come first served: one client's burst of runs waits behind
    # every other client's runs instead of filling the queue ahead of them. A start moves a run
    # from queued to training, so it leaves the first count alone and the order stays put.
    training = dict(training)
    waiting: dict = {}  # client -> [(arrival, run)], oldest first
    for arrival, run in enumerate(queued):
        waiting.setdefault(run.client, []).append((arrival, run))
    order = []
    while waiting:
        client = min(waiting, key=lambda c: (live.get(c, 0), training.get(c, 0),
                                             waiting[c][0][0]))
        order.append(waiting[client].pop(0)[1])
        training[client] = training.get(client, 0) + 1
        if not waiting[client]:
            del waiting[client]
    return order


def thin(points: list[dict], limit: int) -> list[dict]:
    """At most `limit` points of `points`: every k-th one from the first, the newest always
    kept (a downsampled history; the store keeps the whole one)."""
    if limit <= 0 or len(points) <= limit:
        return points
    stride = -(-(len(points) - 1) // max(limit - 1, 1))
    return points[:-1:stride] + [points[-1]]


def finite(value):
    """`value` with every NaN or infinite float inside it (dicts, lists) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def finite_point(point: dict) -> tuple[dict, str | None]:
    """A metrics point with non-finite metrics as null, and a status message naming them (or
    None when all are finite): strict JSON leaves the server, never NaN or Infinity."""
    bad = [f"{name} is {'NaN' if math.isnan(v) else 'infinite'}" for name, v in point.items()
           if isinstance(v, float) and not math.isfinite(v)]
    if not bad:
        return point, None
    return finite(point), (f"{', '.join(bad)} at step {point.get('step')}: the targets or the "
                           "learning rate may be too large")


def stored_status(row: dict) -> dict:
    """The run_status payload of a run known only to the store."""
    payload = {"run_id": row["id"], "state": row["status"], "device": row["device"],
               "step": row["step"], "epoch": row["epoch"], "watchers": 0}
    if row.get("message"):
        payload["message"] = row["message"]
    return payload


def design_key(document: dict) -> str:
    """A stable hash of a document's graph (not its ui, name or training), to compare runs."""
    # Each node's id, type and params with catalog defaults filled; each node's inputs in port
    # order (an explicit `port`, else document order), as validation orders them.
    nodes = []
    for node in document.get("nodes") or []:
        if isinstance(node, dict):
            spec = CATALOG.get(node.get("type"))
            params = {**(spec.defaults() if spec else {}), **(node.get("params") or {})}
            nodes.append([str(node.get("id")), str(node.get("type")), params])
    inputs: dict[str, list] = {}
    for i, edge in enumerate(document.get("edges") or []):
        if isinstance(edge, dict):
            port = edge.get("port")
            order = port if isinstance(port, int) and not isinstance(port, bool) else math.inf
            inputs.setdefault(str(edge.get("target")), []).append((order, i,
                                                                   str(edge.get("source"))))
    edges = sorted([target, [source for *_, source in sorted(found)]]
                   for target, found in inputs.items())
    graph = {"nodes": sorted(nodes, key=lambda n: (n[0], n[1])), "inputs": edges}
    text = json.dumps(graph, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
