"""Try it: the digits CNN's exported ONNX model in the page (vendored onnxruntime-web, WebAssembly,
one thread) against the server's ONNX Runtime (POST /api/runs/<id>/predict), side by side.

    python bench/bench_try_onnx.py                 # starts its own server on a free port
    python bench/bench_try_onnx.py --url http://127.0.0.1:5000 --rounds 30

The page trains the LeNet-style CNN example (8x8 digits) for two epochs and exports it; then the
same model.onnx is timed in headless Chromium (warm: after the WebAssembly is compiled and one
run made) and on the server, for one input and for a batch of 64. The page's clock is coarse
(0.1 ms without cross-origin isolation), so each round times a loop of runs and divides. The
server's time is ONNX Runtime's `run` alone, as the route measures it (CPU, one thread); the
round trip adds HTTP and JSON. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_page import ARGS, SYSTEM_CHROMIUM, start_server  # noqa: E402

# In the page: import the vendored runtime, load the run's model.onnx, time `loops` runs per
# round for `rounds` rounds at batch 1 and batch 64; also the page's fetch to /predict.
PAGE_BENCH = """async ([runId, rounds, loops]) => {
  const t0 = performance.now();
  const ort = await import('/static/vendor/onnxruntime-web/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/static/vendor/onnxruntime-web/';
  const bytes = new Uint8Array(await (await fetch(`/api/runs/${runId}/model.onnx`)).arrayBuffer());
  const t1 = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const t2 = performance.now();
  const name = session.inputNames[0];
  const input = (n) => {
    const data = new Float32Array(n * 64);
    for (let i = 0; i < data.length; i += 1) data[i] = ((i * 7919) % 17) / 16;
    return new ort.Tensor('float32', data, [n, 1, 8, 8]);
  };
  const first = await session.run({ [name]: input(1) });
  const t3 = performance.now();
  const time = async (n) => {
    const feeds = { [name]: input(n) };
    const per = [];
    for (let r = 0; r < rounds; r += 1) {
      const s = performance.now();
      for (let k = 0; k < loops; k += 1) await session.run(feeds);
      per.push((performance.now() - s) / loops);
    }
    return per;
  };
  const one = await time(1);
  const batch = await time(64);
  const trips = [];
  const body = JSON.stringify({ input: [Array.from({ length: 1 }, () => Array.from({ length: 8 },
    (_, r) => Array.from({ length: 8 }, (_, c) => ((r * 8 + c) * 7919 % 17) / 16)))] });
  for (let r = 0; r < rounds; r += 1) {
    const s = performance.now();
    const res = await fetch(`/api/runs/${runId}/predict`, { method: 'POST', body,
      headers: { 'Content-Type': 'application/json' } });
    await res.json();
    trips.push(performance.now() - s);
  }
  return { import_and_fetch_ms: t1 - t0, session_ms: t2 - t1, first_run_ms: t3 - t2,
    one, batch, trips, output: Array.from(first[session.outputNames[0]].data),
    version: ort.env.versions.web };
}"""


def train_digits_cnn(page, url: str) -> str:
    """The editor trains the LeNet-style CNN for two epochs; its run id."""
    page.goto(url + "/")
    page.wait_for_selector("body:not(.is-loading)")
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="LeNet-style CNN").click()
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    page.fill(".training-form [name=epochs]", "2")
    page.wait_for_function("() => document.querySelector('.statusbar').dataset.status === 'ok'")
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => document.querySelector('[data-run-state]').dataset.runState"
                           " === 'finished'", timeout=300_000)
    return page.evaluate("() => window.layerlab.runClient.runId")


def server_times(url: str, run_id: str, batch: int, rounds: int) -> tuple[list, list, list]:
    """The route's own ONNX Runtime seconds and the round trips, in ms; and the first output."""
    x = [[[[((r * 8 + c) * 7919 % 17) / 16 for c in range(8)] for r in range(8)]]] * batch
    body = json.dumps({"input": x}).encode()
    runs, trips, output = [], [], None
    for _ in range(rounds + 1):  # the first one makes the server's session: not counted
        req = urllib.request.Request(f"{url}/api/runs/{run_id}/predict", data=body,
                                     headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=300) as r:
            answer = json.load(r)
        trips.append((time.perf_counter() - started) * 1000)
        runs.append(answer["seconds"] * 1000)
        output = output or answer["output"][0]
    return runs[1:], trips[1:], output


def stats(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return f"{statistics.median(values):8.3f} ms  (p90 {p90:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Layerlab server (default: start one)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--loops", type=int, default=50, help="runs timed together in the page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    url, stop = (args.url.rstrip("/"), lambda: None) if args.url else start_server()
    try:
        with sync_playwright() as pw:
            kwargs = {"headless": True, "args": ARGS}
            if Path(SYSTEM_CHROMIUM).exists():
                kwargs["executable_path"] = SYSTEM_CHROMIUM
            browser = pw.chromium.launch(**kwargs)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            run_id = train_digits_cnn(page, url)
            with urllib.request.urlopen(f"{url}/api/runs/{run_id}/model.onnx", timeout=300) as r:
                size = len(r.read())  # exported (and checked) once, before anything is timed
            page_result = page.evaluate(PAGE_BENCH, [run_id, args.rounds, args.loops])
            browser.close()
        one_runs, one_trips, server_out = server_times(url, run_id, 1, args.rounds)
        big_runs, big_trips, _ = server_times(url, run_id, 64, max(5, args.rounds // 2))
    finally:
        stop()
    diff = max(abs(a - b) for a, b in zip(page_result["output"], server_out, strict=True))
    print(f"digits CNN (LeNet-style, 13.7k params), model.onnx {size / 1024:.1f} KB, run {run_id}")
    print(f"page: onnxruntime-web {page_result['version']} (WebAssembly, 1 thread), headless "
          "Chromium; server: onnxruntime (CPU, 1 thread)")
    print(f"page cold start: import + fetch {page_result['import_and_fetch_ms']:.0f} ms, "
          f"session {page_result['session_ms']:.0f} ms, first run "
          f"{page_result['first_run_ms']:.1f} ms")
    print(f"\n{'median of the rounds':44} {'1 input, a run':26} {'64 inputs, a run':26}")
    print(f"{'in the page (onnxruntime-web)':44} {stats(page_result['one']):26} "
          f"{stats(page_result['batch']):26}")
    print(f"{'on the server (ONNX Runtime run alone)':44} {stats(one_runs):26} "
          f"{stats(big_runs):26}")
    print(f"{'server round trip from Python (HTTP+JSON)':44} {stats(one_trips):26} "
          f"{stats(big_trips):26}")
    print(f"{'server round trip from the page (fetch)':44} {stats(page_result['trips']):26}")
    ratio = statistics.median(page_result["one"]) / statistics.median(one_runs)
    print(f"\npage / server (batch 1, run alone): {ratio:.2f}x; the outputs agree to "
          f"max |diff| {diff:.2g}")


if __name__ == "__main__":
    main()
