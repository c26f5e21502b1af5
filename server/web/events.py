"""Socket.IO events (CONTRACTS.md §4): one handler per event, each answering through its ack.

Every handler takes one JSON argument and returns `{"ok": true, ...}` or the error ack; no
exception escapes one, whatever a client sends.
"""

from __future__ import annotations

import functools
import logging
import math
import time

from flask import current_app, request
from flask_socketio import join_room, leave_room

from server.graph import validate
from server.runs import ACTIONS
from server.web import socketio
from server.web.errors import api_error, bad_request, check_document
from server.web.services import lab

log = logging.getLogger(__name__)
MAX_STEPS = 1_000_000  # most steps one `step` action may ask for
MAX_SPEED = 10_000  # steps per second; null means full speed
LR_RANGE = (0.0, 10.0)  # the document's own bounds for optimizer.lr: (0, 10]
MAX_SAMPLE = 10_000  # largest sample index select_sample takes (the worker clamps further)
ACK_FIRST = 0.05  # seconds a watcher's greeting frames wait, so that its ack arrives first


def handler(event: str):
    """Register a handler of one JSON argument whose errors become `{"ok": false}` acks."""

    def wrap(fn):
        @functools.wraps(fn)
        def answer(*args):
            try:
                if len(args) != 1:
                    raise bad_request(f"'{event}' takes one JSON argument; got {len(args)}")
                return fn(args[0])
            except Exception as e:  # noqa: BLE001 - every error becomes an ack, never a crash
                return api_error(e).ack()

        socketio.on(event)(answer)
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
    run_id, token, key = lab().manager.submit(doc, join_room, request.sid)
    return {"ok": True, "run_id": run_id, "token": token, "design_key": key}


@handler("control")
def on_control(message):
    """Pause, resume, step or stop a run (token holder only)."""
    msg = fields(message, "control", run_id=str, token=object, action=str, steps=int)
    if msg["action"] not in ACTIONS:
        raise bad_request(f"action must be one of {', '.join(ACTIONS)}; got {msg['action']!r}")
    steps = msg.get("steps", 1)
    if not 1 <= steps <= MAX_STEPS:
        raise bad_request(f"steps must be from 1 to {MAX_STEPS:,}; got {steps}")
    state = lab().manager.control(msg["run_id"], msg.get("token"), msg["action"], steps)
    return {"ok": True, "state": state}


@handler("set_hparams")
def on_set_hparams(message):
    """Change a run's learning rate or speed mid-run (token holder only)."""
    msg = fields(message, "set_hparams", run_id=str, token=object, lr=float, speed=float)
    lr, speed = msg.get("lr"), msg.get("speed")
    if lr is not None and not (math.isfinite(lr) and LR_RANGE[0] < lr <= LR_RANGE[1]):
        raise bad_request(f"lr must be a number in (0, 10]; got {lr}")
    if speed is not None and not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        raise bad_request(f"speed must be steps per second in (0, {MAX_SPEED:,}], or null for "
                          f"full speed; got {speed}")
    manager = lab().manager
    manager.set_lr(msg["run_id"], msg.get("token"), lr)
    if "speed" in msg:
        manager.set_speed(msg["run_id"], msg.get("token"), speed)
    return {"ok": True}


@handler("watch")
def on_watch(message):
    """Join a run's room read-only; the ack carries its status, whole history, design and
    where its owner went on to (next_run_id, latest_run_id)."""
    msg = fields(message, "watch", run_id=str)
    manager = lab().manager
    status, history, about = manager.watch(msg["run_id"], join_room, request.sid)
    after_ack(manager.greet, msg["run_id"], request.sid)
    return {"ok": True, "status": status, "history": history, **about}


@handler("follow_on")
def on_follow_on(message):
    """Link a run to the next one its owner started (both tokens): its watchers move on."""
    msg = fields(message, "follow_on", run_id=str, token=object, next_run_id=str,
                 next_token=object)
    if not msg.get("next_run_id"):
        raise bad_request("'follow_on' needs a next_run_id")
    lab().manager.follow_on(msg["run_id"], msg.get("token"), msg["next_run_id"],
                            msg.get("next_token"))
    return {"ok": True}


@handler("unwatch")
def on_unwatch(message):
    """Leave a run's room: its pictures stop when nobody else watches."""
    msg = fields(message, "unwatch", run_id=str)
    leave_room(msg["run_id"])
    lab().manager.leave(request.sid, msg["run_id"])
    return {"ok": True}


@handler("select_sample")
def on_select_sample(message):
    """Follow one of the fixed validation samples through the network (token holder only)."""
    msg = fields(message, "select_sample", run_id=str, token=object, index=int)
    index = msg.get("index")
    if index is None or not 0 <= index < MAX_SAMPLE:
        raise bad_request(f"index must be a sample number from 0; got {index!r}"[:300])
    lab().manager.select(msg["run_id"], msg.get("token"), index)
    return {"ok": True}


@handler("timeline")
def on_timeline(message):
    """A run's checkpoints: step, epoch and time of each (anyone with the run id)."""
    msg = fields(message, "timeline", run_id=str)
    return {"ok": True, "checkpoints": lab().manager.timeline(msg["run_id"])}


@handler("seek")
def on_seek(message):
    """The pictures of the last checkpoint at or before a step (anyone with the run id)."""
    msg = fields(message, "seek", run_id=str, step=int)
    if msg.get("step") is None:
        raise bad_request("'seek' needs a step")
    return lab().manager.seek(msg["run_id"], msg["step"])


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


def fields(message, event: str, **types) -> dict:
    """Check a message's fields: an object, known keys, right types; run_id required."""
    if not isinstance(message, dict):
        raise bad_request(f"'{event}' takes a JSON object like {{\"run_id\": ...}}")
    unknown = sorted(set(message) - set(types))
    if unknown:
        raise bad_request(f"'{event}' takes {', '.join(types)}; unknown field {unknown[0]!r}")
    if "run_id" not in message:
        raise bad_request(f"'{event}' needs a run_id")
    for key, kind in types.items():
        value = message.get(key)
        if value is None or kind is object:
            continue
        ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
        if not ok or isinstance(value, bool):
            raise bad_request(f"{key} must be {TYPE_NAMES[kind]}; got {value!r}"[:300])
    return message


TYPE_NAMES = {str: "a string", int: "an integer", float: "a number"}
