#!/usr/bin/env bash
# An rclone session through the gateway: sync up and down, check --checksum (multipart objects
# included), lsjson, server-side copyto, delete, purge.
# usage: rclone.sh ENDPOINT ACCESS_KEY SECRET_KEY BUCKET REGION WORKDIR
set -euo pipefail
EP=$1 AK=$2 SK=$3 B=$4 R=$5 T=$6
# rclone 1.60 refuses to start with AWS_CA_BUNDLE set to a file it cannot load.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other \
  RCLONE_CONFIG_GW_ENDPOINT=$EP RCLONE_CONFIG_GW_ACCESS_KEY_ID=$AK \
  RCLONE_CONFIG_GW_SECRET_ACCESS_KEY=$SK RCLONE_CONFIG_GW_REGION=$R \
  RCLONE_CONFIG_GW_FORCE_PATH_STYLE=true RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=1
rm -rf "$T" && mkdir -p "$T/src/ünï cødé" "$T/src/dir with space/sub" "$T/src/plus+dir"
head -c 12582917 /dev/urandom > "$T/src/big 12m.bin"
head -c 6000000 /dev/urandom > "$T/src/dir with space/six mb.bin"
head -c 100000 /dev/urandom > "$T/src/dir with space/sub/file 1.bin"
echo hello > "$T/src/ünï cødé/ø.txt"
echo plus > "$T/src/plus+dir/a+b c.txt"
echo x > "$T/src/small.txt"
# Multipart above 5 MiB, so two objects are uploaded in parts.
O=(--s3-upload-cutoff 5M --s3-chunk-size 5M)
rclone mkdir "gw:$B"
rclone sync "${O[@]}" "$T/src" "gw:$B/tree"
rclone check --checksum "$T/src" "gw:$B/tree"
n=$(rclone lsjson -R --files-only "gw:$B/tree" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 6 ] || { echo "lsjson lists $n files, not 6" >&2; exit 1; }
rclone sync "${O[@]}" "gw:$B/tree" "$T/down"
diff -r "$T/src" "$T/down"
rclone copyto "gw:$B/tree/big 12m.bin" "gw:$B/copy/big copy.bin"
rclone copyto "gw:$B/tree/ünï cødé/ø.txt" "gw:$B/copy/ünï cødé/ø copy+.txt"
rclone cat "gw:$B/copy/big copy.bin" | cmp - "$T/src/big 12m.bin"
[ "$(rclone cat "gw:$B/copy/ünï cødé/ø copy+.txt")" = hello ]
rclone delete "gw:$B/copy"
[ -z "$(rclone lsf -R --files-only "gw:$B/copy")" ] || { echo "copy/ not empty after delete" >&2; exit 1; }
rclone purge "gw:$B"
echo "rclone $(rclone version | head -1) session OK"
