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

Cheaper still is not waking a thread per watcher at all (install_shared_writer): one Writer
thread writes every WebSocket client's packets. A client's queue is then an Outbox that, once
the client is on a WebSocket, hands itself to the Writer when a packet arrives; the Writer turns
what the Outbox holds into WebSocket frames (each Engine.IO packet framed once, however many
clients it goes to), and writes them in one non-blocking send. A client whose socket is full
keeps the rest and gets it when its socket can take it, so a slow phone holds up only itself.
Engine.IO's own writer thread for the client still starts, and sleeps until the client goes.
Per-message deflate is not offered (a frame framed once is the same bytes for everyone; the
pictures are PNG and raw floats, which deflate barely shrinks).
"""

from __future__ import annotations

import logging
import os
import queue
import select
import socket as socketlib
import struct
import threading
import time
from collections.abc import Callable, Iterable

from engineio import packet as eio_packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from socketio import packet as sio_packet

Delivery = tuple[str, Callable[..., None]]  # (client sid, its ack callback)

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.02  # how often the Writer tries again the sockets that were full
MAX_PENDING_BYTES = 16 * 2**20  # a client this far behind is cut off (its socket shut)
CLOSE_GRACE_SECONDS = 10.0  # a closing client's last bytes wait this long for its socket


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


def ws_frame(pkt: eio_packet.Packet) -> bytes:
    """The WebSocket frame (server to client: unmasked, final, no extension) of an Engine.IO
    packet, made once per packet: a packet sent to a room is one object for every client."""
    framed = getattr(pkt, "ws_frame", None)
    if framed is None:
        data = pkt.encode()
        if isinstance(data, str):
            opcode, data = 0x81, data.encode()
        else:
            opcode, data = 0x82, bytes(data)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", opcode, 126, n)
        else:
            head = struct.pack("!BBQ", opcode, 127, n)
        framed = pkt.ws_frame = head + data
    return framed


class Writer:
    """The one thread that writes to every WebSocket client of a server (install_shared_writer).
    Outboxes with something to send are put on `ready`; those whose socket was full wait in
    `blocked` until poll says it can take more."""

    def __init__(self):
        self.ready: queue.SimpleQueue = queue.SimpleQueue()
        self.blocked: dict[int, Outbox] = {}  # the Writer's own socket's fd -> its Outbox
        self._poll = select.poll()
        self._retry_at = 0.0
        self.writes = 0  # send calls, for tests
        self.thread = threading.Thread(target=self._run, name="layerlab-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                box = self.ready.get(timeout=RETRY_SECONDS if self.blocked else None)
            except queue.Empty:
                box = None
            if box is not None:
                self._flush(box)
            if self.blocked and (box is None or time.monotonic() >= self._retry_at):
                self._retry_at = time.monotonic() + RETRY_SECONDS
                for fd, _ in self._poll.poll(0):
                    if fd in self.blocked:
                        self._flush(self.blocked[fd])
                for stuck in [b for b in self.blocked.values() if b.overdue()]:
                    self._flush(stuck, give_up=True)

    def _flush(self, box: Outbox, give_up: bool = False) -> None:
        fd = box.fd
        try:
            box.flush(give_up)
        except Exception:  # never the thread: only this client's connection
            log.exception("writing to a WebSocket client failed")
            box.fail()
        if box.pending and box.fd >= 0:
            if fd not in self.blocked:
                self.blocked[fd] = box
                self._poll.register(fd, select.POLLOUT)
        elif fd in self.blocked:
            del self.blocked[fd]
            self._poll.unregister(fd)
        if box.closing and not box.pending:
            box.finish()


class Outbox(queue.SimpleQueue):
    """A client's packet queue: Engine.IO's (a SendQueue) while it polls; on a WebSocket, the
    packets its Writer frames and sends. `writer` is set on the subclass each server makes."""

    writer: Writer

    def __init__(self):
        super().__init__()
        self.owner = None  # the engineio Socket, once a WebSocket is opened for it
        self.ws = None  # that WebSocket (SimpleWebSocketWSGI)
        self.sock: socketlib.socket | None = None  # the Writer's own non-blocking duplicate
        self.fd = -1
        self.scheduled = False  # on the Writer's ready queue
        self.pending = b""  # framed bytes the socket has not taken yet
        self.closing = False  # Engine.IO's closing sentinel (None) came
        self.close_by = 0.0
        self.finished = threading.Event()  # the Writer is done with this client

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        super().put(item)
        if self.sock is not None and not self.scheduled:
            self.scheduled = True
            self.writer.ready.put(self)

    def get(self, block: bool = True, timeout: float | None = None):
        """Polling: the next packet. Once upgraded, a blocking get is Engine.IO's writer thread
        asking: the Writer takes over, and the thread sleeps until the client goes (None ends
        it). A poll that was answered as the upgrade went through drains without blocking."""
        if not block or self.ws is None or not self.owner.upgraded:
            return super().get(block, timeout)
        if self.sock is None:
            self._take_over()
        self.finished.wait()
        return None

    def task_done(self) -> None:
        """Engine.IO calls it after each get (see SendQueue)."""

    def join(self) -> None:
        """Until every packet was taken (SendQueue.join)."""
        while not self.empty():
            time.sleep(0.005)

    def _take_over(self) -> None:
        # A duplicate of simple_websocket's socket, left as blocking as its reader thread
        # needs it (a non-blocking file would end that thread's recv): each send is
        # MSG_DONTWAIT instead, which a socket object without a timeout raises on at once.
        raw = self.ws.ws.sock
        dup = socketlib.socket(fileno=os.dup(raw.fileno()))
        self.fd = dup.fileno()
        self.sock = dup
        self.scheduled = True
        self.writer.ready.put(self)  # what was queued before the upgrade

    def flush(self, give_up: bool = False) -> None:
        """(Writer) Frame what is queued and send as much as the socket takes."""
        self.scheduled = False
        parts = [self.pending] if self.pending else []
        while not self.closing:
            try:
                pkt = queue.SimpleQueue.get(self, block=False)
            except queue.Empty:
                break
            if pkt is None:
                self.closing = True
                self.close_by = time.monotonic() + CLOSE_GRACE_SECONDS
            else:
                parts.append(ws_frame(pkt))
        if give_up or self.sock is None:
            self.pending = b""
            return
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)  # one send for everything
        try:
            sent = self.sock.send(data, socketlib.MSG_DONTWAIT)
            self.writer.writes += 1
        except BlockingIOError:
            sent = 0
        except OSError:  # the client is gone: its reader ends the connection
            self.fail()
            return
        self.pending = data[sent:]
        if len(self.pending) > MAX_PENDING_BYTES:
            log.warning("a WebSocket client is %d bytes behind: cutting it off",
                        len(self.pending))
            self.fail()

    def overdue(self) -> bool:
        return self.closing and time.monotonic() > self.close_by

    def fail(self) -> None:
        """(Writer) Drop what is pending and shut the connection: its reader sees it go."""
        self.pending = b""
        if self.sock is not None:
            try:
                self.sock.shutdown(socketlib.SHUT_RDWR)
            except OSError:
                pass

    def finish(self) -> None:
        """(Writer) The closing sentinel came and everything before it went out."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.fd = -1
        self.finished.set()


class WriterWebSocket(SimpleWebSocketWSGI):
    """Engine.IO's threading WebSocket, which hands its client's Outbox the socket."""

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)  # no per-message deflate
        box = self.app.__self__.queue  # the handler is the engineio Socket's bound method
        if isinstance(box, Outbox):
            box.owner = self.app.__self__
            box.ws = self
        return super().__call__(environ, start_response)


def install_shared_writer(eio_server) -> Writer | None:
    """One Writer thread for every WebSocket client of this server (threading mode only)."""
    if eio_server.async_mode != "threading":
        return None
    writer = Writer()
    box = type("ServerOutbox", (Outbox,), {"writer": writer})
    eio_server._async = {**eio_server._async, "queue": box, "websocket": WriterWebSocket}
    return writer
