//! An in-process S3 backend (s3s-fs) for the zero-setup default config.
//!
//! It stores objects as files under `[embedded] data_dir` and listens on the loopback address
//! named by `[backend] endpoint`, with the backend credential. It runs on its own thread and
//! runtime, so the gateway talks to it exactly as it would to any remote S3 server.

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use crate::auth::credentials::SecretKey;

/// Binds `addr` now (so a taken port fails start-up) and serves s3s-fs from `data_dir` on a
/// background thread for the life of the process.
pub fn start(
    addr: SocketAddr,
    data_dir: &Path,
    access_key: &str,
    secret_key: &SecretKey,
) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let fs =
        s3s_fs::FileSystem::new(data_dir).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let service = {
        let mut b = S3ServiceBuilder::new(fs);
        b.set_auth(SimpleAuth::from_single(access_key, secret_key.expose()));
        b.build()
    };
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("embedded-s3".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("embedded backend: cannot start its runtime: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("embedded backend: {e}");
                        return;
                    }
                };
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let (socket, _) = match listener.accept().await {
                        Ok(conn) => conn,
                        Err(e) => {
                            tracing::warn!("embedded backend: accept failed: {e}");
                            continue;
                        }
                    };
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        })?;
    tracing::info!(
        "embedded S3 backend on http://{addr}, data in {}",
        data_dir.display()
    );
    Ok(())
}
