"""Finding 10 of issue 16: one client cannot fill the queue and starve everyone else."""

import pytest

from server.runs.run import RunError
from tests.live import LiveServer, endless, example, make_app, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def one_worker(tmp_path):
    """A live server that trains one run at once and allows three runs per connection."""
    live = LiveServer(make_app(tmp_path, MAX_CONCURRENT_RUNS=1, MAX_QUEUED_RUNS=50))
    live.manager.config.max_per_client = 3
    yield live
    live.close()


def test_a_client_at_its_limit_is_refused_and_another_starts_first(one_worker, connect):
    a, b = connect(one_worker.url), connect(one_worker.url)
    (first, token), (second, _), (third, _) = (a.train(endless(seed=i)) for i in range(3))
    refused = a.call("train", endless())
    assert refused["ok"] is False and refused["error"] == "quota_exceeded"
    assert "3 runs" in refused["message"] and "MAX_RUNS_PER_CLIENT" in refused["message"]

    other, _ = b.train(endless())  # another client still gets in, ahead of A's waiting runs
    assert b.wait_state(other, "queued")["queue_position"] == 1
    wait_for(lambda: a.statuses(second)[-1].get("queue_position") == 2, 5, "A's run to move back")
    assert a.statuses(third)[-1].get("queue_position") == 3

    a.wait_state(first, "running", timeout=30)
    a.call("control", {"run_id": first, "token": token, "action": "stop"})
    b.wait_state(other, "starting", "running", timeout=30)
    assert a.statuses(second)[-1]["state"] == "queued"  # the fair share, not first come
    wait_for(lambda: a.statuses(second)[-1].get("queue_position") == 1, 5, "A's run to move up")
    assert one_worker.manager.stats()["queued"] == 2


def test_a_remote_address_has_its_own_limit_but_loopback_has_none(one_worker):
    manager = one_worker.manager
    manager.config.max_per_address = 1
    def submit(client, address):
        return manager.submit(example(epochs=1), lambda room: None, client, address=address)

    submit("c1", "192.0.2.7")
    with pytest.raises(RunError) as refused:
        submit("c2", "192.0.2.7")  # a second connection from the same machine
    assert refused.value.code == "quota_exceeded" and "MAX_RUNS_PER_ADDRESS" in str(refused.value)
    submit("c3", "192.0.2.8")
    submit("c4", "127.0.0.1")
    submit("c5", "127.0.0.1")
