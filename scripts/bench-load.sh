#!/usr/bin/env bash
# scripts/bench-load.sh — the gateway under load and hostile traffic (issue 15's benchmark, not a
# timed test): scripts/bench.sh's load scenarios against the gateway alone, over its own Ceph RGW:
#   busyidle   1,000 idle keep-alive connections plus 32 active: VmRSS (target <= 64 MiB), p50/p99
#   slowloris  500 connections sending a head one byte a second: normal throughput >= 90%
#   flood      one IP past requests_per_second_per_ip: SlowDown answers per second and per core
#   bigput     100 concurrent 64 MiB signed aws-chunked uploads: peak VmRSS
# Knobs: those of scripts/bench.sh (DUR, IDLE_CONNS, SLOW_CONNS, GW_HEADER_TIMEOUT, FLOOD_LIMIT,
# BIGPUT_N, BIGPUT_MIB, BENCH_RGW_DIR, ...). Prints the lines at the end of bench.sh's report.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SCENARIOS="${SCENARIOS:-get1k busyidle slowloris flood bigput}"
export TARGETS="${TARGETS:-bucketgate}"
export ROUNDS="${ROUNDS:-1}"
export DUR="${DUR:-10}"
exec "$HERE/bench.sh" "$@"
