"""HTTP routes and Socket.IO events: the only place Flask is imported.

`socketio` is created unbound here and attached to the app in `create_app` (server/web/app.py).
One process serves one app: Flask-SocketIO keeps its server on this module-level object.
Its packets are read and written by StrictPacket (web/parse.py): bounded, strict JSON, scoped
to this server (python-socketio's `json=` option would change every client in the process too).
"""

from flask_socketio import SocketIO

from server.web.parse import StrictPacket

socketio = SocketIO(serializer=StrictPacket)

__all__ = ["socketio"]
