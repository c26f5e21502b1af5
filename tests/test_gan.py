"""The gan training kind (CONTRACTS.md §6, issue 10 §2): checks on the canvas, the two-player
loop, its pictures, and the generator's export, through the same seams as supervised runs.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from server.graph import validate
from tests.live import ROOT, example

pytestmark = pytest.mark.timeout(300)


def gan(name: str = "gan_gaussians", **training) -> dict:
    """A shipped gan example with some training fields replaced."""
    return example(name, **training)


def errors_on(doc: dict) -> list[dict]:
    report = validate(doc)
    assert not report.ok, "expected the design to be refused"
    return report.errors


def node(doc: dict, node_id: str) -> dict:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


# -- the canvas: what a gan design must look like ------------------------------------------------

@pytest.mark.parametrize("name", ["gan_gaussians", "gan_circle", "gan_spiral", "gan_digits"])
def test_the_starter_designs_are_valid(name):
    report = validate(gan(name))
    assert report.ok, report.errors
    shapes = report.to_json()["shapes"]
    assert shapes["in"] == shapes[node_of_input(gan(name))]


def node_of_input(doc: dict) -> str:
    return next(e["source"] for e in doc["edges"] if e["target"] == "in")


def test_a_generator_of_the_wrong_size_is_refused_on_its_last_node():
    doc = gan()
    node(doc, "g3")["params"]["out_features"] = 3
    (error,) = [e for e in errors_on(doc) if e["node"] == "g3"]
    assert error["param"] == "out_features"
    assert "[2]" in error["message"] and "[3]" in error["message"], error


def test_a_discriminator_must_output_one_logit():
    doc = gan()
    node(doc, "d3")["params"]["out_features"] = 2
    (error,) = errors_on(doc)
    assert error["node"] == "d3" and "one logit" in error["message"], error


def test_noise_outside_a_gan_is_refused_naming_the_node():
    doc = gan()
    doc["training"]["kind"] = "supervised"
    doc["training"].pop("gan")
    messages = {e["node"]: e["message"] for e in errors_on(doc)}
    assert "z" in messages and "training.kind" in messages["z"], messages


def test_a_gan_needs_its_noise_and_an_input_fed_by_the_generator():
    doc = gan()
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "z"]
    doc["edges"] = [e for e in doc["edges"] if e["source"] != "z"]
    assert any("Noise" in e["message"] for e in errors_on(doc))
    doc = gan()
    doc["edges"] = [e for e in doc["edges"] if e["target"] != "in"]
    messages = [e["message"] for e in errors_on(doc)]
    assert any("Input" in m for m in messages), messages


def test_the_generator_may_not_bypass_the_input():
    doc = gan()
    doc["edges"].append({"source": "ga1", "target": "d2"})
    messages = [e for e in errors_on(doc) if e["node"] in ("ga1", "d2")]
    assert messages and any("Input" in e["message"] for e in messages), messages


@pytest.mark.parametrize("field, value, words", [
    ("loss", "wasserstein", ["training.gan.loss", "least_squares"]),
    ("d_steps", 0, ["training.gan.d_steps"]),
    ("g_steps", "two", ["training.gan.g_steps"]),
    ("generator_optimizer", {"name": "adam", "lr": -1}, ["training.gan.generator_optimizer.lr"]),
])
def test_bad_gan_fields_name_the_field(field, value, words):
    doc = gan()
    doc["training"]["gan"][field] = value
    errors = errors_on(doc)
    text = json.dumps(errors)
    for word in words:
        assert word in text, errors


# -- the loop --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gaussians():
    """The two-Gaussians GAN trained once for the module (a few seconds on a CPU)."""
    from server.kinds import kind

    trainer = kind("gan").trainer(gan(steps=1500), steps=1500, device="cpu")
    return trainer, trainer.run()


@pytest.mark.slow
def test_the_gaussians_gan_learns_both_modes(gaussians):
    trainer, result = gaussians
    assert result.state == "finished" and result.steps == 1500
    assert result.mmd < result.mmd_initial / 4, (result.mmd, result.mmd_initial)
    fake = trainer.generate(trainer.fixed_noise[:1000]).numpy()
    real = trainer.x_train.numpy()
    labels = trainer.dataset.y_train
    centres = np.stack([real[labels == k].mean(0) for k in (0, 1)])
    nearest = np.linalg.norm(fake[:, None] - centres[None], axis=2).argmin(1)
    shares = np.bincount(nearest, minlength=2) / len(fake)
    assert shares.min() > 0.2, shares  # both blobs get generated points, not one


@pytest.mark.slow
def test_metric_points_carry_the_game(gaussians):
    _, result = gaussians
    points = result.history
    assert {"d_loss", "g_loss", "d_real", "d_fake", "lr", "generator_lr"} <= set(points[0])
    assert any("mmd" in p for p in points) and "mmd" in points[-1]
    assert all(0 <= p["d_real"] <= 1 and 0 <= p["d_fake"] <= 1 for p in points if "d_real" in p)


@pytest.mark.slow
def test_the_pictures_show_the_game_on_the_plane(gaussians):
    from server.kinds import kind

    trainer, _ = gaussians
    module = kind("gan")
    insight = module.insight(trainer)
    boundary = module.PICTURES["boundary"][1](insight)
    assert boundary["mode"] == "probability" and len(boundary["data"]) == 64 * 64
    generated = insight.generated()
    assert generated["kind"] == "points" and len(generated["points"]) == 256
    assert len(generated["gradients"]) == 256 and len(generated["real"]) == 256
    assert generated["manifold"]["size"] == [16, 16]
    assert len(generated["manifold"]["points"]) == 256
    nodes = insight.activations()
    assert {"g1", "g3", "d1", "d3"} <= set(nodes)
    assert nodes["g1"]["kind"] == "plane"  # the generator's units over the noise plane


def test_step_d_and_step_g_update_only_their_network():
    from server.kinds import kind
    from server.train import Control

    control = Control(paused=True)
    trainer = kind("gan").trainer(gan(steps=None), control=control, device="cpu")
    import threading

    done = threading.Event()
    thread = threading.Thread(target=lambda: (trainer.run(), done.set()), daemon=True)
    thread.start()

    def snapshot():
        return ({k: v.clone() for k, v in trainer.generator_model.state_dict().items()},
                {k: v.clone() for k, v in trainer.discriminator.state_dict().items()})

    def wait_paused(points: int):
        for _ in range(400):
            if len(trainer.history) >= points and control.step_budget == 0:
                return
            done.wait(0.01)
        raise AssertionError("the step did not happen")

    def changed(before, after):
        return any(not torch.equal(before[k], after[k]) for k in before)

    try:
        while not hasattr(trainer, "d_optimizer"):
            done.wait(0.01)
        done.wait(0.2)
        g0, d0 = snapshot()
        control.step(1, "d")
        wait_paused(1)
        g1, d1 = snapshot()
        assert changed(d0, d1) and not changed(g0, g1)
        control.step(1, "g")
        wait_paused(2)
        g2, d2 = snapshot()
        assert changed(g1, g2) and not changed(d1, d2)
        assert trainer.step == 0  # one whole iteration is a step; half a game is not
        control.step(1, "both")
        wait_paused(3)
        assert trainer.step == 1
    finally:
        control.stop()
        thread.join(10)


def test_the_learning_rates_change_mid_run_separately():
    from server.kinds import kind
    from server.train import Control

    control = Control()
    trainer = kind("gan").trainer(gan(steps=40), control=control, device="cpu")
    control.set_lr(0.0005, "g")
    control.set_lr(0.003)
    result = trainer.run()
    last = result.history[-1]
    assert last["generator_lr"] == 0.0005 and last["lr"] == 0.003
    assert trainer.g_optimizer.param_groups[0]["lr"] == 0.0005
    assert trainer.d_optimizer.param_groups[0]["lr"] == 0.003


def test_a_least_squares_gan_trains():
    from server.kinds import kind

    doc = gan(steps=30)
    doc["training"]["gan"]["loss"] = "least_squares"
    result = kind("gan").trainer(doc, device="cpu").run()
    assert result.state == "finished" and np.isfinite(result.d_loss) and np.isfinite(result.g_loss)


# -- images and the generator's export ----------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from server.kinds import kind

    trainer = kind("gan").trainer(gan("gan_digits", steps=300), device="cpu")
    return trainer, trainer.run()


@pytest.mark.slow
def test_a_digits_dcgan_trains_and_draws_a_sample_grid(digits):
    from server.kinds import kind

    trainer, result = digits
    assert result.state == "finished" and result.steps == 300
    assert result.mmd < result.mmd_initial, (result.mmd, result.mmd_initial)
    generated = kind("gan").insight(trainer).generated()
    assert generated["kind"] == "images"
    assert generated["frame"]["shape"] == [64, 1, 8, 8] and len(generated["frame"]["data"]) == 4096


@pytest.mark.slow
def test_the_onnx_generator_matches_pytorch(digits):
    import onnxruntime as ort

    from server.export import export_onnx_bytes
    from server.kinds import kind

    trainer, result = digits
    network = trainer.network
    target, module, input_name = kind("gan").onnx_target(network, result.model.cpu())
    assert input_name == "noise"
    data, check = export_onnx_bytes(module.eval(), target, check=True, input_name=input_name)
    assert check.ok, check.message
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["noise"]
    z = torch.randn(5, 16)
    (out,) = session.run(["output"], {"noise": z.numpy()})
    with torch.no_grad():
        expected = module(z).numpy()
    assert out.shape == (5, 1, 8, 8)
    np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-5)


def test_the_pytorch_source_export_gives_both_networks():
    from server.kinds import kind

    doc = gan()
    network = validate(doc).network
    module = kind("gan")
    model = module.build(network, seed=0)
    source = module.pytorch_source(network, model)
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "<gan>", "exec"), namespace)
    generator = namespace["load_generator"]()
    discriminator = namespace["load_discriminator"]()
    generator.load_state_dict(model.generator.state_dict(), strict=True)
    discriminator.load_state_dict(model.discriminator.state_dict(), strict=True)
    z = torch.randn(4, 2)
    with torch.no_grad():
        torch.testing.assert_close(discriminator(generator(z)), model.eval()(z))


# -- the CLI ---------------------------------------------------------------------------------------

def test_layerlab_train_json_reports_the_game(tmp_path):
    path = tmp_path / "gan.layerlab.json"
    path.write_text(json.dumps(copy.deepcopy(gan(steps=60))))
    proc = subprocess.run([sys.executable, "-m", "server", "train", str(path), "--json",
                           "--out", str(tmp_path / "run"), "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "mmd", "mmd_initial"):
        assert isinstance(summary[key], float), (key, summary)
    assert summary["steps"] == 60
    out = tmp_path / "model.onnx"
    proc = subprocess.run([sys.executable, "-m", "server", "export", str(path), "--weights",
                           summary["weights"], "-o", str(out), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["ok"]
