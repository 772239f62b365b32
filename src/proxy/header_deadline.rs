//! A total deadline for each request head.
//!
//! pingora reads a request head with a timeout per read (60 s between two reads), so a client
//! that trickles its head a byte at a time holds a connection for as long as it likes (the
//! classic slowloris). pingora has no setting for a total; this wraps every accepted stream so
//! that, from the moment a request may begin (the connection opens, or the previous request on
//! it is done), its head must end (`\r\n\r\n`) within `[limits] header_read_timeout_seconds`, or the read fails
//! and pingora closes the connection. Bodies are not limited here (the idle-body timeout is).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::TlsRef;
use pingora::protocols::{
    ALPN, GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    Stream, TimingDigest, UniqueID, UniqueIDType,
};
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The gateway's `ServerApp`, with every request head held to `deadline`
/// (`[limits] header_read_timeout_seconds`, default 30).
pub struct HeaderDeadlineApp<A> {
    pub inner: Arc<A>,
    pub deadline: Duration,
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for HeaderDeadlineApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // Each call handles one request of the connection (pingora calls again on keep-alive
        // with the stream it got back): that is when a new head may start.
        // pingora serves every request of an HTTP/1 connection inside this one call; the
        // stream re-arms itself when a response goes out (see `poll_write`).
        self.inner
            .process_new(wrap(stream, self.deadline), shutdown)
            .await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

/// Wraps an accepted stream (before its first request).
pub fn wrap(stream: Stream, deadline: Duration) -> Stream {
    let mut wrapped = DeadlineStream::new(stream, deadline);
    wrapped.arm();
    Box::new(wrapped)
}

/// A stream whose reads fail once the current request head overstays its deadline.
#[derive(Debug)]
pub struct DeadlineStream {
    inner: Option<Stream>,
    deadline: Duration,
    /// Until the head ends: when it must have ended.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A head is being read: the deadline runs.
    head_open: bool,
    /// The last write while a head is awaited (the rest of the answer): the deadline runs from
    /// it. Recorded here and applied to the timer on the next read, not reset per write.
    written_at: Option<tokio::time::Instant>,
    /// The last bytes read, to find a `\r\n\r\n` split across reads.
    tail: [u8; 3],
    tail_len: usize,
}

impl DeadlineStream {
    fn new(inner: Stream, deadline: Duration) -> Self {
        DeadlineStream {
            inner: Some(inner),
            deadline,
            sleep: None,
            head_open: false,
            written_at: None,
            tail: [0; 3],
            tail_len: 0,
        }
    }

    #[cfg(test)]
    fn closed() -> Self {
        DeadlineStream {
            inner: None,
            deadline: Duration::from_secs(1),
            sleep: None,
            head_open: false,
            written_at: None,
            tail: [0; 3],
            tail_len: 0,
        }
    }

    /// A request head may start now: it must end within the deadline. The timer of the last
    /// head is reset rather than allocated anew (this runs once per request).
    fn arm(&mut self) {
        let at = tokio::time::Instant::now() + self.deadline;
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        self.head_open = true;
        self.written_at = None;
        self.tail_len = 0;
    }

    /// A write: the answer's head arms the deadline of the next request head; the rest of the
    /// answer, written while that head is awaited, moves the deadline on.
    fn wrote(&mut self, first: &[u8]) {
        // A final HTTP/1 response head means the request is answered: the next head may
        // start once it is out (not after `100 Continue`, which the request's body follows).
        let final_head = first.starts_with(b"HTTP/1.") && first.get(9).is_some_and(|b| *b != b'1');
        if final_head {
            self.arm();
        } else if self.head_open {
            self.written_at = Some(tokio::time::Instant::now());
        }
    }

    fn inner(&mut self) -> std::io::Result<&mut Stream> {
        self.inner
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }

    /// Looks for the end of the head in `data` (with the bytes kept from the last read),
    /// without copying `data`: a `\r\n\r\n` split across reads lies in the kept tail plus
    /// the first three bytes.
    fn saw_head_end(&mut self, data: &[u8]) -> bool {
        let mut seam = [0u8; 6];
        let head = data.len().min(3);
        seam[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
        seam[self.tail_len..self.tail_len + head].copy_from_slice(&data[..head]);
        if memchr::memmem::find(&seam[..self.tail_len + head], b"\r\n\r\n").is_some()
            || memchr::memmem::find(data, b"\r\n\r\n").is_some()
        {
            return true;
        }
        // Keep the last three bytes seen, from the seam when this read was shorter.
        let window_len = self.tail_len + data.len();
        let keep = window_len.min(3);
        let mut kept = [0u8; 3];
        for (i, byte) in kept[..keep].iter_mut().enumerate() {
            let at = window_len - keep + i;
            *byte = if at < self.tail_len {
                self.tail[at]
            } else {
                data[at - self.tail_len]
            };
        }
        self.tail = kept;
        self.tail_len = keep;
        false
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.head_open
            && let Some(sleep) = this.sleep.as_mut()
        {
            if let Some(at) = this.written_at.take() {
                sleep.as_mut().reset(at + this.deadline);
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request head took too long",
                )));
            }
        }
        let before = buf.filled().len();
        let inner = match this.inner() {
            Ok(inner) => inner,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let result = Pin::new(inner).poll_read(cx, buf);
        if this.head_open
            && let Poll::Ready(Ok(())) = result
            && this.saw_head_end(&buf.filled()[before..])
        {
            this.head_open = false;
        }
        result
    }
}

use std::future::Future;

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.wrote(buf);
        match this.inner() {
            Ok(inner) => Pin::new(inner).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => Pin::new(inner).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => Pin::new(inner).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        this.wrote(first);
        match this.inner() {
            Ok(inner) => Pin::new(inner).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_write_vectored())
    }
}

#[async_trait]
impl Shutdown for DeadlineStream {
    async fn shutdown(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.shutdown().await
        }
    }
}

impl UniqueID for DeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.as_ref().map_or(-1, |i| i.id())
    }
}

impl Ssl for DeadlineStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.as_ref().and_then(|i| i.get_ssl())
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.as_ref().and_then(|i| i.get_ssl_digest())
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.as_ref().and_then(|i| i.selected_alpn_proto())
    }
}

impl GetTimingDigest for DeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner
            .as_ref()
            .map_or_else(Vec::new, |i| i.get_timing_digest())
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner
            .as_ref()
            .map_or(Duration::ZERO, |i| i.get_read_pending_time())
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner
            .as_ref()
            .map_or(Duration::ZERO, |i| i.get_write_pending_time())
    }
}

impl GetProxyDigest for DeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.as_ref().and_then(|i| i.get_proxy_digest())
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        if let Some(inner) = self.inner.as_mut() {
            inner.set_proxy_digest(digest)
        }
    }
}

impl GetSocketDigest for DeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.as_ref().and_then(|i| i.get_socket_digest())
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        if let Some(inner) = self.inner.as_mut() {
            inner.set_socket_digest(digest)
        }
    }
}

/// pingora peeks at a new connection's first bytes (the HTTP/2 preface, 24 bytes) before it
/// reads a head: that wait is part of the head's and runs out with it, or a client sending
/// fewer bytes, a byte at a time or none, would hold the connection for as long as it likes.
#[async_trait]
impl Peek for DeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        let deadline = self
            .head_open
            .then(|| self.sleep.as_ref().map(|s| s.deadline()))
            .flatten();
        let Some(inner) = self.inner.as_mut() else {
            return Ok(false);
        };
        match deadline {
            Some(at) => tokio::time::timeout_at(at, inner.try_peek(buf))
                .await
                .unwrap_or_else(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request head took too long",
                    ))
                }),
            None => inner.try_peek(buf).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_rearms_the_head_deadline_but_100_continue_does_not() {
        let mut s = DeadlineStream::closed();
        assert!(s.saw_head_end(b"PUT / HTTP/1.1\r\n\r\n"));
        s.head_open = false;
        let waker = futures_noop_waker();
        let mut cx = Context::from_waker(&waker);
        let _ = Pin::new(&mut s).poll_write(&mut cx, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert!(!s.head_open, "the body follows a 100: no deadline");
        let _ = Pin::new(&mut s).poll_write(&mut cx, b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(s.head_open, "after an answer the next head is awaited");
    }

    fn futures_noop_waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }

    #[test]
    fn the_head_end_is_found_across_reads() {
        let mut s = DeadlineStream::closed();
        assert!(!s.saw_head_end(b"GET / HTTP/1.1\r\nHost: x\r"));
        assert!(!s.saw_head_end(b"\n"));
        assert!(s.saw_head_end(b"\r\n"));
        let mut s = DeadlineStream::closed();
        assert!(!s.saw_head_end(b"GET / HTTP/1.1\r\n"));
        assert!(s.saw_head_end(b"\r\nbody"));
        // One byte at a time, and a seam that ends inside the kept tail.
        let mut s = DeadlineStream::closed();
        for b in b"GET / HTTP/1.1\r\n\r".iter() {
            assert!(!s.saw_head_end(std::slice::from_ref(b)));
        }
        assert!(s.saw_head_end(b"\n"));
        let mut s = DeadlineStream::closed();
        assert!(!s.saw_head_end(b"\r\n"));
        assert!(!s.saw_head_end(b"x\r\n"));
        assert!(s.saw_head_end(b"\r\nx"));
    }
}
