//! The floor of `scripts/bench.sh`: a pingora `ProxyHttp` that does nothing but forward, with
//! the same pingora build, thread count and upstream keep-alive as the gateway. The difference
//! between it and nginx is pingora's own cost per request; the difference between the gateway
//! and it is what bucketgate adds (verification, authorization, re-signing, logging, metrics).
//!
//! `passthrough <listen host:port> <upstream host:port> [threads]` — requests go upstream
//! unchanged (Host included, so signatures made for the proxy's address hold when the upstream
//! is told so, as nginx's `proxy_set_header Host $http_host` does).

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::{Opt, ServerConf};

// The gateway's allocator, so the floor differs from it only in what the gateway does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Passthrough {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: passthrough <listen host:port> <upstream host:port> [threads]");
        std::process::exit(2);
    };
    let threads = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(1);
    let conf = ServerConf {
        threads,
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade: false,
        daemon: false,
        nocapture: false,
        test: false,
        conf: None,
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(
        &server.configuration,
        Passthrough {
            upstream: upstream.clone(),
        },
    );
    // The gateway's client read buffer (none, see `CLIENT_READ_BUFFER`), so idle connections
    // cost the same in both.
    proxy.add_listener(
        pingora::listeners::ListenerConfig::tcp(listen)
            .l4_buffer(pingora::listeners::L4BufferSettings::default().read(0)),
    );
    server.add_service(proxy);
    server.run_forever();
}
