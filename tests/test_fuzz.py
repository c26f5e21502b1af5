"""Fuzz every Socket.IO event and JSON route of one live `layerlab serve` (issue 16).

Hypothesis generates the payloads, seeded (derandomize) and bounded: mutated example designs
and messages (nulls, bytes sent as Socket.IO binary, huge and non-finite numbers, deep nesting,
long strings, wrong types in each field), random JSON and raw text that is not JSON at all.
Meanwhile another client's run trains. Every payload must get an answer within 1 s that is not
"internal", the server must log no traceback, and afterwards the fuzzing connection, the server
and the other client's run must all still be going. The answers are counted: at least 10,000.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.live import ROOT, Client, endless, example, wait_for
from tests.test_server_input import Raw, raw_client, request

pytestmark = pytest.mark.timeout(300)
EXAMPLES = sorted(p.name.removesuffix(".layerlab.json")
                  for p in (ROOT / "server" / "examples").glob("*.layerlab.json"))
MESSAGE_EVENTS = ("control", "set_hparams", "watch", "follow_on", "unwatch", "select_sample",
                  "timeline", "seek")
ROUTES = (("POST", "/api/validate"), ("POST", "/api/designs"), ("PUT", "/api/designs/ID"),
          ("POST", "/api/export?format=pytorch"))
PER_EXAMPLE = 10  # payloads sent per hypothesis example
EXAMPLES_PER_EVENT = 80  # 10 document or message events, plus unknown ones: 8,800 payloads
EXAMPLES_PER_ROUTE = 60  # 4 routes: 2,400 bodies
MIN_ANSWERS = 10_000
ANSWER_WITHIN = 1.0  # seconds: the bound on every answer to a malformed payload
EXPORT_WITHIN = 10.0  # seconds a valid design's export or validation may take
# Answers are tallied, not raised, so there is nothing to shrink: generation only.
FUZZ = settings(derandomize=True, database=None, deadline=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))
# The server as `layerlab serve` runs it, with one run training at once and two queued: the
# other client's run holds the slot, so fuzzed `train` payloads that happen to be valid queue
# (then get `busy`) instead of training on the machine's two cores.
LAUNCH = """
import sys
import server
make = server.create_app
server.create_app = lambda config=None: make({**(config or {}), "MAX_CONCURRENT_RUNS": 1,
                                             "MAX_QUEUED_RUNS": 2})
from server.web.serve import serve
serve("127.0.0.1", 0, sys.argv[1])
"""


class Fuzz:
    """The live server, the fuzzing connection, the other client's run and the tallies."""

    def __init__(self, tmp: Path):
        self.log_path = tmp / "server.log"
        self.log = self.log_path.open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-c", LAUNCH, str(tmp / "data")],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log,
                                        text=True, env=env)
        line = self.process.stdout.readline()
        assert line.startswith("Layerlab running at"), (line, self.server_log())
        self.url = line.split()[-1].rstrip("/")
        self.answers: Counter = Counter()  # (target, outcome) -> count
        self.slow: list[tuple[float, str]] = []
        self.slowest = 0.0  # seconds of the slowest answer held to ANSWER_WITHIN
        self.problems: list[str] = []
        self.done: set[str] = set()
        self.started = time.monotonic()

    def server_log(self) -> str:
        """What the server wrote to stderr so far."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        """Stop the server as Ctrl-C would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def judge(self, target: str, answer, seconds: float, what, limit=ANSWER_WITHIN) -> None:
        """Tally one answer; note anything the issue forbids."""
        if limit == ANSWER_WITHIN:
            self.slowest = max(self.slowest, seconds)
        if seconds > limit:
            self.slow.append((seconds, f"{target}: {str(what)[:200]}"))
        if not isinstance(answer, dict) or not isinstance(answer.get("ok", False), bool):
            self.problems.append(f"{target}: not an answer: {str(answer)[:200]}")
            outcome = "malformed"
        elif answer.get("error") == "internal":
            self.problems.append(f"{target}: internal for {str(what)[:300]}")
            outcome = "internal"
        else:
            outcome = answer.get("error") or ("ok" if answer.get("ok", True) else "invalid")
        self.answers[(target, outcome)] += 1

    def total(self) -> int:
        """Answers counted so far."""
        return sum(self.answers.values())


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    """The live server with another client's run training, slowed, and a fuzzing connection."""
    f = Fuzz(tmp_path_factory.mktemp("fuzz"))
    try:
        f.trainer = Client(f.url)
        f.run_id, f.token = f.trainer.train(endless())
        f.trainer.wait_state(f.run_id, "running", timeout=120)
        ack = f.trainer.call("set_hparams", {"run_id": f.run_id, "token": f.token, "speed": 30})
        assert ack["ok"], ack
        f.sio = raw_client(f.url)
        status, body = request(f.url, "POST", "/api/designs", json.dumps(example()))
        assert status == 201, body
        f.design_id, f.owner = body["id"], body.get("owner")
        # The first export imports torch in the server; the fuzz times later answers only.
        assert request(f.url, "POST", "/api/export?format=pytorch",
                       json.dumps(example()))[0] == 200
        yield f
    finally:
        if hasattr(f, "sio"):
            f.sio.disconnect()
        if hasattr(f, "trainer"):
            f.trainer.close()
        f.close()


# -- what is generated ----------------------------------------------------------------------

def nested(depth: int):
    """A list nested `depth` deep."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(),
    st.sampled_from([2**53, 2**53 + 1, -2**63, 10**30, 10**400, 0.1, -1, 0, 1e308]),
    st.floats(),  # NaN and +-Infinity included: json.dumps writes them as NaN, Infinity
    st.text(max_size=16),
    st.builds(lambda n, c: c * n, st.integers(1000, 100_000), st.sampled_from("x€\ud800\0<")),
    st.binary(max_size=16),  # bytes: a Socket.IO binary attachment
    st.integers(60, 300).map(nested),
    JSON)
RAW = st.one_of(
    st.integers(65, 100_000).map(lambda d: Raw("[" * d + "]" * d)),
    st.integers(65, 5_000).map(lambda d: Raw('{"a":' * d + "1" + "}" * d)),
    st.sampled_from([Raw(t) for t in ("NaN", "-Infinity", '{"x": NaN}', "[1e999]", "{", "]",
                                      '{"a": 1,}', "'single'", "0x10", "1" * 5000, '"\\ud800"',
                                      "[" * 64 + "]" * 64, '{"run_id": Infinity}', "")]))


@st.composite
def mutated(draw, base: dict):
    """`base` with up to three of its values replaced, removed or joined by unknown keys."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 3))):  # 0: well-formed, to reach the layers below
        paths = list(walk(doc))
        if not paths:
            break
        parent, key = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(HOSTILE)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent[key], dict):
            parent[key][draw(st.text(max_size=10))] = draw(HOSTILE)
        else:
            parent[key] = draw(HOSTILE)
    return doc


def walk(value):
    """(parent, key) of every value inside plain JSON lists and objects."""
    stack = [value]
    while stack:
        node = stack.pop()
        for key, item in node.items() if isinstance(node, dict) else enumerate(node):
            yield node, key
            if isinstance(item, (dict, list)):
                stack.append(item)


def documents() -> st.SearchStrategy:
    """Network documents: mostly mutated examples, some random JSON and raw text."""
    bases = [example(name) for name in EXAMPLES]
    return st.one_of(st.sampled_from(bases).flatmap(mutated), mutated(bases[0]), JSON, HOSTILE,
                     RAW)


def messages(event: str, fuzz: Fuzz) -> st.SearchStrategy:
    """Messages of one event, mutated from a well-formed one (never the run's real token)."""
    run = st.sampled_from([fuzz.run_id, "nope", "x" * 64])
    base = {"control": {"run_id": fuzz.run_id, "token": "wrong", "action": "pause",
                        "steps": 1},
            "set_hparams": {"run_id": fuzz.run_id, "token": "wrong", "lr": 0.1, "speed": None},
            "watch": {"run_id": fuzz.run_id}, "unwatch": {"run_id": fuzz.run_id},
            "follow_on": {"run_id": fuzz.run_id, "token": "wrong", "next_run_id": "nope",
                          "next_token": "t"},
            "select_sample": {"run_id": fuzz.run_id, "token": "wrong", "index": 0},
            "timeline": {"run_id": fuzz.run_id}, "seek": {"run_id": fuzz.run_id, "step": 0}}
    well_formed = run.map(lambda r: {**base[event], "run_id": r})
    return st.one_of(well_formed.flatmap(mutated), well_formed.flatmap(mutated), JSON, HOSTILE,
                     RAW)


def arguments(payloads: st.SearchStrategy) -> st.SearchStrategy:
    """What emit sends: mostly one argument; sometimes none or two."""
    return st.one_of(payloads, payloads, payloads, payloads, payloads, payloads,
                     st.just(None), st.tuples(payloads, JSON))


# -- the fuzz --------------------------------------------------------------------------------

def emit(fuzz: Fuzz, event: str, data) -> None:
    """Send one event and judge its answer."""
    start = time.monotonic()
    try:
        answer = fuzz.sio.call(event, data, timeout=10)
    except Exception as e:  # noqa: BLE001 - no answer at all is what is being counted
        answer = f"no answer: {type(e).__name__}"
    fuzz.judge(event, answer, time.monotonic() - start, data)


def post(fuzz: Fuzz, method: str, path: str, body: str | bytes, content_type: str) -> None:
    """Send one body to a JSON route and judge its answer."""
    headers = {}
    if "ID" in path:
        path = path.replace("ID", fuzz.design_id)
        headers = {"X-Layerlab-Owner": fuzz.owner} if fuzz.owner else {}
    start, status = time.monotonic(), 0
    try:
        status, answer = request(fuzz.url, method, path, body, content_type, headers)
        if status >= 500:
            answer = {"ok": False, "error": "internal", "status": status, "body": answer}
        elif status < 300:
            answer = {"ok": True}
    except Exception as e:  # noqa: BLE001 - no answer at all is what is being counted
        answer = f"no answer: {type(e).__name__}: {e}"
    # A refusal answers within the bound; a design that is valid may take an export's time.
    fuzz.judge(path, answer, time.monotonic() - start, body,
               ANSWER_WITHIN if status >= 300 else EXPORT_WITHIN)


def body_text(value) -> str | bytes:
    """A generated value as a request body (bytes values as text, so the body is JSON)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bytes):
        return value
    return json.dumps(value, default=lambda b: b.decode("latin-1"))


@pytest.mark.parametrize("event", ["validate", "train", *MESSAGE_EVENTS])
def test_fuzz_event(fuzz, event):
    payloads = arguments(documents() if event in ("validate", "train") else
                         messages(event, fuzz))

    @settings(FUZZ, max_examples=EXAMPLES_PER_EVENT)
    @given(st.data())
    def send_batch(data):
        for _ in range(PER_EXAMPLE):
            emit(fuzz, event, data.draw(payloads))

    send_batch()
    fuzz.done.add(event)
    assert not fuzz.problems, fuzz.problems[:5]


def test_fuzz_unknown_and_reserved_events(fuzz):
    names = st.one_of(st.text(max_size=30), st.sampled_from(
        ["connect", "disconnect", "connect_error", "message", "json", "*", "", "run_metrics",
         "Validate", "validate ", "__disconnect_final"]))

    @settings(FUZZ, max_examples=EXAMPLES_PER_EVENT)
    @given(st.data())
    def send_batch(data):
        for _ in range(PER_EXAMPLE):
            name = data.draw(names.filter(lambda n: n not in MESSAGE_EVENTS + ("validate",
                                                                                 "train")))
            emit(fuzz, name, data.draw(arguments(HOSTILE)))

    send_batch()
    fuzz.done.add("unknown")
    assert not fuzz.problems, fuzz.problems[:5]


@pytest.mark.parametrize("method, path", ROUTES)
def test_fuzz_json_route(fuzz, method, path):
    types = st.sampled_from(["application/json"] * 6 + [
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/json; charset=utf-8", None])

    @settings(FUZZ, max_examples=EXAMPLES_PER_ROUTE)
    @given(st.data())
    def send_batch(data):
        for _ in range(PER_EXAMPLE):
            post(fuzz, method, path, body_text(data.draw(documents())), data.draw(types))

    send_batch()
    fuzz.done.add(path)
    assert not fuzz.problems, fuzz.problems[:5]


def test_after_the_fuzz_everything_still_answers(fuzz):
    """Runs last: the counts, the log, the fuzzing connection, the server, the other run."""
    seconds = time.monotonic() - fuzz.started
    outcomes, targets = Counter(), Counter()
    for (target, outcome), n in fuzz.answers.items():
        outcomes[outcome] += n
        targets[target if target in fuzz.done or target.startswith("/") else "unknown"] += n
    print(f"\nfuzz: {fuzz.total():,} answers in {seconds:.0f} s, the slowest refusal in "
          f"{fuzz.slowest:.2f} s; by target {dict(targets)}; by outcome {dict(outcomes)}")
    assert not fuzz.problems, fuzz.problems[:5]
    assert not fuzz.slow, sorted(fuzz.slow, reverse=True)[:5]
    if len(fuzz.done) == 11 + len(ROUTES):  # every fuzz test above ran
        assert fuzz.total() >= MIN_ANSWERS, fuzz.answers
    ack = fuzz.sio.call("validate", example(), timeout=ANSWER_WITHIN)
    assert ack["ok"], ack
    assert fuzz.process.poll() is None, fuzz.server_log()[-3000:]
    assert request(fuzz.url, "GET", "/api/health", None, None)[0] == 200
    step = max((p["step"] for p in fuzz.trainer.points(fuzz.run_id)), default=0)
    wait_for(lambda: max(p["step"] for p in fuzz.trainer.points(fuzz.run_id)) > step, 30,
             "the other client's run to train on")
    log = fuzz.server_log()
    assert "Traceback" not in log and "unexpected error" not in log, log[-5000:]
