"""One reader and one writer thread for every WebSocket client of a server (issue 14, "a
thousand watchers"), instead of the three threads Engine.IO's threading mode gives each.

There, a client's WebSocket has simple-websocket's thread reading the socket, the request
thread waiting for what it read, and Engine.IO's writer thread waiting for packets to send.
Every acknowledged picture woke the first two and every packet the third: with each frame
encoded once (broadcast.py), what a thousand watchers cost was those wake-ups, each taking the
GIL back. Here:

- `Reader`: one thread waits on every client's socket (epoll), parses what comes with the
  connection's own wsproto state, and hands each message to the client's Engine.IO socket
  (`receive`, as Engine.IO's loop would; Socket.IO runs events in threads of their own and
  acks at once). The messages of an upgrade's handshake go to the request thread, which asks
  for them (`SharedWebSocket.wait`); after it, that thread sleeps until the client goes.
- `Writer`: one thread writes every client's packets. A client's queue is an `Outbox` that,
  once the client is on a WebSocket, puts itself on the Writer's ready queue when a packet
  comes; the Writer frames each Engine.IO packet once (a packet sent to a room is one object
  for every client, and so are a picture's attachments) and sends all the client has in one
  non-blocking send. A full socket keeps the rest and gets it when poll says it can take more,
  so a slow phone holds up only itself. Engine.IO's writer thread still starts, and sleeps in
  `Outbox.get` until the client goes.

Both use one duplicate of the client's socket, kept blocking as werkzeug made it (each send is
MSG_DONTWAIT, each read follows epoll); it is closed when both are done with it, so neither
ever reads or writes a descriptor number reused by another connection. Per-message deflate is
not offered: a frame framed once is the same bytes for everyone (the pictures are PNG and raw
floats, which deflate barely shrinks; the run metrics are a few hundred bytes).
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

import simple_websocket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from server.web.broadcast import SendQueue

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.02  # how often the Writer tries again the sockets that were full
MAX_PENDING_BYTES = 16 * 2**20  # a client this far behind is cut off (its socket shut)
CLOSE_GRACE_SECONDS = 10.0  # a closing client's last bytes wait this long for its socket
READ_BYTES = 65536


def ws_frame(pkt: eio_packet.Packet | bytes) -> bytes:
    """The WebSocket frame (server to client: unmasked, final, no extension) of an Engine.IO
    packet, made once per packet; bytes are a frame already (a pong, a close)."""
    if isinstance(pkt, bytes):
        return pkt
    framed = getattr(pkt, "ws_frame", None)
    if framed is None:
        framed = pkt.ws_frame = frame(pkt.encode())
    return framed


def frame(data: str | bytes, opcode: int | None = None) -> bytes:
    """One final, unmasked frame: text for a str, binary for bytes, or `opcode`."""
    if isinstance(data, str):
        data, op = data.encode(), 0x1
    else:
        data, op = bytes(data), 0x2
    op = 0x80 | (op if opcode is None else opcode)
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", op, n)
    elif n < 65536:
        head = struct.pack("!BBH", op, 126, n)
    else:
        head = struct.pack("!BBQ", op, 127, n)
    return head + data


def close_frame(code: int = 1000) -> bytes:
    """A close frame with its status code."""
    return frame(struct.pack("!H", code), 0x8)


class Writer:
    """The one thread that writes to every WebSocket client of a server. Outboxes with
    something to send are put on `ready`; those whose socket was full wait in `blocked` until
    poll says it can take more."""

    def __init__(self):
        self.ready: queue.SimpleQueue = queue.SimpleQueue()
        self.blocked: dict[int, Outbox] = {}  # the shared socket's fd -> its Outbox
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
        if box.pending:
            if fd not in self.blocked:
                self.blocked[fd] = box
                self._poll.register(fd, select.POLLOUT)
        elif self.blocked.get(fd) is box:
            del self.blocked[fd]
            self._poll.unregister(fd)
        if box.closing and not box.pending:
            box.finish()


class Reader:
    """The one thread that reads every WebSocket client of a server: epoll on their shared
    sockets, each one's bytes into its connection's wsproto state, each message to its
    Outbox (`Outbox.received`)."""

    def __init__(self):
        self._epoll = select.epoll()
        self._boxes: dict[int, Outbox] = {}
        self.thread = threading.Thread(target=self._run, name="layerlab-reader", daemon=True)
        self.thread.start()

    def add(self, box: Outbox) -> None:
        self._boxes[box.fd] = box
        self._epoll.register(box.fd, select.EPOLLIN | select.EPOLLRDHUP)

    def _run(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                box = self._boxes.get(fd)
                if box is None:
                    continue
                try:
                    alive = box.readable()
                except Exception:  # never the thread: only this client's connection
                    log.exception("reading a WebSocket client failed")
                    alive = False
                if not alive:
                    del self._boxes[fd]
                    self._epoll.unregister(fd)
                    box.lost()


class Outbox(SendQueue):
    """A client's packet queue: Engine.IO's (a SendQueue) while it polls; on a WebSocket, the
    packets its Writer frames and sends, and the messages its Reader hands on. `writer` and
    `reader` are set on the subclass each server makes (install_shared_io)."""

    writer: Writer
    reader: Reader
    max_message: int = 0  # Engine.IO's max_http_buffer_size: a longer message ends the client

    def __init__(self):
        super().__init__()
        self.owner = None  # the engineio Socket, once a WebSocket is opened for it
        self.ws = None  # simple_websocket's Server (its wsproto state, its socket)
        self.sock: socketlib.socket | None = None  # the shared duplicate of its socket
        self.fd = -1
        self.users = 0  # Reader and Writer: the last to let go closes `sock`
        self.writing = False  # the Writer sends this client's packets
        self.scheduled = False  # on the Writer's ready queue
        self.pending = b""  # framed bytes the socket has not taken yet
        self.closing = False  # Engine.IO's closing sentinel (None) came
        self.close_by = 0.0
        self.finished = threading.Event()  # the Writer is done with this client
        self.gone = threading.Event()  # the Reader is: the connection ended
        self.lock = threading.Lock()  # hand-over of the messages from the request thread
        self._users_lock = threading.Lock()
        self.direct = False  # messages go to Engine.IO from the Reader (else `inbox`)
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()  # the upgrade's messages; None: gone
        self._message: list = []  # the parts of a message that came in several

    # -- Engine.IO's side: its queue ---------------------------------------------------------

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        super().put(item)
        if self.writing and not self.scheduled:
            self.scheduled = True
            self.writer.ready.put(self)

    def get(self, block: bool = True, timeout: float | None = None):
        """Polling: the next packet. Once upgraded, a blocking get is Engine.IO's writer thread
        asking: the Writer takes over, and the thread sleeps until the client goes (None ends
        it). A poll that was answered as the upgrade went through drains without blocking."""
        if not block or self.sock is None or not self.owner.upgraded:
            return super().get(block, timeout)
        if not self.writing:
            self.writing = self.scheduled = True
            self.writer.ready.put(self)  # what was queued before the upgrade
        self.finished.wait()
        return None

    # -- the connection ----------------------------------------------------------------------

    def attach(self, owner, ws: simple_websocket.Server) -> None:
        """(request thread) The WebSocket is open: share its socket with the Reader (now) and
        the Writer (once upgraded)."""
        self.owner, self.ws = owner, ws
        self.sock = socketlib.socket(fileno=os.dup(ws.sock.fileno()))
        self.fd = self.sock.fileno()
        self.users = 2
        self.reader.add(self)

    def release(self) -> None:
        with self._users_lock:
            self.users -= 1
            last = self.users == 0
        if last:
            self.sock.close()

    def shut(self) -> None:
        """End the connection: the Reader sees it go, and everything follows from that."""
        try:
            self.sock.shutdown(socketlib.SHUT_RDWR)
        except OSError:
            pass

    # -- the Reader's side -------------------------------------------------------------------

    def readable(self) -> bool:
        """(Reader) Take what the socket has; False when the connection has ended."""
        try:
            data = self.sock.recv(READ_BYTES, socketlib.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        conn = self.ws.ws
        conn.receive_data(data)
        for event in conn.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self._message.append(event.data)
                size = sum(len(p) for p in self._message)
                if self.max_message and size > self.max_message:
                    return False  # Engine.IO's "packet is too large"
                if event.message_finished:
                    parts, self._message = self._message, []
                    message = parts[0] if len(parts) == 1 else parts[0][:0].join(parts)
                    if not self.received(message):
                        return False
            elif isinstance(event, Ping):
                self._send_now(frame(event.payload, 0xA))
            elif isinstance(event, CloseConnection):
                self._send_now(close_frame(event.code or 1000))
                return False
        return True

    def received(self, message) -> bool:
        """(Reader) A whole message: to Engine.IO, or to the request thread while it still
        reads the upgrade's handshake. False: the socket is closed."""
        with self.lock:
            if not self.direct:
                self.inbox.put(message)
                return True
            return self._deliver(message)

    def _deliver(self, message) -> bool:
        try:
            self.owner.receive(eio_packet.Packet(encoded_packet=message))
        except eio_exceptions.UnknownPacketError:
            pass
        except eio_exceptions.SocketIsClosedError:
            return False
        except Exception:
            log.exception("a WebSocket client's packet failed")
            return False
        return True

    def _send_now(self, framed: bytes) -> None:
        """A control frame: through the Writer once it writes, else straight on."""
        if self.writing:
            self.put(framed)
        else:
            try:
                self.sock.sendall(framed)
            except OSError:
                pass

    def lost(self) -> None:
        """(Reader) The connection ended: the request thread goes on to close it."""
        self.inbox.put(None)
        self.gone.set()
        self.release()

    # -- the request thread's side -----------------------------------------------------------

    def next_message(self):
        """(request thread) The next message for Engine.IO's handler: the upgrade's handshake
        while it lasts; after it, the Reader hands messages on itself, and this waits for the
        client to go (None)."""
        if not self.owner.upgraded:
            return self.inbox.get()
        with self.lock:
            while not self.direct:
                try:
                    message = self.inbox.get(block=False)
                except queue.Empty:
                    self.direct = True
                    break
                if message is None or not self._deliver(message):
                    self.shut()
                    return None
        self.gone.wait()
        return None

    # -- the Writer's side -------------------------------------------------------------------

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
        if give_up or self.finished.is_set():
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
        except OSError:  # the client is gone: the Reader ends the connection
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
        """(Writer) Drop what is pending and shut the connection."""
        self.pending = b""
        self.shut()

    def finish(self) -> None:
        """(Writer) The closing sentinel came and everything before it went out."""
        if not self.finished.is_set():
            self.finished.set()
            self.release()


class _NoThread:
    """simple-websocket starts a reading thread per connection; the Reader reads instead."""

    def __init__(self, target=None):
        self.name = "(layerlab-reader)"

    def start(self) -> None:
        pass


class SharedWebSocket(SimpleWebSocketWSGI):
    """Engine.IO's threading WebSocket, read by the Reader and written by the Writer."""

    def __call__(self, environ, start_response):
        owner = self.app.__self__  # the handler is the engineio Socket's bound method
        self.box = owner.queue
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)  # no per-message deflate
        self.ws = simple_websocket.Server(environ, thread_class=_NoThread, **self.server_args)
        self.box.attach(owner, self.ws)
        try:
            ret = self.app(self)
        finally:  # the handler is done with the client: so is the Writer, if it ever began
            self.box.shut()
            self.box.finish()
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return ret

    def send(self, message) -> None:
        """Before the Writer takes over: the upgrade's probe answer."""
        try:
            self.box.sock.sendall(frame(message))
        except OSError:
            raise OSError() from None

    def wait(self):
        return self.box.next_message()

    def close(self) -> None:
        """(Engine.IO's writer thread, once the Writer is done) A close frame, then the end."""
        if not self.box.gone.is_set():
            try:
                self.box.sock.send(close_frame(), socketlib.MSG_DONTWAIT)
            except OSError:
                pass
        self.box.shut()


def install_shared_io(eio_server) -> Writer | None:
    """One Reader and one Writer thread for every WebSocket client of this server (threading
    mode only); returns the Writer."""
    if eio_server.async_mode != "threading":
        return None
    writer, reader = Writer(), Reader()
    box = type("ServerOutbox", (Outbox,), {"writer": writer, "reader": reader,
                                           "max_message": eio_server.max_http_buffer_size})
    eio_server._async = {**eio_server._async, "queue": box, "websocket": SharedWebSocket}
    return writer
