//! Bodies stream through the gateway in bounded memory: a 1 GiB PUT and GET through a dedicated
//! gateway process, with its peak resident memory reported and bounded.

mod common;

use std::io::Write;

use aws_sdk_s3::primitives::ByteStream;
use common::*;
use sha2::{Digest, Sha256};

/// 1 GiB unless `BUCKETGATE_STREAM_MIB` says otherwise (for quick local runs).
fn size() -> u64 {
    std::env::var("BUCKETGATE_STREAM_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024u64)
        << 20
}
/// Far below the object size: what a buffering proxy could never stay under.
const RSS_LIMIT_KIB: u64 = 160 * 1024;

fn make_file(path: &std::path::Path) -> String {
    let mut hasher = Sha256::new();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut block = vec![0u8; 1 << 20];
    for i in 0..(size() >> 20) {
        for (j, b) in block.iter_mut().enumerate() {
            *b = (i as usize * 31 + j * 7) as u8;
        }
        hasher.update(&block);
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
    hex::encode(hasher.finalize())
}

#[tokio::test]
async fn one_gib_put_and_get_stream_in_bounded_memory() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| config_text(port, &backend, ""));
    let c = client_for(&gw, MAIN);
    let b = bucket_name("stream");
    let _ = c.create_bucket().bucket(&b).send().await;
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("one-gib.bin");
    let want = make_file(&path);
    let baseline = gw.peak_rss_kib();

    c.put_object()
        .bucket(&b)
        .key("one-gib.bin")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .expect("1 GiB PUT through the gateway");
    let after_put = gw.peak_rss_kib();
    std::fs::remove_file(&path).unwrap();

    let mut got = c
        .get_object()
        .bucket(&b)
        .key("one-gib.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(size() as i64));
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = got.body.try_next().await.unwrap() {
        n += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let after_get = gw.peak_rss_kib();
    assert_eq!(n, size());
    assert_eq!(
        hex::encode(hasher.finalize()),
        want,
        "the bytes came back unchanged"
    );
    c.delete_object()
        .bucket(&b)
        .key("one-gib.bin")
        .send()
        .await
        .unwrap();

    println!(
        "gateway peak RSS: {} MiB at start, {} MiB after the {} MiB PUT, {} MiB after the GET",
        baseline / 1024,
        after_put / 1024,
        size() >> 20,
        after_get / 1024
    );
    assert!(
        after_get < RSS_LIMIT_KIB,
        "peak RSS {after_get} KiB: the body was buffered"
    );
}
