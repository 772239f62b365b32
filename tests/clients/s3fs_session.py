"""An fsspec/s3fs session through the gateway: open/write, cat, put/get of a multipart object,
ranged reads, ls, find, directory markers (`key/` objects) written by another tool, rm.
usage: s3fs_session.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET REGION WORKDIR (AWS_CLI: the aws command)"""
import os
import subprocess
import sys

import s3fs

ep, ak, sk, B, region, work = sys.argv[1:7]
aws = os.environ.get("AWS_CLI", "aws")
os.environ.pop("AWS_CA_BUNDLE", None)
os.makedirs(work, exist_ok=True)
fs = s3fs.S3FileSystem(key=ak, secret=sk, client_kwargs={"endpoint_url": ep, "region_name": region})
fs.mkdir(B)
files = {
    f"{B}/ünï cødé/ø.txt": b"unicode\n",
    f"{B}/dir with space/a+b c.txt": b"plus space\n",
    f"{B}/top.txt": b"top\n",
    f"{B}/deep/x/y/z.txt": b"z" * 1000,
}
for k, v in files.items():
    with fs.open(k, "wb") as f:
        f.write(v)
for k, v in files.items():
    assert fs.cat(k) == v, k
big = os.urandom(12 * 1024 * 1024 + 3)
src, back = os.path.join(work, "big.bin"), os.path.join(work, "big.back")
open(src, "wb").write(big)
fs.put(src, f"{B}/big/12m.bin", chunksize=5 * 1024 * 1024)  # three parts
fs.get(f"{B}/big/12m.bin", back)
assert open(back, "rb").read() == big, "put/get bytes"
assert fs.info(f"{B}/big/12m.bin")["size"] == len(big)
with fs.open(f"{B}/big/12m.bin", "rb", block_size=1024 * 1024) as f:
    f.seek(5_000_000)
    a = f.read(100)
    f.seek(len(big) - 10)
    b = f.read(100)
    f.seek(123)
    c = f.read(3_000_000)
assert (a, b, c) == (big[5_000_000:5_000_100], big[-10:], big[123:3_000_123]), "ranged reads"
ls = set(fs.ls(B, detail=False))
want = {f"{B}/ünï cødé", f"{B}/dir with space", f"{B}/top.txt", f"{B}/deep", f"{B}/big"}
assert ls == want, ls
found = set(fs.find(B))
assert found == set(files) | {f"{B}/big/12m.bin"}, found
# Directory markers as the AWS CLI (or the console) writes them.
env = dict(os.environ, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk, AWS_CONFIG_FILE="/dev/null")
for key in ["markerdir/", "ünï cødé/sub/"]:
    subprocess.run([aws, "--endpoint-url", ep, "--region", region, "s3api", "put-object",
                    "--bucket", B, "--key", key], check=True, env=env, stdout=subprocess.DEVNULL)
fs.invalidate_cache()
assert fs.isdir(f"{B}/markerdir") and fs.isdir(f"{B}/markerdir/")
assert fs.info(f"{B}/markerdir")["type"] == "directory"
assert fs.ls(f"{B}/markerdir", detail=False) in ([], [f"{B}/markerdir/"], [f"{B}/markerdir"])
assert fs.isdir(f"{B}/ünï cødé/sub")
assert fs.exists(f"{B}/dir with space/a+b c.txt")
fs.rm(f"{B}/top.txt")
fs.invalidate_cache()
assert not fs.exists(f"{B}/top.txt")
fs.rm(B, recursive=True)
fs.invalidate_cache()
try:
    fs.rmdir(B)
except FileNotFoundError:
    pass
assert B not in [p.rstrip("/") for p in fs.ls("", refresh=True)], "bucket still listed"
print("s3fs", s3fs.__version__, "session OK")
