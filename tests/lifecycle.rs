//! The gateway's process lifecycle: SIGHUP reloads users while requests keep flowing (a bad
//! file is refused and the old configuration keeps serving), and a graceful shutdown lets an
//! upload in flight complete.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use common::*;

const NEWBIE: (&str, &str) = (
    "GWNEWBIEACCESSKEY006",
    "newbie-secret-000000000000000000000000000",
);

/// Requests that keep flowing while a test reloads or upgrades the gateway: PUTs and GETs of
/// objects in their own bucket, each tried once (a fault must count, not be retried away).
struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Traffic {
    async fn start(gw: &Gateway, name: &str) -> Traffic {
        let config = aws_sdk_s3::Config::builder()
            .endpoint_url(gw.endpoint())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                MAIN.0, MAIN.1, None, None, "test",
            ))
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build();
        let c = aws_sdk_s3::Client::from_conf(config);
        let b = bucket_name(name);
        client_for(gw, MAIN)
            .create_bucket()
            .bucket(&b)
            .send()
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for worker in 0..4 {
            let (c, b, stop, ok, failures) = (
                c.clone(),
                b.clone(),
                stop.clone(),
                ok.clone(),
                failures.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let key = format!("k{worker}");
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let body = format!("{worker}-{i}").repeat(512);
                    let put = c
                        .put_object()
                        .bucket(&b)
                        .key(&key)
                        .body(aws_sdk_s3::primitives::ByteStream::from(
                            body.clone().into_bytes(),
                        ))
                        .send()
                        .await;
                    let outcome = match put {
                        Err(e) => Err(format!("PUT: {e:?}")),
                        Ok(_) => match c.get_object().bucket(&b).key(&key).send().await {
                            Err(e) => Err(format!("GET: {e:?}")),
                            Ok(got) => match got.body.collect().await.map(|b| b.into_bytes()) {
                                Ok(bytes) if bytes == body.as_bytes() => Ok(()),
                                Ok(_) => Err("GET: other bytes than the PUT's".into()),
                                Err(e) => Err(format!("GET body: {e:?}")),
                            },
                        },
                    };
                    match outcome {
                        Ok(()) => {
                            ok.fetch_add(2, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            }));
        }
        Traffic {
            stop,
            ok,
            failures,
            tasks,
        }
    }

    /// Stops the traffic: (requests answered, failures).
    async fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.ok.load(Ordering::Relaxed), failures)
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: sending a signal to a child process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// Waits for the process to end (its test thread reaps it), for at most `limit`.
fn exited_within(pid: u32, limit: Duration) -> bool {
    let started = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A SIGTERM with nothing in flight ends the process at once, not after the grace period;
/// an idle keep-alive connection is nothing in flight.
#[tokio::test]
async fn sigterm_with_nothing_in_flight_exits_at_once() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        config_text(port, &backend, "")
            .replace("grace_period_seconds = 1", "grace_period_seconds = 60")
    });
    client_for(&gw, MAIN).list_buckets().send().await.unwrap();
    signal(gw.pid, libc::SIGTERM);
    assert!(
        exited_within(gw.pid, Duration::from_secs(10)),
        "the gateway waited for its 60 s grace period with nothing to do"
    );
}

#[tokio::test]
async fn sighup_adds_a_user_without_dropping_requests() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| config_text(port, &backend, ""));
    let objects = Traffic::start(&gw, "reload-load").await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (c, stop, ok, failed) = (
            client_for(&gw, MAIN),
            stop.clone(),
            ok.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match c.list_buckets().send().await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let err = client_for(&gw, NEWBIE)
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert!(
        err.raw_response()
            .is_some_and(|r| r.status().as_u16() == 403)
    );

    let original = std::fs::read_to_string(&gw.config_path).unwrap();
    let with_newbie = format!(
        "{original}\n[[users]]\nid = \"newbie\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\n",
        NEWBIE.0, NEWBIE.1
    );
    std::fs::write(&gw.config_path, &with_newbie).unwrap();
    signal(gw.pid, libc::SIGHUP);
    let mut admitted = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if client_for(&gw, NEWBIE).list_buckets().send().await.is_ok() {
            admitted = true;
            break;
        }
    }
    assert!(admitted, "the new user works after SIGHUP");

    // A broken file is refused: everyone keeps working.
    std::fs::write(&gw.config_path, "this is = not [a valid config").unwrap();
    signal(gw.pid, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client_for(&gw, NEWBIE)
        .list_buckets()
        .send()
        .await
        .expect("the old configuration keeps serving");
    // How many requests fit in the reloads' second depends on the machine: the traffic runs
    // on until some have been answered (a slow box needs longer, never fails for it).
    for _ in 0..150 {
        if ok.load(Ordering::Relaxed) > 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    assert!(ok.load(Ordering::Relaxed) > 10, "traffic flowed");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed across the reloads"
    );
    let (answered, failures) = objects.stop().await;
    assert!(answered > 10, "object traffic flowed");
    assert!(
        failures.is_empty(),
        "{} PUT/GET failed across the reloads: {:?}",
        failures.len(),
        failures.iter().take(3).collect::<Vec<_>>()
    );
    std::fs::write(&gw.config_path, with_newbie).unwrap();
}

#[tokio::test]
async fn graceful_shutdown_completes_an_upload_in_flight() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        config_text(port, &backend, "")
            .replace("grace_period_seconds = 1", "grace_period_seconds = 10")
    });
    let b = bucket_name("drain");
    client_for(&gw, MAIN)
        .create_bucket()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let host = gw.addr.to_string();
    let path = format!("/{b}/in-flight.bin");
    let body = vec![b'z'; 2 * 1024 * 1024];
    let mut headers = sign_headers(
        "PUT",
        &host,
        &path,
        &[],
        "UNSIGNED-PAYLOAD",
        SystemTime::now(),
        MAIN,
    );
    headers.extend([
        ("host".into(), host.clone()),
        ("content-length".into(), body.len().to_string()),
    ]);
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&format_request("PUT", &path, &headers, b""))
        .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(gw.pid, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    s.write_all(&body[body.len() / 2..]).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let (status, head, _) = parse_response(&answer);
    assert_eq!(status, 200, "{head}");
    let stored = client(MAIN)
        .head_object()
        .bucket(&b)
        .key("in-flight.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.content_length(), Some(body.len() as i64));
    // Drained: the process ends well before its 10 s grace period.
    assert!(exited_within(gw.pid, Duration::from_secs(5)));
}

/// pingora's zero-downtime upgrade: a new process started with `--upgrade` takes the listening
/// sockets when the old one gets SIGQUIT; requests keep being answered across the hand-over,
/// PUTs and GETs running all along without one failing or being reset.
#[tokio::test]
async fn upgrade_hands_the_listeners_to_a_new_process() {
    let backend = backend_endpoint();
    let old = spawn_gateway(|port| config_text(port, &backend, ""));
    let c = client_for(&old, MAIN);
    c.list_buckets()
        .send()
        .await
        .expect("the old process serves");
    let traffic = Traffic::start(&old, "upgrade-load").await;

    let sock =
        std::path::PathBuf::from(format!("/tmp/bucketgate-upgrade-{}.sock", old.addr.port()));
    let spawned_at = std::time::SystemTime::now() - Duration::from_secs(1);
    let mut new = std::process::Command::new(env!("CARGO_BIN_EXE_bucketgate"))
        .args(["run", "--upgrade", "--config"])
        .arg(&old.config_path)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The new process binds the upgrade socket and waits on it; then the old one hands over.
    for _ in 0..100 {
        let fresh = std::fs::metadata(&sock)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= spawned_at);
        if fresh {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(old.pid, libc::SIGQUIT);
    let mut served_by_new = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let old_alive = std::path::Path::new(&format!("/proc/{}/stat", old.pid)).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", old.pid))
                .unwrap_or_default()
                .contains(") Z ");
        if !old_alive {
            served_by_new = c.list_buckets().send().await.is_ok();
            break;
        }
    }
    // Traffic goes on through the new process for a moment, then stops.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (answered, failures) = traffic.stop().await;
    let still_running = new.try_wait().unwrap().is_none();
    let _ = new.kill();
    let _ = new.wait();
    assert!(still_running, "the new process kept running");
    assert!(
        served_by_new,
        "after the old process exited, the new one answers on the same port"
    );
    assert!(answered > 10, "traffic flowed across the upgrade");
    assert!(
        failures.is_empty(),
        "{} of {} PUT/GET failed across the upgrade: {:?}",
        failures.len(),
        answered + failures.len(),
        failures.iter().take(3).collect::<Vec<_>>()
    );
}

/// `check-config --probe` tries the service credential and the system bucket, and says which
/// kind of server answered, warning when it is not the declared one.
#[test]
fn check_config_probes_the_backend() {
    let backend = backend_endpoint();
    let kind = backend_kind();
    let run = |config: String| {
        let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("probe-{}.toml", std::process::id()));
        std::fs::write(&path, config).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bucketgate"))
            .args(["check-config", "--probe"])
            .arg(&path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let config = config_text(1, &backend, "");
    let (ok, text) = run(config.clone());
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("backend answers like {kind}; system bucket ready")),
        "{text}"
    );
    let (ok, text) = run(config.replace(&format!("kind = \"{kind}\""), "kind = \"aws\""));
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "warning: the backend answers like {kind} but [backend] kind is aws"
        )),
        "{text}"
    );
    let (ok, text) = run(config.replace(BACKEND_SECRET_KEY, "not-the-service-secret"));
    assert!(
        !ok && text.contains("refused the service credential"),
        "{text}"
    );
}
