"""Past one machine (CONTRACTS.md §8, docs/DEPLOY.md): runs as Ray actors (RUNNER "ray") and
several web processes on one Socket.IO message queue (MESSAGE_QUEUE), from the app config.

Neither needs Ray or Redis installed unless it is asked for: the embedded default imports
nothing of them.
"""

from __future__ import annotations

from server.web import socketio

RAY_CONCURRENT_RUNS = 8  # runs one web process trains at once on Ray, unless told
# With the Ray runner every process mirrors the runs its watchers watch and sends them their
# events itself; only these go through the message queue, to every process's watchers.
QUEUED_EVENTS = frozenset({"run_next"})
CHANNEL = "layerlab"  # the message queue's channel


class ScaleError(ValueError):
    """The settings cannot work together (the message says how to fix them)."""


def socketio_options(config) -> dict:
    """socketio.init_app's message-queue options: none unless MESSAGE_QUEUE is set."""
    url = config["MESSAGE_QUEUE"]
    if not url:
        # init_app keeps its options on the one module-level SocketIO: an app made earlier in
        # this process with a queue must not hand its queue to this one.
        socketio.server_options.pop("client_manager", None)
        socketio.server_options.pop("message_queue", None)
        return {}
    if config["RUNNER"] != "ray":
        raise ScaleError("a message queue (several web processes) needs the Ray runner: a "
                         "local pool's runs live and end in the one process that trains them; "
                         "add --runner ray --ray-address ADDRESS")
    if not url.startswith(("redis://", "rediss://")):
        raise ScaleError(f"the message queue must be a redis:// URL; got {url!r}")
    return {"message_queue": url, "channel": CHANNEL}


def queued_events(config) -> frozenset[str] | None:
    """The events that go through the message queue (broadcast.Emit's `queued`)."""
    return QUEUED_EVENTS if config["RUNNER"] == "ray" else None


def runner_settings(config) -> dict:
    """ManagerConfig fields for RUNNER: none for the local pool; the Ray runner's otherwise."""
    runner = config["RUNNER"]
    if runner == "local":
        return {}
    if runner != "ray":
        raise ScaleError(f"the runner must be local or ray; got {runner!r}")
    if not config["RAY_ADDRESS"]:
        raise ScaleError("the Ray runner needs the cluster's address: --ray-address ADDRESS "
                         "or LAYERLAB_RAY_ADDRESS (host:port of its head, or ray://host:10001)")
    from server.runs.ray_runner import ray_runner

    concurrent = config["MAX_CONCURRENT_RUNS"] or RAY_CONCURRENT_RUNS
    return {"runner": ray_runner(config["RAY_ADDRESS"], config["MESSAGE_QUEUE"],
                                 config["LEASE_SECONDS"], config["CLUSTER_LOST_SECONDS"]),
            "gpus": [],  # Ray places each actor; its trainer picks the GPU it was given
            "max_concurrent": concurrent, "pool_size": 0}
