#!/usr/bin/env bash
# scripts/fuzz.sh — runs every parser property test (tests/properties.rs: request line and
# query, headers through admission, SigV4 and SigV2 header and query forms, the aws-chunked
# decoder, POST form preambles, XML bodies, policy documents and their evaluation, TOML config;
# and, inside the crate, the re-signer against aws-sigv4 and the forward plan) for
# FUZZ_TOTAL cases in all (default 10^7), split evenly, in a release build. Not part of
# scripts/test.sh (which runs each with proptest's default 256 cases). Prints the count and
# the time, and exits non-zero on any failure; proptest writes a failing case's seed to
# tests/properties.proptest-regressions (commit it: it becomes a regression case).
#   FUZZ_TOTAL=10000000 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL="${FUZZ_TOTAL:-10000000}"

cargo test --release --tests --no-run --quiet
props=$(cargo test --release --quiet --test properties -- --list 2>/dev/null | grep -c ': test$')
lib_props=(matches_aws_sigv4_on_any_request the_plan_holds_only_allow_listed_headers)
n=$((props + ${#lib_props[@]}))
per=$(( (TOTAL + n - 1) / n ))
echo "fuzz: $n property tests x $per cases = $((n * per)) cases"
start=$(date +%s)
PROPTEST_CASES=$per cargo test --release --quiet --test properties -- --test-threads "$(nproc)"
for t in "${lib_props[@]}"; do
  PROPTEST_CASES=$per cargo test --release --quiet --lib "$t"
done
end=$(date +%s)
echo "fuzz: $((n * per)) cases in $((end - start)) s on $(nproc) cores, no failure"
