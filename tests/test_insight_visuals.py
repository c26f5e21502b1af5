"""Visuals in the worker: pictures only while wanted, at their rates, within their time budget."""

import json
import threading
import time
from pathlib import Path

import pytest

from server.runs.visuals import Visuals
from server.train import Control, Trainer

pytestmark = pytest.mark.timeout(60)
SPIRAL = Path(__file__).resolve().parent.parent / "server" / "examples" / "spiral_mlp.layerlab.json"


def run(seconds: float, wanted: bool, **settings):
    """Train the spiral for `seconds` with Visuals; returns (messages sent, visuals, trainer)."""
    sent = []
    control = Control()
    visuals = Visuals("r", control, sent.append, settings, wanted=wanted)
    doc = json.loads(SPIRAL.read_text())
    doc["training"].pop("epochs")
    timer = threading.Timer(seconds, control.stop)
    trainer = Trainer(doc, control=control, on_log=visuals.on_log, device="cpu",
                      on_status=lambda s: s["state"] == "running" and timer.start())
    visuals.trainer = trainer
    trainer.run()
    visuals.final(trainer)
    return sent, visuals, trainer


def count(sent, event, final=False):
    return sum(event in frames for _, _, info, frames in sent if info["final"] == final)


def test_nothing_is_made_while_unwanted_except_the_final_set():
    sent, visuals, trainer = run(0.5, wanted=False)
    assert visuals.stats() == {"frames": 0, "seconds": 0.0}
    assert len(sent) == 1 and sent[0][2]["final"] and sent[0][2]["step"] == trainer.step
    assert set(sent[0][3]) == {"run_boundary", "run_activations", "run_health", "run_results",
                               "run_weights", "run_samples"}  # the samples: once, for the record


def test_each_kind_keeps_its_rate():
    sent, visuals, _ = run(1.5, wanted=True, budget=1.0)  # rates alone
    seconds = sent[-1][2]["time"]
    for event, rate in (("run_boundary", 10), ("run_activations", 4), ("run_weights", 1)):
        assert 1 <= count(sent, event) <= rate * seconds + 2, event  # never above its rate
    assert visuals.frames == sum(len(f) for *_, info, f in sent if not info["final"])


def test_the_budget_thins_pictures_out(monkeypatch):
    from server.runs import visuals as module

    def slow(insight):
        time.sleep(0.02)
        return {"nodes": {}}

    from server.kinds import supervised

    monkeypatch.setitem(supervised.PICTURES, "weights", (1.0, slow))
    only = {"boundary": 0, "activations": 0, "health": 0, "results": 0, "weights": 1000}
    sent, visuals, _ = run(1.0, wanted=True, budget=0.02, rates=only)
    seconds = sent[-1][2]["time"]
    # The 0.05 s burst, then 2 % of the time, overshot by at most one 20 ms picture.
    assert visuals.seconds <= module.BURST + 0.02 * seconds + 0.05
    assert count(sent, "run_weights") <= (module.BURST + 0.02 * seconds) / 0.02 + 2


def test_a_kind_at_rate_zero_is_never_made():
    sent, _, _ = run(0.5, wanted=True, rates={"activations": 0, "weights": 0})
    assert count(sent, "run_boundary") and not count(sent, "run_activations")
    assert not count(sent, "run_weights")


def test_call_soon_runs_on_the_training_thread_also_while_paused():
    control = Control(paused=True)
    doc = json.loads(SPIRAL.read_text())
    trainer = Trainer(doc, control=control, device="cpu")
    ran = []
    worker = threading.Thread(target=trainer.run)
    worker.start()
    time.sleep(0.5)
    control.call_soon(lambda: ran.append(threading.current_thread()))
    deadline = time.monotonic() + 5
    while not ran and time.monotonic() < deadline:
        time.sleep(0.01)
    control.stop()
    worker.join(5)
    assert ran == [worker]
