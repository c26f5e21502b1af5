"""RBM pre-training benchmark: Layerlab's layer-wise CD-1 against a plain PyTorch CD-1 loop.

    python bench/bench_pretrain.py [--rounds 5] [--device cpu|cuda]

Samples per second of pre-training (every layer, every epoch) of the digits deep belief net
(8x8 digits, Linear 128 + Sigmoid, Linear 64 + Sigmoid) and of a wide one on the same digits
(Linear 500 + Sigmoid, Linear 250 + Sigmoid, batch 64), by `server.train.pretrain.Pretrainer`
(the code behind `layerlab train` and the worker) against the textbook loop: weights and biases
as plain tensors, sample h, reconstruct v's probabilities, h again, the update
W += lr (v0ᵀh0 - v1ᵀh1) / batch, one layer after the other on the previous hidden
probabilities. Same data, batch, epochs and rate. Interleaved rounds, median.
ratio = layerlab / plain samples per second (>= 0.95 is the target: not slower).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.train import Trainer  # noqa: E402
from server.train.pretrain import Pretrainer  # noqa: E402

EXAMPLE = ROOT / "server" / "examples" / "digits_dbn.layerlab.json"


def digits() -> dict:
    doc = json.loads(EXAMPLE.read_text())
    doc["training"]["pretrain"]["epochs"] = 10
    return doc


def wide() -> dict:
    """64 -> 500 -> 250 -> 10 on the digits."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [1, 8, 8]}},
             {"id": "flat", "type": "Flatten"}]
    for i, width in enumerate((500, 250)):
        nodes += [{"id": f"h{i}", "type": "Linear", "params": {"out_features": width}},
                  {"id": f"s{i}", "type": "Sigmoid"}]
    nodes.append({"id": "out", "type": "Linear", "params": {"out_features": 10}})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:],
                                                                      strict=False)]
    return {"format": "layerlab.network", "version": 1, "name": "wide", "nodes": nodes,
            "edges": edges, "training": {"dataset": {"name": "digits"}, "batch_size": 64,
                                         "pretrain": {"method": "rbm", "epochs": 2}}}


def trainer_for(doc: dict, device: str) -> Trainer:
    trainer = Trainer(doc, device=device)
    trainer.setup()
    trainer.t0, trainer.paused_time = time.perf_counter(), 0.0
    return trainer


def layerlab(doc: dict, device: str) -> float:
    """Samples per second of the Pretrainer over every layer."""
    trainer = trainer_for(doc, device)
    pre = Pretrainer(trainer)
    start = time.perf_counter()
    assert pre.run()
    _sync(device)
    seconds = time.perf_counter() - start
    return len(pre.layers) * pre.epochs * trainer.x_train.shape[0] / seconds


def plain(doc: dict, device: str) -> float:
    """Samples per second of the textbook CD-1 loop on the same layers and data."""
    trainer = trainer_for(doc, device)
    spec = doc["training"]["pretrain"]
    epochs, lr, bs = spec.get("epochs", 5), spec.get("lr", 0.05), trainer.batch_size
    x = trainer.x_train.reshape(trainer.x_train.shape[0], -1).float()
    widths = [n["params"]["out_features"] for n in doc["nodes"] if n["type"] == "Linear"][:-1]
    start = time.perf_counter()
    v_data = x
    for width in widths:
        w = torch.randn(width, v_data.shape[1], device=x.device) * 0.01
        hb, vb = torch.zeros(width, device=x.device), torch.zeros(v_data.shape[1],
                                                                  device=x.device)
        for _ in range(epochs):
            perm = torch.randperm(v_data.shape[0], device=x.device)
            for i in range(0, v_data.shape[0], bs):
                v0 = v_data[perm[i:i + bs]]
                ph0 = torch.sigmoid(v0 @ w.t() + hb)
                h0 = torch.bernoulli(ph0)
                pv1 = torch.sigmoid(h0 @ w + vb)
                ph1 = torch.sigmoid(pv1 @ w.t() + hb)
                w += lr * (ph0.t() @ v0 - ph1.t() @ pv1) / v0.shape[0]
                hb += lr * (ph0 - ph1).mean(0)
                vb += lr * (v0 - pv1).mean(0)
                float(((v0 - pv1) ** 2).mean())  # the error a tutorial prints per batch
        v_data = torch.sigmoid(v_data @ w.t() + hb)
    _sync(device)
    return len(widths) * epochs * x.shape[0] / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    """Run the rounds and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds (median)")
    cases = {"digits DBN 64-128-64": digits(), "wide 64-500-250": wide()}
    print(f"\n{'design':<22} {'plain samples/s':>16} {'layerlab samples/s':>19} {'ratio':>7}")
    for name, doc in cases.items():
        plain(doc, args.device)  # warm up both paths once
        layerlab(doc, args.device)
        times = {"plain": [], "layerlab": []}
        for r in range(args.rounds):
            for key in (("plain", "layerlab") if r % 2 == 0 else ("layerlab", "plain")):
                fn = plain if key == "plain" else layerlab
                times[key].append(fn(doc, args.device))
        p, o = statistics.median(times["plain"]), statistics.median(times["layerlab"])
        print(f"{name:<22} {p:>16.0f} {o:>19.0f} {o / p:>7.3f}")


if __name__ == "__main__":
    main()
