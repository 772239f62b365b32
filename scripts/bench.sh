#!/usr/bin/env bash
# scripts/bench.sh — end-to-end overhead benchmark: the backend directly vs an nginx `proxy_pass`
# vs bucketgate, all on 127.0.0.1, from a fresh Debian machine (run as root the first time:
# `scripts/setup.sh bench` apt-installs wrk, nginx, Ceph RGW and the Python clients).
#
#   scripts/bench.sh                      (ROUNDS=1 DUR=3 scripts/bench.sh for a quick look)
#
# It starts its own Ceph RGW (scripts/rgw.sh, private data dir and ports, beast tcp_nodelay=1) or
# a static nginx "null origin" (BACKEND=null: files in /dev/shm, PUT via the dav module, to
# isolate proxy cost), an nginx proxy (1 worker, upstream keep-alive, proxy_request_buffering off)
# and the gateway (target/release/bucketgate, `cargo build --release` only if missing) with a
# generated config; creates the bucket through the gateway (so it records the owner) and the
# objects; then drives every target with wrk (-t1) in ROUNDS interleaved rounds (round r starts at
# target r) and reads each process's CPU (utime+stime in /proc/PID/stat, per completed request)
# and memory (VmHWM / VmRSS in /proc/PID/status). Scenarios ($SCENARIOS):
#   get1k  GET 1 KiB, presigned SigV4 URL, c=$C_SMALL       (own CPU per request)
#   hdr1k  GET 1 KiB, Authorization header (signed just before the run, replayed), c=$C_SMALL
#   lat1k  GET 1 KiB, presigned, c=1                         (p50 latency added over direct)
#   get1m  GET 1 MiB, presigned, c=$C_LARGE
#   put1m  PUT 1 MiB, presigned URLs (UNSIGNED-PAYLOAD) to $NPUT keys round-robin, c=$C_LARGE
#   chk1m  PUT 1 MiB, header-signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB
#          chunks, every chunk signature verified), built once per run and replayed, c=$C_LARGE
#   idle   once, after the rounds: $IDLE_CONNS connections each send one complete GET with
#          keep-alive and stay open; reports the target's VmRSS (issue target: <= 64 MiB)
#   churn  once, last, bucketgate only: VmRSS of the fresh process (before any request), then a
#          mixed workload ($CHURN_BUCKETS buckets created, written, emptied, deleted; $CHURN_PAR
#          concurrent multipart uploads of $CHURN_MIB MiB, read back), then $CHURN_SETTLE s idle:
#          VmRSS must come back within 2x of the fresh process's (issue target)
# Load scenarios (once each, bucketgate only; scripts/bench-load.sh runs them):
#   busyidle  $IDLE_CONNS idle keep-alive connections held open while wrk runs GET 1 KiB at
#             c=$C_SMALL: the gateway's VmRSS and the active clients' p50/p99 (target <= 64 MiB)
#   slowloris GET 1 KiB throughput at c=$C_SMALL without, then with $SLOW_CONNS connections each
#             sending a request head one byte a second (closed after the gateway's
#             header_read_timeout_seconds = $GW_HEADER_TIMEOUT): target >= 90% of the first
#   flood     requests_per_second_per_ip = $FLOOD_LIMIT (SIGHUP), then GET 1 KiB at c=$C_SMALL from
#             one IP: SlowDown answers per second and per second of gateway CPU
#   bigput    $BIGPUT_N concurrent header-signed aws-chunked PUTs of $BIGPUT_MIB MiB: peak VmRSS
# Prints a markdown report (summary with ratios vs nginx, then every scenario in detail) to stdout
# and $WORK_DIR/report.md; raw rows in $WORK_DIR/results.tsv, wrk outputs in $WORK_DIR/wrk/.
# Exits 1 when any measured run of any target had errors (wrk: connect/read/write/timeout errors
# or non-2xx/3xx answers) or the idle connections were not all served and kept open.
#
# Knobs (environment):
#   ROUNDS=3            interleaved rounds
#   DUR=5               seconds per run (LAT_DUR=$DUR for lat1k); WARMUP=1 s per target+scenario
#   SCENARIOS="get1k hdr1k lat1k get1m put1m chk1m idle churn"
#   CHURN_BUCKETS=200 CHURN_MIB=64 CHURN_PAR=16 CHURN_SETTLE=20
#   TARGETS="direct nginx pingora bucketgate"  (pingora: examples/passthrough.rs, pingora's floor)
#   BACKEND=rgw         rgw | null (static nginx origin on $NULL_PORT)
#   C_SMALL=32 C_LARGE=8 NPUT=8 IDLE_CONNS=1000 BUCKET=perfbench
#   RGW_PORT=7590 RGW_MON_V2_PORT=13330 RGW_MON_V1_PORT=13331 (kept apart from the test RGW on
#                       :7480 and from the OSD port range 16800-17300)
#   BENCH_RGW_DIR       reuse this RGW data dir: a cluster already running there is used and left
#                       running (skips the cluster start-up); default: a fresh one in $WORK_DIR, stopped
#   NGINX_PORT=18480 NULL_PORT=18490 PINGORA_PORT=18550 GW_PORT=18600
#   PASSTHROUGH_BIN=target/release/examples/passthrough (built when missing)
#   GW_THREADS=1        bucketgate [server] threads (nginx runs NGINX_WORKERS=1 worker)
#   GW_RUST_LOG=info    RUST_LOG for the gateway (info = one log line per request, as deployed;
#                       its log goes to $WORK_DIR/bucketgate.log, trimmed to the last lines at exit)
#   BUCKETGATE_BIN=target/release/bucketgate
#   WORK_DIR            default: mktemp -d /tmp/bucketgate-bench.XXXXXX (kept: report, logs)
#   PY=python3          needs boto3 (scripts/setup.sh test|bench installs it)
#   BENCH_SETUP=1       0 = skip `scripts/setup.sh bench` (no apt/pip checks)
# Everything it starts is stopped by PID on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
B="$HERE/bench"
U="$B/s3util.py"

ROUNDS="${ROUNDS:-3}"
DUR="${DUR:-5}"
LAT_DUR="${LAT_DUR:-$DUR}"
WARMUP="${WARMUP:-1}"
SCENARIOS="${SCENARIOS:-get1k hdr1k lat1k get1m put1m chk1m idle churn}"
CHURN_BUCKETS="${CHURN_BUCKETS:-200}"
CHURN_MIB="${CHURN_MIB:-64}"
CHURN_PAR="${CHURN_PAR:-16}"
CHURN_SETTLE="${CHURN_SETTLE:-20}"
SLOW_CONNS="${SLOW_CONNS:-500}"
GW_HEADER_TIMEOUT="${GW_HEADER_TIMEOUT:-30}"
FLOOD_LIMIT="${FLOOD_LIMIT:-100}"
BIGPUT_N="${BIGPUT_N:-100}"
BIGPUT_MIB="${BIGPUT_MIB:-64}"
read -r -a TARGET_LIST <<< "${TARGETS:-direct nginx pingora bucketgate}"
BACKEND="${BACKEND:-rgw}"
C_SMALL="${C_SMALL:-32}"
C_LARGE="${C_LARGE:-8}"
NPUT="${NPUT:-8}"
IDLE_CONNS="${IDLE_CONNS:-1000}"
BUCKET="${BUCKET:-perfbench}"
RGW_PORT="${RGW_PORT:-7590}"
RGW_MON_V2_PORT="${RGW_MON_V2_PORT:-13330}"
RGW_MON_V1_PORT="${RGW_MON_V1_PORT:-13331}"
NGINX_PORT="${NGINX_PORT:-18480}"
NGINX_WORKERS="${NGINX_WORKERS:-1}"
NULL_PORT="${NULL_PORT:-18490}"
GW_PORT="${GW_PORT:-18600}"
PINGORA_PORT="${PINGORA_PORT:-18550}"
PASSTHROUGH_BIN="${PASSTHROUGH_BIN:-$ROOT/target/release/examples/passthrough}"
GW_THREADS="${GW_THREADS:-1}"
GW_RUST_LOG="${GW_RUST_LOG:-info}"
BIN="${BUCKETGATE_BIN:-$ROOT/target/release/bucketgate}"
PY="${PY:-python3}"

# The backend's S3 user: scripts/rgw.sh's "main" user (also the gateway's service credential).
BACKEND_AK=ABCDEFGHIJKLMNOPQRST
BACKEND_SK=abcdefghijklmnopqrstuvwxyzabcdefghijklmn
BACKEND_REGION=us-east-1
# The gateway's own user and advertised region (clients sign with these).
GW_USER=bench
GW_AK=BGBENCHACCESSKEY0001
GW_SK=bucketgate-bench-secret-00000000000000000
GW_REGION=nyc3
SYSTEM_BUCKET=bucketgate-bench-system

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 2; }

for t in "${TARGET_LIST[@]}"; do
  case $t in direct|nginx|pingora|bucketgate) ;; *) die "unknown target '$t' (direct, nginx, pingora, bucketgate)";; esac
done
case $BACKEND in rgw|null) ;; *) die "BACKEND must be rgw or null, not '$BACKEND'";; esac
has_target() { local t; for t in "${TARGET_LIST[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

# ------------------------------------------------------------------ install, build
if [ "${BENCH_SETUP:-1}" = 1 ]; then "$HERE/setup.sh" bench >&2; fi
for b in wrk nginx curl ss "$PY"; do command -v "$b" >/dev/null || die "$b not found (scripts/setup.sh bench)"; done
"$PY" -c 'import boto3' 2>/dev/null || die "boto3 is not importable by $PY (scripts/setup.sh test)"
if has_target bucketgate && [ ! -x "$BIN" ]; then
  log "building the gateway: cargo build --release"
  (cd "$ROOT" && cargo build --release) >&2 || die "cargo build --release failed"
fi
# 1000 idle connections plus the upstream ones: every server started below inherits this.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK_DIR="${WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bucketgate-bench.XXXXXX")}"
W="$WORK_DIR"
mkdir -p "$W/wrk" "$W/req"
RES="$W/results.tsv"
IDLE_RES="$W/idle.tsv"

# ------------------------------------------------------------------ process bookkeeping
STARTED=()   # "pid|first word of its command line", stopped in reverse order at exit
RGW_STARTED=""; NULL_ROOT=""
cmd_has() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"; }
stop_pid() { # pid expected-word
  local pid=$1 exp=$2
  cmd_has "$pid" "$exp" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do cmd_has "$pid" "$exp" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local i e
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do e=${STARTED[$i]}; stop_pid "${e%%|*}" "${e#*|}"; done
  if [ -n "$RGW_STARTED" ]; then
    RGW_DIR="$RGW_STARTED" RGW_PURGE="$([ -n "${BENCH_RGW_DIR:-}" ] && echo 0 || echo 1)" \
      "$HERE/rgw.sh" stop >/dev/null 2>&1 || true
  fi
  if [ -n "$NULL_ROOT" ]; then rm -rf "$NULL_ROOT"; fi
  rm -rf "$W/req"
  if [ -f "$W/bucketgate.log" ] && [ "$(stat -c %s "$W/bucketgate.log")" -gt 1048576 ]; then
    tail -n 2000 "$W/bucketgate.log" > "$W/bucketgate.log.tail" && mv "$W/bucketgate.log.tail" "$W/bucketgate.log"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -ltnH "sport = :$1" | grep -q .; }
wait_port() { # port timeout_s pid
  local end=$(( $(date +%s) + $2 ))
  until curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/"; do
    [ -e "/proc/$3" ] || return 1
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
launch() { # name cmd...   -> LAUNCHED_PID (setsid: its own process group, outside our job control)
  local name=$1; shift
  setsid "$@" >"$W/$name.log" 2>&1 </dev/null &
  LAUNCHED_PID=$!
  STARTED+=("$LAUNCHED_PID|$1")
}

# ------------------------------------------------------------------ backend
if [ "$BACKEND" = null ]; then
  port_free "$NULL_PORT" || die "null origin port $NULL_PORT busy"
  NULL_ROOT=$(mktemp -d /dev/shm/bucketgate-bench-null.XXXXXX)
  d="$W/null-origin"
  mkdir -p "$NULL_ROOT/root/$BUCKET" "$NULL_ROOT/tmp" "$d/logs"
  head -c 1024 /dev/urandom > "$NULL_ROOT/root/$BUCKET/obj-1k"
  head -c 1048576 /dev/urandom > "$NULL_ROOT/root/$BUCKET/obj-1m"
  chmod -R a+rwX "$NULL_ROOT"   # nginx workers run as an unprivileged user; PUT (dav) writes here
  cat > "$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_max_body_size 0;
  client_body_temp_path $NULL_ROOT/tmp;
  proxy_temp_path $d/proxy_tmp; fastcgi_temp_path $d/fcgi_tmp;
  uwsgi_temp_path $d/uwsgi_tmp; scgi_temp_path $d/scgi_tmp;
  server {
    listen 127.0.0.1:$NULL_PORT;
    root $NULL_ROOT/root;
    # Bucket level, just enough for the gateway's CreateBucket: its probe (HEAD) finds no
    # bucket, the create (PUT) succeeds, and a listing (its owner index) is empty.
    location ~ "^/[^/]+/?\$" {
      if (\$request_method = PUT) { return 200; }
      if (\$request_method = HEAD) { return 404; }
      default_type application/xml;
      return 200 '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>';
    }
    location / { dav_methods PUT DELETE; create_full_put_path on; }
  }
}
EOF
  launch null-origin nginx -p "$d" -c "$d/nginx.conf"
  BACKEND_PID=$LAUNCHED_PID
  BACKEND_PIDS=$BACKEND_PID
  BACKEND_URL="http://127.0.0.1:$NULL_PORT"
  wait_port "$NULL_PORT" 10 "$BACKEND_PID" || die "null origin did not start (see $W/null-origin.log)"
  log "null origin: nginx pid $BACKEND_PID on $BACKEND_URL (root $NULL_ROOT/root)"
  BACKEND_LABEL="nginx null origin (static files, 1 worker)"
else
  RGW_DIR="${BENCH_RGW_DIR:-$W/rgw}"
  export RGW_DIR RGW_PORT RGW_MON_V2_PORT RGW_MON_V1_PORT RGW_WEBSITE_PORT=0
  if [ -s "$RGW_DIR/pids/rgw.a.pid" ] && cmd_has "$(cat "$RGW_DIR/pids/rgw.a.pid")" radosgw; then
    log "reusing the RGW running in $RGW_DIR (left running)"
    "$HERE/rgw.sh" start > "$W/rgw-start.log" 2>&1 || { cat "$W/rgw-start.log" >&2; die "rgw.sh start failed"; }
  else
    log "starting Ceph RGW in $RGW_DIR on 127.0.0.1:$RGW_PORT (up to a minute)"
    RGW_STARTED=$RGW_DIR
    "$HERE/rgw.sh" start > "$W/rgw-start.log" 2>&1 || { cat "$W/rgw-start.log" >&2; die "rgw.sh start failed"; }
  fi
  grep -q "tcp_nodelay=1" "$RGW_DIR/ceph.conf" ||
    log "WARNING: $RGW_DIR/ceph.conf has no beast tcp_nodelay=1: keep-alive requests will stall ~40 ms"
  BACKEND_PID=$(cat "$RGW_DIR/pids/rgw.a.pid")
  BACKEND_PIDS="$BACKEND_PID $(cat "$RGW_DIR/pids/osd.0.pid")"
  BACKEND_URL="http://127.0.0.1:$RGW_PORT"
  BACKEND_LABEL="Ceph RGW $(radosgw --version 2>/dev/null | awk '{print $3}') (single node, memstore OSD, beast tcp_nodelay=1)"
fi
BACKEND_HOSTPORT="${BACKEND_URL#*://}"

# ------------------------------------------------------------------ targets
declare -A T_URL T_PIDS T_AK T_SK T_REGION
T_URL[direct]=$BACKEND_URL; T_PIDS[direct]=$BACKEND_PID

start_nginx_proxy() {
  port_free "$NGINX_PORT" || die "nginx proxy port $NGINX_PORT busy"
  local d="$W/nginx-proxy"
  mkdir -p "$d/logs"
  cat > "$d/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_temp_path $d/body_tmp; proxy_temp_path $d/proxy_tmp;
  fastcgi_temp_path $d/fcgi_tmp; uwsgi_temp_path $d/uwsgi_tmp; scgi_temp_path $d/scgi_tmp;
  upstream s3backend {
    server $BACKEND_HOSTPORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://s3backend;          # no URI part: the request URI goes upstream verbatim
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;    # SigV4 signs Host: keep the client's host:port
      proxy_request_buffering off;          # stream PUT bodies
      proxy_buffering on;
      proxy_buffers 16 16k;
      proxy_max_temp_file_size 0;           # never spool responses to disk
    }
  }
}
EOF
  launch nginx-proxy nginx -p "$d" -c "$d/nginx.conf"
  wait_port "$NGINX_PORT" 10 "$LAUNCHED_PID" || die "nginx proxy did not start (see $W/nginx-proxy.log)"
  log "nginx proxy: pid $LAUNCHED_PID on 127.0.0.1:$NGINX_PORT -> $BACKEND_HOSTPORT"
  T_URL[nginx]="http://127.0.0.1:$NGINX_PORT"; T_PIDS[nginx]=$LAUNCHED_PID
}

# pingora's own floor: examples/passthrough.rs, a ProxyHttp that only forwards (same pingora,
# allocator and thread count as the gateway, Host kept as nginx keeps it).
start_pingora_passthrough() {
  port_free "$PINGORA_PORT" || die "pingora pass-through port $PINGORA_PORT busy"
  [ -x "$PASSTHROUGH_BIN" ] || (cd "$ROOT" && cargo build --release --example passthrough >&2) ||
    die "could not build examples/passthrough.rs"
  launch pingora "$PASSTHROUGH_BIN" "127.0.0.1:$PINGORA_PORT" "$BACKEND_HOSTPORT" "$GW_THREADS"
  wait_port "$PINGORA_PORT" 10 "$LAUNCHED_PID" || die "pingora pass-through did not start (see $W/pingora.log)"
  log "pingora pass-through: pid $LAUNCHED_PID on 127.0.0.1:$PINGORA_PORT -> $BACKEND_HOSTPORT"
  T_URL[pingora]="http://127.0.0.1:$PINGORA_PORT"; T_PIDS[pingora]=$LAUNCHED_PID
}

start_gateway() {
  port_free "$GW_PORT" || die "gateway port $GW_PORT busy"
  local kind=rgw; [ "$BACKEND" = null ] && kind=generic
  mkdir -p "$W/gw"
  cat > "$W/gw/bucketgate.toml" <<EOF
# generated by scripts/bench.sh
[server]
listen = ["127.0.0.1:$GW_PORT"]
region = "$GW_REGION"
domain = "bench.test"
threads = $GW_THREADS
grace_period_seconds = 1

[backend]
kind = "$kind"
endpoint = "$BACKEND_URL"
region = "$BACKEND_REGION"
access_key = "$BACKEND_AK"
secret_key = "$BACKEND_SK"
system_bucket = "$SYSTEM_BUCKET"

[limits]
header_read_timeout_seconds = $GW_HEADER_TIMEOUT

[[users]]
id = "$GW_USER"
display_name = "Benchmark User"
access_key = "$GW_AK"
secret_key = "$GW_SK"
EOF
  "$BIN" check-config "$W/gw/bucketgate.toml" >&2 || die "generated gateway config does not validate ($W/gw/bucketgate.toml)"
  RUST_LOG="$GW_RUST_LOG" launch bucketgate "$BIN" run --config "$W/gw/bucketgate.toml"
  wait_port "$GW_PORT" 30 "$LAUNCHED_PID" || { tail -20 "$W/bucketgate.log" >&2; die "bucketgate did not come up on :$GW_PORT (log $W/bucketgate.log)"; }
  log "bucketgate: pid $LAUNCHED_PID on 127.0.0.1:$GW_PORT ($BIN, threads $GW_THREADS, RUST_LOG=$GW_RUST_LOG)"
  sleep 1
  read -r GW_FRESH_RSS _ < <("$PY" "$U" rss "$LAUNCHED_PID")
  T_URL[bucketgate]="http://127.0.0.1:$GW_PORT"; T_PIDS[bucketgate]=$LAUNCHED_PID
  T_AK[bucketgate]=$GW_AK; T_SK[bucketgate]=$GW_SK; T_REGION[bucketgate]=$GW_REGION
}

for t in "${TARGET_LIST[@]}"; do
  T_AK[$t]=$BACKEND_AK; T_SK[$t]=$BACKEND_SK; T_REGION[$t]=$BACKEND_REGION
  case $t in
    nginx) start_nginx_proxy ;;
    pingora) start_pingora_passthrough ;;
    bucketgate) start_gateway ;;
  esac
done

# ------------------------------------------------------------------ bucket and objects
# Through the gateway when it is a target (it records the bucket's owner), else directly.
if has_target bucketgate; then
  # With the null origin the objects are the static files made above: only the bucket's record.
  sizes=(1k 1m); [ "$BACKEND" = null ] && sizes=()
  "$PY" "$U" setup "${T_URL[bucketgate]}" "$GW_AK" "$GW_SK" "$GW_REGION" "$BUCKET" "${sizes[@]}" >&2 ||
    die "bucket/object setup through the gateway failed (log $W/bucketgate.log)"
elif [ "$BACKEND" = rgw ]; then
  "$PY" "$U" setup "$BACKEND_URL" "$BACKEND_AK" "$BACKEND_SK" "$BACKEND_REGION" "$BUCKET" 1k 1m >&2
fi

# ------------------------------------------------------------------ per-target fixtures and checks
head -c 1048576 /dev/urandom > "$W/req/body-1m"
declare -A URL_GET1K URL_GET1M
for t in "${TARGET_LIST[@]}"; do
  "$PY" "$U" presign "${T_URL[$t]}" "${T_AK[$t]}" "${T_SK[$t]}" "${T_REGION[$t]}" "$BUCKET" 1k 1m > "$W/urls-$t.txt"
  URL_GET1K[$t]=$(awk '$1=="GET1k"{print $2}' "$W/urls-$t.txt")
  URL_GET1M[$t]=$(awk '$1=="GET1m"{print $2}' "$W/urls-$t.txt")
  "$PY" "$U" rawput "$W/req/put-$t" presigned "${T_URL[$t]}" "${T_AK[$t]}" "${T_SK[$t]}" "${T_REGION[$t]}" "$BUCKET" "$NPUT" "$W/req/body-1m"
  r=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "${URL_GET1K[$t]}")
  [ "$r" = "200 1024" ] || die "target $t: presigned GET 1 KiB gave '$r' (${URL_GET1K[$t]})"
  r=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "${URL_GET1M[$t]}")
  [ "$r" = "200 1048576" ] || die "target $t: presigned GET 1 MiB gave '$r'"
  bad="${URL_GET1K[$t]%?}0"; [ "$bad" != "${URL_GET1K[$t]}" ] || bad="${URL_GET1K[$t]%?}1"
  tampered=$(curl -s -o /dev/null -w '%{http_code}' "$bad")
  # Nagle vs delayed ACK shows up as ~40 ms on every reused-connection request.
  ka=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{time_total}\n' "${URL_GET1K[$t]}" "${URL_GET1K[$t]}" "${URL_GET1K[$t]}" | tail -1)
  log "target $t: ${T_URL[$t]} pid ${T_PIDS[$t]}: GET ok; tampered signature -> HTTP $tampered; 3rd keep-alive GET ${ka}s"
  awk -v k="$ka" 'BEGIN{exit !(k > 0.03)}' && log "WARNING: target $t: a keep-alive request took ${ka}s (Nagle + delayed ACK?)"
  if [ "$BACKEND" = rgw ] || [ "$t" = bucketgate ]; then   # the null origin checks nothing
    case $tampered in 4??) ;; *) die "target $t accepted a tampered signature (HTTP $tampered)";; esac
  fi
done

# ------------------------------------------------------------------ runs
printf 'round\tscenario\ttarget\trequests\tduration_us\terrors\tp50_us\tp99_us\tcpu_t_s\tcpu_b_s\tcpu_u_s\tobj_bytes\trss_kb\thwm_kb\n' > "$RES"
FAILED=0

run_one() { # round scenario target duration
  local rnd=$1 s=$2 t=$3 dur=$4 conns url size script="$B/result.lua" hdr=() args=()
  case $s in
    get1k) conns=$C_SMALL; url=${URL_GET1K[$t]}; size=1024 ;;
    lat1k) conns=1; url=${URL_GET1K[$t]}; size=1024 ;;
    get1m) conns=$C_LARGE; url=${URL_GET1M[$t]}; size=1048576 ;;
    hdr1k) conns=$C_SMALL; url="${T_URL[$t]}/$BUCKET/obj-1k"; size=1024
           while IFS= read -r l; do hdr+=(-H "$l"); done < <("$PY" "$U" sign-headers "${T_URL[$t]}" \
              "${T_AK[$t]}" "${T_SK[$t]}" "${T_REGION[$t]}" "$BUCKET" obj-1k) ;;
    put1m) conns=$C_LARGE; url=${T_URL[$t]}/; size=1048576; script="$B/replay.lua"
           args=(-- "$W/req/put-$t"/*.req) ;;
    chk1m) conns=$C_LARGE; url=${T_URL[$t]}/; size=1048576; script="$B/replay.lua"
           rm -rf "$W/req/chk-$t"
           "$PY" "$U" rawput "$W/req/chk-$t" chunked "${T_URL[$t]}" "${T_AK[$t]}" "${T_SK[$t]}" \
             "${T_REGION[$t]}" "$BUCKET" "$NPUT" "$W/req/body-1m"
           args=(-- "$W/req/chk-$t"/*.req) ;;
    *) die "unknown scenario $s" ;;
  esac
  local c0 c1 out res
  read -r -a c0 < <("$PY" "$U" cpu "${T_PIDS[$t]}" "$BACKEND_PIDS")
  out=$(wrk -t1 -c"$conns" -d"${dur}s" --timeout 10s --latency -s "$script" "${hdr[@]}" "$url" "${args[@]}" 2>&1) || true
  read -r -a c1 < <("$PY" "$U" cpu "${T_PIDS[$t]}" "$BACKEND_PIDS")
  printf '%s\n' "$out" > "$W/wrk/$rnd-$s-$t.txt"
  [ -e "/proc/${T_PIDS[$t]}" ] || die "target $t (pid ${T_PIDS[$t]}) died during $s (log in $W)"
  [ "$rnd" = warm ] && return 0
  res=$(grep '^WRKRESULT' <<< "$out" | tail -1) || { echo "$out" >&2; die "wrk gave no result ($s $t)"; }
  local n dus ec er ew es et p50 p99 rss hwm
  read -r _ n dus _ ec er ew es et p50 p99 <<< "$res"
  local errs=$((ec + er + ew + es + et))
  read -r rss hwm < <("$PY" "$U" rss "${T_PIDS[$t]}")
  local ct cb cu
  ct=$(awk -v a="${c0[0]}" -v b="${c1[0]}" 'BEGIN{printf "%.2f", b-a}')
  cb=$(awk -v a="${c0[1]}" -v b="${c1[1]}" 'BEGIN{printf "%.2f", b-a}')
  cu=$(awk -v a="${c0[2]}" -v b="${c1[2]}" 'BEGIN{printf "%.2f", b-a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rnd" "$s" "$t" "$n" "$dus" "$errs" \
    "$p50" "$p99" "$ct" "$cb" "$cu" "$size" "$rss" "$hwm" >> "$RES"
  awk -v r="$rnd" -v s="$s" -v t="$t" -v n="$n" -v d="$dus" -v sz="$size" -v ct="$ct" -v cb="$cb" \
      -v p50="$p50" -v p99="$p99" -v e="$errs" 'BEGIN{
      rps=n/(d/1e6); printf "[bench] r%s %-5s %-10s %8.0f req/s %7.1f MiB/s  own %6.1f us/req  backend %6.1f us/req  p50 %6d us  p99 %6d us  err %d\n",
      r, s, t, rps, rps*sz/1048576, (n? ct*1e6/n : 0), (n? cb*1e6/n : 0), p50, p99, e}' >&2
  if [ "$errs" != 0 ]; then
    FAILED=1
    log "ERRORS in $s/$t (wrk output: $W/wrk/$rnd-$s-$t.txt):"
    grep -E 'errors|Non-2xx' <<< "$out" >&2 || true
  fi
}

WRK_SCEN=(); DO_IDLE=0; DO_CHURN=0; LOAD_SCEN=()
for s in $SCENARIOS; do
  case $s in idle) DO_IDLE=1 ;; churn) DO_CHURN=1 ;; busyidle|slowloris|flood|bigput) LOAD_SCEN+=("$s") ;; get1k|hdr1k|lat1k|get1m|put1m|chk1m) WRK_SCEN+=("$s") ;; *) die "unknown scenario '$s'" ;; esac
done
nt=${#TARGET_LIST[@]}
log "work dir $W; targets ${TARGET_LIST[*]}; scenarios ${SCENARIOS}; $ROUNDS round(s) x ${DUR}s; backend $BACKEND_URL (pids $BACKEND_PIDS)"
if [ "$WARMUP" != 0 ]; then
  for s in "${WRK_SCEN[@]}"; do for t in "${TARGET_LIST[@]}"; do run_one warm "$s" "$t" "$WARMUP"; done; done
fi
for rnd in $(seq 1 "$ROUNDS"); do
  for s in "${WRK_SCEN[@]}"; do
    d=$DUR; [ "$s" = lat1k ] && d=$LAT_DUR
    for k in $(seq 0 $((nt - 1))); do
      run_one "$rnd" "$s" "${TARGET_LIST[$(( (k + rnd - 1) % nt ))]}" "$d"
    done
  done
done

if [ "$DO_IDLE" = 1 ]; then
  printf 'target\tconns\topen\trss_before_kb\trss_idle_kb\thwm_kb\tfailed\n' > "$IDLE_RES"
  for t in "${TARGET_LIST[@]}"; do
    read -r open before rss hwm failed < <("$PY" "$U" idle "${URL_GET1K[$t]}" "$IDLE_CONNS" "${T_PIDS[$t]}" 1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$IDLE_CONNS" "$open" "$before" "$rss" "$hwm" "$failed" >> "$IDLE_RES"
    log "idle: $t: $open of $IDLE_CONNS keep-alive connections open ($failed failed), VmRSS $((before / 1024)) -> $((rss / 1024)) MiB"
    if [ "$open" != "$IDLE_CONNS" ] || [ "$failed" != 0 ]; then FAILED=1; fi
  done
fi

# ------------------------------------------------------------------ load scenarios
LOAD_LINES=()
wrk_get1k() { # -> "requests duration_us non2xx p50 p99" of one wrk run on the gateway
  local out res
  out=$(wrk -t1 -c"$C_SMALL" -d"${DUR}s" --timeout 10s --latency -s "$B/result.lua" "${URL_GET1K[bucketgate]}" 2>&1) || true
  res=$(grep '^WRKRESULT' <<< "$out" | tail -1) || { echo "$out" >&2; die "wrk gave no result"; }
  local n dus ec er ew es et p50 p99
  read -r _ n dus _ ec er ew es et p50 p99 <<< "$res"
  echo "$n $dus $es $p50 $p99 $((ec + er + ew + et))"
}
if [ "${#LOAD_SCEN[@]}" -gt 0 ]; then has_target bucketgate || die "load scenarios need the bucketgate target"; fi
GWPID=${T_PIDS[bucketgate]:-}
for s in "${LOAD_SCEN[@]}"; do
  case $s in
    busyidle)
      "$PY" "$U" hold "${URL_GET1K[bucketgate]}" "$IDLE_CONNS" $((DUR + 8)) > "$W/hold.out" 2> "$W/hold.err" &
      hp=$!
      for _ in $(seq 1 120); do grep -q held "$W/hold.err" 2>/dev/null && break; sleep 0.5; done
      read -r n dus non2xx p50 p99 errs < <(wrk_get1k)
      read -r rss _ < <("$PY" "$U" rss "$GWPID")
      wait "$hp"; read -r open failed < "$W/hold.out"
      line="busyidle: $open of $IDLE_CONNS idle keep-alive connections held ($failed failed) while $C_SMALL connections ran GET 1 KiB: $(awk -v n="$n" -v d="$dus" 'BEGIN{printf "%.0f", n/(d/1e6)}') req/s, p50 ${p50} µs, p99 ${p99} µs, errors $((non2xx + errs)); gateway VmRSS $((rss / 1024)) MiB (target <= 64)"
      [ "$open" = "$IDLE_CONNS" ] && [ "$((non2xx + errs))" = 0 ] || FAILED=1 ;;
    slowloris)
      read -r n0 d0 _ _ _ _ < <(wrk_get1k)
      "$PY" "$U" slowloris "127.0.0.1:$GW_PORT" "$SLOW_CONNS" $((GW_HEADER_TIMEOUT + 20)) > "$W/slow.out" &
      sp=$!
      sleep 2
      read -r n1 d1 non2xx _ _ errs < <(wrk_get1k)
      wait "$sp"; read -r closed median open < "$W/slow.out"
      ratio=$(awk -v a="$n0" -v da="$d0" -v b="$n1" -v db="$d1" 'BEGIN{printf "%.2f", (b/db)/(a/da)}')
      line="slowloris: GET 1 KiB at c=$C_SMALL: $(awk -v n="$n0" -v d="$d0" 'BEGIN{printf "%.0f", n/(d/1e6)}') req/s alone, $(awk -v n="$n1" -v d="$d1" 'BEGIN{printf "%.0f", n/(d/1e6)}') req/s beside $SLOW_CONNS one-byte-a-second heads = ${ratio}x (target >= 0.90; errors $((non2xx + errs))); $closed of them closed by the gateway, median after ${median} s (header_read_timeout_seconds = $GW_HEADER_TIMEOUT), $open still open"
      awk -v r="$ratio" 'BEGIN{exit !(r >= 0.9)}' && [ "$open" = 0 ] || FAILED=1 ;;
    flood)
      cp "$W/gw/bucketgate.toml" "$W/gw/bucketgate.toml.orig"
      sed -i "s/^\[limits\]$/[limits]\nrequests_per_second_per_ip = $FLOOD_LIMIT/" "$W/gw/bucketgate.toml"
      kill -HUP "$GWPID"; sleep 2
      read -r -a c0 < <("$PY" "$U" cpu "$GWPID" "$BACKEND_PIDS")
      read -r n dus non2xx _ _ errs < <(wrk_get1k)
      read -r -a c1 < <("$PY" "$U" cpu "$GWPID" "$BACKEND_PIDS")
      cp "$W/gw/bucketgate.toml.orig" "$W/gw/bucketgate.toml"; kill -HUP "$GWPID"; sleep 1
      cpu=$(awk -v a="${c0[0]}" -v b="${c1[0]}" 'BEGIN{printf "%.2f", b-a}')
      line="flood: requests_per_second_per_ip = $FLOOD_LIMIT, GET 1 KiB at c=$C_SMALL from one IP for ${DUR} s: $n answers, $non2xx of them 503 SlowDown = $(awk -v x="$non2xx" -v d="$dus" 'BEGIN{printf "%.0f", x/(d/1e6)}') rejections/s, $(awk -v x="$non2xx" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? x/c : 0)}') per second of gateway CPU (${cpu} s used); connection errors $errs" ;;
    bigput)
      read -r ok failed secs hwm < <("$PY" "$U" bigput "${T_URL[bucketgate]}" "$GW_AK" "$GW_SK" "$GW_REGION" "$BUCKET" "$GWPID" "$BIGPUT_N" "$BIGPUT_MIB")
      line="bigput: $BIGPUT_N concurrent signed aws-chunked PUTs of $BIGPUT_MIB MiB: $ok stored, $failed failed, ${secs} s ($(awk -v n="$BIGPUT_N" -v m="$BIGPUT_MIB" -v s="$secs" 'BEGIN{printf "%.0f", (s > 0 ? n*m/s : 0)}') MiB/s); gateway peak VmRSS (VmHWM) $((hwm / 1024)) MiB"
      [ "$failed" = 0 ] || FAILED=1 ;;
  esac
  log "$line"
  LOAD_LINES+=("$line")
done

CHURN_LINE=""
if [ "$DO_CHURN" = 1 ] && has_target bucketgate; then
  log "churn: $CHURN_BUCKETS buckets, $CHURN_PAR x $CHURN_MIB MiB multipart uploads, then ${CHURN_SETTLE}s idle"
  read -r cb ch ca < <("$PY" "$U" churn "${T_URL[bucketgate]}" "$GW_AK" "$GW_SK" "$GW_REGION" \
    "${T_PIDS[bucketgate]}" "$CHURN_BUCKETS" "$CHURN_MIB" "$CHURN_PAR" "$CHURN_SETTLE") ||
    { FAILED=1; log "churn workload failed"; cb=0 ch=0 ca=0; }
  CHURN_LINE="Memory after a mixed workload (bucketgate): fresh process $((GW_FRESH_RSS / 1024)) MiB; before the workload $((cb / 1024)) MiB; peak (VmHWM, whole run) $((ch / 1024)) MiB; ${CHURN_SETTLE} s after it $((ca / 1024)) MiB = $(awk -v a="$ca" -v f="$GW_FRESH_RSS" 'BEGIN{printf "%.2f", (f ? a/f : 0)}')x the fresh process (target <= 2x)."
  log "$CHURN_LINE"
fi

{
  echo "## bucketgate benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Backend: $BACKEND_LABEL at \`$BACKEND_URL\`. Targets: $(for t in "${TARGET_LIST[@]}"; do printf "\`%s\` (%s) " "$t" "${T_URL[$t]}"; done)"
  if has_target bucketgate; then
    echo "Gateway: $("$BIN" --version 2>/dev/null | head -1 || true) at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes'), threads $GW_THREADS, RUST_LOG=$GW_RUST_LOG (log to a file); nginx: $NGINX_WORKERS worker, access_log off."
  fi
  echo "wrk -t1, ${DUR}s per run, c=$C_SMALL / c=$C_LARGE / c=1; $(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  "$PY" "$U" report "$RES" "$IDLE_RES" "${TARGET_LIST[@]}"
  if [ -n "$CHURN_LINE" ]; then echo; echo "$CHURN_LINE"; fi
  for l in "${LOAD_LINES[@]}"; do echo; echo "- $l"; done
} | tee "$W/report.md"
log "report: $W/report.md; raw results: $RES"
if [ "$FAILED" != 0 ]; then log "FAILED: some runs had errors (see above)"; exit 1; fi
