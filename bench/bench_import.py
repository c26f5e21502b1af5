"""ONNX import benchmark: how long `import_onnx` takes for a ~1M-parameter CNN (goal <= 1 s).

    python bench/bench_import.py [--rounds 5]

One CNN on 28x28 images (Conv2d 32 + BatchNorm + ReLU + MaxPool, Conv2d 64 + BatchNorm + ReLU
+ MaxPool, Flatten, Linear 320 + ReLU, Linear 10: 1.03 million parameters), as three files:
Layerlab's own export of the design (dynamo, its design in the metadata), and
`torch.onnx.export` of the same nn.Sequential by the dynamo and the TorchScript exporters.
Each file is imported `--rounds` times in this process after one warm-up (which loads torch,
onnx and ONNX Runtime); the median wall time, and the median of each stage: read (protobuf,
onnx.checker, shape inference), run (ONNX Runtime once, every intermediate tensor kept),
place (units, each layer built and checked against the run), assemble + verify (document,
validation, the whole model built, weights loaded strictly, outputs compared).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.export import export_onnx_bytes  # noqa: E402
from server.graph import parse_document  # noqa: E402
from server.importer import import_onnx  # noqa: E402
from server.importer.capture import capture  # noqa: E402
from server.importer.document import assemble, verify  # noqa: E402
from server.importer.graph import view  # noqa: E402
from server.importer.reading import read_model  # noqa: E402
from server.importer.recognize import place_all  # noqa: E402
from server.model import build_model  # noqa: E402

GOAL = 1.0  # seconds per import


def design() -> dict:
    """The CNN as a Layerlab document."""
    layers = [("c1", "Conv2d", {"out_channels": 32, "padding": 1}), ("b1", "BatchNorm2d", {}),
              ("r1", "ReLU", {}), ("p1", "MaxPool2d", {}),
              ("c2", "Conv2d", {"out_channels": 64, "padding": 1}), ("b2", "BatchNorm2d", {}),
              ("r2", "ReLU", {}), ("p2", "MaxPool2d", {}), ("flat", "Flatten", {}),
              ("fc", "Linear", {"out_features": 320}), ("r3", "ReLU", {}),
              ("out", "Linear", {"out_features": 10})]
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [1, 28, 28]}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in layers]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:],
                                                                      strict=False)]
    return {"format": "layerlab.network", "version": 1, "name": "Bench CNN", "nodes": nodes,
            "edges": edges}


def sequential() -> nn.Module:
    """The same CNN as a user would write it."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 320), nn.ReLU(), nn.Linear(320, 10)).eval()


def files() -> dict[str, bytes]:
    """{label: ONNX bytes} of the three exports."""
    network = parse_document(design())
    out = {"layerlab export": export_onnx_bytes(build_model(network, seed=0), network,
                                                check=False)[0]}
    x = torch.randn(2, 1, 28, 28)
    for label, dynamo in (("torch dynamo", True), ("torch torchscript", False)):
        buffer = io.BytesIO()
        torch.onnx.export(sequential(), (x,), buffer, dynamo=dynamo, verbose=False)
        out[label] = buffer.getvalue()
    return out


def stages(data: bytes) -> dict[str, float]:
    """Seconds of each stage of one import (the steps of import_onnx, timed)."""
    times, t = {}, time.perf_counter()
    graph = view(read_model(data))
    times["read"], t = time.perf_counter() - t, time.perf_counter()
    run = capture(graph)
    times["run"], t = time.perf_counter() - t, time.perf_counter()
    placed, problems = place_all(graph, run)
    assert not problems, problems
    times["place"], t = time.perf_counter() - t, time.perf_counter()
    doc, state, _ = assemble(graph, run, placed, None)
    verify(doc, state, graph, run)
    times["assemble+verify"] = time.perf_counter() - t
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    made = files()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds, median")
    print(f"{'file':<20} {'MiB':>5} {'params':>10} {'nodes':>5} {'import s':>9}   stages (s)")
    for label, data in made.items():
        first = import_onnx(data)  # warm-up: loads the libraries, fills caches
        params = sum(v.numel() for k, v in first.state_dict.items()
                     if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        walls, parts = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            import_onnx(data)
            walls.append(time.perf_counter() - t)
            parts.append(stages(data))
        wall = statistics.median(walls)
        split = ", ".join(f"{k} {statistics.median(p[k] for p in parts):.3f}" for k in parts[0])
        print(f"{label:<20} {len(data) / 2**20:>5.2f} {params:>10,} "
              f"{len(first.document['nodes']):>5} {wall:>9.3f}   {split}"
              f"{'' if wall <= GOAL else '   (over the goal)'}")
    print(f"goal: <= {GOAL:g} s per import")


if __name__ == "__main__":
    main()
