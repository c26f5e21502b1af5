"""The settings of the Ray runner and the message queue, without a cluster (tests/test_cluster.py
runs them for real): refusals that say how to fix them, an embedded default that never loads
Ray, and a run actor's stream of messages."""

import subprocess
import sys

import pytest

from server.__main__ import main
from server.runs.ray_actor import Stream
from tests.live import ROOT, wait_for


@pytest.mark.parametrize(("argv", "says"), [
    (["--message-queue", "redis://127.0.0.1:1/0"], "needs --runner ray"),
    (["--runner", "ray"], "--ray-address ADDRESS or LAYERLAB_RAY_ADDRESS"),
    (["--runner", "ray", "--ray-address", "127.0.0.1:1", "--message-queue", "amqp://x"],
     "redis:// URL"),
])
def test_serve_refuses_settings_that_cannot_work(argv, says, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("LAYERLAB_RAY_ADDRESS", raising=False)
    assert main(["serve", "--data-dir", str(tmp_path), *argv]) == 2
    assert says in capsys.readouterr().err


def test_the_embedded_server_never_loads_ray(tmp_path):
    # (redis-py, where installed, is loaded by python-socketio itself; the app needs it only
    # with a message queue.)
    code = ("import sys; from tests.live import make_app; app = make_app(sys.argv[1]); "
            "app.extensions['layerlab'].close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_a_run_stream_numbers_points_keeps_the_newest_pictures_and_trims_in_chunks():
    stream = Stream(keep=10, frames_keep=2)
    for i in range(30):
        stream.append(("point", "r", {"step": i}))
        if i % 5 == 0:
            stream.append(("frames", "r", {"step": i}, {}))
    small = stream.since(0, None, 0)
    assert len(small) <= 12 and small[-1][1] == 30  # the 30th point, numbered among points
    assert all(m[0] == "point" for _, _, m in small)
    pictures = [e for e in stream.since(0, 0, 0) if e[2][0] == "frames"]
    assert [e[2][2]["step"] for e in pictures] == [20, 25]  # only the newest two kept
    last = small[-1][0]
    assert stream.since(last, None, 0.01) == []  # nothing new: waits, then nothing


def test_a_page_is_told_on_connect_that_the_embedded_runner_can_train(live_server, connect):
    client = connect(live_server)
    got = wait_for(lambda: client.frames_of("server_status"), 10, "server_status on connect")
    assert got[0] == {"runner": {"kind": "local", "ok": True, "message": None}}
