"""GET /api/devices: where runs train, so the page and the CLI can say where a run will go."""

from __future__ import annotations

import json
import os

import pytest
import torch

from server.runs import placement
from tests.live import make_app

NO_GPU = "needs a CUDA GPU; this machine has none"


def strict(text: str):
    def refuse(name):
        raise ValueError(f"{name} in strict JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_every_run_goes_to_the_cpu(client):
    res = client.get("/api/devices")
    assert res.status_code == 200
    body = strict(res.get_data(as_text=True))
    assert body == {"cpu": {"cores": os.cpu_count(), "runs": 0}, "gpus": [], "auto": "cpu",
                    "max_concurrent": 2, "queued": 0}


@pytest.fixture
def fake_gpus(monkeypatch, tmp_path):
    """An app on a server that sees two fake GPUs, of room 3 and 1."""
    monkeypatch.setattr(placement, "detect_gpus",
                        lambda: [("Fake GPU A", 80 << 30), ("Fake GPU B", 24 << 30)])
    app = make_app(tmp_path / "data", MAX_CONCURRENT_RUNS=None, RUNS_PER_GPU=[3, 1])
    yield app
    app.extensions["layerlab"].close()


def test_each_gpu_is_listed_with_its_name_memory_and_room(fake_gpus):
    body = fake_gpus.test_client().get("/api/devices").get_json()
    assert body["gpus"] == [
        {"index": 0, "device": "cuda:0", "name": "Fake GPU A", "memory": 80 << 30, "room": 3,
         "runs": 0, "memory_used": 0},
        {"index": 1, "device": "cuda:1", "name": "Fake GPU B", "memory": 24 << 30, "room": 1,
         "runs": 0, "memory_used": 0}]
    assert body["auto"] == "cuda:0"
    assert body["max_concurrent"] == 4  # MAX_CONCURRENT_RUNS unset: the GPUs' rooms together


def test_a_bad_runs_per_gpu_stops_the_app_from_starting(tmp_path):
    with pytest.raises(ValueError, match="RUNS_PER_GPU"):
        make_app(tmp_path / "data", RUNS_PER_GPU=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_on_a_gpu_server_its_gpus_are_listed(client):
    body = client.get("/api/devices").get_json()
    assert [g["name"] for g in body["gpus"]] == [
        torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    assert body["auto"] == "cuda:0"


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_on_a_gpu_a_run_reports_the_memory_it_holds(tmp_path):
    from server.runs import worker
    from server.runs.visuals import Visuals
    from server.train import Control
    from tests.live import example

    sent: list[tuple] = []
    control = Control()
    job = {"run_id": "r1", "document": example("spiral_mlp", steps=200), "device": "cuda:0"}
    worker.train((job, control, Visuals("r1", control, sent.append)), worker.Current(),
                 sent.append, str(tmp_path))
    memory = [m[2] for m in sent if m[0] == "memory"]
    done = next(m[2] for m in sent if m[0] == "done")
    assert memory and all(b > 0 for b in memory) and done["gpu_memory"] > 0
    assert done["device"].startswith("cuda:0 (") and done["precision"] in ("bf16", "fp32")
