"""The app factory's body: Flask, Socket.IO in threading mode, the store and the run manager."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from server.data import default_data_dir
from server.runs import ManagerConfig, RunManager
from server.store import Store
from server.web import errors, events, routes, socketio  # noqa: F401 - events registers handlers
from server.web.services import Layerlab

ROOT = Path(__file__).resolve().parents[2]  # the project folder, with templates/ and static/
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "frame-ancestors 'self'")

DEFAULTS = {
    "DATA_DIR": None,  # designs, runs, weights, uploads; None: $LAYERLAB_DATA_DIR or ~/.layerlab
    "MAX_DOCUMENT_BYTES": 4 * 2**20,  # largest network document, over HTTP and Socket.IO
    "MAX_UPLOAD_BYTES": 20 * 2**20,  # largest CSV upload
    "MAX_CONCURRENT_RUNS": None,  # runs training at once; None: the number of GPUs, or 2 on CPU
    "MAX_QUEUED_RUNS": 100,  # runs that may wait for a worker; beyond it `train` is refused
    "WORKER_POOL": None,  # warm worker processes kept ready; None: MAX_CONCURRENT_RUNS
    "WARM_WORKERS": False,  # start the pool with the app (serve does) instead of on first run
    "WORKER_THREADS": 0,  # torch threads per worker; 0: (CPU cores - 1) / MAX_CONCURRENT_RUNS
    "STOP_GRACE_SECONDS": 3.0,  # a run that ignores stop this long has its worker killed
    "METRICS_INTERVAL": 0.05,  # least seconds between run_metrics of one run (20 a second)
    "FRAME_ACK_TIMEOUT": 10.0,  # seconds a heavy frame waits for its ack before the next goes
    "TEMPLATE_FOLDER": None,  # where index.html is; None: the project's templates/
}


def build_app(test_config: dict | None = None) -> Flask:
    """A configured Flask app with Socket.IO attached; see DEFAULTS for the settings."""
    config = {**DEFAULTS, **(test_config or {})}
    app = Flask("server", root_path=str(ROOT / "server"), static_folder=str(ROOT / "static"),
                template_folder=str(config["TEMPLATE_FOLDER"] or ROOT / "templates"))
    app.config.update(config)
    data_dir = Path(config["DATA_DIR"] or default_data_dir()).expanduser().resolve()
    app.config["DATA_DIR"] = str(data_dir)
    limit = app.config["MAX_DOCUMENT_BYTES"]
    app.config["MAX_CONTENT_LENGTH"] = limit
    # Socket.IO drops a connection whose message passes this; up to it, handlers refuse an
    # oversize document with a readable bad_request instead.
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=2 * limit + 2**16)
    server = socketio.server

    def emit(event: str, payload, to: str, callback=None) -> None:
        server.emit(event, payload, to=to, namespace="/", callback=callback)

    store = Store(data_dir)
    manager = RunManager(store, manager_config(app.config), emit)
    app.extensions["layerlab"] = Layerlab(data_dir, store, manager)
    errors.register(app)
    app.register_blueprint(routes.bp)
    app.after_request(security_headers)
    if app.config["WARM_WORKERS"]:
        manager.warm_up()
    logging.getLogger("server").setLevel(logging.INFO)
    return app


def manager_config(config) -> ManagerConfig:
    """The run manager's settings from the app config."""
    concurrent = config["MAX_CONCURRENT_RUNS"] or gpu_count() or 2
    pool = config["WORKER_POOL"]
    return ManagerConfig(
        max_concurrent=concurrent, pool_size=concurrent if pool is None else min(pool, concurrent),
        max_queued=config["MAX_QUEUED_RUNS"], stop_grace=config["STOP_GRACE_SECONDS"],
        metrics_interval=config["METRICS_INTERVAL"],
        frame_ack_timeout=config["FRAME_ACK_TIMEOUT"], threads=config["WORKER_THREADS"])


def gpu_count() -> int:
    """CUDA GPUs this server can train on (imports torch, which the workers need anyway)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return 0
    import torch

    return torch.cuda.device_count()


def security_headers(response):
    """Pages run only the app's own scripts; nothing is sniffed into another type."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    return response
