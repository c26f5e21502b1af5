"""CUDA graphs of the supervised step (server/train/graphs.py).

Without a GPU the decision (`eager_reason`) is tested for each reason, and GraphStep's path
(warm-up, capture, replay into the same buffers, a graph for the smaller last batch, re-capture
on a new learning rate, the fallback when a capture fails) is driven on the CPU by a stand-in
backend whose "replay" runs the recorded step again, as a graph's replay runs its kernels.
The CUDA tests at the end run where a GPU exists and are skipped, saying so, where none does.
"""

from __future__ import annotations

import contextlib
import logging

import pytest
import torch

from server.train import Control, Trainer
from server.train import loop as loop_module
from server.train.graphs import WARMUP_STEPS, eager_reason
from tests.live import example

NO_GPU = "needs a CUDA GPU; this machine has none"
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)


def reason(**kw):
    facts = {"device": torch.device("cuda:0"), "enabled": True, "precision": "bf16",
             "optimizer": "adam", "layer_types": ["Input", "Linear", "Tanh"]}
    return eager_reason(**{**facts, **kw})


def test_a_plain_mlp_on_a_gpu_is_captured():
    assert reason() is None
    assert reason(precision="fp32", optimizer="sgd") is None
    assert reason(optimizer="rmsprop", layer_types=["Conv2d", "BatchNorm2d", "Dropout"]) is None


@pytest.mark.parametrize("facts, words", [
    ({"device": torch.device("cpu")}, "on cpu, not a CUDA GPU"),
    ({"device": torch.device("mps")}, "on mps, not a CUDA GPU"),
    ({"enabled": False}, "turned off"),
    ({"precision": "fp16"}, "grad scaler"),
    ({"optimizer": "adagrad"}, "adagrad counts its steps on the host"),
    ({"layer_types": ["Input", "Embedding", "Linear"]}, "Embedding: its backward pass"),
])
def test_each_reason_to_train_eagerly_is_said(facts, words):
    assert words in reason(**facts)


def test_a_cpu_run_trains_eagerly_and_says_nothing_of_graphs():
    t = Trainer(example("spiral_mlp"), steps=5)
    result = t.run()
    assert t.graph is None and t.graph_reason == "the run is on cpu, not a CUDA GPU"
    assert result.cuda_graphs is None and result.precision == "fp32"


# -- GraphStep on the CPU, with a stand-in for torch.cuda.graph -------------------------------

class StandIn:
    """Stands in for CudaBackend: a capture records the step's body and runs nothing; a replay
    runs the body again."""

    def __init__(self, device, fail: str | None = None):
        self.device, self.fail = device, fail
        self.warm_ups, self.captures, self.replays = 0, 0, 0

    @contextlib.contextmanager
    def warm_up(self):
        self.warm_ups += 1
        yield

    def capture(self, body):
        if self.fail:
            raise RuntimeError(self.fail)
        self.captures += 1

        def replay():
            self.replays += 1
            body()

        return replay


@pytest.fixture
def stand_in(monkeypatch):
    """Trainers built in the test get a GraphStep on the CPU, over a StandIn backend; returns
    the backends made and a list to put a capture failure's message in."""
    made: list[StandIn] = []
    fail: list[str] = []

    def backend(device):
        made.append(StandIn(device, fail[0] if fail else None))
        return made[-1]

    monkeypatch.setattr(loop_module, "eager_reason",
                        lambda **kw: None if kw["enabled"] else "turned off")
    monkeypatch.setattr(loop_module, "CudaBackend", backend)
    return made, fail


def spiral(batch_size=32, samples=200):
    doc = example("spiral_mlp", batch_size=batch_size)
    doc["training"]["dataset"]["samples"] = samples
    return doc


def same_weights(a: Trainer, b: Trainer) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)


def test_the_replayed_step_trains_as_the_eager_one(stand_in):
    doc, once = spiral(), {"log_interval": 1e9, "eval_interval": 1e9}  # one point, at the end
    eager = Trainer(doc, cuda_graphs=False, steps=40, **once)
    eager_result = eager.run()
    graph = Trainer(doc, steps=40, **once)
    result = graph.run()
    (backend,) = stand_in[0]
    n, bs = graph.x_train.shape[0], graph.batch_size
    assert n % bs, "the design must have a smaller last batch"
    assert graph.graph is not None and result.cuda_graphs == "on"
    assert backend.warm_ups == WARMUP_STEPS and backend.replays == 40 - WARMUP_STEPS
    assert sorted(graph.graph.graphs) == [(n % bs, 2), (bs, 2)]  # one graph per batch shape
    assert backend.captures == 2
    assert same_weights(eager, graph)
    assert [(p["step"], p["train_accuracy"]) for p in result.history] == [
        (p["step"], p["train_accuracy"]) for p in eager_result.history]
    assert result.train_loss == pytest.approx(eager_result.train_loss, rel=1e-5)


def test_a_new_learning_rate_captures_the_step_again(stand_in):
    control = Control()
    asked = []

    def on_point(point):  # once both batch shapes are graphs, ask for a new rate
        if len(t.graph.graphs) == 2 and not asked:
            asked.append(point["step"])
            control.set_lr(0.005)

    t = Trainer(spiral(), steps=60, control=control, on_point=on_point, log_interval=0.0)
    result = t.run()
    (backend,) = stand_in[0]
    assert asked and backend.captures == 4  # both batch shapes, then both again
    assert [g["lr"] for g in t.optimizer.param_groups] == [0.005]
    assert result.history[-1]["lr"] == 0.005


def test_a_failed_capture_falls_back_to_eager_saying_why(stand_in, caplog):
    stand_in[1].append("operation not permitted when stream is capturing")
    doc = spiral()
    eager = Trainer(doc, cuda_graphs=False, steps=25)
    eager.run()
    graph = Trainer(doc, steps=25)
    with caplog.at_level(logging.WARNING, logger="server.train.graphs"):
        result = graph.run()
    assert graph.graph.reason == ("capture failed: RuntimeError: operation not permitted when "
                                  "stream is capturing")
    assert result.cuda_graphs == graph.graph.reason
    assert "training without CUDA graphs: capture failed" in caplog.text
    assert same_weights(eager, graph)


def test_pause_and_step_still_work_with_a_graph(stand_in):
    control = Control(paused=True)
    wanted = WARMUP_STEPS + 4
    control.step(wanted)
    states = []

    def on_status(status):
        states.append(status["state"])
        if status["state"] == "paused" and t.step >= wanted:
            control.stop()

    t = Trainer(spiral(), steps=1000, control=control, on_status=on_status)
    result = t.run()
    assert result.state == "stopped" and result.steps == wanted
    assert stand_in[0][0].replays >= 1 and "paused" in states


# -- on a real GPU ---------------------------------------------------------------------------

@cuda
def test_on_a_gpu_the_graph_trains_as_eager_does():
    doc = spiral()
    eager = Trainer(doc, device="cuda", cuda_graphs=False, steps=60).run()
    graph_trainer = Trainer(doc, device="cuda", steps=60)
    graph = graph_trainer.run()
    assert graph.cuda_graphs == "on" and graph_trainer.graph.captures == 2  # both shapes
    assert graph.train_loss == pytest.approx(eager.train_loss, rel=1e-2)
    assert graph.val_accuracy == pytest.approx(eager.val_accuracy, abs=0.05)


@cuda
def test_on_a_gpu_an_embedding_trains_eagerly_saying_why():
    t = Trainer(example("attention_parity"), device="cuda", steps=5)
    result = t.run()
    assert t.graph is None and result.cuda_graphs.startswith("Embedding:")
