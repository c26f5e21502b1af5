"""The app factory's body: Flask, Socket.IO in threading mode, the store and the run manager."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from flask import Flask

from server.baseline import BaselinePool
from server.data import default_data_dir, parsing
from server.kinds import PICTURE_NAMES
from server.runs import ManagerConfig, RunManager, placement
from server.runs.artifacts import EXPORTS
from server.store import Store
from server.web import (  # noqa: F401 - events registers
    errors,
    events,
    guard,
    importing,
    predict,
    routes,
    scale,
    socketio,
)
from server.web.broadcast import Emit, install_send_queues
from server.web.services import Layerlab
from server.web.wsio import install_shared_io

ROOT = Path(__file__).resolve().parents[2]  # the project folder, with templates/ and static/
PACKAGE = Path(__file__).resolve().parents[1]  # server/: an installed wheel keeps them here


def asset_folder(name: str) -> Path:
    """static/ or templates/: the project's own in a checkout, else the installed package's."""
    top = ROOT / name
    return top if (ROOT / "pyproject.toml").is_file() and top.is_dir() else PACKAGE / name
# 'wasm-unsafe-eval' lets the page compile WebAssembly (the vendored onnxruntime-web of the Try
# panel); it allows no eval of JavaScript.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'self'")

DEFAULTS = {
    "DATA_DIR": None,  # designs, runs, weights, uploads; None: $LAYERLAB_DATA_DIR or ~/.layerlab
    "MAX_DOCUMENT_BYTES": 4 * 2**20,  # largest network document, over HTTP and Socket.IO
    "MAX_UPLOAD_BYTES": 20 * 2**20,  # largest CSV or text upload
    "MAX_IMAGE_UPLOAD_BYTES": 100 * 2**20,  # largest zip of image folders
    "MAX_CONCURRENT_RUNS": None,  # runs training at once; None: the GPUs' RUNS_PER_GPU, or 2
    "RUNS_PER_GPU": None,  # runs one GPU trains at once: a number, or a list (one per GPU);
    # None: 4 (server/runs/placement.py)
    "MAX_QUEUED_RUNS": 100,  # runs that may wait for a worker; beyond it `train` is refused
    "MAX_RUNS_PER_CLIENT": 4,  # runs one connection may have queued or training (0: no limit)
    "MAX_RUNS_PER_ADDRESS": 8,  # the same for one remote address; loopback is exempt (0: none)
    "MAX_RUN_HISTORY_POINTS": 2000,  # a live run's points kept in memory and sent on watch
    "MAX_WORKER_MEMORY": 0,  # bytes a worker may hold; 0: min(8 GiB, 60% RAM / runs); -1: none
    "WORKER_MEMORY_INTERVAL": 0.25,  # seconds between two checks of the workers' memory
    "WORKER_POOL": None,  # warm worker processes kept ready; None: MAX_CONCURRENT_RUNS
    "WARM_WORKERS": False,  # start the pool with the app (serve does) instead of on first run
    "WORKER_THREADS": 0,  # torch threads per worker; 0: (CPU cores - 1) / MAX_CONCURRENT_RUNS
    "STOP_GRACE_SECONDS": 3.0,  # a run that ignores stop this long has its worker killed
    "METRICS_INTERVAL": 0.05,  # least seconds between run_metrics of one run (20 a second)
    "FRAME_ACK_TIMEOUT": 10.0,  # seconds a heavy frame waits for its ack before the next goes
    # Encode each picture frame once for all its watchers (web/broadcast.py); False: once per
    # watcher, as before (bench/bench_watchers.py measures both).
    "FRAME_ENCODE_ONCE": True,
    # Each client's packet queue is SendQueue (C SimpleQueue) rather than queue.Queue: a
    # cheaper wake-up of its writer thread per packet (web/broadcast.py; the bench compares).
    "FAST_SEND_QUEUES": True,
    # One thread reads and one writes every WebSocket client (each packet framed once), instead
    # of three threads per client woken per message (web/wsio.py; the bench compares).
    "SHARED_IO": True,
    # Pictures of a watched run, per second (0: none); made only while someone watches.
    "INSIGHT_BOUNDARY_RATE": 10.0,  # run_boundary (2-D datasets)
    "INSIGHT_GENERATED_RATE": 10.0,  # run_generated (gan runs: samples, manifold, badges)
    "INSIGHT_ENVIRONMENT_RATE": 30.0,  # run_environment (dqn runs: the episode being played)
    "INSIGHT_FILTERS_RATE": 4.0,  # run_filters (a layer pre-training as an RBM)
    "INSIGHT_TEXT_RATE": 1.0,  # run_text (text datasets: what the network writes)
    "INSIGHT_ACTIVATIONS_RATE": 4.0,  # run_activations
    "INSIGHT_HEALTH_RATE": 2.0,  # run_health (gradient norms, badges)
    "INSIGHT_RESULTS_RATE": 1.0,  # run_results (classification)
    "INSIGHT_WEIGHTS_RATE": 1.0,  # run_weights
    "INSIGHT_BUDGET": 0.05,  # most of a worker's wall time the pictures may take
    "TIMELINE_INTERVAL": 1.0,  # seconds of training between two timeline checkpoints
    "TIMELINE_MAX": 200,  # checkpoints kept per run (every other one dropped when full)
    # CSV uploads (server/data/parsing.py): caps, and big files parsed in a spawned process.
    "CSV_MAX_COLUMNS": 1000,  # columns a table may have
    "CSV_MAX_ROWS": 1_000_000,  # data rows a table may have
    "CSV_INLINE_BYTES": 256 * 2**10,  # smaller files parse in the request thread (milliseconds)
    "CSV_PARSE_WORKERS": 1,  # big files parsed at once
    "CSV_PARSE_WAIT": 30.0,  # seconds a parse waits for its turn before `busy`
    "CSV_PARSE_MEMORY_BYTES": 2 * 2**30,  # address space a parse process may take (Linux)
    "EXPORT_WORKERS": 1,  # exports built at once, each in its own spawned process
    "EXPORT_MEMORY_BYTES": 8 * 2**30,  # address space an export process may take (Linux)
    "EXPORT_WAIT_SECONDS": 120.0,  # how long an export waits for its turn before `busy`
    # Random-forest baselines (server/baseline): each fitted in a spawned process of a pool.
    "BASELINE_WORKERS": 1,  # baselines fitted at once
    "BASELINE_SECONDS": 300.0,  # the longest one fit may take, loading its data included
    "BASELINE_MEMORY_BYTES": 4 * 2**30,  # address space a fitting process may take (Linux)
    "BASELINE_WAIT_SECONDS": 60.0,  # how long a baseline waits for its turn before `busy`
    "BASELINE_QUEUE": 8,  # baselines that may wait for a turn; beyond it `busy` at once
    "BASELINE_THREADS": 1,  # CPU threads one fit uses (scikit-learn's n_jobs)
    "TEMPLATE_FOLDER": None,  # where index.html is; None: the project's templates/
    # Who may reach the server (docs/SECURITY.md). Loopback names are always allowed.
    "ALLOWED_HOSTS": [],  # more Host names ("lab.example", ".example.org"; "*": any, unsafe)
    "ALLOWED_ORIGINS": [],  # more page origins that may change state ("https://lab.example")
    "OWN_ADDRESSES": False,  # this machine's own IP addresses as Host too (serve on 0.0.0.0)
    "TRUST_PROXY": 0,  # proxies in front whose X-Forwarded-For/Proto/Host/Port are believed
    # Stored things: each refusal names its setting.
    "MAX_DESIGNS_PER_OWNER": 200,  # designs one browser (owner secret) keeps
    "MAX_DESIGN_BYTES_PER_OWNER": 50 * 2**20,  # their documents' bytes together
    "MAX_UPLOADS_PER_CLIENT": 50,  # CSV uploads one remote address sends per window
    "MAX_UPLOAD_BYTES_PER_CLIENT": 200 * 2**20,  # their bytes together
    "UPLOAD_QUOTA_HOURS": 24.0,  # the window (uploads stay; MAX_STORED_BYTES bounds the disk)
    "MAX_STORED_BYTES": 10 * 2**30,  # the data folder's size past which new designs and
    # uploads are refused (507 storage_full); None: no limit
    # Past one machine (docs/DEPLOY.md, web/scale.py):
    "RUNNER": "local",  # "local": warm worker processes here; "ray": each run a Ray actor
    "RAY_ADDRESS": None,  # the Ray cluster (RUNNER "ray"): host:port of its head, or ray://
    "MESSAGE_QUEUE": None,  # redis://host:port/0: several web processes (needs RUNNER "ray")
    "LEASE_SECONDS": 10.0,  # a dead web process's runs are taken over this long after it died
    "CLUSTER_LOST_SECONDS": 90.0,  # a Ray cluster away this long fails the runs it trained
}


def build_app(test_config: dict | None = None) -> Flask:
    """A configured Flask app with Socket.IO attached; see DEFAULTS for the settings."""
    config = {**DEFAULTS, **(test_config or {})}
    app = Flask("server", root_path=str(ROOT / "server"), static_folder=str(asset_folder("static")),
                template_folder=str(config["TEMPLATE_FOLDER"] or asset_folder("templates")))
    app.config.update(config)
    data_dir = Path(config["DATA_DIR"] or default_data_dir()).expanduser().resolve()
    app.config["DATA_DIR"] = str(data_dir)
    limit = app.config["MAX_DOCUMENT_BYTES"]
    app.config["MAX_CONTENT_LENGTH"] = limit
    # Socket.IO drops a connection whose message passes this; up to it, handlers refuse an
    # oversize document with a readable bad_request instead.
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=2 * limit + 2**16,
                      **scale.socketio_options(config))
    # Wrapped after Socket.IO's own WSGI app, so the Host and Origin checks cover Engine.IO's
    # handshake, polling and websocket upgrade as well as the routes.
    gate = guard.install(app)
    server = socketio.server
    if app.config["SHARED_IO"]:
        install_shared_io(server.eio)
    elif app.config["FAST_SEND_QUEUES"]:
        install_send_queues(server.eio)
    server.eio.cors_allowed_origins = gate.origin_allowed  # never a CORS grant to a foreign page
    emit = Emit(server, serialize_sends(server), once=app.config["FRAME_ENCODE_ONCE"],
                queued=scale.queued_events(config))

    EXPORTS.configure(config["EXPORT_WORKERS"], config["EXPORT_MEMORY_BYTES"],
                      config["EXPORT_WAIT_SECONDS"])
    parsing.configure(config)
    store = Store(data_dir)
    manager = RunManager(store, manager_config(app.config), emit)
    baselines = BaselinePool(config["BASELINE_WORKERS"], config["BASELINE_SECONDS"],
                             config["BASELINE_MEMORY_BYTES"], config["BASELINE_WAIT_SECONDS"],
                             config["BASELINE_QUEUE"], config["BASELINE_THREADS"])
    app.extensions["layerlab"] = Layerlab(data_dir, store, manager, baselines)
    errors.register(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(importing.bp)
    app.register_blueprint(predict.bp)
    app.after_request(security_headers)
    if app.config["WARM_WORKERS"]:
        manager.warm_up()
    logging.getLogger("server").setLevel(logging.INFO)
    return app


def serialize_sends(server) -> threading.RLock:
    """Send each Socket.IO packet whole: returns the lock that every emit must hold."""
    # A packet with bytes goes out as a header and one message per attachment, and
    # python-socketio does not lock between them (`Server.emit` is documented as not thread
    # safe). Pictures are emitted from the drainer, from ack callbacks and from handlers at
    # once, so two packets to one client could interleave and corrupt both. Acks with bytes
    # (`seek`) are sent by the library itself, hence the wrapped `_send_packet` too.
    lock = threading.RLock()
    send = server._send_packet

    def send_packet(eio_sid, pkt) -> None:
        with lock:
            send(eio_sid, pkt)

    server._send_packet = send_packet
    return lock


def manager_config(config) -> ManagerConfig:
    """The run manager's settings from the app config."""
    gpus = placement.gpus_with_room(placement.detect_gpus(), config["RUNS_PER_GPU"])
    concurrent = config["MAX_CONCURRENT_RUNS"] or sum(g.room for g in gpus) or 2
    pool = config["WORKER_POOL"]
    settings = ManagerConfig(
        max_concurrent=concurrent, pool_size=concurrent if pool is None else min(pool, concurrent),
        max_queued=config["MAX_QUEUED_RUNS"], stop_grace=config["STOP_GRACE_SECONDS"],
        max_per_client=config["MAX_RUNS_PER_CLIENT"],
        max_per_address=config["MAX_RUNS_PER_ADDRESS"],
        history_limit=config["MAX_RUN_HISTORY_POINTS"],
        max_worker_memory=config["MAX_WORKER_MEMORY"],
        memory_interval=config["WORKER_MEMORY_INTERVAL"],
        metrics_interval=config["METRICS_INTERVAL"],
        frame_ack_timeout=config["FRAME_ACK_TIMEOUT"], threads=config["WORKER_THREADS"],
        insight={"rates": {name: config[f"INSIGHT_{name.upper()}_RATE"]
                           for name in PICTURE_NAMES},
                 "budget": config["INSIGHT_BUDGET"]},
        timeline_interval=config["TIMELINE_INTERVAL"], timeline_limit=config["TIMELINE_MAX"],
        gpus=gpus)
    return replace(settings, **scale.runner_settings(config))  # the Ray runner's, if asked


def security_headers(response):
    """Pages run only the app's own scripts; nothing is sniffed into another type."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    return response
