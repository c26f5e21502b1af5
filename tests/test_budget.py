"""The size budget estimates peak training memory, names node and field, and matches reality."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from server.graph import validate
from server.graph.fit import estimate_memory
from server.graph.network import Budget


def seq_doc(t: int, e: int, middle: list[dict], batch: int, *, out: int = 4) -> dict:
    """Input [t, e] -> middle nodes -> Flatten -> Linear(out), on a synthetic-free input."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [t, e]}}, *middle,
             {"id": "flat", "type": "Flatten"},
             {"id": "out", "type": "Linear", "params": {"out_features": out}}]
    ids = [n["id"] for n in nodes]
    edges = [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]
    return {"format": "layerlab.network", "version": 1, "name": "budget", "nodes": nodes,
            "edges": edges, "training": {"batch_size": batch,
                                         "optimizer": {"name": "adam"}}}


def encoder(ff: int, nhead: int = 2) -> dict:
    return {"id": "enc", "type": "TransformerEncoderLayer",
            "params": {"nhead": nhead, "dim_feedforward": ff}}


def test_a_wide_feed_forward_is_refused_naming_dim_feedforward():
    report = validate(seq_doc(200, 16, [encoder(65_536)], 64))
    assert not report.ok
    (e,) = report.errors
    assert (e["node"], e["param"]) == ("enc", "dim_feedforward"), e
    assert "GiB at batch_size 64" in e["message"] and "the limit is 4.0 GiB" in e["message"]


def test_a_huge_batch_is_refused_naming_the_batch_size():
    report = validate(seq_doc(200, 16, [encoder(64)], 65_536))
    (e,) = report.errors
    assert e["param"] == "training.batch_size" and e["node"] is None, e
    assert "'enc' alone needs" in e["message"]
    assert "a smaller batch_size fits" in e["message"]


def test_attention_and_recurrent_states_count():
    attn = {"id": "att", "type": "MultiheadAttention", "params": {"num_heads": 64}}
    (e,) = validate(seq_doc(2048, 64, [attn], 64)).errors
    assert (e["node"], e["param"]) == ("att", "num_heads"), e
    lstm = {"id": "rnn", "type": "LSTM",
            "params": {"hidden_size": 4096, "num_layers": 4, "return_sequences": True}}
    (e,) = validate(seq_doc(512, 8, [lstm], 64)).errors
    assert e["node"] == "rnn", e


def test_the_limit_is_a_setting():
    doc = seq_doc(200, 16, [encoder(2048)], 32)
    assert validate(doc).ok
    tight = validate(doc, budget=Budget(max_memory_bytes=64 * 2**20))
    assert not tight.ok and "the limit is 64.0 MiB" in tight.errors[0]["message"]


# The peak of the process's resident memory while it trains, over what it held just before:
# sampled by a thread, since ru_maxrss would count from the (higher) peak of importing torch.
MEASURE = r"""
import json, os, sys, threading, torch
torch.set_num_threads(1)
from server.graph import parse_document
from server.model.builder import build_model
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE
doc = json.loads(sys.argv[1])
net = parse_document(doc)
shape = next(n.shape for n in net.nodes if n.type == "Input")
x = torch.randn(doc["training"]["batch_size"], *shape)
base, peak, done = rss(), [0], threading.Event()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        done.wait(0.0005)
watcher = threading.Thread(target=watch)
watcher.start()
model = build_model(net, seed=0)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for _ in range(2):
    opt.zero_grad()
    model(x).float().pow(2).mean().backward()
    opt.step()
done.set()
watcher.join()
print(json.dumps({"bytes": max(peak[0], rss()) - base}))
"""

def conv(node_id: str, channels: int) -> dict:
    return {"id": node_id, "type": "Conv2d",
            "params": {"out_channels": channels, "kernel_size": 3, "padding": 1}}


def conv_doc(batch: int) -> dict:
    """Input [3, 64, 64] -> two 3x3 convolutions -> pool -> Linear(4)."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [3, 64, 64]}},
             conv("c1", 16), {"id": "r1", "type": "ReLU"}, conv("c2", 32),
             {"id": "r2", "type": "ReLU"}, {"id": "p", "type": "MaxPool2d",
                                            "params": {"kernel_size": 2}},
             {"id": "flat", "type": "Flatten"},
             {"id": "out", "type": "Linear", "params": {"out_features": 4}}]
    ids = [n["id"] for n in nodes]
    edges = [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]
    return {"format": "layerlab.network", "version": 1, "name": "conv", "nodes": nodes,
            "edges": edges, "training": {"batch_size": batch, "optimizer": {"name": "adam"}}}


DESIGNS = {
    "conv": conv_doc(32),
    "encoder": seq_doc(128, 32, [encoder(4096)], 32),
    "lstm": seq_doc(128, 16, [{"id": "rnn", "type": "LSTM",
                               "params": {"hidden_size": 256, "return_sequences": True}}], 64),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_the_estimate_is_within_a_factor_of_a_real_step(name):
    doc = DESIGNS[name]
    report = validate(doc)
    assert report.ok, report.errors
    est = estimate_memory(report.network).total
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(doc)], capture_output=True,
                         text=True, timeout=110, check=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])["bytes"]
    assert est >= 100 * 2**20, "too small a design to measure against the process's noise"
    assert 0.3 * measured <= est <= 4 * measured, (name, est / 2**20, measured / 2**20)
