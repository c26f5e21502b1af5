"""One picture frame encoded once for every watcher (issue 14): the spliced headers are the
packets python-socketio itself would send, and real watchers of a live run get and ack them."""

from __future__ import annotations

import pytest
from socketio import packet

from server.web.broadcast import with_ack_id

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("payload", [
    {"run_id": "r1", "step": 3, "nodes": {"fc": {"data": b"\x00\x01\x02", "shape": [3]}}},
    {"run_id": "r1", "step": 3, "text": "no bytes [at all]"},
    {"run_id": "r1", "frames": [b"a", b"bb", {"inner": b"ccc"}]},
])
@pytest.mark.parametrize("ack_id", [1, 7, 12345])
def test_a_spliced_header_is_the_packet_socketio_encodes_with_that_ack_id(payload, ack_id):
    plain = packet.Packet(packet.EVENT, namespace="/", data=["run_frame", payload]).encode()
    wanted = packet.Packet(packet.EVENT, namespace="/", data=["run_frame", payload],
                           id=ack_id).encode()
    plain = plain if isinstance(plain, list) else [plain]
    wanted = wanted if isinstance(wanted, list) else [wanted]
    assert [with_ack_id(plain[0], ack_id), *plain[1:]] == wanted


@pytest.mark.parametrize("once", [True, False], ids=["once", "per-watcher"])
def test_watchers_of_a_live_run_share_each_frames_encoding(tmp_path, connect, once):
    from tests.live import LiveServer, endless, make_app, wait_for

    live = LiveServer(make_app(tmp_path / "data", FRAME_ENCODE_ONCE=once,
                               INSIGHT_ACTIVATIONS_RATE=0, INSIGHT_HEALTH_RATE=0,
                               INSIGHT_RESULTS_RATE=0, INSIGHT_WEIGHTS_RATE=0))
    try:
        owner = connect(live.url)
        run_id, token = owner.train(endless())
        # One watcher polls: a shared packet must not carry one transport's encoding to another.
        watchers = [connect(live.url) for _ in range(3)] + [connect(live.url, "polling")]
        for w in watchers:
            assert w.call("watch", {"run_id": run_id})["ok"]
        clients = [owner, *watchers]
        wait_for(lambda: all(len(c.frames("run_boundary", run_id)) >= 4 for c in clients), 90,
                 "four boundaries at each of five watchers")
        assert owner.call("control", {"run_id": run_id, "token": token,
                                      "action": "stop"})["ok"]
        owner.wait_state(run_id, "stopped", "finished")
        emit = live.manager.emit
        delivered = sum(len(c.frames("run_boundary", run_id)) for c in clients)
        # Five watchers that ack at once are mostly sent the same frame: far fewer encodes
        # (the old way, FRAME_ENCODE_ONCE off, encodes once per watcher and frame).
        assert (emit.encodes * 2 < delivered) == once, (emit.encodes, delivered)
        by_step: dict[int, bytes] = {}
        for c in clients:
            for f in c.frames("run_boundary", run_id):
                assert by_step.setdefault(f["step"], f["data"]) == f["data"]
    finally:
        live.close()


def test_a_send_queue_hands_packets_over_the_way_engineio_takes_them():
    import queue
    import threading

    from server.web.broadcast import SendQueue

    q = SendQueue()
    for pkt in ("a", "b", "c"):
        q.put(pkt)
    taken = [q.get(timeout=1)]
    q.task_done()  # Engine.IO's poll calls it after every get
    while True:
        try:
            taken.append(q.get(block=False))
        except queue.Empty:
            break
    assert taken == ["a", "b", "c"]
    q.join()  # empty: at once

    q.put("d")
    q.put(None)  # the writer's sentinel
    reader = threading.Thread(target=lambda: [q.get(timeout=5) for _ in range(2)])
    reader.start()
    q.join()  # close(wait=True): until the writer took everything
    reader.join(5)
    assert q.empty() and not reader.is_alive()


@pytest.mark.parametrize("shared,fast", [(True, True), (False, True), (False, False)],
                         ids=["shared-io", "send-queue", "stock-queue"])
def test_each_client_gets_its_packets_and_a_server_side_disconnect(tmp_path, connect, shared,
                                                                   fast):
    import queue

    from server.web.broadcast import SendQueue
    from server.web.wsio import Outbox
    from tests.live import LiveServer, make_app, wait_for

    live = LiveServer(make_app(tmp_path / "data", SHARED_IO=shared, FAST_SEND_QUEUES=fast))
    try:
        clients = [connect(live.url), connect(live.url, "polling")]
        for c in clients:
            assert c.call("validate", {"version": 1, "nodes": [], "edges": []}) is not None
        eio = live.app.extensions["socketio"].server.eio
        sockets = list(eio.sockets.values())
        assert len(sockets) == 2
        kind = Outbox if shared else SendQueue if fast else queue.Queue
        assert all(isinstance(s.queue, kind) for s in sockets)
        if shared:  # the WebSocket client's packets went out through the one Writer
            assert type(sockets[0].queue).writer.writes > 0
        sio = live.app.extensions["socketio"].server
        for c in clients:  # close(wait=True) waits for the writer to take the CLOSE packet
            sio.disconnect(c.sio.get_sid("/"))
        wait_for(lambda: not any(c.sio.connected for c in clients), 20,
                 "both clients to see the server close their sockets")
    finally:
        live.close()


class _Owner:  # the engineio Socket's one attribute an Outbox reads
    upgraded = True


class _WebSocket:  # simple_websocket's Server: its socket and its wsproto state
    def __init__(self, sock):
        from wsproto import ConnectionType, WSConnection

        self.sock, self.ws = sock, WSConnection(ConnectionType.SERVER)


def _writer_client(writer, server_side):
    """An Outbox on one end of a socket pair, taken over as Engine.IO's writer thread would."""
    import threading

    from server.web.wsio import Outbox, Reader

    box = type("TestOutbox", (Outbox,), {"writer": writer, "reader": Reader()})()
    box.attach(_Owner(), _WebSocket(server_side))
    ended = []
    thread = threading.Thread(target=lambda: ended.append(box.get()), daemon=True)
    thread.start()  # sleeps in get until the client is finished
    return box, thread, ended


def _read_messages(sock, want: int, timeout: float = 20) -> list:
    """Read WebSocket messages off a client's end of the pair (wsproto parses the frames)."""
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, TextMessage

    conn = Connection(ConnectionType.CLIENT)
    sock.settimeout(timeout)
    got: list = []
    part = None  # a message arrives in pieces as the socket gives them
    while len(got) < want:
        conn.receive_data(sock.recv(1 << 20))
        for event in conn.events():
            assert isinstance(event, (BytesMessage, TextMessage)), event
            part = event.data if part is None else part + event.data
            if event.message_finished:
                got.append(part)
                part = None
    return got


def test_one_writer_sends_every_client_its_packets_and_a_full_socket_holds_up_only_itself():
    import socket

    from engineio import packet as eio_packet

    from server.web.wsio import Writer
    from tests.live import wait_for

    writer = Writer()
    slow_server, slow_phone = socket.socketpair()
    fast_server, fast_phone = socket.socketpair()
    for s in (slow_server, fast_server):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    slow_phone.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    slow, slow_thread, slow_ended = _writer_client(writer, slow_server)
    fast, fast_thread, fast_ended = _writer_client(writer, fast_server)
    picture = bytes(range(256)) * 400  # 100 KiB: a few fill the slow phone's socket
    sent = []
    for i in range(20):  # the same packet objects to both, as a room emit does
        pkts = [eio_packet.Packet(eio_packet.MESSAGE, f'2["run_metrics",{{"step":{i}}}]'),
                eio_packet.Packet(eio_packet.MESSAGE, picture[i:] + picture[:i])]
        sent += [p.encode() for p in pkts]
        for p in pkts:
            slow.put(p)
            fast.put(p)
    # The phone that reads gets everything while the other is not reading at all.
    assert _read_messages(fast_phone, len(sent)) == sent
    wait_for(lambda: slow.pending, 10, "the slow phone's socket to fill")
    assert slow.fd in writer.blocked and fast.fd not in writer.blocked
    fast.put(None)  # Engine.IO's closing sentinel: the writer finishes with the client
    fast_thread.join(10)
    assert fast_ended == [None] and fast.finished.is_set()
    # Once the slow phone reads, the rest comes, in order and whole.
    assert _read_messages(slow_phone, len(sent)) == sent
    wait_for(lambda: not writer.blocked, 10, "the writer to forget the caught-up socket")
    slow.put(None)
    slow_thread.join(10)
    assert slow_ended == [None]
    for s in (slow_server, slow_phone, fast_server, fast_phone):
        s.close()


def test_a_closing_client_that_never_reads_is_let_go(monkeypatch):
    import socket

    from engineio import packet as eio_packet

    import server.web.wsio as wsio

    monkeypatch.setattr(wsio, "CLOSE_GRACE_SECONDS", 0.5)
    writer = wsio.Writer()
    server_side, phone = socket.socketpair()
    server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    phone.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    box, thread, ended = _writer_client(writer, server_side)
    for _ in range(10):
        box.put(eio_packet.Packet(eio_packet.MESSAGE, bytes(100_000)))
    box.put(None)
    thread.join(10)  # Engine.IO's writer thread (and so the connection's close) is not stuck
    assert ended == [None] and not writer.blocked
    server_side.close()
    phone.close()


def _raw_client(url: str, extensions=()):
    """A WebSocket client made by hand (wsproto), joined to the default namespace."""
    import socket

    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request, TextMessage

    host, port = url.split("//")[1].strip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"{host}:{port}", extensions=list(extensions),
                                 target="/socket.io/?EIO=4&transport=websocket")))
    events: list = []

    def until(wanted):
        while not any(wanted(e) for e in events):
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            ws.receive_data(data)
            events.extend(ws.events())
        return next(e for e in events if wanted(e))

    accept = until(lambda e: isinstance(e, AcceptConnection))
    until(lambda e: isinstance(e, TextMessage) and e.data.startswith("0"))
    sock.sendall(ws.send(TextMessage(data="40")))
    until(lambda e: isinstance(e, TextMessage) and e.data.startswith("40"))
    return sock, ws, accept, until


def test_a_websocket_client_that_offers_deflate_gets_plain_frames(tmp_path):
    """Browsers offer per-message deflate; frames framed once for all go uncompressed."""
    from wsproto.events import Ping, Pong, TextMessage
    from wsproto.extensions import PerMessageDeflate

    from tests.live import LiveServer, make_app

    live = LiveServer(make_app(tmp_path / "data"))
    try:
        sock, ws, accept, until = _raw_client(live.url, [PerMessageDeflate()])
        assert accept.extensions == []  # deflate declined
        sock.sendall(ws.send(Ping(payload=b"hi")))  # a WebSocket-level ping is answered
        assert until(lambda e: isinstance(e, Pong)).payload == b"hi"
        sock.sendall(ws.send(TextMessage(data='421["validate",{"version":1,"nodes":[],'
                                              '"edges":[]}]')))
        assert until(lambda e: isinstance(e, TextMessage) and e.data.startswith("431"))
        sock.close()
    finally:
        live.close()


def test_a_message_over_the_limit_ends_only_its_own_client(tmp_path, connect):
    from wsproto.events import TextMessage

    from tests.live import LiveServer, make_app

    live = LiveServer(make_app(tmp_path / "data", MAX_DOCUMENT_BYTES=10_000))
    try:
        other = connect(live.url)
        sock, ws, _, _ = _raw_client(live.url)
        sock.sendall(ws.send(TextMessage(data="42" + "x" * 200_000)))  # past 2 x 10 kB + 64 kB
        sock.settimeout(10)
        while sock.recv(65536):  # the server closes this one's connection
            pass
        sock.close()
        assert other.call("validate", {"version": 1, "nodes": [], "edges": []}) is not None
    finally:
        live.close()
