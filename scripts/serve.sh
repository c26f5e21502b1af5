#!/usr/bin/env bash
# Set up (first time) and run the Layerlab editor at http://127.0.0.1:5000/ .
# Extra arguments go to `layerlab serve` (e.g. --port 8000 --data-dir ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/layerlab serve --data-dir "${LAYERLAB_DATA_DIR:-./data}" "$@"
