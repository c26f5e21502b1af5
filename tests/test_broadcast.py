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
