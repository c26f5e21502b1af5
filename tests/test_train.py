"""The training loop: reproducibility, controls, losses, optimizers and clear failures."""

import copy
import json
import threading
import time
from pathlib import Path

import pytest
import torch

from server.train import Control, Trainer, TrainError

EXAMPLES = Path(__file__).resolve().parent.parent / "server" / "examples"


def example(name: str, **training) -> dict:
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    doc["training"].update(training)
    return doc


def losses(result) -> list[float]:
    return [p["train_loss"] for p in result.history if "train_loss" in p]


def test_same_seed_same_run_on_cpu():
    # Points are logged at a bounded rate (time-based), so compare what the run learned.
    a = Trainer(example("spiral_mlp", epochs=5)).run()
    b = Trainer(example("spiral_mlp", epochs=5)).run()
    assert a.steps == b.steps == 55
    assert a.val_loss == b.val_loss
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    c = Trainer(example("spiral_mlp", epochs=5, seed=1)).run()
    assert c.val_loss != a.val_loss


def test_training_lowers_the_loss_and_reports_every_metric():
    result = Trainer(example("spiral_mlp", epochs=150)).run()
    assert result.state == "finished" and result.epochs == 150
    last = result.history[-1]
    assert {"step", "epoch", "time", "train_loss", "train_accuracy", "val_loss",
            "val_accuracy", "lr"} <= set(last)
    assert result.val_accuracy > 0.9
    assert losses(result)[-1] < losses(result)[0] / 2


class Background:
    """Runs a trainer in a thread and records its points and statuses."""

    def __init__(self, doc: dict, **overrides):
        self.points, self.states, self.control = [], [], Control()
        self.trainer = Trainer(doc, control=self.control, on_point=self.points.append,
                               on_status=lambda s: self.states.append(s["state"]), **overrides)
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.result = self.trainer.run()
        except Exception as e:  # recorded for the test to assert on
            self.error = e

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.01)


def unbounded_spiral() -> dict:
    doc = example("spiral_mlp")
    doc["training"].pop("epochs")
    return doc


def test_pause_step_resume_lr_and_stop():
    run = Background(unbounded_spiral())
    run.wait_for(lambda: run.trainer.step > 50)
    run.control.pause()
    run.wait_for(lambda: "paused" in run.states)
    frozen = run.trainer.step
    time.sleep(0.3)
    assert run.trainer.step == frozen
    run.control.step(5)
    run.wait_for(lambda: run.trainer.step == frozen + 5)
    time.sleep(0.2)
    assert run.trainer.step == frozen + 5
    run.control.set_lr(0.001)
    run.control.resume()
    run.wait_for(lambda: any(p["lr"] == 0.001 for p in run.points))
    group_lr = run.trainer.optimizer.param_groups[0]["lr"]
    assert group_lr == 0.001
    assert run.trainer.optimizer.state  # Adam's moments survived the change
    run.wait_for(lambda: run.trainer.step > frozen + 100)
    t = time.monotonic()
    run.control.stop()
    run.thread.join(2)
    assert time.monotonic() - t < 0.5
    assert run.result.state == "stopped"
    assert run.states[:2] == ["starting", "running"] and "paused" in run.states


def test_stop_while_paused():
    run = Background(unbounded_spiral())
    run.wait_for(lambda: run.trainer.step > 10)
    run.control.pause()
    run.wait_for(lambda: "paused" in run.states)
    t = time.monotonic()
    run.control.stop()
    run.thread.join(2)
    assert time.monotonic() - t < 0.5 and run.result.state == "stopped"


def test_steps_bound_and_override():
    result = Trainer(example("spiral_mlp"), steps=7).run()
    assert result.steps == 7 and result.state == "finished"


def test_divergence_is_a_clear_error():
    doc = example("spiral_mlp", epochs=50, optimizer={"name": "sgd", "lr": 10.0})
    doc["training"]["dataset"] = {"name": "plane", "samples": 200, "seed": 0}
    doc["training"]["loss"] = "mse"
    for node in doc["nodes"]:
        if node["id"] == "out":
            node["params"]["out_features"] = 1
        if node["type"] == "Tanh":
            node["type"] = "ReLU"
    with pytest.raises(TrainError, match="NaN or infinite"):
        Trainer(doc).run()


def test_reconstruction_targets_the_input():
    result = Trainer(example("digits_autoencoder", epochs=2)).run()
    assert result.val_accuracy is None and result.val_loss < 0.2
    assert "train_accuracy" not in result.history[-1]


def test_bce_with_logits_on_two_classes():
    doc = example("spiral_mlp", epochs=3, loss="bce_with_logits")
    next(n for n in doc["nodes"] if n["id"] == "out")["params"]["out_features"] = 1
    result = Trainer(doc).run()
    assert 0 <= result.val_accuracy <= 1


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "adagrad", "rmsprop"])
def test_every_optimizer_learns(name):
    opt = {"name": name, "lr": {"sgd": 0.1, "adagrad": 0.1}.get(name, 0.01), "grad_clip": 1.0}
    if name == "sgd":
        opt.update(momentum=0.9, nesterov=True)
    result = Trainer(example("digits_softmax", epochs=3, optimizer=opt)).run()
    assert result.val_accuracy > 0.8


def test_missing_dataset_and_missing_gpu_are_clear_errors():
    doc = example("spiral_mlp")
    no_data = copy.deepcopy(doc)
    del no_data["training"]["dataset"]
    with pytest.raises(TrainError, match="choose a dataset"):
        Trainer(no_data).run()
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="no CUDA GPU"):
            Trainer(doc, device="cuda").run()


def test_slow_motion_paces_steps_and_full_speed_returns():
    run = Background(unbounded_spiral())
    run.wait_for(lambda: run.trainer.step > 20)
    run.control.set_speed(5)
    time.sleep(0.3)
    start = run.trainer.step
    time.sleep(1.0)
    assert 3 <= run.trainer.step - start <= 7  # about 5 steps in one second
    run.control.set_speed(None)
    time.sleep(0.3)
    assert run.trainer.step - start > 100
    t = time.monotonic()
    run.control.set_speed(0.5)
    run.control.stop()  # a slow run still stops at once
    run.thread.join(2)
    assert time.monotonic() - t < 0.5 and run.result.state == "stopped"


@pytest.mark.parametrize("bound", [{"epochs": 3}, {"steps": 25}, {"steps": 22}])
def test_no_two_points_share_a_step(bound):
    # A point at every step (log_interval 0): an epoch's validation point must not repeat the
    # step of the plain point before it (the charts and the page's step counter read steps).
    trainer = Trainer(example("spiral_mlp"), device="cpu", log_interval=0.0, eval_interval=0.0,
                      **bound)
    result = trainer.run()
    steps = [p["step"] for p in result.history]
    assert len(steps) == len(set(steps)) == result.steps, steps
    assert all("val_loss" in p for p in result.history if p["step"] % 11 == 0), \
        "every epoch (11 steps) ends in a validation point"


def test_a_quick_run_still_draws_a_curve():
    # Points come at most 20 a second, so a run over in a fifth of a second would draw four;
    # each epoch's end adds one until the run has 100 (here: no time-based point at all).
    result = Trainer(example("spiral_mlp", epochs=30), device="cpu", log_interval=1e9,
                     eval_interval=1e9).run()
    steps = [p["step"] for p in result.history]
    assert steps == [11 * e for e in range(1, 31)], steps
    assert all("train_accuracy" in p for p in result.history)
    assert "val_loss" in result.history[-1]
    many = Trainer(example("spiral_mlp", epochs=150), device="cpu", log_interval=1e9,
                   eval_interval=1e9, epoch_points=100).run()
    assert len(many.history) == 101  # 100 epochs' points, then only the last (validation) one
