#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, from a fresh Debian machine: installs what is missing,
# starts a real Ceph RGW on loopback, runs formatting and lint checks and every test (unit,
# external-vector and end-to-end against RGW), stops what it started, and exits non-zero on any
# failure. Extra arguments go to `cargo test` (e.g. a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started_rgw=0
cleanup() {
  # Gateways started by the tests die with their test binary; the backend is ours to stop.
  if [ "$started_rgw" = 1 ]; then RGW_PURGE=1 scripts/rgw.sh stop >/dev/null || true; fi
}
trap cleanup EXIT

echo "== format and lint"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

echo "== build"
cargo test --tests --no-run --quiet

echo "== backend: Ceph RGW"
if ! curl -s -o /dev/null -m 2 http://127.0.0.1:7480/; then
  scripts/rgw.sh start
  started_rgw=1
fi

echo "== tests"
log=$(mktemp)
status=0
cargo test --tests "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "bucketgate: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
