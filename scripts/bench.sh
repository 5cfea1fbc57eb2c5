#!/usr/bin/env bash
# The benchmark of issue 5: a thin wrapper of scripts/bench.py, which does all the work
# (`scripts/bench.sh --help` tells what; docs/PERFORMANCE.md explains the rig and the figures).
#
#   sudo scripts/bench.sh [--quick] [--build-dir DIR] [--out FILE] [--cases A,B,...]
#
# Writes bench-results.json (one object per case) in the current directory and prints a table;
# logs stay in BUILD_DIR/bench-logs/. Not a test: never run from meson test or CI.
set -euo pipefail
BENCH_PROG=scripts/bench.sh exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
