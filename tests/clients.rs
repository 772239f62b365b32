//! Real clients through the gateway, each doing what its users do every day: the AWS CLI and
//! boto3 (newest releases, default checksums), s3cmd (SigV4 and SigV2), rclone, restic,
//! fsspec/s3fs, pyarrow and the AWS SDK for JavaScript v3. `scripts/setup.sh test` installs
//! them: Debian packages, and PyPI and npm releases under `.clients/` (kept apart from the
//! system's Python, whose botocore other tools pin). The longer sessions are scripts in
//! `tests/clients/`, run against the shared gateway and byte-compared there.

mod common;

use std::process::Command;

use common::*;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("clients")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs the clients)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// A client installed under `.clients/` by `scripts/setup.sh test`.
fn installed(path: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".clients")
        .join(path);
    assert!(
        path.exists(),
        "{} is missing: scripts/setup.sh test installs it",
        path.display()
    );
    path
}

/// The newest AWS CLI v1 from PyPI (with awscrt, for CRC64NVME).
fn aws(args: &[&str]) -> Command {
    let mut c = Command::new(installed("aws/bin/aws"));
    c.args(["--endpoint-url", &gateway().endpoint(), "--region", REGION])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", MAIN.0)
        .env("AWS_SECRET_ACCESS_KEY", MAIN.1)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    c
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn aws_cli_mb_cp_ls_sync_rm_rb() {
    let b = bucket_name("awscli");
    let dir = scratch("awscli");
    let small = dir.join("small.txt");
    let big = dir.join("big.bin");
    std::fs::write(&small, b"hello from the aws cli").unwrap();
    // Above the CLI's 8 MiB multipart threshold: CreateMultipartUpload, UploadPart, Complete.
    std::fs::write(&big, pattern(20 * 1024 * 1024 + 17, 3)).unwrap();

    run(&mut aws(&["s3", "mb", &format!("s3://{b}")]));
    run(&mut aws(&[
        "s3",
        "cp",
        small.to_str().unwrap(),
        &format!("s3://{b}/docs/small.txt"),
    ]));
    run(&mut aws(&[
        "s3",
        "cp",
        big.to_str().unwrap(),
        &format!("s3://{b}/big.bin"),
    ]));
    let listing = run(&mut aws(&["s3", "ls", &format!("s3://{b}"), "--recursive"]));
    assert!(
        listing.contains("docs/small.txt") && listing.contains("big.bin"),
        "{listing}"
    );
    let buckets = run(&mut aws(&["s3", "ls"]));
    assert!(buckets.contains(&b), "{buckets}");

    let back = dir.join("back.bin");
    run(&mut aws(&[
        "s3",
        "cp",
        &format!("s3://{b}/big.bin"),
        back.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&big).unwrap());

    let head = run(&mut aws(&[
        "s3api",
        "head-object",
        "--bucket",
        &b,
        "--key",
        "big.bin",
    ]));
    assert!(head.contains("\"ContentLength\": 20971537"), "{head}");

    let synced = scratch("awscli-sync");
    run(&mut aws(&[
        "s3",
        "sync",
        &format!("s3://{b}/docs"),
        synced.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(synced.join("small.txt")).unwrap(),
        b"hello from the aws cli"
    );

    run(&mut aws(&["s3", "rm", &format!("s3://{b}"), "--recursive"]));
    run(&mut aws(&["s3", "rb", &format!("s3://{b}")]));
    let gone = aws(&["s3api", "head-bucket", "--bucket", &b])
        .output()
        .unwrap();
    assert!(!gone.status.success());
}

#[test]
fn boto3_with_default_checksums_and_transfer_manager() {
    let b = bucket_name("boto3");
    let dir = scratch("boto3");
    let big = dir.join("big.bin");
    std::fs::write(&big, pattern(12 * 1024 * 1024 + 5, 9)).unwrap();
    let script = r#"
import sys, boto3, botocore
endpoint, ak, sk, bucket, big = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="nyc3",
                  aws_access_key_id=ak, aws_secret_access_key=sk)
s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "nyc3"})
s3.put_object(Bucket=bucket, Key="a.txt", Body=b"boto3 body", Metadata={"k": "v"})
obj = s3.get_object(Bucket=bucket, Key="a.txt")
assert obj["Body"].read() == b"boto3 body"
assert obj["Metadata"] == {"k": "v"}, obj["Metadata"]
s3.upload_file(big, bucket, "big.bin")
s3.download_file(bucket, "big.bin", big + ".back")
assert open(big, "rb").read() == open(big + ".back", "rb").read()
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
assert keys == ["a.txt", "big.bin"], keys
# The paginators decode keys and markers (encoding-type=url, set by botocore): keys with '+'
# and spaces page through exactly once (RGW 16 answers its markers raw, which breaks this).
plus = ["p+q/%d x+y ü" % i for i in range(5)]
for k in plus:
    s3.put_object(Bucket=bucket, Key=k, Body=b"p")
for op, entries in [("list_objects", "Contents"), ("list_objects_v2", "Contents"),
                    ("list_object_versions", "Versions")]:
    got = [o["Key"] for page in s3.get_paginator(op).paginate(
        Bucket=bucket, Prefix="p+q/", Delimiter="/", PaginationConfig={"PageSize": 2})
        for o in page.get(entries, [])]
    assert got == plus, (op, got)
for k in plus:
    s3.delete_object(Bucket=bucket, Key=k)
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=60)
import urllib.request
assert urllib.request.urlopen(url).read() == b"boto3 body"
try:
    s3.get_bucket_encryption(Bucket=bucket)
    raise SystemExit("expected NotImplemented")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "NotImplemented", e.response
s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a.txt"}, {"Key": "big.bin"}]})
s3.delete_bucket(Bucket=bucket)
print("boto3 ok", boto3.__version__)
"#;
    let out = run(Command::new(installed("aws/bin/python"))
        .args(["-c", script])
        .args([
            &gateway().endpoint(),
            MAIN.0,
            MAIN.1,
            &b,
            big.to_str().unwrap(),
        ]));
    assert!(out.contains("boto3 ok"), "{out}");
}

#[test]
fn s3cmd_signature_v4() {
    s3cmd_session("s3cmd-v4", false);
}

#[test]
fn s3cmd_signature_v2() {
    s3cmd_session("s3cmd-v2", true);
}

fn s3cmd_session(test: &str, v2: bool) {
    let b = bucket_name(test);
    let dir = scratch(test);
    let cfg = dir.join("s3cfg");
    let host = gateway().addr.to_string();
    std::fs::write(
        &cfg,
        format!(
            "[default]\naccess_key = {}\nsecret_key = {}\nhost_base = {host}\nhost_bucket = {host}\n\
             use_https = False\nbucket_location = {REGION}\nsignature_v2 = {}\n",
            MAIN.0,
            MAIN.1,
            if v2 { "True" } else { "False" }
        ),
    )
    .unwrap();
    let file = dir.join("f.txt");
    std::fs::write(&file, b"s3cmd payload").unwrap();
    let s3cmd = |args: &[&str]| {
        let mut c = Command::new("s3cmd");
        c.arg("-c").arg(&cfg).args(args);
        c
    };
    run(&mut s3cmd(&["mb", &format!("s3://{b}")]));
    run(&mut s3cmd(&[
        "put",
        file.to_str().unwrap(),
        &format!("s3://{b}/dir/f.txt"),
    ]));
    let ls = run(&mut s3cmd(&["ls", "--recursive", &format!("s3://{b}")]));
    assert!(ls.contains("dir/f.txt"), "{ls}");
    let back = dir.join("back.txt");
    let _ = std::fs::remove_file(&back);
    run(&mut s3cmd(&[
        "get",
        &format!("s3://{b}/dir/f.txt"),
        back.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&back).unwrap(), b"s3cmd payload");
    run(&mut s3cmd(&["del", &format!("s3://{b}/dir/f.txt")]));
    run(&mut s3cmd(&["rb", &format!("s3://{b}")]));
}

/// Legacy SigV2 clients: boto3 with `signature_version="s3"` (object and bucket requests,
/// listings included) and SigV2 presigned URLs.
#[test]
fn boto3_signature_v2() {
    let b = bucket_name("boto3-v2");
    let script = r#"
import sys, urllib.request, boto3
from botocore.client import Config
endpoint, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="nyc3", aws_access_key_id=ak,
                  aws_secret_access_key=sk, config=Config(signature_version="s3"))
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="v2/a b.txt", Body=b"signed with v2", Metadata={"who": "v2"})
assert s3.get_object(Bucket=bucket, Key="v2/a b.txt")["Body"].read() == b"signed with v2"
assert s3.head_object(Bucket=bucket, Key="v2/a b.txt")["Metadata"] == {"who": "v2"}
assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ["v2/a b.txt"]
assert s3.list_objects_v2(Bucket=bucket, Prefix="v2/")["KeyCount"] == 1
assert bucket in [x["Name"] for x in s3.list_buckets()["Buckets"]]
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2/a b.txt"}, ExpiresIn=60)
assert "AWSAccessKeyId=" in url, url
assert urllib.request.urlopen(url).read() == b"signed with v2"
bad = boto3.client("s3", endpoint_url=endpoint, region_name="nyc3", aws_access_key_id=ak,
                   aws_secret_access_key="wrong", config=Config(signature_version="s3"))
try:
    bad.list_objects(Bucket=bucket)
    raise SystemExit("a wrong secret was accepted")
except bad.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "SignatureDoesNotMatch", e.response
s3.delete_object(Bucket=bucket, Key="v2/a b.txt")
s3.delete_bucket(Bucket=bucket)
print("boto3 v2 ok")
"#;
    let out = run(Command::new("python3").args(["-c", script]).args([
        &gateway().endpoint(),
        MAIN.0,
        MAIN.1,
        &b,
    ]));
    assert!(out.contains("boto3 v2 ok"), "{out}");
}

/// Runs a session script of `tests/clients/` with the endpoint, the main user's keys, a fresh
/// bucket, the region and a scratch directory; the script prints "session OK" at its end.
fn session(program: impl AsRef<std::ffi::OsStr>, script: &std::path::Path, test: &str) {
    let mut cmd = Command::new(program);
    cmd.arg(script)
        .args([gateway().endpoint().as_str(), MAIN.0, MAIN.1])
        .arg(bucket_name(test))
        .arg(REGION)
        .arg(scratch(test))
        .env("AWS_CLI", installed("aws/bin/aws"));
    let out = run(&mut cmd);
    assert!(out.contains("session OK"), "{out}");
}

fn script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

#[test]
fn rclone_sync_check_copy_delete() {
    session("bash", &script("rclone.sh"), "rclone");
}

#[test]
fn restic_backup_check_restore_prune() {
    session("bash", &script("restic.sh"), "restic");
    // restic keeps its repository; the bucket goes with the test.
    let b = bucket_name("restic");
    rt().block_on(async {
        let c = client(MAIN);
        loop {
            let listed = c.list_objects_v2().bucket(&b).send().await.unwrap();
            if listed.contents().is_empty() {
                break;
            }
            for o in listed.contents() {
                let key = o.key().unwrap_or_default();
                c.delete_object().bucket(&b).key(key).send().await.unwrap();
            }
        }
        c.delete_bucket().bucket(&b).send().await.unwrap();
    });
}

#[test]
fn s3fs_files_ranges_and_directory_markers() {
    session(
        installed("data/bin/python"),
        &script("s3fs_session.py"),
        "s3fs",
    );
}

#[test]
fn pyarrow_partitioned_parquet_dataset() {
    session(
        installed("data/bin/python"),
        &script("pyarrow_session.py"),
        "pyarrow",
    );
}

#[test]
fn aws_sdk_js_v3_checksums_multipart_presigned_pagination() {
    // Node resolves the SDK from the script's own directory: the script runs from the install.
    let copy = installed("js").join("session.mjs");
    std::fs::copy(script("js/session.mjs"), &copy).unwrap();
    session("node", &copy, "js-v3");
}

/// The AWS CLI's `--checksum-algorithm CRC64NVME`: a single PutObject's checksum and a
/// multipart upload's full-object one (CRC64NVME combines as one CRC over the whole object),
/// answered on the request and again by HEAD and GET with checksum mode, never on a range.
#[test]
fn aws_cli_crc64nvme_checksums_round_trip() {
    use base64::Engine;
    let crc64 = |data: &[u8]| {
        let value = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data);
        base64::engine::general_purpose::STANDARD.encode(value.to_be_bytes())
    };
    let json = |out: String| -> serde_json::Value {
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let b = bucket_name("awscli-crc64");
    let dir = scratch("awscli-crc64");
    run(&mut aws(&["s3api", "create-bucket", "--bucket", &b]));

    let small = dir.join("small.bin");
    std::fs::write(&small, b"crc64nvme body").unwrap();
    let key = "ünï cødé/ø+.txt";
    let put = json(run(&mut aws(&[
        "s3api",
        "put-object",
        "--bucket",
        &b,
        "--key",
        key,
        "--body",
        small.to_str().unwrap(),
        "--checksum-algorithm",
        "CRC64NVME",
    ])));
    let expected = crc64(b"crc64nvme body");
    assert_eq!(put["ChecksumCRC64NVME"], expected.as_str(), "{put}");
    let head = json(run(&mut aws(&[
        "s3api",
        "head-object",
        "--bucket",
        &b,
        "--key",
        key,
        "--checksum-mode",
        "ENABLED",
    ])));
    assert_eq!(head["ChecksumCRC64NVME"], expected.as_str(), "{head}");
    assert_eq!(head["ChecksumType"], "FULL_OBJECT", "{head}");

    let parts = [pattern(5 * 1024 * 1024, 1), pattern(1024 * 1024 + 9, 2)];
    let mpu = "multi part/big+.bin";
    let created = json(run(&mut aws(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        &b,
        "--key",
        mpu,
        "--checksum-algorithm",
        "CRC64NVME",
    ])));
    assert_eq!(created["ChecksumAlgorithm"], "CRC64NVME", "{created}");
    assert_eq!(created["ChecksumType"], "FULL_OBJECT", "{created}");
    let upload_id = created["UploadId"].as_str().unwrap().to_owned();
    let mut completed = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let path = dir.join(format!("part{i}"));
        std::fs::write(&path, part).unwrap();
        let number = (i + 1).to_string();
        let answer = json(run(&mut aws(&[
            "s3api",
            "upload-part",
            "--bucket",
            &b,
            "--key",
            mpu,
            "--upload-id",
            &upload_id,
            "--part-number",
            &number,
            "--body",
            path.to_str().unwrap(),
            "--checksum-algorithm",
            "CRC64NVME",
        ])));
        assert_eq!(
            answer["ChecksumCRC64NVME"],
            crc64(part).as_str(),
            "{answer}"
        );
        completed.push(serde_json::json!({
            "PartNumber": i + 1,
            "ETag": answer["ETag"],
            "ChecksumCRC64NVME": answer["ChecksumCRC64NVME"],
        }));
    }
    let whole = parts.concat();
    let document = serde_json::json!({ "Parts": completed }).to_string();
    let done = json(run(&mut aws(&[
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        &b,
        "--key",
        mpu,
        "--upload-id",
        &upload_id,
        "--multipart-upload",
        &document,
    ])));
    assert_eq!(done["ChecksumCRC64NVME"], crc64(&whole).as_str(), "{done}");
    assert_eq!(done["ChecksumType"], "FULL_OBJECT", "{done}");
    let back = dir.join("back.bin");
    let got = json(run(&mut aws(&[
        "s3api",
        "get-object",
        "--bucket",
        &b,
        "--key",
        mpu,
        "--checksum-mode",
        "ENABLED",
        back.to_str().unwrap(),
    ])));
    assert_eq!(got["ChecksumCRC64NVME"], crc64(&whole).as_str(), "{got}");
    assert_eq!(std::fs::read(&back).unwrap(), whole);
    let ranged = json(run(&mut aws(&[
        "s3api",
        "get-object",
        "--bucket",
        &b,
        "--key",
        mpu,
        "--checksum-mode",
        "ENABLED",
        "--range",
        "bytes=0-99",
        back.to_str().unwrap(),
    ])));
    assert!(ranged.get("ChecksumCRC64NVME").is_none(), "{ranged}");

    run(&mut aws(&["s3", "rb", "--force", &format!("s3://{b}")]));
}
