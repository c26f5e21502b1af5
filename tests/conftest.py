"""Server fixtures: `app` (a fresh data folder), `client`, `sio_client` and `live_server`.

Flask-SocketIO keeps its server on one module-level object, so one app at a time is live in a
test process: each fixture below builds its own app and closes it (workers ended) afterwards.
"""

from __future__ import annotations

import pytest

from tests.live import Client, LiveServer, make_app


@pytest.fixture
def app(tmp_path):
    """A fresh app on a temporary data folder; its runs and workers end with the test."""
    app = make_app(tmp_path / "data")
    yield app
    app.extensions["layerlab"].close()


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def sio_client(app):
    """Flask-SocketIO's test client, connected."""
    from server.web import socketio

    sio = socketio.test_client(app)
    yield sio
    if sio.is_connected():
        sio.disconnect()


@pytest.fixture
def live_server(app):
    """The app on a real server at a free loopback port; yields its URL."""
    live = LiveServer(app)
    yield live.url
    live.server.shutdown()
    live.thread.join(5)


@pytest.fixture
def connect():
    """Open python-socketio clients to a URL; all are closed after the test."""
    clients: list[Client] = []

    def open_client(url: str, transport: str = "websocket", ack: bool = True) -> Client:
        clients.append(Client(url, transport, ack))
        return clients[-1]

    yield open_client
    for c in clients:
        c.close()

