#!/usr/bin/env python3
"""Helpers for scripts/bench.sh (end-to-end overhead benchmark).

  s3util.py setup    ENDPOINT AK SK REGION BUCKET SIZES...
                         create BUCKET (if missing) and upload obj-<size> objects
  s3util.py presign  ENDPOINT AK SK REGION BUCKET SIZES...
                         print "GET<size> <presigned url>" lines
  s3util.py sign-headers ENDPOINT AK SK REGION BUCKET KEY
                         print SigV4 header lines for one GET (replayable for ~15 min)
  s3util.py rawput   OUTDIR MODE ENDPOINT AK SK REGION BUCKET NPUT BODYFILE
                         write NPUT complete HTTP/1.1 PUT requests (OUTDIR/put-<i>.req) of BODYFILE
                         to keys put-<i> for wrk to replay: MODE presigned = a presigned URL
                         (UNSIGNED-PAYLOAD), MODE chunked = header-signed aws-chunked body
                         (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB chunks, replayable ~15 min)
  s3util.py cpu      "PIDS_T" "PIDS_B"   print CPU seconds: target tree, backend tree, union
  s3util.py rss      "PIDS"              print summed VmRSS and VmHWM (KiB) of the PID trees
  s3util.py idle     URL N "PIDS" SETTLE_S
                         open N keep-alive connections to URL's host, send one complete GET of
                         URL on each and read its answer, keep them open, wait SETTLE_S, print
                         "<open> <rss_before_kib> <rss_idle_kib> <hwm_kib> <failed>"
  s3util.py churn    ENDPOINT AK SK REGION "PIDS" BUCKETS BIG_MIB PARALLEL SETTLE_S
                         a mixed workload (BUCKETS buckets created, written, emptied, deleted;
                         PARALLEL concurrent multipart uploads of BIG_MIB MiB read back), then
                         SETTLE_S idle seconds; print "<rss_before_kib> <hwm_kib> <rss_after_kib>"
  s3util.py hold     URL N SECONDS      N idle keep-alive connections (one GET each) for SECONDS
  s3util.py slowloris HOST:PORT N SECONDS   N connections sending a head one byte a second
  s3util.py bigput   ENDPOINT AK SK REGION BUCKET "PIDS" N MIB   N concurrent chunked PUTs
  s3util.py report   RESULTS.tsv IDLE.tsv TARGET...   markdown report

SIZES are byte counts with an optional k/m suffix (1k, 1m). `setup`, `presign`, `sign-headers`
and `rawput` need boto3; the rest uses only the standard library.
"""
import hashlib
import hmac
import os
import resource
import socket
import statistics
import sys
import time
import urllib.parse
from datetime import datetime, timezone

EXPIRES = 7 * 24 * 3600  # longest SigV4 presign validity


def parse_size(s):
    s = s.lower()
    mult = {"k": 1024, "m": 1024 * 1024}.get(s[-1:], 1)
    return int(s[:-1] if s[-1:] in "km" else s) * mult


def client(endpoint, ak, sk, region):
    import boto3
    from botocore.config import Config

    kw = {}
    try:  # botocore >= 1.36: keep flexible checksums out of presigned URLs and uploads
        Config(request_checksum_calculation="when_required")
        kw = {"request_checksum_calculation": "when_required",
              "response_checksum_validation": "when_required"}
    except TypeError:
        pass
    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 retries={"max_attempts": 1}, **kw)
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak,
                        aws_secret_access_key=sk, region_name=region, config=cfg)


def cmd_setup(endpoint, ak, sk, region, bucket, *sizes):
    c = client(endpoint, ak, sk, region)
    try:
        c.head_bucket(Bucket=bucket)
    except Exception:
        c.create_bucket(Bucket=bucket)
    for s in sizes:
        n = parse_size(s)
        key = f"obj-{s}"
        try:
            if c.head_object(Bucket=bucket, Key=key)["ContentLength"] == n:
                continue
        except Exception:
            pass
        c.put_object(Bucket=bucket, Key=key, Body=os.urandom(n))
        got = c.head_object(Bucket=bucket, Key=key)["ContentLength"]
        assert got == n, (key, got, n)
    print(f"setup ok: {endpoint}/{bucket} objects " + " ".join(f"obj-{s}" for s in sizes))


def cmd_presign(endpoint, ak, sk, region, bucket, *sizes):
    c = client(endpoint, ak, sk, region)
    for s in sizes:
        url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f"obj-{s}"},
                                       ExpiresIn=EXPIRES)
        print(f"GET{s} {url}")


def cmd_sign_headers(endpoint, ak, sk, region, bucket, key):
    """Header-signed GET that wrk can replay verbatim within the 15-minute clock-skew window."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url=f"{endpoint.rstrip('/')}/{bucket}/{key}", headers={})
    S3SigV4Auth(Credentials(ak, sk), "s3", region).add_auth(req)
    for h in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
        print(f"{h}: {req.headers[h]}")


# ---------------------------------------------------------------- raw PUT requests for wrk
def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _sha(b):
    return hashlib.sha256(b).hexdigest()


class ChunkSigner:
    """The head of a SigV4 streaming (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) PUT of `decoded`
    bytes sent as chunks of `sizes` (the last one 0), and the signature chain of its chunks."""

    def __init__(self, endpoint, ak, sk, region, path, sizes, connection):
        now = datetime.now(timezone.utc)
        self.amzdate, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        self.scope = f"{day}/{region}/s3/aws4_request"
        self.skey = _hmac(_hmac(_hmac(_hmac(("AWS4" + sk).encode(), day), region), "s3"),
                          "aws4_request")
        enc_len = sum(len(f"{n:x};chunk-signature=") + 64 + 2 + n + 2 for n in sizes)
        headers = {
            "content-encoding": "aws-chunked",
            "content-length": str(enc_len),
            "host": urllib.parse.urlsplit(endpoint).netloc,
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "x-amz-date": self.amzdate,
            "x-amz-decoded-content-length": str(sum(sizes)),
        }
        signed = ";".join(sorted(headers))
        canon = "\n".join(["PUT", path, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                           signed, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.amzdate, self.scope, _sha(canon.encode())])
        self.prev = hmac.new(self.skey, sts.encode(), hashlib.sha256).hexdigest()
        auth = (f"AWS4-HMAC-SHA256 Credential={ak}/{self.scope}, SignedHeaders={signed}, "
                f"Signature={self.prev}")
        lines = [f"PUT {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()] + \
            [f"authorization: {auth}", f"connection: {connection}"]
        self.head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.enc_len = enc_len

    def chunk(self, data, data_sha=None):
        """One chunk, framed and signed (chained to the previous signature)."""
        csts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amzdate, self.scope, self.prev,
                          _sha(b""), data_sha or _sha(data)])
        self.prev = hmac.new(self.skey, csts.encode(), hashlib.sha256).hexdigest()
        return f"{len(data):x};chunk-signature={self.prev}\r\n".encode() + data + b"\r\n"


def chunked_request(endpoint, ak, sk, region, bucket, key, body, chunk=64 * 1024):
    """A SigV4 streaming (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) PUT, head and aws-chunked body."""
    path = f"/{bucket}/{urllib.parse.quote(key, safe='/~')}"
    sizes = [min(chunk, len(body) - o) for o in range(0, len(body), chunk)] + [0]
    signer = ChunkSigner(endpoint, ak, sk, region, path, sizes, "keep-alive")
    out, off = [], 0
    for n in sizes:
        out.append(signer.chunk(body[off:off + n]))
        off += n
    payload = b"".join(out)
    assert len(payload) == signer.enc_len, (len(payload), signer.enc_len)
    return signer.head + payload


def cmd_rawput(outdir, mode, endpoint, ak, sk, region, bucket, nput, bodyfile):
    with open(bodyfile, "rb") as f:
        body = f.read()
    os.makedirs(outdir, exist_ok=True)
    c = client(endpoint, ak, sk, region) if mode == "presigned" else None
    for i in range(int(nput)):
        key = f"put-{i}"
        if mode == "presigned":
            url = c.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key},
                                           ExpiresIn=EXPIRES)
            u = urllib.parse.urlsplit(url)
            head = (f"PUT {u.path}?{u.query} HTTP/1.1\r\nhost: {u.netloc}\r\n"
                    f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n")
            req = head.encode() + body
        elif mode == "chunked":
            req = chunked_request(endpoint, ak, sk, region, bucket, key, body)
        else:
            sys.exit(f"rawput: unknown mode {mode}")
        with open(os.path.join(outdir, f"{key}.req"), "wb") as f:
            f.write(req)


# ---------------------------------------------------------------- /proc accounting
def _procs():
    """pid -> (ppid, utime+stime ticks) for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()  # fields after "(comm)", starting with state
        out[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    return out


def _tree(procs, roots):
    roots = {int(p) for p in roots.split()} if isinstance(roots, str) else set(roots)
    sel = {p for p in roots if p in procs}
    grew = True
    while grew:
        grew = False
        for p, (pp, _) in procs.items():
            if pp in sel and p not in sel:
                sel.add(p)
                grew = True
    return sel


def cmd_cpu(pids_t, pids_b):
    procs = _procs()
    hz = os.sysconf("SC_CLK_TCK")
    t, b = _tree(procs, pids_t), _tree(procs, pids_b)

    def sec(s):
        return sum(procs[p][1] for p in s) / hz
    print(f"{sec(t):.2f} {sec(b):.2f} {sec(t | b):.2f}")


def _rss(pids):
    """(sum of VmRSS, sum of VmHWM) in KiB over the PID trees."""
    rss = hwm = 0
    for p in _tree(_procs(), pids):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm


def cmd_rss(pids):
    print(*_rss(pids))


# ---------------------------------------------------------------- idle connections
def _read_response(s):
    """Reads one HTTP/1.1 response (Content-Length framed); returns the status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before the response head")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    n = 0
    for h in lines[1:]:
        k, _, v = h.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed in the body")
        rest += d
    return status


def _raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))


def _keepalive_connections(url, n):
    """N connections to URL's host, each after one complete keep-alive GET of URL:
    (sockets, failed)."""
    _raise_nofile(n)
    u = urllib.parse.urlsplit(url)
    req = (f"GET {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n"
           "Connection: keep-alive\r\n\r\n").encode()
    socks, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((u.hostname, u.port or 80), timeout=10)
            s.sendall(req)
            if _read_response(s) // 100 != 2:
                failed += 1
            socks.append(s)
        except OSError:
            failed += 1
    return socks, failed


def _close_counting_open(socks):
    """Closes the sockets; how many were still open (not closed by the server while idle)."""
    still = 0
    for s in socks:
        s.setblocking(False)
        try:
            still += 1 if s.recv(1, socket.MSG_PEEK) else 0
        except BlockingIOError:
            still += 1
        except OSError:
            pass
        s.close()
    return still


def cmd_idle(url, n, pids, settle):
    n, settle = int(n), float(settle)
    time.sleep(settle)
    before, _ = _rss(pids)
    socks, failed = _keepalive_connections(url, n)
    time.sleep(settle)
    rss, hwm = _rss(pids)
    print(_close_counting_open(socks), before, rss, hwm, failed)


# ---------------------------------------------------------------- memory after a mixed workload
def cmd_churn(endpoint, ak, sk, region, pids, buckets, big_mib, parallel, settle):
    """A mixed workload through the gateway, then idle: many buckets created, written, listed,
    emptied and deleted; `parallel` concurrent multipart uploads of `big_mib` MiB (8 MiB parts)
    read back and deleted; then `settle` seconds without traffic. Prints the target's VmRSS
    (KiB) before, at its peak (VmHWM) and after settling."""
    import concurrent.futures
    from boto3.s3.transfer import TransferConfig

    buckets, big_mib, parallel, settle = int(buckets), int(big_mib), int(parallel), float(settle)
    before, _ = _rss(pids)
    c = client(endpoint, ak, sk, region)
    stamp = f"{os.getpid():x}{int(time.time()) % 100000:x}"

    def bucket_life(i):
        b = f"churn-{stamp}-{i}"
        c.create_bucket(Bucket=b)
        for k in range(20):
            c.put_object(Bucket=b, Key=f"k/{k}", Body=os.urandom(4096))
        c.list_objects_v2(Bucket=b)
        c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": f"k/{k}"} for k in range(20)]})
        c.delete_bucket(Bucket=b)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(bucket_life, range(buckets)))

    big = f"churn-{stamp}-big"
    c.create_bucket(Bucket=big)
    cfg = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
    body = os.urandom(big_mib << 20)

    def big_life(i):
        import io
        c.upload_fileobj(io.BytesIO(body), big, f"big-{i}", Config=cfg)
        out = io.BytesIO()
        c.download_fileobj(big, f"big-{i}", out, Config=cfg)
        assert out.getvalue() == body, f"big-{i} read back differently"
        c.delete_object(Bucket=big, Key=f"big-{i}")

    with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
        list(ex.map(big_life, range(parallel)))
    c.delete_bucket(Bucket=big)
    del c
    time.sleep(settle)
    after, hwm = _rss(pids)
    print(before, hwm, after)


# ---------------------------------------------------------------- load (scripts/bench-load.sh)
def cmd_hold(url, n, seconds):
    """Opens N keep-alive connections, sends one complete GET of URL on each, keeps them open
    and idle for SECONDS; prints "<open at the end> <failed>"."""
    socks, failed = _keepalive_connections(url, int(n))
    print("held", len(socks), file=sys.stderr, flush=True)
    time.sleep(float(seconds))
    print(_close_counting_open(socks), failed)


def cmd_slowloris(hostport, n, seconds):
    """N connections each send a GET head one byte per second for up to SECONDS; prints
    "<closed by the server> <median seconds until closed> <still open at the end>"."""
    n, seconds = int(n), float(seconds)
    _raise_nofile(n)
    host, port = hostport.rsplit(":", 1)
    head = (f"GET /slow/{'x' * 40} HTTP/1.1\r\nHost: {hostport}\r\n" + "X-Pad: " + "y" * 4000).encode()
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.setblocking(False)
            socks.append([s, time.time(), 0, None])
        except OSError:
            pass
    start = time.time()
    while time.time() - start < seconds and any(c[3] is None for c in socks):
        for c in socks:
            if c[3] is not None:
                continue
            try:
                c[0].send(head[c[2]:c[2] + 1])
                c[2] += 1
                try:
                    if c[0].recv(1024) == b"":
                        c[3] = time.time() - c[1]
                except BlockingIOError:
                    pass
            except OSError:
                c[3] = time.time() - c[1]
        time.sleep(1)
    closed = sorted(c[3] for c in socks if c[3] is not None)
    median = closed[len(closed) // 2] if closed else 0
    for c in socks:
        c[0].close()
    print(len(closed), f"{median:.1f}", len(socks) - len(closed))


def cmd_bigput(endpoint, ak, sk, region, bucket, pids, n, mib):
    """N concurrent header-signed aws-chunked PUTs of MIB MiB each (64 KiB chunks, every chunk
    signed, generated while sent); prints "<ok> <failed> <seconds> <peak VmHWM KiB>"."""
    import concurrent.futures
    n, size = int(n), int(mib) << 20
    chunk = 64 * 1024
    data = os.urandom(chunk)
    data_sha = _sha(data)
    u = urllib.parse.urlsplit(endpoint)

    def one(i):
        nchunks = size // chunk
        signer = ChunkSigner(endpoint, ak, sk, region, f"/{bucket}/bigput-{i}",
                             [chunk] * nchunks + [0], "close")
        s = socket.create_connection((u.hostname, u.port or 80), timeout=120)
        s.sendall(signer.head)
        for _ in range(nchunks):
            s.sendall(signer.chunk(data, data_sha))
        s.sendall(signer.chunk(b""))
        status = _read_response(s)
        s.close()
        return status == 200

    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(one, range(n)))
    took = time.time() - start
    _, hwm = _rss(pids)
    c = client(endpoint, ak, sk, region)
    for i in range(n):
        try:
            c.delete_object(Bucket=bucket, Key=f"bigput-{i}")
        except Exception:
            pass
    print(sum(results), n - sum(results), f"{took:.1f}", hwm)


# ---------------------------------------------------------------- report
SCEN = {  # scenario name -> table label
    "get1k": "GET 1 KiB c=32 presigned",
    "hdr1k": "GET 1 KiB c=32 header-signed",
    "lat1k": "GET 1 KiB c=1 presigned",
    "get1m": "GET 1 MiB c=8 presigned",
    "put1m": "PUT 1 MiB c=8 presigned",
    "chk1m": "PUT 1 MiB c=8 signed aws-chunked",
}


def fmt(x, nd=0):
    if x is None:
        return "–"
    if abs(x) >= 100 or nd == 0:
        return f"{x:,.0f}".replace(",", " ")
    return f"{x:.{nd}f}"


def load_results(path):
    data = {}  # (target, scen) -> list of per-run dicts
    with open(path) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            if not line.strip():
                continue
            r = dict(zip(hdr, line.rstrip("\n").split("\t")))
            n = int(r["requests"])
            dur = int(r["duration_us"]) / 1e6
            size = int(r["obj_bytes"])
            data.setdefault((r["target"], r["scenario"]), []).append({
                "rps": n / dur if dur else 0,
                "mibs": n * size / dur / 2**20 if dur else 0,
                "cpu_t": float(r["cpu_t_s"]) * 1e6 / n if n else None,
                "cpu_b": float(r["cpu_b_s"]) * 1e6 / n if n else None,
                "cpu_u": float(r["cpu_u_s"]) * 1e6 / n if n else None,
                "p50": float(r["p50_us"]),
                "p99": float(r["p99_us"]),
                "err": int(r["errors"]),
                "n": n,
                "hwm": int(r.get("hwm_kb") or 0),
            })
    return data


def load_idle(path):
    idle = {}
    if path and os.path.exists(path):
        with open(path) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            for line in f:
                if line.strip():
                    r = dict(zip(hdr, line.rstrip("\n").split("\t")))
                    idle[r["target"]] = {k: int(v) for k, v in r.items() if k != "target"}
    return idle


def cmd_report(path, idle_path, *targets):
    data = load_results(path)
    idle = load_idle(idle_path)
    scens = [s for s in SCEN if any(k[1] == s for k in data)]
    targets = [t for t in targets if any(k[0] == t for k in data) or t in idle]

    def vals(t, s, m):
        return [d[m] for d in data.get((t, s), []) if d[m] is not None]

    def med(t, s, m):
        v = vals(t, s, m)
        return statistics.median(v) if v else None

    def rng(t, s, m, nd=0):
        v = vals(t, s, m)
        if not v:
            return "–"
        if len(v) == 1:
            return fmt(v[0], nd)
        return f"{fmt(statistics.median(v), nd)} ({fmt(min(v), nd)}–{fmt(max(v), nd)})"

    def ratio(a, b):
        return "–" if a is None or not b else f"{a / b:.2f}"

    out = []
    nrounds = max((len(v) for v in data.values()), default=0)
    # ---- summary (the table)
    others = [t for t in targets if t not in ("direct", "nginx")]
    base = "nginx" if "nginx" in targets else None
    cols = targets + ([f"{t} / nginx" for t in others] if base else [])
    # What bucketgate adds over pingora's own floor (examples/passthrough.rs).
    floor = "pingora" in targets and "bucketgate" in targets
    if floor:
        cols.append("bucketgate / pingora")
    out.append("| metric | " + " | ".join(cols) + " |")
    out.append("|---|" + "---|" * len(cols))

    def row(label, cell, num):
        """cell(t) -> text, num(t) -> number for the ratio column."""
        cells = [cell(t) for t in targets]
        if base:
            cells += [ratio(num(t), num(base)) for t in others]
        if floor:
            cells.append(ratio(num("bucketgate"), num("pingora")))
        out.append(f"| {label} | " + " | ".join(cells) + " |")

    def errs(t, s):
        n = sum(d["err"] for d in data.get((t, s), []))
        return f" (**{n} errors**)" if n else ""

    def cpu_row(label, s):
        if s in scens:
            row(label, lambda t: fmt(med(t, s, "cpu_t"), 1) + errs(t, s), lambda t: med(t, s, "cpu_t"))

    cpu_row("GET 1 KiB, 32 conns (presigned): own CPU µs/request", "get1k")
    cpu_row("GET 1 KiB, 32 conns (header-signed): own CPU µs/request", "hdr1k")
    if "lat1k" in scens:
        d0 = med("direct", "lat1k", "p50")

        def added(t):
            p = med(t, "lat1k", "p50")
            return None if p is None or d0 is None else p - d0

        def lat_cell(t):
            p = med(t, "lat1k", "p50")
            if p is None:
                return "–"
            if t == "direct" or d0 is None:
                return f"(p50 {fmt(p)})"
            return f"{added(t):+.0f} (p50 {fmt(p)})" + errs(t, "lat1k")
        row("GET 1 KiB, 1 conn: p50 latency added over direct, µs", lat_cell, added)
    cpu_row("GET 1 MiB, 8 conns (presigned): own CPU µs/request", "get1m")
    cpu_row("PUT 1 MiB, 8 conns (presigned): own CPU µs/request", "put1m")
    if "chk1m" in scens:
        row("PUT 1 MiB, 8 conns (signed aws-chunked): MiB/s",
            lambda t: fmt(med(t, "chk1m", "mibs")) + errs(t, "chk1m"), lambda t: med(t, "chk1m", "mibs"))
    cpu_row("PUT 1 MiB, 8 conns (signed aws-chunked): own CPU µs/request", "chk1m")
    peak = {t: max((d["hwm"] for (tt, _), v in data.items() if tt == t for d in v), default=0)
            for t in targets}
    if any(peak.values()):
        row("peak RSS during the wrk runs (VmHWM), MiB", lambda t: f"{peak[t] / 1024:.0f}" if peak[t] else "–",
            lambda t: peak[t] or None)
    if idle:
        n = max(v["conns"] for v in idle.values())

        def idle_cell(t):
            v = idle.get(t)
            if not v:
                return "–"
            extra = "" if v["open"] == v["conns"] and not v["failed"] else \
                f", **{v['open']} of {v['conns']} open, {v['failed']} failed**"
            return f"{v['rss_idle_kb'] / 1024:.1f} (before {v['rss_before_kb'] / 1024:.1f}{extra})"
        row(f"RSS with {n} idle keep-alive conns (VmRSS), MiB", idle_cell,
            lambda t: idle[t]["rss_idle_kb"] if t in idle else None)
    out.append("")
    out.append((f"Medians of {nrounds} interleaved round(s). " if nrounds else "") +
               "*Own CPU* = utime+stime of the target's process tree from /proc per completed "
               "request (direct = the backend server itself). Idle RSS: after the wrk runs, each "
               "connection sent one complete keep-alive GET and stayed open. Ratio columns divide "
               "by nginx (`proxy_pass`, 1 worker) over the same backend; `pingora` is "
               "examples/passthrough.rs, a pingora proxy that only forwards (pingora's floor).")

    # ---- details
    out.append("")
    out.append("### All runs")
    out.append("")
    out.append("Medians, (min–max) in brackets. *backend* = the backend processes' CPU "
               "(radosgw + ceph-osd, or the null origin), *total* = target + backend.")
    out.append("")
    out.append("| scenario | target | req/s | MiB/s | own CPU µs/req | backend CPU µs/req | "
               "total CPU µs/req | p50 µs | p99 µs | errors |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for s in scens:
        for t in targets:
            if (t, s) not in data:
                continue
            errs = sum(d["err"] for d in data[(t, s)])
            reqs = sum(d["n"] for d in data[(t, s)])
            out.append(f"| {SCEN[s]} | {t} | {rng(t, s, 'rps')} | {rng(t, s, 'mibs')} | "
                       f"{rng(t, s, 'cpu_t', 1)} | {rng(t, s, 'cpu_b', 1)} | {rng(t, s, 'cpu_u', 1)} | "
                       f"{rng(t, s, 'p50')} | {rng(t, s, 'p99')} | "
                       f"{errs}{' **of ' + str(reqs) + '**' if errs else ''} |")
    print("\n".join(out))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"setup": cmd_setup, "presign": cmd_presign, "sign-headers": cmd_sign_headers,
          "rawput": cmd_rawput, "cpu": cmd_cpu, "rss": cmd_rss, "idle": cmd_idle, "churn": cmd_churn,
          "hold": cmd_hold, "slowloris": cmd_slowloris, "bigput": cmd_bigput,
          "report": cmd_report}.get(cmd)
    if not fn:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
