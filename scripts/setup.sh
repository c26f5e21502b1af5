#!/usr/bin/env bash
# Shared set-up for serve.sh and test.sh: a virtual environment in .venv with Layerlab installed.
# Usage: scripts/setup.sh [test]   ("test" also installs the test tools and Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip

# PyTorch first: a CPU/CUDA build already on this machine is used as it is; otherwise 2.13.0
# (any torch>=2.4 works; pyproject.toml says so).
if ! python -c "import torch" 2>/dev/null; then
  pip install -q torch==2.13.0 || pip install -q "torch>=2.4"
fi

if [ "${1:-}" = "test" ]; then
  # box2d: LunarLander is tested too; scale: Ray and redis-py (tests/test_cluster.py)
  pip install -q -e ".[test,box2d,scale]"
  # Browser tests drive Chromium: Debian's package where apt-get is at hand (root),
  # else Playwright's own download.
  if [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >/dev/null
      apt-get install -y -q chromium fonts-dejavu-core >/dev/null
    else
      python -m playwright install chromium || echo "warning: no Chromium; browser tests will skip"
    fi
  fi
  # tests/test_cluster.py starts a Redis server of its own: Debian's package, as for Chromium.
  if [ ! -x /usr/bin/redis-server ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >/dev/null
      apt-get install -y -q redis-server >/dev/null
    else
      echo "warning: no redis-server; the cluster tests will skip"
    fi
  fi
else
  pip install -q -e .
fi
