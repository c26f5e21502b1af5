"""Emit: every event the server sends, with a way to send one picture to many watchers that
encodes it once (issue 14, "a thousand watchers").

A picture frame goes to each watcher that acknowledged the previous one (runs/gate.py), so each
packet carries that watcher's own ack id. python-socketio encodes a packet with an ack id once
per recipient: the JSON of the payload and the walk that pulls its bytes out into attachments,
for every watcher. Here the packet is encoded once without an id, and each watcher's header is
the shared one with its id put in front of the JSON (the Socket.IO v5 wire format: type,
attachment count and "-" for binary packets, namespace, ack id, then the JSON), while the
attachments are the same bytes for everyone. The newest encoded frame of each event is
kept, so the watchers that ack later get the same packet without another encode.

Watchers on another web process (a message queue, several processes) are not in this
process's rooms; they are sent to the ordinary way, which goes through the queue.

What a watcher costs after that is waking its writer: in threading mode Engine.IO gives each
client a thread that sleeps on a packet queue, and a `queue.Queue` put is Python code around a
Condition (its notify alone was a quarter of the server's CPU with 200 watchers, py-spy).
SendQueue, the C `queue.SimpleQueue` with the two methods Engine.IO also calls, does the same
hand-over in one call (install_send_queues).

Cheaper still is not waking a thread per client at all: wsio.py (SHARED_IO).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable

from engineio import packet as eio_packet
from socketio import packet as sio_packet

Delivery = tuple[str, Callable[..., None]]  # (client sid, its ack callback)


def with_ack_id(header: str, ack_id: int) -> str:
    """A packet header encoded without an ack id, with `ack_id` in it (namespace "/")."""
    i = header.index("[")  # the JSON data starts the first "[" (the root namespace has no name)
    return f"{header[:i]}{ack_id}{header[i:]}"


class Emit:
    """emit(event, payload, to, callback) and many(event, payload, deliveries), under one lock
    (a packet with bytes is several messages, which must not interleave with another's)."""

    def __init__(self, server, lock: threading.RLock, once: bool = True,
                 queued: frozenset[str] | None = None):
        self.server = server
        self.lock = lock
        self.once = once  # False: one ordinary emit per watcher (the bench's "before")
        # With a message queue and runs mirrored in every process (the Ray runner), only these
        # events go through the queue; the rest reach this process's clients only (each process
        # sends its own watchers their runs' events). None: every event the ordinary way.
        self.queued = queued
        self._encoded: dict[str, tuple[object, str, list]] = {}  # event -> (payload, head, rest)
        self.encodes = 0  # frames many() encoded (once=False: one per watcher), for tests/bench

    def __call__(self, event: str, payload, to: str, callback=None) -> None:
        local = self.queued is not None and event not in self.queued
        with self.lock:
            self.server.emit(event, payload, to=to, namespace="/", callback=callback,
                             ignore_queue=local)

    def many(self, event: str, payload, deliveries: Iterable[Delivery]) -> None:
        """Send `payload` as `event` to each (client, ack callback), encoding it once."""
        with self.lock:
            if not self.once:
                for client, callback in deliveries:
                    self.encodes += 1
                    self(event, payload, to=client, callback=callback)
                return
            manager = self.server.manager
            head = rest = shared = None
            for client, callback in deliveries:
                eio_sid = manager.eio_sid_from_sid(client, "/")
                if eio_sid is None:  # not this process's client (or gone): the ordinary way
                    self.encodes += 1
                    self(event, payload, to=client, callback=callback)
                    continue
                if head is None:
                    head, rest = self._encode(event, payload)
                ack_id = manager._generate_ack_id(client, callback)
                self.server._send_eio_packet(
                    eio_sid, eio_packet.Packet(eio_packet.MESSAGE, with_ack_id(head, ack_id)))
                if on_websocket(self.server, eio_sid):  # one Engine.IO packet for all of them
                    if shared is None:
                        shared = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in rest]
                    parts = shared
                else:  # a fresh packet: it caches its own encoding, base64 when polling
                    parts = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in rest]
                for part in parts:
                    self.server._send_eio_packet(eio_sid, part)

    def _encode(self, event: str, payload) -> tuple[str, list]:
        kept = self._encoded.get(event)
        if kept is not None and kept[0] is payload:
            return kept[1], kept[2]
        pkt = self.server.packet_class(sio_packet.EVENT, namespace="/", data=[event, payload])
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        head = parts[0]
        rest = parts[1:]  # the attachments' bytes, shared by every watcher
        self._encoded[event] = (payload, head, rest)
        self.encodes += 1
        return head, rest

    def forget(self, event: str) -> None:
        """Drop the kept packet of `event` (its run ended)."""
        with self.lock:
            self._encoded.pop(event, None)


def on_websocket(server, eio_sid: str) -> bool:
    """Whether the client's Engine.IO packets go over a WebSocket (they encode as bytes)."""
    sock = server.eio.sockets.get(eio_sid)
    return sock is not None and sock.upgraded


class SendQueue(queue.SimpleQueue):
    """A client's packet queue (engineio.socket.Socket.queue) without Queue's Python-level
    locking: put, get and get(block=False) are SimpleQueue's own, in C."""

    def task_done(self) -> None:
        """Engine.IO calls it after each get; SimpleQueue keeps no count of unfinished items."""

    def join(self) -> None:
        """Until the writer took every packet (Engine.IO's close(wait=True); Queue.join waits
        for the same, as its writer calls task_done right after each get)."""
        while not self.empty():
            time.sleep(0.005)


def install_send_queues(eio_server) -> None:
    """Give every Engine.IO socket this server makes a SendQueue (threading mode only)."""
    if eio_server.async_mode == "threading":
        # `_async` is the driver module's own dict: this server gets a copy.
        eio_server._async = {**eio_server._async, "queue": SendQueue}
