"""Per-node MACs and activation bytes beside the parameter counts (issue 13, like torchinfo):
checked against PyTorch's own FLOP counter on the built model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from server.graph import parse_document, validate
from server.model import build_model

EXAMPLES = Path(__file__).resolve().parents[1] / "server" / "examples"


@pytest.mark.parametrize("name", ["spiral_mlp", "digits_cnn", "digits_dbn", "residual_mlp",
                                  "digits_autoencoder", "dqn_cartpole"])
def test_total_macs_match_pytorchs_flop_counter(name):
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    report = validate(doc).to_json()
    network = parse_document(doc)
    model = build_model(network, seed=0).eval()
    shape = network.nodes[0].shape
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, *shape))
    assert report["total_macs"] == counter.get_total_flops() // 2
    assert report["total_macs"] == sum(report["macs"].values()) > 0


def test_activation_bytes_are_each_output_in_float32():
    doc = json.loads((EXAMPLES / "digits_cnn.layerlab.json").read_text())
    report = validate(doc).to_json()
    assert report["activations"]["conv1"] == 4 * 16 * 8 * 8
    assert report["activations"]["out"] == 4 * 10
    assert set(report["activations"]) == set(report["shapes"]) == set(report["macs"])


def test_recurrent_and_attention_macs_follow_their_formulas():
    doc = json.loads((EXAMPLES / "lstm_sine.layerlab.json").read_text())
    macs = validate(doc).to_json()["macs"]
    assert macs["lstm"] == 20 * 4 * (1 * 32 + 32 * 32)  # steps x gates x (input + hidden)
    doc = json.loads((EXAMPLES / "attention_parity.layerlab.json").read_text())
    report = validate(doc).to_json()
    t, e = report["shapes"]["attn"]  # a TransformerEncoderLayer: attention, then 2 linears
    assert report["macs"]["attn"] == 4 * t * e * e + 2 * t * t * e + 2 * t * e * 64
