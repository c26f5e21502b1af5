"""The GPU path side by side: eager vs CUDA graphs, fp32 vs bf16, one vs many runs on one GPU.

Every Layerlab figure sits beside a plain PyTorch loop doing the same work on the same data
and model (the reference): a tutorial-style loop with a fused Adam that keeps its running loss
on the device, and for graphs PyTorch's own whole-network capture recipe.

    python bench/bench_gpu.py [--seconds 2] [--runs 1,8,30] [--device cuda:0]

1. steps/s of the spiral MLP at batch 32 and 256: Layerlab eager and with CUDA graphs (fp32,
   and with precision auto: bf16 there), plain eager and plain graph (the goal: >= 10,000
   steps/s at batch 32 on an H100/H200, >= 5x eager)
2. samples/s in fp32 and bf16 (training.precision): the digits CNN, the MNIST CNN where MNIST is
   cached, the attention design; Layerlab and a plain autocast loop
3. 1, 8 and 30 spiral runs at once on one GPU, each its own process as the worker pool runs
   them: total and per-run steps/s, Layerlab and plain

With no GPU it says so, runs part 2 on the CPU (bf16 through CPU autocast) and exits 0.
Each figure is the rate over about --seconds of training, after a short calibration run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import threading
import time
from pathlib import Path

import torch
from torch import nn

from server.data import default_data_dir, load_dataset
from server.data.downloads import FILES, cache_dir
from server.graph import parse_document
from server.model import build_model
from server.train import Control, Trainer

EXAMPLES = Path(__file__).resolve().parent.parent / "server" / "examples"
UNBOUNDED = 10**8  # steps: a run the bench stops itself


def example(name: str, **training) -> dict:
    doc = json.loads((EXAMPLES / f"{name}.layerlab.json").read_text())
    doc["training"].update(training)
    return doc


def mnist_cnn() -> dict | None:
    """The digits CNN on 28x28 MNIST, where MNIST is already cached (never downloaded here)."""
    folder = cache_dir(default_data_dir(), "mnist")
    if not all((folder / f).is_file() for f in FILES):
        return None
    doc = example("digits_cnn", dataset={"name": "mnist"})
    doc["name"] = "MNIST CNN"
    for node in doc["nodes"]:
        if node["type"] == "Input":
            node["params"].pop("shape", None)  # taken from the dataset: [1, 28, 28]
    return doc


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


# -- Layerlab ----------------------------------------------------------------------------------

def stop_after(control: Control, seconds: float, start: threading.Event | None = None) -> None:
    """Stop a run `seconds` after it is started (or after `start` is set), from a thread."""

    def conduct():
        if start is not None:
            start.wait()
            control.resume()
        time.sleep(seconds)
        control.stop()

    threading.Thread(target=conduct, daemon=True).start()


def layerlab_rate(doc: dict, device: str, seconds: float, **overrides) -> tuple[float, float, str]:
    """(steps/s, samples/s, its cuda_graphs state) of the Trainer over about `seconds` of
    training (setup excluded: it starts paused and is resumed once set up)."""
    control, started = Control(paused=True), threading.Event()
    stop_after(control, seconds, started)
    trainer = Trainer(doc, steps=UNBOUNDED, device=device, control=control,
                      on_status=lambda s: s["state"] == "paused" and started.set(), **overrides)
    result = trainer.run()
    return result.steps / result.seconds, result.samples_per_second, result.cuda_graphs or "-"


# -- the plain PyTorch reference ---------------------------------------------------------------

class Plain:
    """A hand-written loop on the same data and model as a document's run."""

    def __init__(self, doc: dict, device: str, precision: str = "fp32"):
        network = parse_document(doc)
        t = network.training
        data = load_dataset(t["dataset"])
        self.device, self.bs = device, t["batch_size"]
        self.x = torch.from_numpy(data.x_train).to(device)
        self.y = torch.from_numpy(data.y_train).to(device)
        self.model = build_model(network, seed=t["seed"]).to(device)
        self.lr = t["optimizer"]["lr"]
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.kind = "cuda" if device.startswith("cuda") else "cpu"
        self.loss_sum = torch.zeros((), device=device)

    def autocast(self, cache: bool = True):
        return torch.autocast(self.kind, dtype=self.dtype or torch.float32,
                              enabled=self.dtype is not None, cache_enabled=cache)

    def batches(self):
        """Full batches of shuffled data, epoch after epoch."""
        n = self.x.shape[0]
        bs = min(self.bs, n)
        while True:
            perm = torch.randperm(n, device=self.device)
            xs, ys = self.x[perm], self.y[perm]
            for i in range(0, n - bs + 1, bs):
                yield xs[i:i + bs], ys[i:i + bs]

    def eager(self, seconds: float) -> float:
        """Steps/s of the eager loop: zero_grad, forward, loss, backward, step."""
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr, fused=self.kind == "cuda")

        def step(xb, yb):
            opt.zero_grad(set_to_none=True)
            with self.autocast():
                out = self.model(xb)
            loss = nn.functional.cross_entropy(out.float(), yb)
            loss.backward()
            opt.step()
            self.loss_sum += loss.detach()

        return self._timed(step, seconds)

    def graph(self, seconds: float) -> float:
        """Steps/s of PyTorch's whole-network CUDA graph recipe (full batches only)."""
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr, capturable=True)
        batches = self.batches()
        sx, sy = (t.clone() for t in next(batches))

        def body():
            with self.autocast(cache=False):
                out = self.model(sx)
            loss = nn.functional.cross_entropy(out.float(), sy)
            loss.backward()
            opt.step()
            self.loss_sum += loss.detach()

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                body()
        torch.cuda.current_stream().wait_stream(side)
        opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()

        def step(xb, yb):
            sx.copy_(xb)
            sy.copy_(yb)
            graph.replay()

        return self._timed(step, seconds)

    def _timed(self, step, seconds: float) -> float:
        batches = self.batches()
        for _ in range(5):  # warm up
            step(*next(batches))
        sync(self.device)
        steps, start = 0, time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:  # a clock read, no sync: the GPU runs ahead
            step(*next(batches))
            steps += 1
        sync(self.device)
        return steps / (time.perf_counter() - start)


# -- 1. eager vs CUDA graphs -------------------------------------------------------------------

def part_graphs(device: str, seconds: float) -> None:
    print("\n1. spiral MLP, eager vs CUDA graph (steps/s; fp32 like the plain loops, and the "
          "graph with precision auto)")
    print(f"{'batch':>5} {'layerlab eager':>15} {'layerlab graph':>15} {'graph/eager':>12} "
          f"{'graph auto':>11} {'plain eager':>12} {'plain graph':>12}")
    for bs in (32, 256):
        doc = example("spiral_mlp", batch_size=bs)
        eager, _, _ = layerlab_rate(doc, device, seconds, cuda_graphs=False, precision="fp32")
        graph, _, state = layerlab_rate(doc, device, seconds, precision="fp32")
        auto, _, _ = layerlab_rate(doc, device, seconds)
        plain_eager = Plain(doc, device).eager(seconds)
        plain_graph = Plain(doc, device).graph(seconds)
        note = "" if state == "on" else f"  (graphs: {state})"
        print(f"{bs:>5} {eager:>15,.0f} {graph:>15,.0f} {graph / eager:>11.2f}x {auto:>11,.0f} "
              f"{plain_eager:>12,.0f} {plain_graph:>12,.0f}{note}")


# -- 2. fp32 vs bf16 ---------------------------------------------------------------------------

def part_precision(device: str, seconds: float) -> None:
    designs = [("digits CNN", example("digits_cnn", batch_size=256)),
               ("MNIST CNN", mnist_cnn()),
               ("attention", example("attention_parity", batch_size=256))]
    print(f"\n2. fp32 vs bf16 on {device} (samples/s; Layerlab with graphs where it can)")
    print(f"{'design':<11} {'batch':>5} {'layerlab fp32':>14} {'layerlab bf16':>14} "
          f"{'bf16/fp32':>10} {'plain fp32':>11} {'plain bf16':>11}  graphs")
    for name, doc in designs:
        if doc is None:
            print(f"{name:<11} skipped: MNIST is not cached (train any MNIST design once)")
            continue
        if name == "MNIST CNN":
            doc["training"]["batch_size"] = 256
        bs = doc["training"]["batch_size"]
        _, fp32, state = layerlab_rate(doc, device, seconds, precision="fp32")
        _, bf16, _ = layerlab_rate(doc, device, seconds, precision="bf16")
        plain = [Plain(doc, device, p).eager(seconds) * bs for p in ("fp32", "bf16")]
        print(f"{name:<11} {bs:>5} {fp32:>14,.0f} {bf16:>14,.0f} {bf16 / fp32:>9.2f}x "
              f"{plain[0]:>11,.0f} {plain[1]:>11,.0f}  {state[:40]}")


# -- 3. many runs on one GPU -------------------------------------------------------------------

def concurrent_run(doc: dict, device: str, seconds: float, barrier, results) -> None:
    """One process of part 3: a Layerlab run, then a plain graph loop, each for `seconds`
    with all the processes at once."""
    torch.set_num_threads(1)
    control, ready = Control(paused=True), threading.Event()  # set up, then start together
    trainer = Trainer(doc, device=device, steps=UNBOUNDED, control=control,
                      on_status=lambda s: s["state"] == "paused" and ready.set())
    plain = Plain(doc, device)

    def together():
        ready.wait()
        barrier.wait()
        started.set()

    started = threading.Event()
    threading.Thread(target=together, daemon=True).start()
    stop_after(control, seconds, started)
    result = trainer.run()
    barrier.wait()
    results.put((result.steps / result.seconds, plain.graph(seconds)))


def part_concurrent(device: str, seconds: float, counts: list[int]) -> None:
    print(f"\n3. concurrent spiral runs on {device}, batch 32, fp32 (steps/s; one process each, "
          "Layerlab with graphs beside the plain graph loop)")
    print(f"{'runs':>4} {'layerlab total':>15} {'per run':>9} {'plain total':>12} "
          f"{'per run':>9}")
    ctx = mp.get_context("spawn")
    doc = example("spiral_mlp", batch_size=32, precision="fp32")
    for n in counts:
        barrier, results = ctx.Barrier(n, timeout=600), ctx.Queue()
        procs = [ctx.Process(target=concurrent_run, args=(doc, device, seconds, barrier,
                                                          results), daemon=True)
                 for _ in range(n)]
        for p in procs:
            p.start()
        rates = [results.get(timeout=900) for _ in procs]
        for p in procs:
            p.join(30)
        ours, plain = sum(r[0] for r in rates), sum(r[1] for r in rates)
        print(f"{n:>4} {ours:>15,.0f} {ours / n:>9,.0f} {plain:>12,.0f} {plain / n:>9,.0f}")


def main() -> None:
    """Run the parts this machine can and print their tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="training time per figure")
    ap.add_argument("--runs", default="1,8,30", help="concurrent runs of part 3")
    ap.add_argument("--device", default="cuda:0")
    args = ap.parse_args()
    started = time.perf_counter()
    print(f"torch {torch.__version__}")
    if not torch.cuda.is_available():
        print("no CUDA GPU here: parts 1 (CUDA graphs) and 3 (runs sharing a GPU) need one; "
              "part 2 runs on the CPU, where bf16 goes through CPU autocast")
        torch.set_num_threads(max(1, torch.get_num_threads()))
        part_precision("cpu", min(args.seconds, 1.0))
    else:
        device = args.device
        props = torch.cuda.get_device_properties(device)
        print(f"{device}: {props.name}, {props.total_memory / 2**30:.0f} GiB, compute "
              f"capability {props.major}.{props.minor}")
        part_graphs(device, args.seconds)
        part_precision(device, args.seconds)
        part_concurrent(device, args.seconds, [int(n) for n in args.runs.split(",") if n])
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
