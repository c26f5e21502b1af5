"""FrameGate: heavy frames (activations, decision boundaries) reach each client latest-wins.

A frame goes to a client only once it acknowledged the previous one; meanwhile newer frames
replace each other in one slot. A client that never acknowledges holds at most one frame in
flight and one waiting, however fast frames come, so a slow viewer neither slows training nor
grows the server's memory. An ack lost for `ack_timeout` seconds frees the client's slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

Send = Callable[[str, Any, Callable[..., None]], None]  # (client id, frame, on_ack)
# (frame, [(client id, on_ack)]): one frame to several clients, encoded once (web/broadcast.py)
SendMany = Callable[[Any, list], None]


class FrameGate:
    """Per-client latest-wins delivery with one frame in flight per client."""

    def __init__(self, send: Send, ack_timeout: float | None = 10.0,
                 clock: Callable[[], float] = time.monotonic, send_many: SendMany | None = None):
        self._send = send
        self._send_many = send_many
        self._ack_timeout = ack_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[str, tuple[int, float]] = {}  # client -> (frame number, sent at)
        self._waiting: dict[str, Any] = {}  # client -> the newest frame not yet sent
        self._count = 0

    def offer(self, clients: Iterable[str], frame: Any) -> None:
        """Send `frame` to each idle client; for busy ones it replaces the waiting frame."""
        now = self._clock()
        ready = []
        with self._lock:
            for client in clients:
                sent = self._in_flight.get(client)
                if sent is None or self._expired(sent[1], now):
                    ready.append((client, self._mark(client, now)))
                else:
                    self._waiting[client] = frame
        self._deliver_all(ready, frame)

    def ack(self, client: str, number: int | None = None) -> None:
        """The client got frame `number` (None: its latest); send the waiting frame, if any."""
        with self._lock:
            sent = self._in_flight.get(client)
            if sent is None or (number is not None and number != sent[0]):
                return  # an ack for a frame whose slot already timed out: ignore
            frame = self._waiting.pop(client, None)
            if frame is None:
                del self._in_flight[client]
                return
            number = self._mark(client, self._clock())
        self._deliver_all([(client, number)], frame)

    def forget(self, client: str) -> None:
        """Drop a client (it disconnected)."""
        with self._lock:
            self._in_flight.pop(client, None)
            self._waiting.pop(client, None)

    def pending(self, client: str) -> int:
        """Frames held for a client: in flight plus waiting (0, 1 or 2)."""
        with self._lock:
            return (client in self._in_flight) + (client in self._waiting)

    def _mark(self, client: str, now: float) -> int:
        self._count += 1
        self._in_flight[client] = (self._count, now)
        return self._count

    def _expired(self, sent_at: float, now: float) -> bool:
        return self._ack_timeout is not None and now - sent_at > self._ack_timeout

    def _deliver_all(self, ready: list[tuple[str, int]], frame: Any) -> None:
        if not ready:
            return
        if self._send_many is not None:
            self._send_many(frame, [(client, self._on_ack(client, number))
                                    for client, number in ready])
            return
        for client, number in ready:
            self._send(client, frame, self._on_ack(client, number))

    def _on_ack(self, client: str, number: int) -> Callable[..., None]:
        return lambda *_: self.ack(client, number)
