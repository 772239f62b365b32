//! Users and ownership, with the state kept in the backend: two users, several gateway
//! processes on one RGW, and a restart.

mod common;

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::*;

fn code<E: ProvideErrorMetadata>(err: &aws_sdk_s3::error::SdkError<E>) -> (u16, String) {
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (status, err.code().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_bucket_belongs_to_its_creator() {
    let main = client(MAIN);
    let alt = client(ALT);
    let b = bucket_name("owned");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"mine"))
        .send()
        .await
        .unwrap();

    let err = alt.head_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&err).0, 403);
    let err = alt
        .get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), (403, "AccessDenied".into()));
    let err = alt
        .put_object()
        .bucket(&b)
        .key("x")
        .body(ByteStream::from_static(b"no"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), (403, "AccessDenied".into()));
    let err = alt.list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&err), (403, "AccessDenied".into()));
    let err = alt.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&err), (403, "AccessDenied".into()));
    // Copying out of someone else's bucket is reading it.
    let alt_bucket = bucket_name("alt-own");
    alt.create_bucket()
        .bucket(&alt_bucket)
        .send()
        .await
        .unwrap();
    let err = alt
        .copy_object()
        .bucket(&alt_bucket)
        .key("stolen")
        .copy_source(format!("{b}/k"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), (403, "AccessDenied".into()));

    let err = alt.create_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&err), (409, "BucketAlreadyExists".into()));
    let err = main.create_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&err), (409, "BucketAlreadyOwnedByYou".into()));

    let mine: Vec<String> = main
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|x| x.name().map(str::to_owned))
        .collect();
    let theirs: Vec<String> = alt
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|x| x.name().map(str::to_owned))
        .collect();
    assert!(mine.contains(&b) && !mine.contains(&alt_bucket), "{mine:?}");
    assert!(
        theirs.contains(&alt_bucket) && !theirs.contains(&b),
        "{theirs:?}"
    );
    assert!(
        !mine.iter().chain(&theirs).any(|n| n == "bucketgate-system"),
        "the system bucket is invisible"
    );
    let owner = main.list_buckets().send().await.unwrap();
    assert_eq!(owner.owner().and_then(|o| o.id()), Some("main"));
}

#[tokio::test]
async fn the_system_bucket_is_invisible() {
    // Make sure it exists: any bucket creation writes state.
    let _ = client(MAIN)
        .create_bucket()
        .bucket(bucket_name("sys-probe"))
        .send()
        .await;
    for keys in [MAIN, ALT] {
        let c = client(keys);
        let err = c
            .list_objects_v2()
            .bucket("bucketgate-system")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), (404, "NoSuchBucket".into()));
        let err = c
            .get_object()
            .bucket("bucketgate-system")
            .key("buckets/x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err).0, 404);
        let err = c
            .create_bucket()
            .bucket("bucketgate-system")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), (409, "BucketAlreadyExists".into()));
    }
}

#[tokio::test]
async fn deleting_a_bucket_frees_its_name() {
    let main = client(MAIN);
    let alt = client(ALT);
    let b = bucket_name("freed");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.delete_bucket().bucket(&b).send().await.unwrap();
    alt.create_bucket()
        .bucket(&b)
        .send()
        .await
        .expect("the name is free again");
    let err = main.head_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(code(&err).0, 403);
    alt.delete_bucket().bucket(&b).send().await.unwrap();
}

/// Two gateway processes on one backend agree: a bucket made through one is owned in the other
/// at once (never looked up before), and a deletion through one is seen by the other within
/// `state_cache_seconds` (1 s here). A restarted gateway knows every owner.
#[tokio::test]
async fn replicas_and_restarts_share_ownership() {
    let backend = backend_endpoint();
    let short_cache = "";
    let a = spawn_gateway(|port| {
        config_text(port, &backend, short_cache).replace(
            "grace_period_seconds = 1",
            "grace_period_seconds = 1\nstate_cache_seconds = 1",
        )
    });
    let b = spawn_gateway(|port| {
        config_text(port, &backend, short_cache).replace(
            "grace_period_seconds = 1",
            "grace_period_seconds = 1\nstate_cache_seconds = 1",
        )
    });
    let name = bucket_name("replicas");
    client_for(&a, MAIN)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    client_for(&a, MAIN)
        .put_object()
        .bucket(&name)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();

    let err = client_for(&b, ALT)
        .get_object()
        .bucket(&name)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        (403, "AccessDenied".into()),
        "replica B knows A's owner"
    );
    client_for(&b, MAIN)
        .get_object()
        .bucket(&name)
        .key("k")
        .send()
        .await
        .expect("and lets the owner in");

    client_for(&a, MAIN)
        .delete_object()
        .bucket(&name)
        .key("k")
        .send()
        .await
        .unwrap();
    client_for(&a, MAIN)
        .delete_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = client_for(&b, MAIN)
        .head_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err).0,
        404,
        "B sees the deletion once its cache expired"
    );

    // A fresh process (a restart) reads every owner from the backend.
    let kept = bucket_name("restart");
    client_for(&a, MAIN)
        .create_bucket()
        .bucket(&kept)
        .send()
        .await
        .unwrap();
    let restarted = spawn_gateway(|port| config_text(port, &backend, ""));
    let err = client_for(&restarted, ALT)
        .head_bucket()
        .bucket(&kept)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, 403);
    client_for(&restarted, MAIN)
        .head_bucket()
        .bucket(&kept)
        .send()
        .await
        .unwrap();
}

/// Two replicas receive a CreateBucket for the same name at the same moment, from two users,
/// 100 times: each time exactly one wins and owns the bucket, and the other is told
/// `409 BucketAlreadyExists` (the claim is a conditional write of the owner record).
#[tokio::test]
async fn two_replicas_racing_for_a_name_give_it_one_owner() {
    if !backend_has_conditional_put() {
        eprintln!(
            "skipped on {}: no conditional PutObject (one gateway per backend)",
            backend_kind()
        );
        return;
    }
    let backend = backend_endpoint();
    let a = spawn_gateway(|port| config_text(port, &backend, ""));
    let b = spawn_gateway(|port| config_text(port, &backend, ""));
    let (main, alt) = (client_for(&a, MAIN), client_for(&b, ALT));
    for round in 0..100 {
        let name = bucket_name(&format!("race{round}"));
        let (m, l) = tokio::join!(
            main.create_bucket().bucket(&name).send(),
            alt.create_bucket().bucket(&name).send()
        );
        let (winner, loser) = match (&m, &l) {
            (Ok(_), Err(e)) => (&main, code(e)),
            (Err(e), Ok(_)) => (&alt, code(e)),
            _ => panic!("round {round}: not exactly one winner: {m:?} / {l:?}"),
        };
        assert_eq!(loser, (409, "BucketAlreadyExists".into()), "round {round}");
        // The winner owns it, through either replica: it can delete it.
        winner
            .delete_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the winner cannot delete: {e:?}"));
    }
}

/// One user's CreateBuckets for one name at the same moment, through two replicas (a client
/// retrying, two processes of one service): one creates it, every other is told
/// `409 BucketAlreadyOwnedByYou` (or, while the same replica is still claiming the name,
/// `409 OperationAborted`, as S3 answers concurrent creations), never that another owner
/// has it.
#[tokio::test]
async fn one_users_racing_creations_are_told_the_bucket_is_theirs() {
    if !backend_has_conditional_put() {
        eprintln!(
            "skipped on {}: no conditional PutObject (one gateway per backend)",
            backend_kind()
        );
        return;
    }
    let backend = backend_endpoint();
    let a = spawn_gateway(|port| config_text(port, &backend, ""));
    let b = spawn_gateway(|port| config_text(port, &backend, ""));
    let (via_a, via_b) = (client_for(&a, MAIN), client_for(&b, MAIN));
    for round in 0..30 {
        let name = bucket_name(&format!("selfrace{round}"));
        let (x, y, z) = tokio::join!(
            via_a.create_bucket().bucket(&name).send(),
            via_b.create_bucket().bucket(&name).send(),
            via_a.create_bucket().bucket(&name).send(),
        );
        let answers = [x.map(|_| ()), y.map(|_| ()), z.map(|_| ())];
        assert_eq!(
            answers.iter().filter(|a| a.is_ok()).count(),
            1,
            "round {round}: not exactly one creation: {answers:?}"
        );
        for e in answers.iter().filter_map(|a| a.as_ref().err()) {
            let (status, code) = code(e);
            assert!(
                status == 409 && (code == "BucketAlreadyOwnedByYou" || code == "OperationAborted"),
                "round {round}: {status} {code}"
            );
        }
        via_a.delete_bucket().bucket(&name).send().await.unwrap();
    }
}

/// However the backend answers one user's creations of one name at once (a backend without
/// conditional writes lets every claim through, and refuses all creations but one), the
/// bucket ends up the user's: a refused creation gives its claim back only when the backend
/// does not have the bucket.
#[tokio::test]
async fn racing_creations_leave_the_bucket_to_its_user() {
    let c = client(MAIN);
    for round in 0..10 {
        let name = bucket_name(&format!("twins{round}"));
        let _ = tokio::join!(
            c.create_bucket().bucket(&name).send(),
            c.create_bucket().bucket(&name).send(),
            c.create_bucket().bucket(&name).send(),
        );
        c.put_object()
            .bucket(&name)
            .key("k")
            .body(ByteStream::from_static(b"mine"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the bucket is not the user's: {e:?}"));
        c.delete_object()
            .bucket(&name)
            .key("k")
            .send()
            .await
            .unwrap();
        c.delete_bucket().bucket(&name).send().await.unwrap();
    }
}

fn backend_has_conditional_put() -> bool {
    let path = format!(
        "{}/backends/{}.toml",
        env!("CARGO_MANIFEST_DIR"),
        backend_kind()
    );
    let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    table["conditional_writes"]["put_object"].as_bool().unwrap()
}

/// Two replicas, one toggling ACLs and one read anonymously: once a replica has answered a
/// change to private, the other never serves a public read later than the documented bound
/// (`state_cache_seconds`, 1 s here, for bucket ACLs; object ACLs live with the object and hold
/// at once).
#[tokio::test]
async fn acl_changes_reach_every_replica_within_the_cache_bound() {
    let backend = backend_endpoint();
    let with_cache = |port| {
        config_text(port, &backend, "").replace(
            "grace_period_seconds = 1",
            "grace_period_seconds = 1\nstate_cache_seconds = 1",
        )
    };
    let (a, b) = (spawn_gateway(with_cache), spawn_gateway(with_cache));
    let main = client_for(&a, MAIN);
    let name = bucket_name("acl-replicas");
    main.create_bucket().bucket(&name).send().await.unwrap();
    main.put_object()
        .bucket(&name)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    let anonymous = |target: String| {
        let (status, _, _) = raw_request(
            b.addr,
            &format_request("GET", &target, &[("host".into(), b.addr.to_string())], b""),
        );
        status
    };
    let bound = Duration::from_millis(1000 + 300);
    for round in 0..5 {
        // Object ACL: public, seen through B; private again, never public through B after.
        main.put_object_acl()
            .bucket(&name)
            .key("k")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous(format!("/{name}/k")), 200, "round {round}");
        main.put_object_acl()
            .bucket(&name)
            .key("k")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous(format!("/{name}/k")),
            403,
            "round {round}: an object made private was still served publicly by the other replica"
        );

        // Bucket ACL (a public listing): within the bound, then never again.
        main.put_bucket_acl()
            .bucket(&name)
            .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
        let public_since = std::time::Instant::now();
        // The bound holds for when a request was sent, whatever its answer takes to arrive.
        loop {
            let sent = public_since.elapsed();
            if anonymous(format!("/{name}")) == 200 {
                break;
            }
            assert!(
                sent < bound,
                "round {round}: a public listing not seen within the bound"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        main.put_bucket_acl()
            .bucket(&name)
            .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
            .send()
            .await
            .unwrap();
        let private_since = std::time::Instant::now();
        while private_since.elapsed() < bound + Duration::from_millis(500) {
            let sent = private_since.elapsed();
            let status = anonymous(format!("/{name}"));
            assert!(
                status == 403 || sent < bound,
                "round {round}: a public listing sent {sent:?} after the bucket was made private"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
