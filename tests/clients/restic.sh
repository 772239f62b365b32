#!/usr/bin/env bash
# A restic session through the gateway: init, backup of a few hundred files, check --read-data,
# restore (byte-compared), a second backup, forget --prune, and a restore of what is left.
# usage: restic.sh ENDPOINT ACCESS_KEY SECRET_KEY BUCKET REGION WORKDIR
set -euo pipefail
EP=$1 B=$4 T=$6
export AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3 AWS_DEFAULT_REGION=$5
unset AWS_CA_BUNDLE
export RESTIC_PASSWORD=bucketgate-test RESTIC_REPOSITORY="s3:$EP/$B/repo" RESTIC_CACHE_DIR="$T/cache"
rm -rf "$T" && mkdir -p "$T/data/ünï cødé"
for i in $(seq 1 300); do
  d="$T/data/d$((i % 10))"; mkdir -p "$d"; head -c $((i * 97)) /dev/urandom > "$d/f $i.bin"
done
# Pack files above restic's 4 MiB minimum go out as several objects.
for i in 1 2 3; do head -c $((i * 1500000)) /dev/urandom > "$T/data/big+$i.bin"; done
echo unicode > "$T/data/ünï cødé/ø.txt"
restic init
restic backup --quiet "$T/data"
restic check --read-data
restic restore latest --target "$T/restore"
diff -r "$T/data" "$T/restore$T/data"
echo changed > "$T/data/new file.txt"
restic backup --quiet "$T/data"
restic forget --keep-last 1 --prune
restic check --read-data
n=$(restic snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 1 ] || { echo "$n snapshots after forget --keep-last 1" >&2; exit 1; }
rm -rf "$T/restore"
restic restore latest --target "$T/restore"
diff -r "$T/data" "$T/restore$T/data"
echo "$(restic version) session OK"
