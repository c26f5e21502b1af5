"""GAN benchmark: Layerlab's gan loop against a plain two-optimizer PyTorch loop, and what the
live pictures cost it.

    python bench/bench_gan.py [--rounds 5] [--device cpu|cuda]

(a) seconds per iteration (one D step and one G step) of the gan kind's loop (the code behind
    `layerlab train` and the worker) against a tutorial loop on the same two networks, data,
    batch size, losses and optimizers: zero_grad, D on real and detached fake, backward, step;
    G through D, backward, step; `.item()` of both losses. Interleaved rounds, median.
    ratio = plain / layerlab (>= 0.95 is the target: not slower).
(b) the same loop with every picture of the kind made as a watcher would get them (Visuals,
    wanted, frames serialized and dropped) against none. ratio = off / on time per iteration
    (>= 0.95: at most 5 % slower).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.data import load_dataset  # noqa: E402
from server.graph import parse_document  # noqa: E402
from server.kinds import kind  # noqa: E402
from server.kinds.gan_loop import build, noise_spec, sample_noise  # noqa: E402
from server.runs.visuals import Visuals  # noqa: E402
from server.train import Control  # noqa: E402

EXAMPLES = ROOT / "server" / "examples"
CASES = {"gan_gaussians": 2000, "gan_digits": 1000}


def plain_loop(doc: dict, steps: int, device: str) -> float:
    """Seconds per iteration of the tutorial two-optimizer loop on the design's networks."""
    network = parse_document(doc)
    t = network.training
    data = load_dataset(t["dataset"])
    x = torch.from_numpy(data.x_train).float().to(device)
    torch.manual_seed(t["seed"])
    model = build(network, seed=t["seed"]).to(device)
    g, d = model.generator, model.discriminator
    betas = (t["optimizer"].get("beta1", 0.9), t["optimizer"].get("beta2", 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=t["optimizer"]["lr"], betas=betas)
    opt_g = torch.optim.Adam(g.parameters(), lr=t["gan"]["generator_optimizer"]["lr"],
                             betas=betas)
    bce = nn.BCEWithLogitsLoss()
    dim, dist = noise_spec(network)
    bs, n, step = t["batch_size"], x.shape[0], 0
    start = time.perf_counter()
    while step < steps:
        perm = torch.randperm(n, device=device)
        for i in range(0, n - bs + 1, bs):
            real = x[perm[i:i + bs]]
            fake = g(sample_noise(bs, dim, dist, device))
            opt_d.zero_grad()
            real_logits, fake_logits = d(real), d(fake.detach())
            d_loss = (bce(real_logits, torch.ones_like(real_logits))
                      + bce(fake_logits, torch.zeros_like(fake_logits)))
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            fake_logits = d(g(sample_noise(bs, dim, dist, device)))
            g_loss = bce(fake_logits, torch.ones_like(fake_logits))
            g_loss.backward()
            opt_g.step()
            d_loss.item(), g_loss.item()
            step += 1
            if step >= steps:
                break
    return (time.perf_counter() - start) / steps


def layerlab_loop(doc: dict, steps: int, device: str, pictures: bool = False) -> float:
    """Seconds per iteration of the gan kind's trainer, with or without a watcher's pictures."""
    module = kind("gan")
    control = Control()
    visuals = Visuals("bench", control, lambda message: pickle.dumps(message), wanted=pictures,
                      kind=module)
    trainer = module.trainer(parse_document(doc), control=control, steps=steps, device=device,
                             on_log=visuals.on_log)
    visuals.trainer = trainer
    result = trainer.run()
    assert result.steps == steps
    return result.seconds / steps


def main() -> None:
    """Run the rounds and print both tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds (median)")
    docs = {name: json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
            for name in CASES}
    print("\n(a) the gan loop against a plain two-optimizer loop")
    print(f"{'design':<14} {'steps':>6} {'plain ms/it':>12} {'layerlab ms/it':>15} {'ratio':>7}")
    for name, steps in CASES.items():
        doc = docs[name]
        plain_loop(doc, 30, args.device)  # warm up both paths once
        layerlab_loop(doc, 30, args.device)
        plain, ours = [], []
        for r in range(args.rounds):
            first, second = (plain, ours) if r % 2 == 0 else (ours, plain)
            for times in (first, second):
                fn = plain_loop if times is plain else layerlab_loop
                times.append(fn(doc, steps, args.device))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"{name:<14} {steps:>6} {p * 1e3:>12.3f} {o * 1e3:>15.3f} {p / o:>7.3f}")
    print("\n(b) every picture on (one watcher) against none")
    print(f"{'design':<14} {'steps':>6} {'off ms/it':>10} {'on ms/it':>9} {'ratio':>7}")
    for name, steps in CASES.items():
        doc = docs[name]
        layerlab_loop(doc, 30, args.device, pictures=True)
        off, on = [], []
        for r in range(args.rounds):
            for flag in ((False, True) if r % 2 == 0 else (True, False)):
                (on if flag else off).append(layerlab_loop(doc, steps, args.device, flag))
        f, n = statistics.median(off), statistics.median(on)
        print(f"{name:<14} {steps:>6} {f * 1e3:>10.3f} {n * 1e3:>9.3f} {f / n:>7.3f}")


if __name__ == "__main__":
    main()
