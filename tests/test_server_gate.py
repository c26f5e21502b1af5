"""FrameGate: latest-wins heavy frames, one in flight per client."""

import pytest

from server.runs import FrameGate

pytestmark = pytest.mark.timeout(10)


class Wire:
    """Records what the gate sends, and lets a test acknowledge it."""

    def __init__(self):
        self.sent: list[tuple[str, object]] = []
        self.acks = {}

    def __call__(self, client, frame, on_ack):
        self.sent.append((client, frame))
        self.acks.setdefault(client, []).append(on_ack)

    def ack(self, client, index=-1):
        self.acks[client][index]()

    def frames(self, client):
        return [f for c, f in self.sent if c == client]


def test_a_client_that_never_acks_gets_one_frame_and_holds_at_most_one_more():
    wire = Wire()
    gate = FrameGate(wire, ack_timeout=None)
    for i in range(1000):
        gate.offer(["slow"], {"step": i})
    assert wire.frames("slow") == [{"step": 0}]
    assert gate.pending("slow") == 2  # one in flight, the newest waiting


def test_an_ack_releases_the_newest_frame_only():
    wire = Wire()
    gate = FrameGate(wire, ack_timeout=None)
    for i in range(5):
        gate.offer(["c"], i)
    wire.ack("c")
    assert wire.frames("c") == [0, 4]
    wire.ack("c")
    assert gate.pending("c") == 0
    gate.offer(["c"], 5)
    assert wire.frames("c") == [0, 4, 5]


def test_clients_do_not_wait_for_each_other():
    wire = Wire()
    gate = FrameGate(wire, ack_timeout=None)
    gate.offer(["fast", "slow"], 0)
    for i in range(1, 4):
        wire.ack("fast")
        gate.offer(["fast", "slow"], i)
    assert wire.frames("fast") == [0, 1, 2, 3]
    assert wire.frames("slow") == [0]


def test_a_lost_ack_frees_the_slot_after_the_timeout_and_a_stale_ack_is_ignored():
    now = [0.0]
    wire = Wire()
    gate = FrameGate(wire, ack_timeout=5.0, clock=lambda: now[0])
    gate.offer(["c"], "a")
    gate.offer(["c"], "b")
    now[0] = 6.0
    gate.offer(["c"], "c")
    assert wire.frames("c") == ["a", "c"]
    wire.ack("c", 0)  # the late ack of "a" must not free the slot "c" holds
    gate.offer(["c"], "d")
    assert wire.frames("c") == ["a", "c"]
    wire.ack("c", 1)
    assert wire.frames("c") == ["a", "c", "d"]


def test_forget_drops_a_client():
    wire = Wire()
    gate = FrameGate(wire, ack_timeout=None)
    gate.offer(["c"], 1)
    gate.offer(["c"], 2)
    gate.forget("c")
    assert gate.pending("c") == 0
    gate.offer(["c"], 3)
    assert wire.frames("c") == [1, 3]
