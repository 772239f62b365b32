//! A recording relay: a real TCP forwarder in the test process, between a gateway and RGW, that
//! records the head of every request the backend receives (the "backend view").
//!
//! Bytes are copied both ways untouched; the gateway->backend stream is parsed as HTTP/1.1
//! (keep-alive, bodies framed by `Content-Length` or chunked transfer-coding) and the
//! backend->gateway stream is parsed just enough to know when an `Expect: 100-continue` request
//! was answered before its body was sent (the body may then never come).
//!
//! It also injects faults on command ([`Relay::set_fault`]): refused connections, a stalled
//! backend, or a backend that dies after some bytes of an upload or a download.

use std::collections::{HashSet, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fault the relay injects from the moment it is set until it is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// New connections are accepted and closed at once, and open ones are cut when next
    /// used (the backend is down).
    Refuse,
    /// Requests reach the backend; its answers are held back (a backend that hangs).
    Stall,
    /// After this many more bytes toward the backend (over all connections), every
    /// connection that sends more is cut (the backend dies during an upload).
    CutUploadAfter(u64),
    /// After this many more bytes from the backend, every connection that receives more is
    /// cut (the backend dies during a download).
    CutDownloadAfter(u64),
}

#[derive(Default)]
struct Faults {
    fault: Mutex<Fault>,
    up: AtomicU64,
    down: AtomicU64,
    /// The backend side of every connection, to drop them all at once (a backend restart).
    open: Mutex<Vec<TcpStream>>,
}

impl Faults {
    fn get(&self) -> Fault {
        *self.fault.lock().unwrap()
    }

    /// How many of `n` bytes may go on in a direction before the connection is cut (`None`:
    /// all of them).
    fn allowance(&self, upload: bool, n: usize) -> Option<usize> {
        let (limit, counter) = match (self.get(), upload) {
            (Fault::CutUploadAfter(limit), true) => (limit, &self.up),
            (Fault::CutDownloadAfter(limit), false) => (limit, &self.down),
            _ => return None,
        };
        let before = counter.fetch_add(n as u64, Ordering::SeqCst);
        if before + n as u64 <= limit {
            return None;
        }
        Some(limit.saturating_sub(before).min(n as u64) as usize)
    }
}

/// One request head as the backend received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedHead {
    pub method: String,
    /// The request target (path and query), as sent.
    pub target: String,
    /// Header names exactly as sent on the wire (case and spelling), with their value bytes.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RecordedHead {
    /// The path of the target (before `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query of the target (after `?`), empty if none.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// Whether the query has a parameter named `name` (with or without a value).
    pub fn has_query_param(&self, name: &str) -> bool {
        self.query()
            .split('&')
            .any(|p| p.split('=').next() == Some(name))
    }

    /// The first value of a header, by case-insensitive name (exact spelling otherwise).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// Every value of a header, by case-insensitive name.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// One line, for assertion messages.
    pub fn summary(&self) -> String {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        format!("{} {} [{}]", self.method, self.target, names.join(", "))
    }
}

#[derive(Default)]
struct Recorded {
    heads: Vec<RecordedHead>,
    /// Streams the parser could not follow (a test should not ignore them).
    errors: Vec<String>,
}

/// A running relay. It lives (and keeps accepting) as long as the test process.
pub struct Relay {
    addr: SocketAddr,
    recorded: Arc<Mutex<Recorded>>,
    faults: Arc<Faults>,
}

impl Relay {
    /// Starts a relay in front of the test backend (`backend_endpoint()`).
    pub fn start() -> Relay {
        let backend = super::backend_endpoint();
        let authority = backend
            .strip_prefix("http://")
            .expect("the relay forwards plain HTTP")
            .trim_end_matches('/');
        let backend_addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(authority)
            .expect("backend address")
            .next()
            .expect("backend address");
        Relay::start_to(backend_addr)
    }

    /// Starts a relay in front of `backend`.
    pub fn start_to(backend: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let faults = Arc::new(Faults::default());
        let (shared, shared_faults) = (recorded.clone(), faults.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if shared_faults.get() == Fault::Refuse {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let (recorded, faults) = (shared.clone(), shared_faults.clone());
                std::thread::spawn(move || relay_connection(client, backend, recorded, faults));
            }
        });
        Relay {
            addr,
            recorded,
            faults,
        }
    }

    /// Closes every open connection to the backend, as a backend restart does: the gateway's
    /// pooled connections are dead when it next uses them.
    pub fn drop_connections(&self) {
        for s in self.faults.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Injects `fault` from now on (byte counts start again from zero).
    pub fn set_fault(&self, fault: Fault) {
        self.faults.up.store(0, Ordering::SeqCst);
        self.faults.down.store(0, Ordering::SeqCst);
        *self.faults.fault.lock().unwrap() = fault;
    }

    /// `http://127.0.0.1:<port>`: the backend endpoint to give the gateway.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request head recorded so far, in the order their heads were complete.
    pub fn heads(&self) -> Vec<RecordedHead> {
        self.recorded.lock().unwrap().heads.clone()
    }

    /// Forgets what was recorded so far.
    pub fn clear(&self) {
        let mut r = self.recorded.lock().unwrap();
        r.heads.clear();
        r.errors.clear();
    }

    /// Streams the parser could not follow (empty when everything was understood).
    pub fn parse_errors(&self) -> Vec<String> {
        self.recorded.lock().unwrap().errors.clone()
    }
}

/// What both directions of one connection share: the requests waiting for an answer, in order.
#[derive(Default)]
struct Exchange {
    /// (sequence number, method) of requests whose final response has not been seen.
    pending: VecDeque<(u64, String)>,
    /// Requests that got `100 Continue`.
    continued: HashSet<u64>,
    /// Requests that got their final response.
    answered: HashSet<u64>,
}

fn relay_connection(
    client: TcpStream,
    backend: SocketAddr,
    recorded: Arc<Mutex<Recorded>>,
    faults: Arc<Faults>,
) {
    let Ok(upstream) = TcpStream::connect(backend) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Ok(s) = upstream.try_clone() {
        faults.open.lock().unwrap().push(s);
    }
    let exchange = Arc::new(Mutex::new(Exchange::default()));

    // backend -> gateway
    let (mut from_backend, mut to_client) =
        (upstream.try_clone().unwrap(), client.try_clone().unwrap());
    let ex = exchange.clone();
    let rec = recorded.clone();
    let back_faults = faults.clone();
    let back = std::thread::spawn(move || {
        let mut parser = ResponseParser::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_backend.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while back_faults.get() == Fault::Stall {
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Some(allowed) = back_faults.allowance(false, n) {
                let _ = to_client.write_all(&buf[..allowed]);
                let _ = to_client.shutdown(Shutdown::Both);
                let _ = from_backend.shutdown(Shutdown::Both);
                return;
            }
            // Parsed before it is forwarded: the gateway cannot react to an answer (and send
            // its next request) before the relay knows about it.
            if let Err(e) = parser.feed(&buf[..n], &ex) {
                rec.lock()
                    .unwrap()
                    .errors
                    .push(format!("response stream: {e}"));
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Write);
        let _ = from_backend.shutdown(Shutdown::Read);
    });

    // gateway -> backend
    let (mut from_client, mut to_backend) = (client, upstream);
    let mut parser = RequestParser::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // A backend that went down drops its open connections too.
        if faults.get() == Fault::Refuse {
            let _ = to_backend.shutdown(Shutdown::Both);
            let _ = from_client.shutdown(Shutdown::Both);
            break;
        }
        if let Some(allowed) = faults.allowance(true, n) {
            let _ = to_backend.write_all(&buf[..allowed]);
            let _ = to_backend.shutdown(Shutdown::Both);
            let _ = from_client.shutdown(Shutdown::Both);
            break;
        }
        if let Err(e) = parser.feed(&buf[..n], &exchange, &recorded) {
            recorded
                .lock()
                .unwrap()
                .errors
                .push(format!("request stream: {e}"));
        }
        if to_backend.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to_backend.shutdown(Shutdown::Write);
    let _ = back.join();
}

fn find_crlfcrlf(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Header lines of a head (after its first line): (name as sent, value bytes trimmed of OWS).
fn parse_header_lines(lines: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let colon = line.iter().position(|&b| b == b':').ok_or_else(|| {
            format!(
                "header line without a colon: {:?}",
                String::from_utf8_lossy(line)
            )
        })?;
        let name = String::from_utf8_lossy(&line[..colon]).into_owned();
        let mut value = &line[colon + 1..];
        while let [b' ' | b'\t', rest @ ..] = value {
            value = rest;
        }
        while let [rest @ .., b' ' | b'\t'] = value {
            value = rest;
        }
        out.push((name, value.to_vec()));
    }
    Ok(out)
}

fn value_of<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// How a message body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

fn framing(headers: &[(String, Vec<u8>)]) -> Result<Framing, String> {
    if let Some(te) = value_of(headers, "transfer-encoding") {
        let te = String::from_utf8_lossy(te).to_ascii_lowercase();
        return if te.rsplit(',').next().map(str::trim) == Some("chunked") {
            Ok(Framing::Chunked)
        } else {
            Err(format!("transfer-encoding {te:?} without chunked last"))
        };
    }
    match value_of(headers, "content-length") {
        Some(v) => {
            let n: u64 = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| format!("bad content-length {:?}", String::from_utf8_lossy(v)))?;
            Ok(if n == 0 {
                Framing::None
            } else {
                Framing::Length(n)
            })
        }
        None => Ok(Framing::None),
    }
}

/// Chunked transfer-coding, step by step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    SizeLine,
    Data(u64),
    DataEnd,
    Trailers,
}

#[derive(Debug)]
enum Body {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Consumes body bytes from `buf`; `Ok(true)` when the body is complete.
fn consume_body(body: &mut Body, buf: &mut Vec<u8>) -> Result<bool, String> {
    loop {
        match body {
            Body::UntilClose => {
                buf.clear();
                return Ok(false);
            }
            Body::Length(n) => {
                let take = (*n).min(buf.len() as u64) as usize;
                buf.drain(..take);
                *n -= take as u64;
                return Ok(*n == 0);
            }
            Body::Chunked(state) => match *state {
                Chunk::SizeLine => {
                    let Some(end) = find_crlf(buf) else {
                        return Ok(false);
                    };
                    let line = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 2);
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16)
                        .map_err(|_| format!("bad chunk size line {line:?}"))?;
                    *state = if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(n) => {
                    let take = n.min(buf.len() as u64) as usize;
                    buf.drain(..take);
                    if take as u64 == n {
                        *state = Chunk::DataEnd;
                    } else {
                        *state = Chunk::Data(n - take as u64);
                        return Ok(false);
                    }
                }
                Chunk::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(false);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    buf.drain(..2);
                    *state = Chunk::SizeLine;
                }
                Chunk::Trailers => {
                    let Some(end) = find_crlf(buf) else {
                        return Ok(false);
                    };
                    buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(true);
                    }
                }
            },
        }
    }
}

/// Parses the gateway->backend stream into request heads.
#[derive(Default)]
struct RequestParser {
    buf: Vec<u8>,
    seq: u64,
    /// The body being skipped, with the request's sequence number and whether it waits for
    /// `100 Continue` (and no body byte has come yet).
    body: Option<(Body, u64, bool)>,
    broken: bool,
}

/// A line that starts a request: `METHOD target HTTP/1.x`.
fn looks_like_request_line(buf: &[u8]) -> bool {
    let Some(end) = find_crlf(buf) else {
        // Not complete yet: judge the method token.
        let token: Vec<u8> = buf
            .iter()
            .take_while(|b| b.is_ascii_uppercase())
            .copied()
            .collect();
        return !token.is_empty() && buf.get(token.len()) == Some(&b' ');
    };
    let line = String::from_utf8_lossy(&buf[..end]);
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let version = parts.next().unwrap_or("");
    !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && !target.is_empty()
        && version.starts_with("HTTP/1.")
        && parts.next().is_none()
}

impl RequestParser {
    fn feed(
        &mut self,
        data: &[u8],
        exchange: &Mutex<Exchange>,
        recorded: &Mutex<Recorded>,
    ) -> Result<(), String> {
        if self.broken {
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        let result = self.run(exchange, recorded);
        if result.is_err() {
            self.broken = true;
            self.buf.clear();
        }
        result
    }

    fn run(
        &mut self,
        exchange: &Mutex<Exchange>,
        recorded: &Mutex<Recorded>,
    ) -> Result<(), String> {
        loop {
            if let Some((body, seq, waiting)) = &mut self.body {
                if self.buf.is_empty() {
                    return Ok(());
                }
                if *waiting {
                    let ex = exchange.lock().unwrap();
                    let refused = ex.answered.contains(seq) && !ex.continued.contains(seq);
                    drop(ex);
                    // Answered with a final status before any body byte: the client may skip
                    // the body and send its next request instead.
                    if refused && looks_like_request_line(&self.buf) {
                        self.body = None;
                        continue;
                    }
                    *waiting = false;
                }
                if consume_body(body, &mut self.buf)? {
                    self.body = None;
                    continue;
                }
                return Ok(());
            }
            // Tolerate stray CRLFs between messages.
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            let Some(end) = find_crlfcrlf(&self.buf) else {
                if self.buf.len() > 1024 * 1024 {
                    return Err("request head larger than 1 MiB".into());
                }
                return Ok(());
            };
            let head: Vec<u8> = self.buf.drain(..end + 4).collect();
            let head = &head[..end + 2];
            let first_end = find_crlf(head).unwrap_or(head.len());
            let line = String::from_utf8_lossy(&head[..first_end]).into_owned();
            let mut parts = line.split(' ');
            let (Some(method), Some(target), Some(version)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("bad request line {line:?}"));
            };
            if !version.starts_with("HTTP/1.") {
                return Err(format!("bad request line {line:?}"));
            }
            let headers = parse_header_lines(&head[first_end..])?;
            let frame = framing(&headers)?;
            let expects = value_of(&headers, "expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
            let seq = self.seq;
            self.seq += 1;
            exchange
                .lock()
                .unwrap()
                .pending
                .push_back((seq, method.to_owned()));
            recorded.lock().unwrap().heads.push(RecordedHead {
                method: method.to_owned(),
                target: target.to_owned(),
                headers,
            });
            self.body = match frame {
                Framing::None => None,
                Framing::Length(n) => Some((Body::Length(n), seq, expects)),
                Framing::Chunked => Some((Body::Chunked(Chunk::SizeLine), seq, expects)),
                Framing::UntilClose => Some((Body::UntilClose, seq, expects)),
            };
        }
    }
}

/// Parses the backend->gateway stream just enough to follow `100 Continue` and final answers.
#[derive(Default)]
struct ResponseParser {
    buf: Vec<u8>,
    body: Option<Body>,
    broken: bool,
}

impl ResponseParser {
    fn feed(&mut self, data: &[u8], exchange: &Mutex<Exchange>) -> Result<(), String> {
        if self.broken {
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        let result = self.run(exchange);
        if result.is_err() {
            self.broken = true;
            self.buf.clear();
        }
        result
    }

    fn run(&mut self, exchange: &Mutex<Exchange>) -> Result<(), String> {
        loop {
            if let Some(body) = &mut self.body {
                if self.buf.is_empty() {
                    return Ok(());
                }
                if consume_body(body, &mut self.buf)? {
                    self.body = None;
                    continue;
                }
                return Ok(());
            }
            let Some(end) = find_crlfcrlf(&self.buf) else {
                return Ok(());
            };
            let head: Vec<u8> = self.buf.drain(..end + 4).collect();
            let head = &head[..end + 2];
            let first_end = find_crlf(head).unwrap_or(head.len());
            let line = String::from_utf8_lossy(&head[..first_end]).into_owned();
            let status: u16 = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .filter(|_| line.starts_with("HTTP/1."))
                .ok_or_else(|| format!("bad status line {line:?}"))?;
            let headers = parse_header_lines(&head[first_end..])?;
            let mut ex = exchange.lock().unwrap();
            let Some((seq, method)) = ex.pending.front().cloned() else {
                return Err(format!("a response ({status}) without a request"));
            };
            if (100..200).contains(&status) {
                if status == 100 {
                    ex.continued.insert(seq);
                }
                continue;
            }
            ex.pending.pop_front();
            ex.answered.insert(seq);
            drop(ex);
            let frame = if method == "HEAD" || status == 204 || status == 304 {
                Framing::None
            } else {
                match framing(&headers)? {
                    Framing::None if value_of(&headers, "content-length").is_none() => {
                        Framing::UntilClose
                    }
                    other => other,
                }
            };
            self.body = match frame {
                Framing::None => None,
                Framing::Length(n) => Some(Body::Length(n)),
                Framing::Chunked => Some(Body::Chunked(Chunk::SizeLine)),
                Framing::UntilClose => Some(Body::UntilClose),
            };
        }
    }
}

/// `x-amz-*` header names a backend may receive: each one either signed by the client and
/// understood by the gateway, or set by the gateway itself.
fn allowed_amz_header(lower: &str, gateway_set_acl: bool) -> bool {
    const EXACT: &[&str] = &[
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-copy-source",
        "x-amz-copy-source-range",
        // The gateway's own copy pin, under RGW 16's name for it (quirks::copy_source_pin_headers).
        "x-amz-copy-if-match",
        "x-amz-metadata-directive",
        "x-amz-tagging",
        "x-amz-tagging-directive",
        "x-amz-storage-class",
        "x-amz-website-redirect-location",
        "x-amz-sdk-checksum-algorithm",
        "x-amz-checksum-algorithm",
        "x-amz-checksum-type",
        "x-amz-checksum-mode",
    ];
    const PREFIXES: &[&str] = &[
        "x-amz-copy-source-if-",
        "x-amz-copy-source-server-side-encryption-customer-",
        "x-amz-server-side-encryption-customer-",
        "x-amz-checksum-",
    ];
    if EXACT.contains(&lower) || PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    if let Some(meta) = lower.strip_prefix("x-amz-meta-") {
        if meta == "bucketgate-acl" {
            return gateway_set_acl;
        }
        return !meta.is_empty()
            && meta
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    }
    false
}

/// Problems with what the backend received, one line per offending header (empty: clean).
pub fn backend_view_problems(heads: &[RecordedHead], gateway_set_acl: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for head in heads {
        for (name, value) in &head.headers {
            let lower = name.to_ascii_lowercase();
            let what = if name.contains('_') {
                Some("a header name with '_'")
            } else if lower == "x-amz-acl" || lower.starts_with("x-amz-grant-") {
                Some("a backend ACL header")
            } else if lower.starts_with("x-amz-object-lock")
                || lower.starts_with("x-amz-bucket-object-lock")
                || lower == "x-amz-bypass-governance-retention"
            {
                Some("an object-lock header")
            } else if lower.starts_with("x-amz-") && !allowed_amz_header(&lower, gateway_set_acl) {
                Some("an x-amz-* header outside the allow-list")
            } else {
                None
            };
            if let Some(what) = what {
                problems.push(format!(
                    "{what}: {name}: {:?} in {}",
                    String::from_utf8_lossy(value),
                    head.summary()
                ));
            }
        }
    }
    problems
}

/// Asserts the backend view is clean: no header name with `_`, no `x-amz-acl`/`x-amz-grant-*`
/// or object-lock header, every `x-amz-*` header in the allow-list, and no
/// `x-amz-meta-bucketgate-acl` (the gateway sets it only for a public-read request: use
/// [`assert_backend_view_clean_with`] there).
pub fn assert_backend_view_clean(heads: &[RecordedHead]) {
    assert_backend_view_clean_with(heads, false);
}

/// [`assert_backend_view_clean`], with `gateway_set_acl` saying whether the gateway itself was
/// asked to set `x-amz-meta-bucketgate-acl` (a public-read request).
pub fn assert_backend_view_clean_with(heads: &[RecordedHead], gateway_set_acl: bool) {
    let problems = backend_view_problems(heads, gateway_set_acl);
    assert!(
        problems.is_empty(),
        "the backend received what the gateway did not decide:\n  {}",
        problems.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(stream: &[u8], step: usize) -> Vec<RecordedHead> {
        let ex = Mutex::new(Exchange::default());
        let rec = Mutex::new(Recorded::default());
        let mut p = RequestParser::default();
        for piece in stream.chunks(step) {
            p.feed(piece, &ex, &rec).unwrap();
        }
        rec.into_inner().unwrap().heads
    }

    #[test]
    fn keep_alive_with_lengths_and_chunks() {
        let stream = b"PUT /b/k HTTP/1.1\r\nHost: x\r\nx_amz_copy_source: /a/b\r\nContent-Length: 5\r\n\r\nhello\
GET /b?acl HTTP/1.1\r\nHost: x\r\n\r\n\
PUT /b/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n\
DELETE /b/c HTTP/1.1\r\n\r\n";
        for step in [1, 3, 7, stream.len()] {
            let heads = parse_all(stream, step);
            let lines: Vec<String> = heads
                .iter()
                .map(|h| format!("{} {}", h.method, h.target))
                .collect();
            assert_eq!(
                lines,
                ["PUT /b/k", "GET /b?acl", "PUT /b/c", "DELETE /b/c"],
                "step {step}"
            );
            assert_eq!(heads[0].headers[1].0, "x_amz_copy_source");
            assert!(heads[1].has_query_param("acl"));
        }
    }

    #[test]
    fn expect_continue_answered_before_the_body() {
        let ex = Mutex::new(Exchange::default());
        let rec = Mutex::new(Recorded::default());
        let (mut req, mut resp) = (RequestParser::default(), ResponseParser::default());
        req.feed(
            b"PUT /b/k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            &ex,
            &rec,
        )
        .unwrap();
        resp.feed(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
            &ex,
        )
        .unwrap();
        // The body never comes: the next request follows at once.
        req.feed(b"GET /b/k HTTP/1.1\r\nHost: x\r\n\r\n", &ex, &rec)
            .unwrap();
        resp.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &ex)
            .unwrap();
        // A continued one sends its body.
        req.feed(
            b"PUT /b/j HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 16\r\n\r\n",
            &ex,
            &rec,
        )
        .unwrap();
        resp.feed(b"HTTP/1.1 100 Continue\r\n\r\n", &ex).unwrap();
        req.feed(
            b"GET / HTTP/1.1\r\n\r\nHEAD /b/k HTTP/1.1\r\n\r\n",
            &ex,
            &rec,
        )
        .unwrap();
        let heads = rec.into_inner().unwrap().heads;
        let lines: Vec<String> = heads
            .iter()
            .map(|h| format!("{} {}", h.method, h.target))
            .collect();
        assert_eq!(lines, ["PUT /b/k", "GET /b/k", "PUT /b/j", "HEAD /b/k"]);
    }
}
