"""Host and Origin allow-lists: a WSGI middleware in front of Flask and Engine.IO alike.

DNS rebinding: a foreign name that resolves to this machine still sends its own name in Host, so
every request whose Host is not an allowed name is refused. CSRF: a foreign page's form or fetch
sends its Origin (or at least a Referer), so a request that changes state, and every Socket.IO
request (the handshake, polling and the websocket upgrade), is refused when its Origin is neither
this app's own nor an allowed one. Requests with neither header (curl, the CLI, test clients) come
from no page and pass.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SOCKET_PATH = "/socket.io"
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def split_list(value) -> list[str]:
    """A setting given as "a,b c" or a list, as a list of non-empty, lower-case names."""
    if not value:
        return []
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return [str(i).strip().lower() for i in items if str(i).strip()]


def host_name(host: str) -> str:
    """The name in a Host header without its port: "[::1]:5000" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        return host.split(":")[0]
    return host  # a bare IPv6 address, or a name without port


def machine_addresses() -> list[str]:
    """This machine's own host name and addresses, for a server listening on every interface."""
    names: set[str] = set()
    try:
        hostname = socket.gethostname()
    except OSError:
        return []
    names.update({hostname.lower(), f"{hostname.split('.')[0].lower()}.local"})
    try:
        for info in socket.getaddrinfo(hostname, None):
            names.add(info[4][0].split("%")[0])
    except OSError:
        pass
    return sorted(names)


class Guard:
    """Refuse (403 forbidden) a foreign Host, and a foreign Origin wherever it matters."""

    def __init__(self, app, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = (),
                 own_addresses: bool = False):
        self.app = app
        self.own_addresses = own_addresses  # any IP address of this machine names it too
        self.hosts = set(LOOPBACK) | {h.strip("[]") for h in split_list(allowed_hosts)}
        self.any_host = "*" in self.hosts
        self.origins = {o.rstrip("/") for o in split_list(allowed_origins)}

    def host_allowed(self, host: str) -> bool:
        """Whether a Host header names this server (".example.org" allows its subdomains)."""
        if self.any_host:
            return True
        name = host_name(host)
        if name in self.hosts or (self.own_addresses and is_own_address(name)):
            return True
        return any(h.startswith(".") and (name.endswith(h) or name == h[1:]) for h in self.hosts)

    def origin_allowed(self, origin: str | None, environ: dict) -> bool:
        """Whether a page at `origin` may act on this server (None: no page sent the request)."""
        if origin is None:
            return True
        origin = origin.strip().lower().rstrip("/")
        if origin in self.origins or "*" in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return False  # "null" (a sandboxed frame, a file: page) and anything odd
        own = environ.get("HTTP_HOST", "")
        return netloc(parts.scheme, parts.netloc) == netloc(environ.get("wsgi.url_scheme", "http"),
                                                            own)

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if not self.host_allowed(host):
            return forbidden(start_response, f"this server does not answer to the name "
                             f"{host_name(host)!r}; start it with --allowed-hosts "
                             f"{host_name(host)} to allow it"[:300])
        path = environ.get("PATH_INFO", "")
        checked = environ.get("REQUEST_METHOD", "GET") in UNSAFE or path == SOCKET_PATH or \
            path.startswith(SOCKET_PATH + "/")
        if checked:
            origin = request_origin(environ)
            if not self.origin_allowed(origin, environ):
                return forbidden(start_response, f"requests from the page at {origin!r} are not "
                                 "accepted; only this app's own pages (or --allowed-origins) may "
                                 "change anything"[:300])
        return self.app(environ, start_response)


@functools.lru_cache(maxsize=256)
def is_own_address(name: str) -> bool:
    """Whether `name` is an IP address of this machine's: a socket can bind to it (none is sent).

    A rebinding page reaches the server under its own DNS name, never under an address literal,
    so a classroom's phones may open http://<this machine's address>:port/ on any interface.
    """
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(address), 0))
        return True
    except OSError:
        return False


def netloc(scheme: str, loc: str) -> str:
    """host:port with the scheme's default port written out, for comparing two origins."""
    loc = loc.strip().lower()
    name = host_name(loc)
    rest = loc[loc.find("]") + 1:] if loc.startswith("[") else loc[len(name):]
    port = rest[1:] if rest.startswith(":") else DEFAULT_PORTS.get(scheme, "")
    return f"{name}:{port}"


def request_origin(environ: dict) -> str | None:
    """The Origin header, else the origin of the Referer, else None (no page sent it)."""
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        return origin
    referer = environ.get("HTTP_REFERER")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
    return None


def forbidden(start_response, message: str):
    """A 403 with the app's error body."""
    body = json.dumps({"error": "forbidden", "message": message, "details": []}).encode()
    start_response("403 FORBIDDEN", [("Content-Type", "application/json"),
                                     ("Content-Length", str(len(body))),
                                     ("X-Content-Type-Options", "nosniff")])
    return [body]


def env_hosts() -> list[str]:
    """Names allowed through the environment (LAYERLAB_ALLOWED_HOSTS, comma separated)."""
    return split_list(os.environ.get("LAYERLAB_ALLOWED_HOSTS", ""))


def install(app) -> Guard:
    """Wrap the app's WSGI callable (after Socket.IO's, so Engine.IO is covered too)."""
    config = app.config
    guard = Guard(app.wsgi_app, [*split_list(config.get("ALLOWED_HOSTS")), *env_hosts()],
                  split_list(config.get("ALLOWED_ORIGINS")), bool(config.get("OWN_ADDRESSES")))
    app.wsgi_app = guard
    hops = int(config.get("TRUST_PROXY") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Outside the guard: the proxy's X-Forwarded-Host is what the browser sent, so it is
        # the name the guard checks. Without the setting those headers are ignored.
        app.wsgi_app = ProxyFix(guard, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return guard
