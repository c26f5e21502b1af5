"""The `layerlab` CLI as CONTRACTS.md §2 states it: exit codes and the --json last line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SPIRAL = ROOT / "server" / "examples" / "spiral_mlp.layerlab.json"


def layerlab(*args, timeout=120):
    proc = subprocess.run([sys.executable, "-m", "server", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    return proc


def last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_validate_json_valid_and_invalid(tmp_path):
    ok = layerlab("validate", SPIRAL, "--json")
    assert ok.returncode == 0, ok.stderr
    report = last_json(ok)
    assert report["ok"] and report["shapes"]["out"] == [2]
    assert report["total_params"] == sum(report["params"].values()) == 1218
    doc = json.loads(SPIRAL.read_text())
    next(n for n in doc["nodes"] if n["id"] == "fc1")["type"] = "Conv2d"
    bad = tmp_path / "bad.layerlab.json"
    bad.write_text(json.dumps(doc))
    proc = layerlab("validate", bad, "--json")
    assert proc.returncode == 1
    errors = last_json(proc)["errors"]
    assert errors[0]["node"] == "fc1" and "Conv2d" in errors[0]["message"]
    assert set(errors[0]) == {"node", "param", "message"}


def test_validate_usage_and_broken_json(tmp_path):
    assert layerlab("validate").returncode == 2
    assert layerlab("validate", tmp_path / "missing.json").returncode == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    proc = layerlab("validate", broken, "--json")
    assert proc.returncode == 1
    assert "not valid JSON" in last_json(proc)["errors"][0]["message"]
    assert layerlab("train", SPIRAL, "--epochs", "1", "--steps", "2").returncode == 2


def test_train_writes_weights_and_metrics(tmp_path):
    out = tmp_path / "run"
    proc = layerlab("train", SPIRAL, "--epochs", "3", "--out", out, "--json", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc)
    assert summary["ok"] and summary["steps"] == 33 and summary["epochs"] == 3
    assert {"train_loss", "val_loss", "val_accuracy", "samples_per_second", "device",
            "weights"} <= set(summary)
    assert Path(summary["weights"]).is_file()
    assert "step" in proc.stderr  # the progress bar is on stderr
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert history[-1]["step"] == 33


def test_train_failure_exits_1(tmp_path):
    doc = json.loads(SPIRAL.read_text())
    doc["training"]["device"] = "cuda:7"
    path = tmp_path / "gpu.layerlab.json"
    path.write_text(json.dumps(doc))
    proc = layerlab("train", path, "--steps", "2", "--json")
    import torch

    if torch.cuda.device_count() < 8:
        assert proc.returncode == 1
        assert "cuda:7" in last_json(proc)["error"]


def test_export_onnx_check_after_training(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    run = tmp_path / "run"
    assert layerlab("train", SPIRAL, "--steps", "20", "--out", run).returncode == 0
    onnx_path = tmp_path / "spiral.onnx"
    proc = layerlab("export", SPIRAL, "--weights", run / "weights.safetensors", "-o",
                    onnx_path, "--check", timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["ok"] and result["path"] == str(onnx_path)
    assert result["max_abs_diff"] <= 1e-4 and isinstance(result["opset"], int)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: np.zeros((5, 2), np.float32)})[0]
    assert out.shape == (5, 2)


def test_export_pytorch_source_and_bad_weights(tmp_path):
    py = tmp_path / "model.py"
    proc = layerlab("export", SPIRAL, "--format", "pytorch", "-o", py)
    assert proc.returncode == 0, proc.stderr
    assert "class" in py.read_text() and "nn.Module" in py.read_text()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights at all")
    proc = layerlab("export", SPIRAL, "--weights", junk, "-o", tmp_path / "x.onnx", "--json")
    assert proc.returncode == 1 and "junk.safetensors" in last_json(proc)["error"]
