#!/usr/bin/env bash
# scripts/rgw.sh start|stop|install — a throwaway single-node Ceph RGW (mon + 1 memstore OSD +
# radosgw) serving S3 on 127.0.0.1 only: the real backend the integration tests run against.
# No systemd, nothing outside $RGW_DIR (default: .rgw/ at the project root).
#   start    idempotent: keeps a running cluster (and its data), else builds a fresh one
#   stop     stops only the daemons this script started (RGW_PURGE=1 also deletes the data)
#   install  installs the Debian packages it needs (apt-get; run as root)
# Objects live in the OSD's RAM (memstore): stopping the cluster loses them.
#
# Env overrides: RGW_DIR, RGW_PORT (7480), RGW_WEBSITE_PORT (0 = off), RGW_MON_V2_PORT (13300),
# RGW_MON_V1_PORT (16789), RGW_WITH_MGR (0), RGW_MEMSTORE_BYTES (8 GiB, held in RAM as used), RGW_LC_DEBUG_INTERVAL (10),
# MAIN_ACCESS_KEY / MAIN_SECRET_KEY / ALT_ACCESS_KEY / ALT_SECRET_KEY (s3-tests defaults).
set -euo pipefail

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl)
case "${1:-}" in
  install)
    missing=()
    for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    exit 0;;
  start|stop) ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2;;
esac
ACTION=$1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
D="${RGW_DIR:-$HERE/../.rgw}"
mkdir -p "$D" && D="$(cd "$D" && pwd)"
PORT="${RGW_PORT:-7480}"
WEB_PORT="${RGW_WEBSITE_PORT:-0}"
MON_V2="${RGW_MON_V2_PORT:-13300}"
MON_V1="${RGW_MON_V1_PORT:-16789}"
WITH_MGR="${RGW_WITH_MGR:-0}"
MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-8589934592}"
LC_INTERVAL="${RGW_LC_DEBUG_INTERVAL:-10}"

# s3-tests' well-known defaults, so ceph/s3-tests can be pointed at this too.
MAIN_UID=main;  MAIN_ACCESS_KEY="${MAIN_ACCESS_KEY:-ABCDEFGHIJKLMNOPQRST}"
MAIN_SECRET_KEY="${MAIN_SECRET_KEY:-abcdefghijklmnopqrstuvwxyzabcdefghijklmn}"
ALT_UID=alt;    ALT_ACCESS_KEY="${ALT_ACCESS_KEY:-NOPQRSTUVWXYZABCDEFG}"
ALT_SECRET_KEY="${ALT_SECRET_KEY:-nopqrstuvwxyzabcdefghijklmnabcdefghijklm}"

CONF="$D/ceph.conf"
PIDS="$D/pids"
LOG="$D/log"
C=(-c "$CONF")

stop_cluster() {
  [ -d "$PIDS" ] || { echo "rgw: nothing to stop ($PIDS missing)"; return 0; }
  ours() { # pid binary
    local cmd
    cmd=$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null) || return 1
    [[ "$cmd" == "$2 "*"$CONF"* ]]
  }
  local name f pid bin
  for name in rgw.web rgw.a mgr.x osd.0 mon.a; do
    f="$PIDS/$name.pid"; [ -s "$f" ] || continue
    pid=$(cat "$f")
    case $name in rgw.*) bin=radosgw;; mgr.*) bin=ceph-mgr;; osd.*) bin=ceph-osd;; mon.*) bin=ceph-mon;; esac
    if ours "$pid" "$bin"; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 40); do ours "$pid" "$bin" || break; sleep 0.25; done
      if ours "$pid" "$bin"; then kill -KILL "$pid" 2>/dev/null; echo "rgw: $name ($pid) killed after 10s"; else echo "rgw: $name ($pid) stopped"; fi
    fi
    rm -f "$f"
  done
  if [ "${RGW_PURGE:-0}" = 1 ]; then rm -rf "$D"; echo "rgw: removed $D"; fi
}

if [ "$ACTION" = stop ]; then stop_cluster; exit 0; fi

t_start=$(date +%s.%N)
say() { printf '[rgw %6.1fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$t_start" 'BEGIN{print a-b}')" "$*"; }
die() { echo "rgw: ERROR: $*" >&2; exit 1; }

for b in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool uuidgen curl; do
  command -v "$b" >/dev/null || die "$b not found (run: $0 install)"
done

# pid alive and really the expected binary using *our* conf
alive() { # name binary
  local f="$PIDS/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  local cmd
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmd" == "$2 "*"$CONF"* ]]
}

http_ok() { curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$1/" | grep -q '^[2-4]'; }

wait_for() { # timeout_s description command...
  local t=$1 what=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "timed out after ${t}s waiting for $what (see $LOG/)"
    sleep 0.5
  done
}

# launch a daemon in the foreground mode (-f), detached, remembering its PID
launch() { # name cmd...
  local name=$1; shift
  setsid "$@" >>"$LOG/$name.stdout" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
  say "started $name pid $(cat "$PIDS/$name.pid")"
}

ensure_user() { # uid display access secret
  if radosgw-admin "${C[@]}" user info --uid "$1" >/dev/null 2>&1; then return 0; fi
  radosgw-admin "${C[@]}" user create --uid "$1" --display-name "$2" \
      --email "$1@example.com" --access-key "$3" --secret-key "$4" >/dev/null
}

print_info() {
  local web="" stop="$HERE/rgw.sh stop"
  [ "$WEB_PORT" = 0 ] || web="RGW s3website    : http://127.0.0.1:$WEB_PORT/<bucket>/   (2nd radosgw, rgw_enable_apis=s3website, path-style)
"
  cat <<EOF
RGW S3 endpoint  : http://127.0.0.1:$PORT   (path-style only; any SigV4 region accepted; LocationConstraint must be absent or "default")
${web}main user        : uid=$MAIN_UID access_key=$MAIN_ACCESS_KEY secret_key=$MAIN_SECRET_KEY
alt user         : uid=$ALT_UID access_key=$ALT_ACCESS_KEY secret_key=$ALT_SECRET_KEY
ceph conf        : $CONF   (e.g. radosgw-admin -c $CONF bucket list)
stop             : $stop   (RGW_PURGE=1 also deletes the data dir)
EOF
}

# ---------- already running? ----------
start_rgw() { # name port
  launch "rgw.$1" radosgw -f -n "client.rgw.$1" "${C[@]}"
  wait_for 180 "radosgw client.rgw.$1 HTTP on 127.0.0.1:$2" http_ok "$2"
  say "radosgw client.rgw.$1 answering on 127.0.0.1:$2"
}
if [ -f "$CONF" ] && alive mon.a ceph-mon && alive osd.0 ceph-osd; then
  say "cluster in $D already running (mon.a, osd.0 alive); keeping its data"
  for spec in "a:$PORT" $( [ "$WEB_PORT" != 0 ] && echo "web:$WEB_PORT" ); do
    n=${spec%%:*}; p=${spec##*:}
    if alive "rgw.$n" radosgw; then wait_for 180 "radosgw client.rgw.$n on :$p" http_ok "$p"
    else start_rgw "$n" "$p"; fi
  done
  ensure_user "$MAIN_UID" "Main User" "$MAIN_ACCESS_KEY" "$MAIN_SECRET_KEY"
  ensure_user "$ALT_UID" "Alt User" "$ALT_ACCESS_KEY" "$ALT_SECRET_KEY"
  print_info
  exit 0
fi

# partially running leftovers from a previous run of *this* script: stop them first
if [ -d "$PIDS" ]; then
  say "stale/partial cluster in $D; stopping it"
  stop_cluster
fi

# refuse to clobber ports someone else holds
for p in "$PORT" "$MON_V2" "$MON_V1" $( [ "$WEB_PORT" != 0 ] && echo "$WEB_PORT" ); do
  if ss -ltnH "sport = :$p" | grep -q .; then die "127.0.0.1:$p already in use"; fi
done

# ---------- fresh cluster ----------
rm -rf "$D"
mkdir -p "$D" "$PIDS" "$LOG" "$D/run" "$D/mon.a" "$D/osd.0"
FSID=$(uuidgen)

cat > "$CONF" <<EOF
[global]
  fsid = $FSID
  mon initial members = a
  mon host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
  public addr = 127.0.0.1
  cluster addr = 127.0.0.1
  ms bind port min = 16800
  ms bind port max = 17300
  auth cluster required = none
  auth service required = none
  auth client required = none
  mon warn on insecure global id reclaim = false
  mon warn on insecure global id reclaim allowed = false
  # radosgw (unlike the ceph CLI) ended up with ms_mon_client_mode "secure" only, which
  # auth=none cannot provide -> "get_initial_auth_request returned -13" forever. Allow crc.
  ms mon client mode = crc secure
  ms client mode = crc secure
  ms mon cluster mode = crc secure
  ms mon service mode = crc secure
  ms cluster mode = crc secure
  ms service mode = crc secure
  run dir = $D/run
  log file = $LOG/\$name.log
  log to stderr = false
  err to stderr = true
  osd pool default size = 1
  osd pool default min size = 1
  osd pool default pg num = 8
  osd pool default pgp num = 8
  osd pool default pg autoscale mode = off
  osd crush chooseleaf type = 0
  mon allow pool size one = true
  mon allow pool delete = true
  mon warn on pool no redundancy = false
  mon data avail warn = 2
  mon data avail crit = 1
  mon max pg per osd = 1000
  osd failsafe full ratio = .99
  mon osd full ratio = .99
  mon osd nearfull ratio = .98
  mon osd backfillfull ratio = .985

[mon]
  paxos propose interval = 0.1
  mon data = $D/mon.\$id
  admin socket = $D/run/\$name.asok

[mgr]
  mgr data = $D/mgr.\$id
  admin socket = $D/run/\$name.asok

[osd]
  osd data = $D/osd.\$id
  osd objectstore = memstore
  memstore device bytes = $MEMSTORE_BYTES
  admin socket = $D/run/\$name.asok
  osd crush update on start = true

[client]
  rgw crypt require ssl = false
  rgw lc debug interval = $LC_INTERVAL
  rgw enable static website = true
  rgw enable usage log = true
  rgw dynamic resharding = false
  # Deleted objects' data is reclaimed by garbage collection; the default waits two hours,
  # which lets a test suite that writes and deletes GiB-sized objects fill the in-RAM OSD.
  rgw gc obj min wait = 30
  rgw gc processor period = 30

[client.rgw.a]
  rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
  admin socket = $D/run/\$name.asok

[client.rgw.web]
  rgw frontends = beast endpoint=127.0.0.1:$WEB_PORT tcp_nodelay=1
  rgw enable apis = s3website
  admin socket = $D/run/\$name.asok
EOF
say "wrote $CONF (fsid $FSID)"

# --- mon ---
monmaptool --create --fsid "$FSID" \
  --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" >>"$LOG/mkfs.log" 2>&1 || die "ceph-mon --mkfs failed (see $LOG/mkfs.log)"
launch mon.a ceph-mon -f -i a "${C[@]}"
wait_for 60 "mon quorum" ceph "${C[@]}" --connect-timeout 5 mon stat
say "mon up"

# --- mgr (optional) ---
if [ "$WITH_MGR" = 1 ]; then
  command -v ceph-mgr >/dev/null || die "ceph-mgr not installed"
  mkdir -p "$D/mgr.x"
  launch mgr.x ceph-mgr -f -i x "${C[@]}"
fi

# --- osd ---
OSD_UUID=$(uuidgen)
OSD_ID=$(ceph "${C[@]}" osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || die "expected osd id 0, got '$OSD_ID'"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$LOG/mkfs.log" 2>&1 || die "ceph-osd --mkfs failed (see $LOG/mkfs.log)"
launch osd.0 ceph-osd -f -i 0 "${C[@]}"
osd_up() { ceph "${C[@]}" osd dump --format json | grep -q '"up":1'; }
wait_for 90 "osd.0 up" osd_up
say "osd.0 up"

# --- rgw ---
start_rgw a "$PORT"
[ "$WEB_PORT" = 0 ] || start_rgw web "$WEB_PORT"

# --- users ---
ensure_user "$MAIN_UID" "Main User" "$MAIN_ACCESS_KEY" "$MAIN_SECRET_KEY"
ensure_user "$ALT_UID" "Alt User" "$ALT_ACCESS_KEY" "$ALT_SECRET_KEY"
say "users created; ready"
print_info
