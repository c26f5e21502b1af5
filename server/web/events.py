"""Socket.IO events (CONTRACTS.md §4): one handler per event, each answering through its ack.

Every handler takes one JSON argument and returns `{"ok": true, ...}` or the error ack; no
exception escapes one, whatever a client sends.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time

from flask import current_app, request
from flask_socketio import join_room, leave_room

from server.graph import validate
from server.graph.kinds import STEP_NAMES
from server.graph.training import live_hparams
from server.runs import ACTIONS
from server.web import baseline, socketio
from server.web.errors import ApiError, api_error, bad_request
from server.web.parse import RESERVED, Invalid, check_document, check_json
from server.web.services import lab

log = logging.getLogger(__name__)
MAX_STEPS = 1_000_000  # most steps one `step` action may ask for
MAX_SPEED = 10_000  # steps per second; null means full speed
HPARAMS = live_hparams()  # set_hparams' rates (lr, generator_lr) -> the field giving bounds
MAX_SAMPLE = 10_000  # largest sample index select_sample takes (the worker clamps further)
ACK_FIRST = 0.05  # seconds a watcher's greeting frames wait, so that its ack arrives first
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what the manager's run ids look like
EVENTS: list[str] = []  # the events this server answers, for the unknown_event answer


def handler(event: str):
    """Register a handler of one JSON argument whose errors become `{"ok": false}` acks."""

    def wrap(fn):
        @functools.wraps(fn)
        def answer(*args):
            try:
                if len(args) != 1:
                    raise bad_request(f"'{event}' takes one JSON argument; got {len(args)}")
                return fn(check_json(args[0], f"the '{event}' payload"))
            except Exception as e:  # noqa: BLE001 - every error becomes an ack, never a crash
                return api_error(e).ack()

        socketio.on(event)(answer)
        EVENTS.append(event)
        return fn

    return wrap


@handler("validate")
def on_validate(doc):
    """The validate JSON of a document."""
    if isinstance(doc, dict):
        check_document(doc, current_app.config["MAX_DOCUMENT_BYTES"])
    return validate(doc, data_dir=lab().data_dir).to_json()


@handler("train")
def on_train(doc):
    """Queue a run; the sender joins its room and gets the token that controls it."""
    doc = check_document(doc, current_app.config["MAX_DOCUMENT_BYTES"])
    run_id, token, key = lab().manager.submit(doc, join_room, request.sid,
                                              address=request.remote_addr)
    return {"ok": True, "run_id": run_id, "token": token, "design_key": key}


@handler("baseline")
def on_baseline(payload):
    """A random forest on a document's own data (the document, or {document, trees}), stored
    with the design; the sender gets baseline_progress as it grows."""
    if isinstance(payload, dict) and "format" not in payload and "document" in payload:
        msg = fields(payload, "baseline", document=dict, trees=Optional(int))
        doc, trees = msg["document"], msg.get("trees", baseline.DEFAULT_TREES)
    else:
        doc, trees = payload, baseline.DEFAULT_TREES
    doc = check_document(doc, current_app.config["MAX_DOCUMENT_BYTES"])
    sid = request.sid
    return baseline.fit(doc, trees, lambda grown: socketio.emit("baseline_progress", grown,
                                                                to=sid))


@handler("control")
def on_control(message):
    """Pause, resume, step or stop a run (token holder only); a step may name the `network`
    it runs (a gan's d, g or both: the step names of GET /api/training's kinds)."""
    msg = fields(message, "control", run_id=RunId, token=Token, action=str, steps=Optional(int),
                 network=Optional(str))
    if msg["action"] not in ACTIONS:
        raise bad_request(f"action must be one of {', '.join(ACTIONS)}; got "
                          f"{msg['action']!r}"[:300])
    steps = msg.get("steps", 1)
    if not 1 <= steps <= MAX_STEPS:
        raise bad_request(f"steps must be from 1 to {MAX_STEPS:,}; got {steps}")
    if "network" in msg and msg["network"] not in STEP_NAMES:
        raise bad_request(f"network must be one of {', '.join(STEP_NAMES)} (a gan's step: the "
                          f"discriminator, the generator or both); got {shown(msg['network'])}")
    state = lab().manager.control(msg["run_id"], msg.get("token"), msg["action"], steps,
                                  network=msg.get("network"))
    return {"ok": True, "state": state}


@handler("set_hparams")
def on_set_hparams(message):
    """Change a run's rates (lr; a gan's generator_lr too) or its speed mid-run (token holder
    only). Each rate has the bounds of the training field it changes."""
    msg = fields(message, "set_hparams", run_id=RunId, token=Token,
                 **{name: Optional(float) for name in HPARAMS}, speed=Optional(float, null=True))
    for name, field_ in HPARAMS.items():
        problem = field_.problem(msg[name], label=name) if name in msg else None
        if problem:
            raise bad_request(problem)
    speed = msg.get("speed")
    if speed is not None and not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        raise bad_request(f"speed must be steps per second in (0, {MAX_SPEED:,}], or null for "
                          f"full speed; got {speed}")
    manager = lab().manager
    manager.set_lr(msg["run_id"], msg.get("token"), msg.get("lr"),
                   generator_lr=msg.get("generator_lr"), epsilon=msg.get("epsilon"))
    if "speed" in msg:
        manager.set_speed(msg["run_id"], msg.get("token"), speed)
    return {"ok": True}


@handler("greedy")
def on_greedy(message):
    """A dqn run's environment frames follow its greedy player (on) or its training episodes
    (token holder only)."""
    msg = fields(message, "greedy", run_id=RunId, token=Token, on=bool)
    kind = lab().manager.kind_of_run(msg["run_id"], msg.get("token"))
    if kind != "dqn":
        raise bad_request(f"greedy is for dqn runs; run {msg['run_id']} is a {kind} run")
    lab().manager.set_greedy(msg["run_id"], msg.get("token"), msg["on"])
    return {"ok": True, "greedy": msg["on"]}


@handler("watch")
def on_watch(message):
    """Join a run's room read-only; the ack carries its status, whole history, design and
    where its owner went on to (next_run_id, latest_run_id)."""
    msg = fields(message, "watch", run_id=RunId)
    manager = lab().manager
    status, history, about = manager.watch(msg["run_id"], join_room, request.sid)
    after_ack(manager.greet, msg["run_id"], request.sid)
    return {"ok": True, "status": status, "history": history, **about}


@handler("follow_on")
def on_follow_on(message):
    """Link a run to the next one its owner started (both tokens): its watchers move on."""
    msg = fields(message, "follow_on", run_id=RunId, token=Token, next_run_id=RunId,
                 next_token=Token)
    lab().manager.follow_on(msg["run_id"], msg.get("token"), msg["next_run_id"],
                            msg.get("next_token"))
    return {"ok": True}


@handler("unwatch")
def on_unwatch(message):
    """Leave a run's room: its pictures stop when nobody else watches."""
    msg = fields(message, "unwatch", run_id=RunId)
    leave_room(msg["run_id"])
    lab().manager.leave(request.sid, msg["run_id"])
    return {"ok": True}


@handler("select_sample")
def on_select_sample(message):
    """Follow one of the fixed validation samples through the network (token holder only)."""
    msg = fields(message, "select_sample", run_id=RunId, token=Token, index=int)
    if not 0 <= msg["index"] < MAX_SAMPLE:
        raise bad_request(f"index must be a sample number from 0 to {MAX_SAMPLE - 1}; "
                          f"got {msg['index']}")
    lab().manager.select(msg["run_id"], msg.get("token"), msg["index"])
    return {"ok": True}


@handler("timeline")
def on_timeline(message):
    """A run's checkpoints: step, epoch and time of each (anyone with the run id)."""
    msg = fields(message, "timeline", run_id=RunId)
    return {"ok": True, "checkpoints": lab().manager.timeline(msg["run_id"])}


@handler("seek")
def on_seek(message):
    """The pictures of the last checkpoint at or before a step (anyone with the run id)."""
    msg = fields(message, "seek", run_id=RunId, step=int)
    return lab().manager.seek(msg["run_id"], msg["step"])


@socketio.on("*")
def on_unknown(event, *args):
    """Any other event: an unreadable payload's error, or unknown_event naming the events."""
    if args and isinstance(args[0], Invalid):
        return bad_request(args[0].message).ack()
    name = event.removeprefix(RESERVED) if isinstance(event, str) else ""
    what = "is a name Socket.IO reserves" if event.startswith(RESERVED) else (
        "is not an event of this server")
    return ApiError("unknown_event", f"{name[:64]!r} {what}; the events are "
                    f"{', '.join(EVENTS)}").ack()


@socketio.on("connect")
def on_connect(auth=None):
    """Tell the new page where runs train and whether new ones can start (server_status; it is
    sent again whenever that changes: a lost Ray cluster, and its return)."""
    try:
        socketio.emit("server_status", {"runner": lab().manager.runner()}, to=request.sid)
    except Exception:  # noqa: BLE001 - a greeting that fails must not refuse the connection
        log.exception("error while greeting a client")


@socketio.on("disconnect")
def on_disconnect(reason=None):
    """The client no longer watches anything (its runs go on)."""
    try:
        lab().manager.leave(request.sid)
    except Exception:  # noqa: BLE001 - nothing to answer; never let a disconnect raise
        log.exception("error while a client disconnected")


def after_ack(fn, *args) -> None:
    """Call fn(*args) just after this handler's ack is sent."""
    # The page drops frames of a run it has not adopted yet, which it does on the ack.

    def later():
        time.sleep(ACK_FIRST)
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a greeting that fails must not end the server
            log.exception("error while greeting a watcher")

    socketio.start_background_task(later)


class Optional:
    """A field a message may leave out; with null=True it may also be null."""

    def __init__(self, kind, null: bool = False):
        self.kind, self.null = kind, null


RunId = "run id"  # a required string that looks like a run id
Token = "token"  # a run's secret: optional, and any value that is not it is refused (forbidden)
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              dict: "a JSON object"}


def fields(message, event: str, **spec) -> dict:
    """Check a message's fields: an object, known keys, each required one present and every
    one of its type (null refused unless the field says otherwise)."""
    if not isinstance(message, dict):
        raise bad_request(f"'{event}' takes a JSON object like {{\"run_id\": ...}}")
    unknown = sorted(set(message) - set(spec))
    if unknown:
        raise bad_request(f"'{event}' takes {', '.join(spec)}; unknown field "
                          f"{unknown[0][:64]!r}")
    for key, kind in spec.items():
        optional = isinstance(kind, Optional) or kind is Token
        if key not in message:
            if optional:
                continue
            raise bad_request(f"'{event}' needs a {key} ({TYPE_NAMES.get(kind, 'a string')})")
        value = message[key]
        if kind is Token or (value is None and isinstance(kind, Optional) and kind.null):
            continue
        check_field(key, value, kind.kind if isinstance(kind, Optional) else kind)
    return message


def check_field(key: str, value, kind) -> None:
    """Refuse a value (null included) that is not of the field's kind, naming the field."""
    if kind is RunId:
        if not (isinstance(value, str) and RUN_ID.match(value)):
            raise bad_request(f"{key} must be a run id (1 to 64 letters, digits, _ or -); got "
                              f"{shown(value)}")
        return
    if kind is bool:
        if not isinstance(value, bool):
            raise bad_request(f"{key} must be true or false; got {shown(value)}")
        return
    ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
    if not ok or isinstance(value, bool):
        raise bad_request(f"{key} must be {TYPE_NAMES[kind]}; got {shown(value)}")


def shown(value) -> str:
    """A value as a message quotes it: JSON, cut short."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
