#!/usr/bin/env bash
# scripts/setup.sh — installs what building bucketgate needs on Debian (idempotent).
#   build   cmake (pingora's zlib-ng and aws-lc build with it), a C toolchain, pkg-config
#   test    the above plus Ceph RGW, curl, s3cmd and the Python clients (awscli, boto3)
set -euo pipefail
want=(cmake gcc g++ make pkg-config)
[ "${1:-build}" = test ] && want+=(curl openssl s3cmd chromium)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }
if [ "${1:-build}" = test ]; then
  "$(dirname "$0")/rgw.sh" install
  python3 - <<'PY' 2>/dev/null || python3 -m pip install -q awscli boto3
import boto3, awscli  # noqa: F401
PY
  # pyenv installs command shims (`aws`) on rehash.
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  command -v aws >/dev/null || { echo "setup: the aws command is missing after installing awscli" >&2; exit 1; }
fi
