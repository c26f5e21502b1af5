"""Finding 11: an ONNX export never silences the process's log lines (fds 1/2, sys.stdout/err)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[1]

# Another thread logs (logging to stderr, print to stdout, a raw write to fd 2) in a loop while
# a real export runs in the main thread, noting which lines it wrote while the export held the
# exporters' lock; every such line must reach the process's stdout/stderr.
SCRIPT = textwrap.dedent("""
    import json, logging, os, sys, threading
    from pathlib import Path
    from server.export import export_onnx_bytes
    from server.export import onnx as onnx_export
    from server.graph import parse_document
    from server.model import build_model

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    log = logging.getLogger("layerlab.server")
    doc = json.loads(Path("server/examples/spiral_mlp.layerlab.json").read_text())
    network = parse_document(doc)
    model = build_model(network)
    stop = threading.Event()
    during = []

    def chatter():
        n = 0
        while not stop.is_set():
            held = onnx_export._LOCK.locked()
            log.info("LOGLINE %d", n)
            print(f"PRINTLINE {n}", flush=True)
            os.write(2, f"FDLINE {n}\\n".encode())
            if held and onnx_export._LOCK.locked():
                during.append(n)
            n += 1
            stop.wait(0.002)

    t = threading.Thread(target=chatter)
    t.start()
    export_onnx_bytes(model, network)
    stop.set()
    t.join()
    sys.stdout.write("DURING " + json.dumps(during) + "\\n")
""")


def test_lines_logged_by_another_thread_during_export_reach_the_log():
    """Lines another thread logs while an export runs appear on stdout/stderr."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    during = json.loads(proc.stdout.rsplit("DURING ", 1)[1])
    assert during, "the other thread never ran while the export held its lock"
    out, err = set(proc.stdout.splitlines()), set(proc.stderr.splitlines())
    for n in during:
        assert f"LOGLINE {n}" in err
        assert f"FDLINE {n}" in err
        assert f"PRINTLINE {n}" in out
