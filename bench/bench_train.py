"""Per-step time of Layerlab's trainer against a plain hand-written PyTorch loop.

Same model, data, batch size and optimizer; the two are interleaved round by round in one
process (the machine is shared and noisy), and the median per-step time of each is compared.
The plain loop does what a tutorial does: index a shuffled batch, zero_grad, forward, loss,
backward, step, `loss.item()`. Layerlab's loop does all that plus its running metrics
(loss and accuracy), rate-limited validation passes and control checks.

    python bench/bench_train.py [--rounds 5] [--device cpu|cuda]

ratio = plain per-step time / Layerlab per-step time (>= 0.95 is the target; > 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from server.data import load_dataset
from server.graph import parse_document
from server.train import Trainer

EXAMPLES = Path(__file__).resolve().parent.parent / "server" / "examples"

PLAIN_MODELS = {
    "spiral_mlp": lambda: nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32),
                                        nn.ReLU(), nn.Linear(32, 2)),
    "digits_cnn": lambda: nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)),
}


def plain_loop(doc: dict, steps: int, device: str) -> float:
    """Seconds per step of the tutorial loop on the same data."""
    t = doc["training"]
    data = load_dataset(t["dataset"])
    x = torch.from_numpy(data.x_train).to(device)
    y = torch.from_numpy(data.y_train).to(device)
    torch.manual_seed(t["seed"])
    model = PLAIN_MODELS[doc["_bench"]]().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=t["optimizer"]["lr"])
    loss_fn = nn.CrossEntropyLoss()
    bs, n, step, running = t["batch_size"], x.shape[0], 0, 0.0
    start = time.perf_counter()
    while step < steps:
        perm = torch.randperm(n, device=device)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            running += loss.item()
            step += 1
            if step >= steps:
                break
    return (time.perf_counter() - start) / steps


def layerlab_loop(doc: dict, steps: int, device: str) -> float:
    """Seconds per step of Layerlab's Trainer (the code behind `layerlab train`)."""
    result = Trainer(parse_document(doc), steps=steps, device=device).run()
    assert result.steps == steps
    return result.seconds / steps


def main() -> None:
    """Run the rounds and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cases = {"spiral_mlp": 3000, "digits_cnn": 400}
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds (median)")
    print(f"{'design':<12} {'steps':>6} {'plain ms/step':>14} {'layerlab ms/step':>17} "
          f"{'ratio':>7}")
    for name, steps in cases.items():
        doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
        doc["_bench"] = name
        layerlab_loop(doc, 50, args.device)  # warm up both paths once
        plain_loop(doc, 50, args.device)
        plain, ours = [], []
        for r in range(args.rounds):
            order = (plain_loop, layerlab_loop) if r % 2 == 0 else (layerlab_loop, plain_loop)
            for fn in order:
                (plain if fn is plain_loop else ours).append(fn(doc, steps, args.device))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"{name:<12} {steps:>6} {p * 1e3:>14.3f} {o * 1e3:>17.3f} {p / o:>7.3f}")


if __name__ == "__main__":
    main()
