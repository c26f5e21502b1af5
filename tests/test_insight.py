"""Insight frames: right shapes per kind of design, a boundary that matches the model, badges."""

import json
from pathlib import Path

import numpy as np
import torch

from server.insight import Insight, dequantize, quantize
from server.train import Trainer
from tests.live import deep_sigmoid

EXAMPLES = Path(__file__).resolve().parent.parent / "server" / "examples"


def trained(name: str, steps: int = 5, edit=None) -> Trainer:
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    if edit:
        edit(doc)
    trainer = Trainer(doc, steps=steps, device="cpu")
    trainer.probe_grads = True
    trainer.run()
    return trainer


def test_quantize_round_trips_within_one_level():
    t = torch.randn(3, 5, 7)
    frame = quantize(t)
    assert frame["shape"] == [3, 5, 7] and len(frame["data"]) == 105
    step = (frame["max"] - frame["min"]) / 255
    np.testing.assert_allclose(dequantize(frame), t.numpy(), atol=step / 2 + 1e-6)


def test_dense_frames_on_the_plane_and_boundary_matches_the_model():
    trainer = trained("spiral_mlp")
    insight = Insight(trainer)
    frames = insight.activations()
    assert frames["fc1"]["kind"] == "plane" and frames["fc1"]["shape"] == [32, 24, 24]
    assert frames["out"]["shape"] == [2, 24, 24]
    assert frames["in"]["kind"] == "plane" and frames["in"]["shape"] == [2, 24, 24]  # x1, x2
    boundary = insight.boundary()
    assert boundary["size"] == [64, 64] and boundary["mode"] == "probability"
    assert boundary["extent"] == list(trainer.dataset.info.extent)
    with torch.no_grad():
        trainer.model.eval()
        direct = torch.softmax(trainer.model(insight.grid), dim=1)[:, 1].reshape(64, 64)
    np.testing.assert_allclose(dequantize(boundary), direct.numpy(), atol=0.5 / 255 + 1e-6)
    # The top-left pixel is (x0, y1): the grid's first point.
    x0, x1, y0, y1 = boundary["extent"]
    assert insight.grid[0].tolist() == [x0, y1]


def test_conv_frames_are_feature_maps_of_the_selected_sample():
    trainer = trained("digits_cnn")
    insight = Insight(trainer)
    insight.select(3)
    frames = insight.activations()
    assert frames["conv1"]["kind"] == "maps" and frames["conv1"]["shape"] == [16, 8, 8]
    assert frames["pool2"]["shape"] == [32, 2, 2]
    assert frames["out"]["kind"] == "units" and frames["out"]["shape"] == [10]
    assert frames["in"]["shape"] == [1, 8, 8]
    assert insight.boundary() is None
    samples = insight.samples()
    assert samples["kind"] == "images" and samples["frame"]["shape"] == [32, 1, 8, 8]
    assert samples["labels"] == trainer.dataset.y_val[:32].tolist()
    weights = insight.weights()
    assert weights["fc1"]["kind"] == "histogram" and sum(weights["fc1"]["counts"]) == 128 * 64
    assert weights["out"]["kind"] == "matrix" and weights["out"]["shape"] == [10, 64]


def test_recurrent_frames_show_hidden_state_over_time():
    def sequences(doc):
        next(n for n in doc["nodes"] if n["id"] == "lstm")["params"]["return_sequences"] = True
        doc["nodes"].insert(2, {"id": "last", "type": "Flatten"})
        doc["edges"] = [{"source": "in", "target": "lstm"}, {"source": "lstm", "target": "last"},
                        {"source": "last", "target": "out"}]
    trainer = trained("lstm_sine", edit=sequences)
    frames = Insight(trainer).activations()
    assert frames["lstm"]["kind"] == "sequence" and frames["lstm"]["shape"] == [20, 32]


def test_a_recurrent_layer_that_returns_its_last_state_shows_it_over_time():
    trainer = trained("lstm_sine")  # return_sequences false: the layer's output is [32]
    insight = Insight(trainer)
    insight.select(4)
    frames = insight.activations()
    lstm = frames["lstm"]
    assert lstm["kind"] == "sequence" and lstm["shape"] == [20, 32] and lstm["units"] == 32
    with torch.no_grad():
        trainer.model.eval()
        _, outs = trainer.model.capture(trainer.x_val[4:5], ["lstm"])
    step = (lstm["max"] - lstm["min"]) / 255
    # The last time step is the state the layer passes on.
    np.testing.assert_allclose(dequantize(lstm)[-1], outs["lstm"][0].numpy(), atol=step + 1e-6)


def test_the_fixed_samples_of_2d_and_sequence_data_and_the_followed_one():
    trainer = trained("spiral_mlp")
    insight = Insight(trainer)
    samples = insight.samples()
    assert samples["kind"] == "points" and samples["count"] == 32
    np.testing.assert_array_equal(np.array(samples["points"], dtype=np.float32),
                                  trainer.dataset.x_val[:32])
    assert samples["labels"] == trainer.dataset.y_val[:32].tolist()
    assert samples["extent"] == list(trainer.dataset.info.extent) and "frame" not in samples
    insight.select(7)
    fc1 = insight.activations()["fc1"]
    with torch.no_grad():
        trainer.model.eval()
        _, outs = trainer.model.capture(trainer.x_val[7:8], ["fc1"])
    np.testing.assert_allclose(fc1["sample"], outs["fc1"][0].numpy(), rtol=1e-5, atol=1e-6)

    sine_trainer = trained("lstm_sine")
    sine = Insight(sine_trainer).samples()
    assert sine["kind"] == "sequences" and sine["frame"]["shape"] == [32, 20, 1]
    x_val = sine_trainer.dataset.x_val[:32]
    np.testing.assert_allclose(dequantize(sine["frame"]), x_val, atol=np.ptp(x_val) / 255)
    np.testing.assert_allclose(sine["targets"], sine_trainer.dataset.y_val[:32], rtol=1e-6)
    assert "labels" not in sine


def test_vanishing_gradients_badge_on_twenty_sigmoid_layers():
    health = Insight(trained("spiral_mlp", edit=deep_sigmoid)).health()
    assert "vanishing" in health["nodes"]["fc0"]["badges"]
    assert "vanishing" not in health["nodes"]["out"]["badges"]
    assert health["nodes"]["fc0"]["hints"] and health["gradients"]["fc0"] < 1e-4 * \
        health["gradients"]["out"]


def test_dead_relu_badge_and_healthy_net_has_none():
    trainer = trained("spiral_mlp")
    insight = Insight(trainer)
    healthy = insight.health()
    assert all(not entry["badges"] for entry in healthy["nodes"].values())
    with torch.no_grad():
        trainer.model.layers["fc1"].bias.fill_(-100.0)
    dead = insight.health()["nodes"]["a1"]
    assert dead["dead_fraction"] == 1.0 and dead["badges"] == ["dead"]


def test_confusion_matrix_and_predictions_mistakes_first():
    trainer = trained("digits_softmax", steps=30)
    results = Insight(trainer).results()
    confusion = np.array(results["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == trainer.x_val.shape[0]
    assert results["classes"] == [str(i) for i in range(10)]
    preds = results["predictions"]
    wrong = [p["true"] != p["pred"] for p in preds]
    assert wrong == sorted(wrong, reverse=True)  # every mistake before every hit
