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


@pytest.mark.parametrize("fast", [True, False], ids=["send-queue", "stock-queue"])
def test_each_client_gets_its_packets_and_a_server_side_disconnect(tmp_path, connect, fast):
    from server.web.broadcast import SendQueue
    from tests.live import LiveServer, make_app, wait_for

    live = LiveServer(make_app(tmp_path / "data", FAST_SEND_QUEUES=fast))
    try:
        clients = [connect(live.url), connect(live.url, "polling")]
        for c in clients:
            assert c.call("validate", {"version": 1, "nodes": [], "edges": []}) is not None
        eio = live.app.extensions["socketio"].server.eio
        sockets = list(eio.sockets.values())
        assert len(sockets) == 2
        assert all(isinstance(s.queue, SendQueue) == fast for s in sockets)
        sio = live.app.extensions["socketio"].server
        for c in clients:  # close(wait=True) waits for the writer to take the CLOSE packet
            sio.disconnect(c.sio.get_sid("/"))
        wait_for(lambda: not any(c.sio.connected for c in clients), 20,
                 "both clients to see the server close their sockets")
    finally:
        live.close()
