"""The front end's DOM-free modules, tested with Node's own test runner (no browser needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent / "unit"


@pytest.mark.timeout(120)
def test_front_end_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed; the JS unit tests need `node --test`")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        pytest.skip(f"Node {version} is too old for `node --test` (18 or newer)")
    files = sorted(str(p) for p in UNIT.glob("*.test.mjs"))
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
