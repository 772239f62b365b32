#!/usr/bin/env bash
# scripts/embedded.sh start|stop — the gateway's embedded backend (s3s-fs, what
# config/local.toml runs in-process) as a process of its own on 127.0.0.1, the third backend the
# integration tests run against: `bucketgate embedded` serves only a config's [embedded]
# section. Data lives in a temporary directory removed on stop.
#   start    idempotent: keeps a running server
#   stop     stops the server this script started and deletes its data
#
# Env overrides: EMBEDDED_DIR (.embedded/ at the project root), EMBEDDED_PORT (9011),
# BUCKETGATE_BIN (target/debug/bucketgate, built when missing).
# The S3 service credential is the one the tests' gateways sign with (as RGW's in rgw.sh).
set -euo pipefail
case "${1:-}" in start|stop) ;; *) echo "usage: $0 start|stop" >&2; exit 2;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
D="${EMBEDDED_DIR:-$ROOT/.embedded}"
PORT="${EMBEDDED_PORT:-9011}"
BIN="${BUCKETGATE_BIN:-$ROOT/target/debug/bucketgate}"
ACCESS_KEY="${BACKEND_ACCESS_KEY:-ABCDEFGHIJKLMNOPQRST}"
SECRET_KEY="${BACKEND_SECRET_KEY:-abcdefghijklmnopqrstuvwxyzabcdefghijklmn}"

up() { curl -s -o /dev/null -m 2 "http://127.0.0.1:$PORT/"; }

if [ "$1" = stop ]; then
  if [ -f "$D/embedded.pid" ]; then
    pid=$(cat "$D/embedded.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$D"
  exit 0
fi

if up && [ -f "$D/embedded.pid" ] && kill -0 "$(cat "$D/embedded.pid")" 2>/dev/null; then
  echo "embedded: already running on 127.0.0.1:$PORT"
  exit 0
fi
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet)
rm -rf "$D" && mkdir -p "$D/data"
# A gateway config whose [backend] and [embedded] sections are all `bucketgate embedded` reads
# (the user is required by the config format; nothing listens for it).
cat > "$D/backend.toml" <<TOML
[server]
listen = ["127.0.0.1:1"]
region = "nyc3"
domain = "localhost"

[backend]
kind = "s3s-fs"
endpoint = "http://127.0.0.1:$PORT"
region = "us-east-1"
access_key = "$ACCESS_KEY"
secret_key = "$SECRET_KEY"
system_bucket = "bucketgate-system"

[embedded]
data_dir = "$D/data"

[[users]]
id = "unused"
display_name = "unused"
access_key = "EMBEDDEDUNUSED000000"
secret_key = "embedded-unused-secret-0000000000000000"
TOML
"$BIN" embedded --config "$D/backend.toml" >"$D/embedded.log" 2>&1 &
echo $! > "$D/embedded.pid"
for _ in $(seq 1 60); do
  kill -0 "$(cat "$D/embedded.pid")" 2>/dev/null || break
  if up; then
    echo "embedded: s3s-fs on http://127.0.0.1:$PORT (data in $D, log $D/embedded.log)"
    exit 0
  fi
  sleep 0.5
done
echo "embedded: did not come up; see $D/embedded.log" >&2
tail -20 "$D/embedded.log" >&2
exit 1
