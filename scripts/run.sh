#!/usr/bin/env bash
# scripts/run.sh [CONFIG] — builds bucketgate (release) and runs it. With no argument it runs
# config/local.toml: the embedded backend, data under ./data, on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
exec cargo run --release -- run --config "${1:-config/local.toml}"
