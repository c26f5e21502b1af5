"""A wheel of the project carries the whole app: every package, the page, examples and data."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def project_packages() -> set[str]:
    return {str(p.parent.relative_to(ROOT)).replace("/", ".")
            for p in (ROOT / "server").rglob("__init__.py")}


def test_pyproject_lists_every_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    missing = project_packages() - listed
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


@pytest.mark.timeout(240)
def test_wheel_holds_the_page_examples_and_data(tmp_path):
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
               "-w", str(tmp_path), str(ROOT)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=220)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("layerlab-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    page = {f"server/static/{p.relative_to(ROOT / 'static')}"
            for p in (ROOT / "static").rglob("*") if p.is_file()}
    assert page - names == set(), f"not in the wheel: {sorted(page - names)[:5]}"
    assert "server/templates/index.html" in names
    assert any(n.startswith("server/examples/") and n.endswith(".layerlab.json") for n in names)
    assert any(n.startswith("server/data/files/") for n in names)
    for package in project_packages():
        assert f"{package.replace('.', '/')}/__init__.py" in names
