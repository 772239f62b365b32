#!/usr/bin/env bash
# scripts/conformance.sh [S3TESTS_DIR] — runs the public ceph/s3-tests suite against a bucketgate
# gateway it starts over the test Ceph RGW (and, for comparison, against RGW directly), and writes
# the per-category table to docs/conformance.md.
#
# Which tests: those of test_s3.py and test_headers.py that exercise a feature the Spaces S3
# compatibility page lists as supported. Tests of what Spaces does not offer (object lock, SSE-S3/
# KMS, IAM/STS, bucket tagging, public access block, transitions, RGW-only extensions, ...) are
# counted as "not applicable" with the reason, and not run. The rules are `classify()` below.
#
# The contract is scripts/conformance-expectations.txt: every selected test that fails through the
# gateway is listed there, one per line, `test_name  <profile|backend|gateway|suite>: reason`
# (profile = Spaces does not offer it; backend = RGW answers so and the gateway passes it through;
# gateway = a bucketgate bug; suite = the test fails against RGW directly too, as written). The script exits 1 when a test that is not listed fails through the
# gateway, and reports listed tests that now pass (their lines can go).
#
# Needs: a running RGW (scripts/rgw.sh start), the gateway binary (built with `cargo build` if
# missing), python3 with s3-tests' requirements (pip-installed here when missing), and a
# checkout of ceph/s3-tests (first argument or S3TESTS_DIR; the commit below is the one the
# expectations were made with; another commit gives a warning).
#
# Env: S3TESTS_DIR, RGW_ENDPOINT (http://127.0.0.1:7480), RGW_CEPH_CONF (.rgw/ceph.conf, used only
# to create s3-tests' tenant user with radosgw-admin for the direct run), CONFORMANCE_DIRECT
# (1: also run against RGW directly; 0: gateway only), CONFORMANCE_JOBS (pytest-xdist workers, 6),
# CONFORMANCE_K (extra pytest -k filter, for a partial run: the document is then not rewritten),
# CONFORMANCE_DOC (docs/conformance.md), BUCKETGATE_BIN (target/debug/bucketgate),
# CONFORMANCE_KEEP (1: keep the work directory: pytest logs, gateway log, results, failures.txt),
# CONFORMANCE_REPORT_FROM (a kept work directory: only rewrite the report and re-check the
# expectations from its results, without running anything).
set -euo pipefail

PINNED_COMMIT=8f0ae7b404a3a2fcf7038bf1e6bf29544fe9b6a3   # ceph/s3-tests master, 2026-05-07
RGW_VERSION_LABEL="Ceph RGW 16.2.15 (pacific), single node, scripts/rgw.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
S3TESTS_DIR="${1:-${S3TESTS_DIR:-}}"
RGW_ENDPOINT="${RGW_ENDPOINT:-http://127.0.0.1:7480}"
RGW_CEPH_CONF="${RGW_CEPH_CONF:-$ROOT/.rgw/ceph.conf}"
DIRECT="${CONFORMANCE_DIRECT:-1}"
JOBS="${CONFORMANCE_JOBS:-6}"
KFILTER="${CONFORMANCE_K:-}"
DOC="${CONFORMANCE_DOC:-$ROOT/docs/conformance.md}"
EXPECT="$ROOT/scripts/conformance-expectations.txt"
BIN="${BUCKETGATE_BIN:-$ROOT/target/debug/bucketgate}"

# s3-tests' well-known users, as scripts/rgw.sh creates them on RGW (main, alt) and as the
# gateway's users below. The tenant user is RGW multi-tenancy: s3-tests cleans up with it before
# and after every test, so it must exist; tenant tests themselves are not applicable to Spaces.
MAIN_AK=ABCDEFGHIJKLMNOPQRST; MAIN_SK=abcdefghijklmnopqrstuvwxyzabcdefghijklmn
ALT_AK=NOPQRSTUVWXYZABCDEFG;  ALT_SK=nopqrstuvwxyzabcdefghijklmnabcdefghijklm
TEN_AK=HIJKLMNOPQRSTUVWXYZA;  TEN_SK=opqrstuvwxyzabcdefghijklmnopqrstuvwxyzab
TEN_NAME=testx; TEN_UID=9876543210abcdef0123456789abcdef0123456789abcdef0123456789abcdef

say() { printf '[conformance] %s\n' "$*" >&2; }
die() { printf '[conformance] ERROR: %s\n' "$*" >&2; exit 2; }

# ---------- the s3-tests checkout ----------
[ -n "$S3TESTS_DIR" ] || die "usage: $0 S3TESTS_DIR (or S3TESTS_DIR=...): a checkout of ceph/s3-tests at $PINNED_COMMIT"
S3TESTS_DIR="$(cd "$S3TESTS_DIR" && pwd)" || die "no such directory: $S3TESTS_DIR"
[ -f "$S3TESTS_DIR/s3tests/functional/test_s3.py" ] || die "$S3TESTS_DIR is not an s3-tests checkout"
COMMIT=$(git -C "$S3TESTS_DIR" rev-parse HEAD 2>/dev/null || cat "$S3TESTS_DIR/.s3tests-commit" 2>/dev/null || echo unknown)
if [ "$COMMIT" != "$PINNED_COMMIT" ]; then
  say "WARNING: s3-tests checkout is at $COMMIT, the expectations were made at $PINNED_COMMIT;"
  say "         tests may have been added, renamed or changed (git -C $S3TESTS_DIR checkout $PINNED_COMMIT)"
fi

# ---------- python and s3-tests' requirements ----------
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || die "python3 not found"
if ! "$PY" -c 'import boto3, botocore, pytest, munch, gevent, isodate, httplib2, lxml, pytz, yaml, requests' 2>/dev/null; then
  say "installing s3-tests' python requirements (pip)"
  "$PY" -m pip install -q -r "$S3TESTS_DIR/requirements.txt" || die "pip install -r $S3TESTS_DIR/requirements.txt failed"
fi
if [ "$JOBS" -gt 1 ] && ! "$PY" -c 'import xdist' 2>/dev/null; then
  "$PY" -m pip install -q pytest-xdist 2>/dev/null || { say "pytest-xdist unavailable: running serially"; JOBS=1; }
fi

# ---------- RGW and the gateway binary ----------
curl -s -o /dev/null -m 5 "$RGW_ENDPOINT/" || die "RGW not answering at $RGW_ENDPOINT (scripts/rgw.sh start)"
if [ ! -x "$BIN" ]; then
  say "building the gateway (cargo build)"
  (cd "$ROOT" && cargo build -q) || die "cargo build failed"
fi

WORK=$(mktemp -d /tmp/bucketgate-conformance.XXXXXX)
RUN_ID=$(date +%s | tail -c 7)$RANDOM
SYSTEM_BUCKET="bgc-system-$RUN_ID"
GW_PID=""

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

cleanup() {
  local rc=$?
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$GW_PID" 2>/dev/null || true
  fi
  # The gateway's system bucket of this run (owners, ACLs, logging state) lives on RGW: remove it.
  "$PY" - "$RGW_ENDPOINT" "$MAIN_AK" "$MAIN_SK" "$SYSTEM_BUCKET" <<'EOF' 2>/dev/null || true
import sys, boto3
from botocore.client import Config
ep, ak, sk, b = sys.argv[1:]
s3 = boto3.client('s3', endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))
try:
    for page in s3.get_paginator('list_object_versions').paginate(Bucket=b):
        objs = [{'Key': o['Key'], 'VersionId': o['VersionId']} for o in page.get('Versions', []) + page.get('DeleteMarkers', [])]
        if objs:
            s3.delete_objects(Bucket=b, Delete={'Objects': objs, 'Quiet': True})
    s3.delete_bucket(Bucket=b)
except Exception:
    pass
EOF
  if [ "${CONFORMANCE_KEEP:-0}" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------- the pytest plugin: selection, categories, results ----------
mkdir -p "$WORK/plugin"
cat > "$WORK/plugin/bgconformance.py" <<'EOF'
"""Selects the Spaces-applicable s3-tests, names their category, and records every outcome."""
import json, os, re
import pytest

# (rule, reason) in order: the first that matches makes a test not applicable to Spaces.
NA_RULES = [
    (lambda n, m: n.startswith('test_object_lock') or 'object_lock' in m,
     'Object Lock (retention, legal hold) is not offered by Spaces'),
    (lambda n, m: re.search(r'sse-(s3|kms)|_kms|kms_|sse_s3|encryption_s3|enc_conflict', n)
        or m & {'sse_s3', 'bucket_encryption'},
     'SSE-S3/SSE-KMS and bucket default encryption: Spaces offers SSE-C only'),
    (lambda n, m: m & {'iam_account', 'iam_user', 'iam_role', 'iam_tenant', 'iam_cross_account',
                       'user_policy', 'role_policy', 'session_policy', 'test_of_sts', 'sns', 's3select'},
     'IAM/STS/notifications/S3 Select are not offered by Spaces'),
    (lambda n, m: 'tenant' in n,
     'RGW multi-tenancy (tenant users and tenant:bucket names) is not a Spaces concept'),
    (lambda n, m: m & {'lifecycle_transition', 'cloud_transition', 'cloud_restore', 'storage_class'}
        or n.startswith(('test_restore_', 'test_read_through')) or 'transition' in n,
     'storage-class transitions and restore: Spaces has one storage class, lifecycle Transition is unsupported'),
    (lambda n, m: 'lifecycle' in m and re.search(r'tag', n),
     'tag-based lifecycle rules are not supported by Spaces'),
    (lambda n, m: 'lifecycle' in m and re.search(r'size_(gt|lt)|newer_noncurrent', n),
     'lifecycle object-size filters and NewerNoncurrentVersions are outside the Spaces lifecycle subset'),
    (lambda n, m: n in ('test_set_bucket_tagging',),
     'bucket tagging is not supported by Spaces'),
    (lambda n, m: re.search(r'public_block|block_public|ignore_public_acls|policy_status', n),
     'PublicAccessBlock and GetBucketPolicyStatus are not offered by Spaces'),
    (lambda n, m: 'object_ownership' in m,
     'Object Ownership controls are not offered by Spaces'),
    (lambda n, m: 'object_attributes' in n,
     'GetObjectAttributes is not offered by Spaces'),
    (lambda n, m: 'torrent' in n,
     'BitTorrent is not offered by Spaces'),
    (lambda n, m: 'conditional_write' in m or n.startswith('test_put_object_if')
        or n.startswith(('test_atomic_conditional_write', 'test_atomic_dual_conditional_write')),
     'conditional writes (If-Match/If-None-Match on PUT/DELETE) are not in the Spaces API'),
    (lambda n, m: 'bucket_logging' in m and 'fails_on_aws' in m,
     "RGW's bucket-logging extensions (journal mode, flush, roll time, key formats) are not S3/Spaces logging"),
    (lambda n, m: n in ('test_account_usage', 'test_head_bucket_usage', 'test_bucket_head_extended',
                        'test_bucket_list_unordered', 'test_bucket_listv2_unordered'),
     'RGW extension (usage statistics, X-RGW-* headers, unordered listing), not S3/Spaces'),
    (lambda n, m: n == 'test_list_buckets_anonymous',
     'RGW-only behaviour (anonymous ListBuckets answered with an empty list); S3 requires authentication'),
    (lambda n, m: re.search(r'publicreadwrite|authenticatedread|bucketowner(read|fullcontrol)', n),
     'canned ACLs other than private and public-read are not offered by Spaces'),
    (lambda n, m: re.search(r'acl_grant|_grants?$|grant_group|acl_revoke_all|full_control_verify'
                            r'|^test_object_acl(_read|_write|_readacp|_writeacp)?$|anon_put_write_access', n),
     'grants to individual users/groups (x-amz-grant-*, custom ACL documents): Spaces offers only canned private/public-read'),
]

CATEGORIES = [
    ('auth: SigV2 headers', lambda n, m, f: 'auth_aws2' in m or (f == 'headers' and n.endswith('_aws2'))),
    ('auth: request headers', lambda n, m, f: f == 'headers'),
    ('POST object (forms)', lambda n, m, f: n.startswith('test_post_object') or 'post_object' in n),
    ('SSE-C', lambda n, m, f: 'encryption' in m or 'sse_c' in n or 'encrypted' in n or n.startswith('test_copy_enc') or n.startswith('test_copy_part_enc')),
    ('lifecycle', lambda n, m, f: 'lifecycle' in m or 'lifecycle' in n),
    ('access logging', lambda n, m, f: 'bucket_logging' in m),
    ('bucket policy', lambda n, m, f: 'bucket_policy' in m or 'policy' in n),
    ('CORS', lambda n, m, f: 'cors' in n),
    ('versioning', lambda n, m, f: 'version' in n or 'delete_marker' in m),
    ('tagging', lambda n, m, f: 'tagging' in m or 'tags' in n),
    ('checksums', lambda n, m, f: 'checksum' in m or 'cksum' in n),
    ('multipart', lambda n, m, f: 'multipart' in n or 'upload_part' in n),
    ('copy', lambda n, m, f: 'copy' in m or 'copy' in n),
    ('ACL & access', lambda n, m, f: 'acl' in n or n.startswith('test_access_')),
    ('auth: presigned, anonymous, raw', lambda n, m, f: n.startswith(('test_object_raw', 'test_object_anon', 'test_object_presigned', 'test_object_put_authenticated')) or 'auth' in n),
    ('listing', lambda n, m, f: n.startswith(('test_bucket_list', 'test_bucket_listv2', 'test_basic_key_count', 'test_list_buckets', 'test_buckets_'))),
    ('buckets', lambda n, m, f: n.startswith(('test_bucket', 'test_head_bucket', 'test_account'))),
    ('objects', lambda n, m, f: True),
]


def classify(name, markers, fname):
    base = name.split('[', 1)[0]
    m = set(markers)
    reason = None
    for rule, why in NA_RULES:
        if rule(name, m):
            reason = why
            break
    cat = next(c for c, rule in CATEGORIES if rule(base, m, fname))
    return cat, reason


def _info(item):
    fname = os.path.basename(str(item.fspath))[5:-3]   # test_s3.py -> s3
    markers = sorted({mk.name for mk in item.iter_markers()} - {'parametrize', 'usefixtures'})
    cat, reason = classify(item.name, markers, fname)
    return {'file': fname, 'category': cat, 'na': reason, 'markers': markers}


def pytest_collection_modifyitems(session, config, items):
    catalog_path = os.environ.get('BGC_CATALOG')
    catalog, keep, drop = {}, [], []
    for item in items:
        info = _info(item)
        catalog[item.name] = info
        (drop if info['na'] else keep).append(item)
    if catalog_path:
        with open(catalog_path, 'w') as f:
            json.dump(catalog, f, indent=0, sort_keys=True)
    only = set(filter(None, os.environ.get('BGC_ONLY', '').split(',')))
    exclude = set(filter(None, os.environ.get('BGC_EXCLUDE', '').split(',')))
    if only or exclude:
        kept = []
        for item in keep:
            if (only and item.name not in only) or item.name in exclude:
                drop.append(item)
            else:
                kept.append(item)
        keep = kept
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_results = {}


def pytest_runtest_logreport(report):
    name = report.nodeid.split('::')[-1]
    prev = _results.get(name)
    if report.when == 'call' or report.outcome != 'passed' or prev is None:
        outcome = report.outcome
        msg = ''
        if report.failed:
            outcome = 'failed'
            crash = getattr(report.longrepr, 'reprcrash', None)
            msg = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
            msg = ' '.join(msg.split())[:400]
            if report.when != 'call':
                msg = f'[{report.when}] {msg}'
        elif report.skipped:
            outcome = 'skipped'
        # a failure in any phase wins; teardown errors after a passed call count as failures
        if prev is None or prev['outcome'] != 'failed':
            _results[name] = {'outcome': outcome, 'message': msg, 'duration': round(report.duration, 2)}


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, 'workerinput'):
        return  # the xdist controller writes the results
    path = os.environ.get('BGC_RESULTS')
    if path:
        with open(path, 'w') as f:
            json.dump(_results, f, indent=0, sort_keys=True)
EOF

# ---------- s3-tests configuration (one per target) ----------
LC_INTERVAL=$(sed -n 's/^ *rgw lc debug interval *= *\([0-9]*\).*/\1/p' "$RGW_CEPH_CONF" 2>/dev/null | head -1)
LC_INTERVAL=${LC_INTERVAL:-10}

write_s3tests_conf() { # file host port api_name (the LocationConstraint the target accepts)
  cat > "$1" <<EOF
[DEFAULT]
host = $2
port = $3
is_secure = False
ssl_verify = False

[fixtures]
# unique per run and per worker ({random}), so concurrent runs never touch each other's buckets
bucket prefix = bgc${RUN_ID}-{random}-
iam name prefix = bgc-s3-tests-
iam path prefix = /bgc-s3-tests/

[s3 main]
display_name = Main User
user_id = main
email = main@example.com
api_name = $4
access_key = $MAIN_AK
secret_key = $MAIN_SK
lc_debug_interval = $LC_INTERVAL

[s3 alt]
display_name = Alt User
user_id = alt
email = alt@example.com
access_key = $ALT_AK
secret_key = $ALT_SK

[s3 tenant]
display_name = testx\$tenanteduser
user_id = $TEN_NAME\$$TEN_UID
access_key = $TEN_AK
secret_key = $TEN_SK
email = tenanteduser@example.com
tenant = $TEN_NAME

# required by s3-tests' configure(); the IAM tests that use them are not run
[iam]
email = s3@example.com
user_id = main
access_key = $MAIN_AK
secret_key = $MAIN_SK
display_name = Main User

[iam root]
access_key = AAAAAAAAAAAAAAAAAAaa
secret_key = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
user_id = RGW11111111111111111
email = account1@ceph.com

[iam alt root]
access_key = BBBBBBBBBBBBBBBBBBbb
secret_key = bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
user_id = RGW22222222222222222
email = account2@ceph.com
EOF
}

# Tests that need the user's whole bucket list to themselves run alone, after the others.
SERIAL_TESTS=test_list_buckets_paginated
# Tests that abort radosgw 16.2 when sent to it directly (issue 11 item 12): never sent to RGW.
RGW_CRASHERS=test_upload_part_copy_percent_encoded_key

pytest_pass() { # conf results catalog log jobs only exclude
  local args=(-q -p bgconformance -p no:cacheprovider --tb=short -rN
              "$S3TESTS_DIR/s3tests/functional/test_s3.py" "$S3TESTS_DIR/s3tests/functional/test_headers.py")
  [ "$5" -gt 1 ] && args+=(-n "$5")
  [ -n "$KFILTER" ] && args+=(-k "$KFILTER")
  # boto3 >= 1.36 adds CRC32 checksums to every upload by default; RGW 16.2 predates them, so
  # both targets get the behaviour the suite was written for (checksums only where required).
  (cd "$S3TESTS_DIR" && S3TEST_CONF="$1" PYTHONPATH="$WORK/plugin${PYTHONPATH:+:$PYTHONPATH}" \
     BGC_RESULTS="$2" BGC_CATALOG="$3" BGC_ONLY="$6" BGC_EXCLUDE="$7" \
     AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required \
     AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
     timeout 1800 "$PY" -m pytest "${args[@]}" >> "$4" 2>&1) || true
}

run_suite() { # label conf results catalog [tests never sent, comma-separated]
  local label=$1 conf=$2 results=$3 catalog=$4 never=${5:-} t0
  say "running s3-tests through $label (log: $WORK/pytest-$label.log)"
  t0=$(date +%s)
  : > "$WORK/pytest-$label.log"
  pytest_pass "$conf" "$results.1" "$catalog" "$WORK/pytest-$label.log" "$JOBS" "" "$SERIAL_TESTS${never:+,$never}"
  pytest_pass "$conf" "$results.2" /dev/null "$WORK/pytest-$label.log" 1 "$SERIAL_TESTS" "$never"
  [ -s "$results.1" ] || { tail -30 "$WORK/pytest-$label.log" >&2; die "pytest against $label produced no results"; }
  "$PY" - "$results" "$results.1" "$results.2" "$never" <<'EOF'
import json, os, sys
out, parts, never = sys.argv[1], sys.argv[2:4], sys.argv[4]
merged = {}
for p in parts:
    if os.path.exists(p) and os.path.getsize(p):
        merged.update(json.load(open(p)))
for name in filter(None, never.split(',')):
    merged[name] = {'outcome': 'failed', 'duration': 0,
                    'message': 'not run: this request aborts radosgw 16.2 (the whole backend goes down)'}
json.dump(merged, open(out, 'w'), indent=0, sort_keys=True)
EOF
  say "$label: done in $(( $(date +%s) - t0 ))s"
}

RES="$WORK"
DIRECT_JSON=""
if [ -n "${CONFORMANCE_REPORT_FROM:-}" ]; then
  # only rewrite the report from a kept work directory (CONFORMANCE_KEEP=1) of an earlier run
  RES="$(cd "$CONFORMANCE_REPORT_FROM" && pwd)"
  GATEWAY_LABEL="$(cat "$RES/gateway-label.txt")"
  JOBS="$(cat "$RES/jobs.txt" 2>/dev/null || echo "$JOBS")"
  [ -s "$RES/direct.json" ] && DIRECT_JSON="$RES/direct.json"
else
# ---------- (a) through the gateway ----------
# Run a copy: the binary in target/ may be rebuilt while the suite runs.
GATEWAY_LABEL="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(cd "$ROOT" && git status --porcelain -- src 2>/dev/null)" ]; then GATEWAY_LABEL="$GATEWAY_LABEL + uncommitted changes in src/"; fi
GATEWAY_LABEL="\`$(basename "$BIN")\` built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC') from a work tree at $GATEWAY_LABEL"
cp "$BIN" "$WORK/bucketgate"
echo "$GATEWAY_LABEL" > "$WORK/gateway-label.txt"
echo "$JOBS" > "$WORK/jobs.txt"
GW_PORT=$(free_port)
cat > "$WORK/gateway.toml" <<EOF
# generated by scripts/conformance.sh
[server]
listen = ["127.0.0.1:$GW_PORT"]
region = "nyc3"
domain = "example.test"
grace_period_seconds = 1

[backend]
kind = "rgw"
endpoint = "$RGW_ENDPOINT"
region = "us-east-1"
access_key = "$MAIN_AK"
secret_key = "$MAIN_SK"
system_bucket = "$SYSTEM_BUCKET"

[[users]]
id = "main"
display_name = "Main User"
access_key = "$MAIN_AK"
secret_key = "$MAIN_SK"

[[users]]
id = "alt"
display_name = "Alt User"
access_key = "$ALT_AK"
secret_key = "$ALT_SK"

[[users]]
id = "tenant"
display_name = "Tenant User"
access_key = "$TEN_AK"
secret_key = "$TEN_SK"
EOF
"$WORK/bucketgate" check-config "$WORK/gateway.toml" >/dev/null || die "the generated gateway config does not validate ($WORK/gateway.toml)"
RUST_LOG="${BUCKETGATE_LOG:-warn}" "$WORK/bucketgate" run --config "$WORK/gateway.toml" > "$WORK/gateway.log" 2>&1 < /dev/null &
GW_PID=$!
disown "$GW_PID" 2>/dev/null || true
for _ in $(seq 1 200); do
  curl -s -o /dev/null -m 1 "http://127.0.0.1:$GW_PORT/" && break
  kill -0 "$GW_PID" 2>/dev/null || { cat "$WORK/gateway.log" >&2; die "the gateway exited at start"; }
  sleep 0.1
done
say "gateway pid $GW_PID on 127.0.0.1:$GW_PORT over $RGW_ENDPOINT (system bucket $SYSTEM_BUCKET)"
write_s3tests_conf "$WORK/gateway.conf" 127.0.0.1 "$GW_PORT" nyc3
run_suite gateway "$WORK/gateway.conf" "$WORK/gateway.json" "$WORK/catalog.json"
kill -0 "$GW_PID" 2>/dev/null || say "WARNING: the gateway is no longer running (see $WORK/gateway.log)"

# ---------- (b) RGW directly ----------
if [ "$DIRECT" = 1 ]; then
  ok=1
  if command -v radosgw-admin >/dev/null && [ -f "$RGW_CEPH_CONF" ]; then
    if ! radosgw-admin -c "$RGW_CEPH_CONF" user info --tenant "$TEN_NAME" --uid "$TEN_UID" >/dev/null 2>&1; then
      say "creating s3-tests' tenant user $TEN_NAME\$$TEN_UID on RGW (radosgw-admin)"
      radosgw-admin -c "$RGW_CEPH_CONF" user create --tenant "$TEN_NAME" --uid "$TEN_UID" \
        --display-name 'testx$tenanteduser' --email tenanteduser@example.com \
        --access-key "$TEN_AK" --secret-key "$TEN_SK" >/dev/null 2>&1 || ok=0
    fi
  else
    ok=0
  fi
  if [ "$ok" = 1 ]; then
    rgw_hostport=${RGW_ENDPOINT#http://}
    write_s3tests_conf "$WORK/direct.conf" "${rgw_hostport%:*}" "${rgw_hostport##*:}" default
    run_suite direct "$WORK/direct.conf" "$WORK/direct.json" "$WORK/catalog-direct.json" "$RGW_CRASHERS"
    curl -s -o /dev/null -m 5 "$RGW_ENDPOINT/" || say "WARNING: RGW stopped answering during the direct run (scripts/rgw.sh start restarts it)"
    DIRECT_JSON="$WORK/direct.json"
  else
    say "WARNING: cannot create s3-tests' tenant user on RGW (radosgw-admin, $RGW_CEPH_CONF): skipping the direct run"
  fi
fi

fi

# ---------- report ----------
WRITE_DOC=1
[ -n "$KFILTER" ] && WRITE_DOC=0
"$PY" - "$RES/catalog.json" "$RES/gateway.json" "${DIRECT_JSON:-}" "$EXPECT" "$DOC" "$WRITE_DOC" \
  "$COMMIT" "$PINNED_COMMIT" "$RGW_VERSION_LABEL" "$JOBS" "$RES" "$GATEWAY_LABEL" <<'EOF'
import json, sys, datetime, collections, os
catalog_p, gw_p, direct_p, expect_p, doc_p, write_doc, commit, pinned, backend, jobs, work, gateway = sys.argv[1:]
catalog = json.load(open(catalog_p))
gw = json.load(open(gw_p))
direct = json.load(open(direct_p)) if direct_p else None

expect = {}
if os.path.exists(expect_p):
    for line in open(expect_p):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        name, _, why = line.partition(' ')
        expect[name] = why.strip()

cats = collections.OrderedDict()
for name, info in sorted(catalog.items(), key=lambda kv: kv[1]['category']):
    cats.setdefault(info['category'], []).append(name)
order = ['buckets', 'objects', 'listing', 'multipart', 'copy', 'ACL & access', 'bucket policy', 'CORS',
         'versioning', 'lifecycle', 'tagging', 'SSE-C', 'checksums', 'POST object (forms)', 'access logging',
         'auth: presigned, anonymous, raw', 'auth: request headers', 'auth: SigV2 headers']
order += [c for c in cats if c not in order]

def count(results, names):
    c = collections.Counter()
    for n in names:
        if catalog[n]['na']:
            c['na'] += 1
        elif results is None or n not in results:
            c['notrun'] += 1
        else:
            c[results[n]['outcome']] += 1
    return c

def cell(c):
    s = f"{c['passed']} / {c['failed']}"
    if c['skipped']:
        s += f" ({c['skipped']} skipped)"
    return s

rows, tot_gw, tot_di = [], collections.Counter(), collections.Counter()
for cat in order:
    if cat not in cats:
        continue
    g, d = count(gw, cats[cat]), count(direct, cats[cat])
    tot_gw += g; tot_di += d
    rows.append((cat, len(cats[cat]), g, d))

selected = [n for n, i in catalog.items() if not i['na']]
ran = [n for n in selected if n in gw]
failed_gw = sorted(n for n in ran if gw[n]['outcome'] == 'failed')
unexpected = [n for n in failed_gw if n not in expect]
now_pass = sorted(n for n in expect if n in gw and gw[n]['outcome'] == 'passed')
kinds = collections.Counter(expect[n].split(':', 1)[0] for n in failed_gw if n in expect)

def pct(c):
    run = c['passed'] + c['failed']
    return f"{100.0 * c['passed'] / run:.1f}%" if run else '-'

# The issue's measure: the tests that use only what Spaces offers, i.e. the selection minus
# the tests listed as `profile` (they set up something Spaces refuses: public-read-write,
# grants, GetObjectAttributes, ...). The same tests are left out of both targets.
profile = {n for n, why in expect.items() if why.startswith('profile')}
sup_rows, sup_gw, sup_di = [], collections.Counter(), collections.Counter()
for cat, n, g, d in rows:
    names = [x for x in cats[cat] if x not in profile]
    sg, sd = count(gw, names), count(direct, names)
    sup_gw += sg; sup_di += sd
    sup_rows.append((cat, sg, sd))
behind = [cat for cat, sg, sd in sup_rows if direct and sg['passed'] < sd['passed']]

print()
print(f"{'category':34} {'tests':>5}  {'gateway pass/fail':>18}  {'RGW direct pass/fail':>20}  {'n/a':>4}")
for cat, n, g, d in rows:
    print(f"{cat:34} {n:5}  {cell(g):>18}  {(cell(d) if direct else '-'):>20}  {g['na']:4}")
print(f"{'total':34} {len(catalog):5}  {cell(tot_gw):>18}  {(cell(tot_di) if direct else '-'):>20}  {tot_gw['na']:4}")
print(f"\nthrough the gateway: {tot_gw['passed']} of {tot_gw['passed'] + tot_gw['failed']} selected tests pass ({pct(tot_gw)})"
      + (f"; RGW directly: {tot_di['passed']} of {tot_di['passed'] + tot_di['failed']} ({pct(tot_di)})" if direct else ''))
print(f"Spaces-supported tests (the selection minus `profile` failures): gateway {sup_gw['passed']} of {sup_gw['passed'] + sup_gw['failed']} ({pct(sup_gw)})"
      + (f"; RGW directly {sup_di['passed']} of {sup_di['passed'] + sup_di['failed']} ({pct(sup_di)}); categories where the gateway passes fewer than RGW: {', '.join(behind) or 'none'}" if direct else ''))
print(f"gateway failures by expectation: {dict(kinds)}; unexpected: {len(unexpected)}")
for n in unexpected:
    print(f"  UNEXPECTED FAILURE {n}: {gw[n]['message']}")
for n in now_pass:
    print(f"  now passes (remove from {os.path.basename(expect_p)}): {n}")
# every failure with its message, for writing and reviewing the expectations
with open(os.path.join(work, 'failures.txt'), 'w') as f:
    for n in failed_gw:
        f.write(f"{n}\t{catalog[n]['category']}\t{gw[n]['message']}\n")
if direct:
    with open(os.path.join(work, 'failures-direct.txt'), 'w') as f:
        for n in sorted(x for x in selected if x in direct and direct[x]['outcome'] == 'failed'):
            f.write(f"{n}\t{catalog[n]['category']}\t{direct[n]['message']}\n")

if write_doc == '1':
    today = datetime.date.today().isoformat()
    na_reasons = collections.Counter(i['na'] for i in catalog.values() if i['na'])
    L = []
    L.append('# S3 conformance: ceph/s3-tests through bucketgate\n')
    L.append('Generated by `scripts/conformance.sh` — do not edit by hand; rerun the script.\n')
    L.append(f'- s3-tests: [ceph/s3-tests](https://github.com/ceph/s3-tests) at `{commit}`'
             + ('' if commit == pinned else f' (the script pins `{pinned}`)')
             + ', `test_s3.py` and `test_headers.py`')
    L.append(f'- date: {today}')
    L.append(f'- gateway: {gateway}; `kind = "rgw"`, region `nyc3`, path-style, one service credential to the backend')
    L.append(f'- backend: {backend}')
    L.append(f'- clients: boto3 (checksums only where required), path-style, SigV4 unless the test says SigV2; pytest-xdist with {jobs} workers')
    L.append(f'- selection: the {len(catalog)} collected tests minus the {tot_gw["na"]} that exercise what Spaces does not offer '
             f'(reasons below) = {len(selected)} tests run against each target\n')
    L.append(f'**Through the gateway: {tot_gw["passed"]} of {tot_gw["passed"] + tot_gw["failed"]} pass ({pct(tot_gw)}).**'
             + (f' RGW directly: {tot_di["passed"]} of {tot_di["passed"] + tot_di["failed"]} ({pct(tot_di)}).' if direct else '') + '\n')
    L.append('| category | tests | gateway: passed / failed | RGW direct: passed / failed | not applicable to Spaces |')
    L.append('| --- | ---: | ---: | ---: | ---: |')
    for cat, n, g, d in rows:
        L.append(f'| {cat} | {n} | {cell(g)} | {cell(d) if direct else "not run"} | {g["na"]} |')
    L.append(f'| **total** | **{len(catalog)}** | **{cell(tot_gw)}** | **{cell(tot_di) if direct else "not run"}** | **{tot_gw["na"]}** |\n')
    L.append('## Spaces-supported tests\n')
    L.append(f'Leaving out, for both targets, the {len(profile & set(selected))} tests listed as `profile` (each sets up something Spaces '
             'does not offer and the gateway refuses on purpose: `public-read-write` and `authenticated-read` ACLs, grants to '
             'other users, GetObjectAttributes, RGW\'s us-east-1 answer to re-creating a bucket, ...): '
             f'**through the gateway {sup_gw["passed"]} of {sup_gw["passed"] + sup_gw["failed"]} pass ({pct(sup_gw)})**'
             + (f'; RGW directly {sup_di["passed"]} of {sup_di["passed"] + sup_di["failed"]} ({pct(sup_di)}).' if direct else '.')
             + (f' Categories where the gateway passes fewer than RGW: {", ".join(behind) or "none"}.' if direct else '') + '\n')
    L.append('| category | gateway: passed / failed | RGW direct: passed / failed |')
    L.append('| --- | ---: | ---: |')
    for cat, sg, sd in sup_rows:
        L.append(f'| {cat} | {cell(sg)} | {cell(sd) if direct else "not run"} |')
    L.append(f'| **total** | **{cell(sup_gw)}** | **{cell(sup_di) if direct else "not run"}** |\n')
    L.append('## Why the gateway fails what it fails\n')
    L.append('Every test that fails through the gateway is listed, with its reason, in '
             '[`scripts/conformance-expectations.txt`](../scripts/conformance-expectations.txt); the script fails '
             'when any other test fails. By kind:\n')
    L.append('| kind | meaning | tests |')
    L.append('| --- | --- | ---: |')
    meaning = {'gateway': 'a bucketgate bug (or a deliberate divergence, said so in the reason)',
               'backend': 'RGW 16.2 answers so and the gateway passes it through',
               'profile': 'the test uses something Spaces does not offer',
               'suite': 'the test cannot pass as written (it fails against any server here, RGW included)'}
    for k in ('gateway', 'backend', 'profile', 'suite'):
        L.append(f'| {k} | {meaning[k]} | {kinds.get(k, 0)} |')
    L.append('')
    gw_bugs = [n for n in failed_gw if expect.get(n, '').startswith('gateway')]
    if gw_bugs:
        L.append('### Failures of kind `gateway`\n')
        L.append('| test | what happens |')
        L.append('| --- | --- |')
        for n in gw_bugs:
            L.append(f"| `{n}` | {expect[n].split(':', 1)[1].strip().replace('|', '/')} |")
        L.append('')
    L.append('## Not applicable to Spaces (not run)\n')
    L.append('| reason | tests |')
    L.append('| --- | ---: |')
    for why, n in na_reasons.most_common():
        L.append(f'| {why} | {n} |')
    L.append('')
    L.append('## Running it\n')
    L.append('```sh')
    L.append('scripts/rgw.sh start')
    L.append('git clone https://github.com/ceph/s3-tests ../s3-tests && git -C ../s3-tests checkout ' + pinned)
    L.append('scripts/conformance.sh ../s3-tests          # CONFORMANCE_DIRECT=0: the gateway only')
    L.append('```')
    os.makedirs(os.path.dirname(doc_p), exist_ok=True)
    with open(doc_p, 'w') as f:
        f.write('\n'.join(L) + '\n')
    print(f"wrote {doc_p}")

sys.exit(1 if unexpected else 0)
EOF
