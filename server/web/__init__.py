"""HTTP routes and Socket.IO events: the only place Flask is imported.

`socketio` is created unbound here and attached to the app in `create_app` (server/web/app.py).
One process serves one app: Flask-SocketIO keeps its server on this module-level object.
"""

from flask_socketio import SocketIO

socketio = SocketIO()

__all__ = ["socketio"]
