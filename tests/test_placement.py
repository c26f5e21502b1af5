"""Placing runs on GPUs (server/runs/placement.py), with fake GPUs: least loaded first, several
runs per GPU up to its room, cuda:N pinned, and the run manager sending each job its device."""

from __future__ import annotations

import pytest

from server.runs import ManagerConfig, RunManager
from server.runs.placement import DEFAULT_RUNS_PER_GPU, Gpu, Placement, gpus_with_room
from server.store import Store
from tests.live import example

H200 = ("NVIDIA H200", 141 << 30)


def fake(*rooms: int) -> list[Gpu]:
    return [Gpu(i, H200[0], H200[1], room) for i, room in enumerate(rooms)]


def fill(placement: Placement, asked: str, n: int) -> list[str | None]:
    """Place n runs that ask for `asked`, one after another; the devices they got."""
    got = []
    for i in range(n):
        device = placement.place(asked)
        got.append(device)
        if device is not None:
            placement.assign(f"{asked}-{i}-{len(placement.devices)}", device)
    return got


# -- rooms -------------------------------------------------------------------------------------

def test_runs_per_gpu_is_one_number_for_all_or_one_per_gpu():
    found = [H200, H200, H200]
    assert [g.room for g in gpus_with_room(found, None)] == [DEFAULT_RUNS_PER_GPU] * 3
    assert [g.room for g in gpus_with_room(found, 8)] == [8, 8, 8]
    assert [g.room for g in gpus_with_room(found, [8, 2])] == [8, 2, 2]  # the last for the rest
    assert [g.device for g in gpus_with_room(found, 1)] == ["cuda:0", "cuda:1", "cuda:2"]
    assert gpus_with_room([], 8) == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4", [], [2, 0]])
def test_a_bad_runs_per_gpu_is_refused(bad):
    with pytest.raises(ValueError, match="RUNS_PER_GPU must be a positive whole number"):
        gpus_with_room([H200], bad)


# -- where a run goes --------------------------------------------------------------------------

def test_without_gpus_a_run_keeps_the_device_it_asked_for():
    placement = Placement([])
    for asked in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert placement.place(asked) == asked  # the worker trains there or says why not
    assert placement.room == 0


def test_auto_runs_spread_over_the_least_loaded_gpus_until_each_is_full():
    placement = Placement(fake(2, 2))
    assert fill(placement, "auto", 5) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", None]
    assert placement.room == 4


def test_a_gpu_with_more_room_takes_more_runs():
    placement = Placement(fake(1, 3))
    assert fill(placement, "auto", 5) == ["cuda:0", "cuda:1", "cuda:1", "cuda:1", None]


def test_cuda_without_an_index_is_any_gpu_and_cpu_runs_take_no_gpu_room():
    placement = Placement(fake(1, 1))
    assert fill(placement, "cpu", 3) == ["cpu", "cpu", "cpu"]
    assert fill(placement, "cuda", 3) == ["cuda:0", "cuda:1", None]


def test_cuda_n_pins_a_run_to_that_gpu_and_waits_for_its_room():
    placement = Placement(fake(2, 2))
    assert fill(placement, "cuda:1", 3) == ["cuda:1", "cuda:1", None]
    assert placement.place("auto") == "cuda:0"  # the others still go where there is room
    assert placement.place("cuda:7") == "cuda:7"  # no such GPU: the worker says so
    placement.release(next(iter(placement.devices)))
    assert placement.place("cuda:1") == "cuda:1"


def test_among_equally_busy_gpus_the_one_whose_runs_hold_less_memory_wins():
    placement = Placement(fake(4, 4))
    placement.assign("a", "cuda:0")
    placement.assign("b", "cuda:1")
    placement.report("a", 9 << 30)
    placement.report("b", 1 << 30)
    assert placement.place("auto") == "cuda:1"
    placement.report("gone", 5)  # a run it does not hold: ignored
    assert "gone" not in placement.memory


def test_the_devices_description_counts_runs_and_memory_per_gpu():
    placement = Placement(fake(2, 1))
    placement.assign("a", "cuda:0")
    placement.assign("b", "cuda:1")
    placement.assign("c", "cpu")
    placement.report("a", 3 << 30)
    described = placement.describe(cores=16)
    assert described == {
        "cpu": {"cores": 16, "runs": 1},
        "gpus": [{"index": 0, "device": "cuda:0", "name": "NVIDIA H200", "memory": 141 << 30,
                  "room": 2, "runs": 1, "memory_used": 3 << 30},
                 {"index": 1, "device": "cuda:1", "name": "NVIDIA H200", "memory": 141 << 30,
                  "room": 1, "runs": 1, "memory_used": 0}],
        "auto": "cuda:0",
    }
    placement.assign("d", "cuda:0")
    assert placement.describe(cores=16)["auto"] is None  # every GPU is full: it would wait
    assert Placement([]).describe(cores=2)["auto"] == "cpu"


# -- the run manager sends each job its device ------------------------------------------------

class FakeWorker:
    """Takes jobs without a process: what the manager sends is kept."""

    def __init__(self):
        self.run_id, self.stop_asked, self.ready = None, None, True
        self.sent: list[tuple] = []

    @property
    def busy(self) -> bool:
        return self.run_id is not None

    def send(self, *message) -> None:
        self.sent.append(message)


@pytest.fixture
def manager(tmp_path):
    """A RunManager over two fake GPUs of room 1 each, whose pool hands out fake workers."""
    emitted: list[tuple] = []
    config = ManagerConfig(max_concurrent=4, pool_size=0, gpus=fake(1, 1))
    m = RunManager(Store(tmp_path), config, lambda event, payload, **kw: emitted.append(
        (event, payload)))
    workers: list[FakeWorker] = []

    def idle():
        free = [w for w in workers if not w.busy]
        if free:
            return free[0]
        workers.append(FakeWorker())
        return workers[-1]

    m.pool.idle = idle
    m.workers, m.emitted = workers, emitted
    yield m
    m.shutdown(timeout=0.1)


def submit(manager, device: str) -> str:
    doc = example("spiral_mlp", device=device)
    run_id, _, _ = manager.submit(doc, lambda room: None, client=f"c-{device}")
    return run_id


def job_device(manager, run_id: str) -> str:
    return next(m[1]["device"] for w in manager.workers for m in w.sent
                if m[0] == "job" and m[1]["run_id"] == run_id)


def test_the_manager_places_each_job_and_queues_what_has_no_room(manager):
    a, b = submit(manager, "auto"), submit(manager, "auto")
    assert {job_device(manager, a), job_device(manager, b)} == {"cuda:0", "cuda:1"}
    pinned = submit(manager, "cuda:1")
    cpu = submit(manager, "cpu")
    assert manager.runs[pinned].state == "queued"  # its GPU is full; it waits ...
    assert job_device(manager, cpu) == "cpu"  # ... without holding up a CPU run
    devices = manager.devices()
    assert [g["runs"] for g in devices["gpus"]] == [1, 1] and devices["cpu"]["runs"] == 1
    assert devices["auto"] is None and devices["queued"] == 1

    on_gpu1 = a if job_device(manager, a) == "cuda:1" else b
    worker = next(w for w in manager.workers if w.run_id == on_gpu1)
    manager.on_message(worker, ("done", on_gpu1, {"state": "finished", "steps": 5, "epochs": 1,
                                                  "device": "cuda:1 (fake)",
                                                  "gpu_memory": 1 << 20}))
    assert job_device(manager, pinned) == "cuda:1"  # the freed room went to the pinned run


def test_a_runs_gpu_memory_reaches_its_status_and_the_devices(manager):
    run_id = submit(manager, "cuda:0")
    worker = next(w for w in manager.workers if w.run_id == run_id)
    manager.on_message(worker, ("memory", run_id, 512 << 20))
    status = [p for e, p in manager.emitted if e == "run_status" and p["run_id"] == run_id][-1]
    assert status["gpu_memory"] == 512 << 20
    assert manager.devices()["gpus"][0]["memory_used"] == 512 << 20
