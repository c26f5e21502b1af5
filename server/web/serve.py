"""`layerlab serve`: the app on a threaded WSGI server until Ctrl-C, then a clean stop."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from server.web.guard import WILDCARDS, machine_addresses, split_list


def serve(host: str = "127.0.0.1", port: int = 5000, data_dir: str | None = None, *,
          allowed_hosts: str = "", allowed_origins: str = "", behind_proxy: int = 0,
          scale: dict | None = None) -> None:
    """Serve until interrupted; runs in progress are then stopped and recorded (with the Ray
    runner they go on training). `scale`: RUNNER, RAY_ADDRESS, MESSAGE_QUEUE, LEASE_SECONDS
    (docs/DEPLOY.md)."""
    from server import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per polling request
    hosts = split_list(allowed_hosts)
    own = machine_addresses() if host in WILDCARDS else []
    # On every interface a classroom's phones open http://<this machine's address>:port/, so
    # this machine's own name and addresses are allowed too (a rebinding page cannot use them).
    app = create_app({"DATA_DIR": data_dir, "ALLOWED_HOSTS": [*hosts, *own, *extra_host(host)],
                      "OWN_ADDRESSES": host in WILDCARDS,
                      "ALLOWED_ORIGINS": split_list(allowed_origins), "TRUST_PROXY": behind_proxy,
                      **(scale or {})})
    services = app.extensions["layerlab"]
    try:
        server = make_wsgi_server(host, port, app)
    except OSError as e:
        services.close()
        print(f"layerlab: error: cannot listen on {host}:{port}: {e.strerror or e}",
              file=sys.stderr)
        raise SystemExit(1) from None
    services.manager.warm_up()  # workers import torch while the first page loads
    print(f"Layerlab running at {url(host, server.port)}", flush=True)
    if own:
        print(f"answering to {', '.join(own)}, this machine's addresses and loopback; other "
              "names (a DNS name, a proxy's) need --allowed-hosts", file=sys.stderr, flush=True)
    print(f"data in {services.data_dir}; press Ctrl-C to stop", file=sys.stderr, flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()  # returns on Ctrl-C (werkzeug swallows the KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        print("stopping: runs go on training on the Ray cluster; another server takes them "
              "over ..." if services.manager.pool.outlives_server else
              "stopping: recording runs in progress ...", file=sys.stderr, flush=True)
        services.close()


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, except that a connection that carried a WebSocket ends with it.

    Otherwise werkzeug reads the client's WebSocket close frame as the next HTTP request, logs
    "Bad request syntax", and the client waits seconds for a close that never comes.
    """

    def connection_dropped(self, error, environ=None) -> None:
        """Close the connection instead of reading on."""
        self.close_connection = True


def make_wsgi_server(host: str, port: int, app) -> BaseWSGIServer:
    """A threaded werkzeug server for the app (port 0: a free port, see `.port`)."""
    return make_server(host, port, app, threaded=True, request_handler=RequestHandler)


def url(host: str, port: int) -> str:
    """The address a browser on this machine opens."""
    shown = "127.0.0.1" if host in WILDCARDS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def extra_host(host: str) -> list[str]:
    """The address given to --host, when it is one name: a browser opens it by that name."""
    return [] if host in WILDCARDS else [host]


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
