"""A run's pictures on the server: the newest frame of each kind, delivered latest-wins to each
watcher (one FrameGate per event), the fixed validation samples, and the timeline of
checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable

from server.runs.gate import FrameGate
from server.runs.timeline import SEEKABLE, Timeline

GATED = SEEKABLE  # every picture event waits for the client's ack of the previous one
SAMPLES = "run_samples"  # sent once to each watcher, no ack needed
Emit = Callable[..., None]  # emit(event, payload, to=client, callback=None)


class LiveFrames:
    """The pictures of one live run; the manager calls it under its lock."""

    def __init__(self, emit: Emit, ack_timeout: float | None, timeline: Timeline):
        self.emit = emit
        self.ack_timeout = ack_timeout
        self.timeline = timeline
        self.gates: dict[str, FrameGate] = {}
        self.latest: dict[str, dict] = {}  # event -> its newest payload
        self.samples: dict | None = None

    def publish(self, event: str, payload: dict, clients: list[str]) -> None:
        """Keep `payload` as the newest of its kind and offer it to `clients`."""
        self.latest[event] = payload
        self._gate(event).offer(clients, payload)

    def receive(self, info: dict, frames: dict, clients: list[str]) -> None:
        """A worker's frames message: the fixed samples, each picture, then maybe a checkpoint."""
        samples = frames.get(SAMPLES)
        if samples is not None:
            self.samples = self.timeline.samples = samples
            for client in clients:
                self.emit(SAMPLES, samples, to=client)
        for event, payload in frames.items():
            if event in GATED:
                self.publish(event, payload, clients)
        self.timeline.offer(info, self.latest)

    def greet(self, client: str) -> None:
        """A new watcher gets the fixed samples and the newest frame of each kind."""
        if self.samples is not None:
            self.emit(SAMPLES, self.samples, to=client)
        for event, payload in list(self.latest.items()):
            self._gate(event).offer([client], payload)

    def forget(self, client: str) -> None:
        """A watcher left: drop what its gates hold for it."""
        for gate in self.gates.values():
            gate.forget(client)

    def _gate(self, event: str) -> FrameGate:
        gate = self.gates.get(event)
        if gate is None:
            many = getattr(self.emit, "many", None)  # web/broadcast.Emit: encode a frame once
            gate = self.gates[event] = FrameGate(
                lambda client, frame, ack: self.emit(event, frame, to=client, callback=ack),
                self.ack_timeout,
                send_many=(lambda frame, deliveries: many(event, frame, deliveries))
                if many is not None else None)
        return gate


def greet_ended(emit: Emit, client: str, timeline: Timeline | None) -> None:
    """A watcher of an ended run gets its fixed samples and its last checkpoint's frames."""
    if timeline is None:
        return
    if timeline.samples is not None:
        emit(SAMPLES, timeline.samples, to=client)
    last = timeline.latest()
    for event, payload in (last["frames"] if last else {}).items():
        emit(event, payload, to=client)
