#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: unit, server (Socket.IO) and browser tests.
# Extra arguments go to pytest (e.g. -k spiral, -m "not browser").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
. .venv/bin/activate
ruff check server tests bench
set +e
python -m pytest -q "$@"
status=$?
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
exit $status
