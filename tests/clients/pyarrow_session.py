"""A pyarrow.fs.S3FileSystem session through the gateway (the AWS C++ SDK underneath): a
hive-partitioned Parquet dataset written and read back with a filter, get_file_info on a
selector, a streamed multipart object read whole and by range, directories, deletes.
usage: pyarrow_session.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET REGION WORKDIR"""
import os
import sys
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pfs

endpoint, ak, sk, B, region = sys.argv[1:6]
scheme, _, ep = endpoint.partition("://")
os.environ.pop("AWS_CA_BUNDLE", None)
fs = pfs.S3FileSystem(endpoint_override=ep, scheme=scheme, region=region, access_key=ak,
                      secret_key=sk, allow_bucket_creation=True, allow_bucket_deletion=True)
fs.create_dir(B)
n = 5000
cats = ["a b", "c+d", "ünï"]
tbl = pa.table({"id": list(range(n)), "cat": [cats[i % 3] for i in range(n)],
                "v": [i * 0.5 for i in range(n)]})
ds.write_dataset(tbl, f"{B}/ds", format="parquet", filesystem=fs, partitioning=["cat"],
                 partitioning_flavor="hive")
d = ds.dataset(f"{B}/ds", format="parquet", filesystem=fs, partitioning="hive")
back = d.to_table().sort_by("id")
assert back["id"].to_pylist() == list(range(n)), "full read"
f = d.to_table(filter=(pc.field("cat") == "ünï") & (pc.field("id") > 100))
assert sorted(f["id"].to_pylist()) == [i for i in range(n) if i % 3 == 2 and i > 100], "filter"
infos = fs.get_file_info(pfs.FileSelector(B, recursive=True))
paths = sorted(i.path for i in infos)
assert len([p for p in paths if p.endswith(".parquet")]) == 3, paths
# pyarrow writes hive partition values URI-encoded by default.
for c in cats:
    assert f"{B}/ds/cat={quote(c, safe='')}" in paths, (c, paths)
big = os.urandom(11 * 1024 * 1024 + 12345)
key = f"{B}/big dir/11m+ø.bin"
with fs.open_output_stream(key) as s:
    for off in range(0, len(big), 1 << 20):
        s.write(big[off:off + (1 << 20)])
with fs.open_input_file(key) as s:
    assert s.read() == big, "big read back"
    s.seek(7_000_000)
    assert s.read(1000) == big[7_000_000:7_001_000], "ranged read"
assert fs.get_file_info(key).size == len(big)
fs.create_dir(f"{B}/emptydir/")
assert fs.get_file_info(f"{B}/emptydir").type == pfs.FileType.Directory
fs.delete_file(key)
assert fs.get_file_info(key).type == pfs.FileType.NotFound
fs.delete_dir(B)
assert fs.get_file_info(B).type == pfs.FileType.NotFound
print("pyarrow", pa.__version__, "session OK")
