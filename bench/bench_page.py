"""Page benchmarks: frame rate while training with live charts, and Train click -> first point.

    python bench/bench_page.py                 # starts its own server on a free port
    python bench/bench_page.py --url http://127.0.0.1:5000 --seconds 10

Frames are timed in the page with requestAnimationFrame deltas (and the Long Tasks API);
the first-point latency is measured warm (after one run has started the worker pool).
Targets: 60 fps; Train -> first chart point <= 1.5 s. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

# In-page probe: rAF deltas and long tasks over `ms` milliseconds.
FRAME_PROBE = """(ms) => new Promise((resolve) => {
  const deltas = []; const longTasks = [];
  const obs = new PerformanceObserver((list) => {
    list.getEntries().forEach((e) => longTasks.push(e.duration));
  });
  try { obs.observe({ type: 'longtask', buffered: false }); } catch (e) { /* not supported */ }
  let last = performance.now(); const end = last + ms;
  const tick = (now) => {
    deltas.push(now - last); last = now;
    if (now < end) requestAnimationFrame(tick);
    else { obs.disconnect(); resolve({ deltas, longTasks }); }
  };
  requestAnimationFrame(tick);
})"""

# In-page probe: click Train, resolve with ms until the loss chart shows its first point.
FIRST_POINT = """() => new Promise((resolve, reject) => {
  const chart = document.querySelector('[data-chart=loss]');
  const train = document.querySelector('[data-action=train]');
  const t0 = performance.now();
  const check = () => {
    if (+chart.dataset.points > 0) { resolve(performance.now() - t0); return true; }
    return false;
  };
  const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
  obs.observe(chart, { attributes: true, attributeFilter: ['data-points'] });
  train.click();
  setTimeout(() => { obs.disconnect(); reject(new Error('no point within 30 s')); }, 30000);
})"""

# Synthetic history: 100,000 points pushed into the charts in one go, then live appends.
STRESS = """(n) => {
  const charts = window.layerlab.charts;
  const pts = [];
  for (let i = 0; i < n; i += 1) {
    pts.push({ step: i, epoch: i / 50, time: i / 1000, lr: 0.01,
      train_loss: Math.exp(-i / 20000) + 0.05 * Math.sin(i / 7),
      train_accuracy: 1 - Math.exp(-i / 20000),
      ...(i % 500 === 0 ? { val_loss: Math.exp(-i / 20000) + 0.03, val_accuracy: 0.9 } : {}) });
  }
  charts.setTask('classification');
  charts.reset(pts);
  let step = n;
  window.__stress = setInterval(() => {
    const batch = [];
    for (let j = 0; j < 25; j += 1, step += 1) {
      batch.push({ step, epoch: step / 50, time: step / 1000, lr: 0.01,
        train_loss: 0.1 + 0.05 * Math.random(), train_accuracy: 0.95 });
    }
    charts.push(batch);
  }, 50);
}"""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def frame_stats(probe: dict) -> dict:
    """fps p50/p5 and long frames from rAF deltas (the first frame is dropped)."""
    deltas = probe["deltas"][1:]
    return {"fps_p50": 1000 / percentile(deltas, 50), "fps_p5": 1000 / percentile(deltas, 95),
            "frames": len(deltas), "long_frames": sum(d > 50 for d in deltas),
            "worst_ms": max(deltas, default=float("nan")), "long_tasks": len(probe["longTasks"])}


def start_server():
    """create_app on a temporary data folder, served on a free loopback port."""
    sys.path.insert(0, str(ROOT))
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from server import create_app

    data = tempfile.mkdtemp(prefix="layerlab-bench-")
    app = create_app({"DATA_DIR": data, "WARM_WORKERS": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.port}", lambda: (server.shutdown(),
                                                        app.extensions["layerlab"].close())


def open_spiral(page, url: str) -> None:
    """The editor with the Spiral MLP example, training until stopped."""
    page.goto(url + "/")
    page.wait_for_selector("body:not(.is-loading)")
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="Spiral MLP").click()
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    page.fill(".training-form [name=epochs]", "")
    page.wait_for_function("() => document.querySelector('.statusbar').dataset.status === 'ok'")


def stop_run(page) -> None:
    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_function(
        "() => ['stopped', 'finished', 'failed'].includes("
        "document.querySelector('[data-run-state]').dataset.runState)", timeout=30_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running Layerlab (default: start one)")
    parser.add_argument("--seconds", type=float, default=10.0, help="frame sampling time")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="also save the page mid-training (docs/screenshot.png)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    url, close = (args.url.rstrip("/"), lambda: None) if args.url else start_server()
    results = {}
    with sync_playwright() as pw:
        kwargs = {"headless": True, "args": ARGS}
        if Path(SYSTEM_CHROMIUM).exists():
            kwargs["executable_path"] = SYSTEM_CHROMIUM
        browser = pw.chromium.launch(**kwargs)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        open_spiral(page, url)
        ms = args.seconds * 1000
        results["idle"] = frame_stats(page.evaluate(FRAME_PROBE, min(ms, 3000)))
        cold = page.evaluate(FIRST_POINT)  # starts the worker pool if it was cold
        stop_run(page)
        latencies = []
        for _ in range(3):
            latencies.append(page.evaluate(FIRST_POINT))
            if len(latencies) < 3:
                stop_run(page)
        results["first_point_ms"] = {"cold": cold, "warm_median": percentile(latencies, 50),
                                     "warm_all": latencies}
        results["training"] = frame_stats(page.evaluate(FRAME_PROBE, ms))
        loss = page.locator("[data-chart=loss]")
        results["points_received"] = int(loss.get_attribute("data-points"))
        if args.screenshot:
            page.evaluate("document.querySelector('.side-scroll').scrollTop = 0")
            page.mouse.move(1, 700)
            page.screenshot(path=args.screenshot)
        stop_run(page)
        page.evaluate(STRESS, 100_000)
        results["stress_100k"] = frame_stats(page.evaluate(FRAME_PROBE, min(ms, 5000)))
        results["stress_drawn"] = int(loss.get_attribute("data-drawn"))
        page.evaluate("clearInterval(window.__stress)")
        browser.close()
    close()
    report(results)
    if args.json:
        print(json.dumps(results, indent=2))


def report(r: dict) -> None:
    """The figures as a table."""
    t, s, i = r["training"], r["stress_100k"], r["idle"]
    fp = r["first_point_ms"]
    rows = [
        ("fps p50, training with live charts", f"{t['fps_p50']:.1f}", "60"),
        ("fps p5, training with live charts", f"{t['fps_p5']:.1f}", "60"),
        ("long frames > 50 ms (of frames)", f"{t['long_frames']} of {t['frames']}", "0"),
        ("worst frame, training", f"{t['worst_ms']:.1f} ms", ""),
        ("metric points received while sampled", str(r["points_received"]), ""),
        ("Train click -> first chart point (warm)", f"{fp['warm_median'] / 1000:.2f} s",
         "<= 1.5 s"),
        ("Train click -> first chart point (cold)", f"{fp['cold'] / 1000:.2f} s", ""),
        ("fps p50 / p5, 100k points + 500 pts/s", f"{s['fps_p50']:.1f} / {s['fps_p5']:.1f}", "60"),
        ("points drawn for 100k (decimated)", str(r["stress_drawn"]), "~2x width"),
        ("fps p50, idle editor", f"{i['fps_p50']:.1f}", "60"),
    ]
    width = max(len(a) for a, _, _ in rows)
    print(f"{'measure':<{width}}  {'value':>14}  target")
    print(f"{'-' * width}  {'-' * 14}  ------")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")


if __name__ == "__main__":
    main()
